import http from 'node:http';

export interface RouterResponse {
  status: number;
  body: string;
}

/** A GET through the router with `Host: <app>.localhost`, on a fresh connection. */
export function getApp(routerPort: number, app: string, pathname = '/', host = `${app}.localhost`): Promise<RouterResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: routerPort, path: pathname, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${host}${pathname} timed out`)));
  });
}

export interface Gate {
  port: number;
  /** Lets every waiting and future request through. */
  release(): void;
  close(): void;
}

/**
 * A local HTTP server whose requests wait until the test releases them: a container can block
 * on `wget http://127.0.0.1:<port>/` until the test has seen what it wants to see.
 */
export async function startGate(): Promise<Gate> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((_req, res) => {
    void released.then(() => res.end('go\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, release, close: () => server.close() };
}
