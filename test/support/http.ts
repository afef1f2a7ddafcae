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
