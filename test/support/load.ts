import http from 'node:http';

export interface Tally {
  ok: number;
  failures: string[];
  /** Commit SHA served → how many responses. */
  servedBy: Map<string, number>;
}

export interface Load {
  /** Stops the clients and resolves with what they saw. */
  stop(): Promise<Tally>;
}

/** Clients that keep requesting the app through the router until told to stop (bounded). */
export function steadyLoad(options: { routerPort: number; app: string; clients: number; maxRequests: number; path?: string; pauseMs?: number }): Load {
  const { routerPort, app, clients, maxRequests, path = '/version.txt', pauseMs = 0 } = options;
  const tally: Tally = { ok: 0, failures: [], servedBy: new Map() };
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: routerPort, path, headers: { host: `${app}.localhost` }, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) {
            tally.ok++;
            const sha = body.trim();
            tally.servedBy.set(sha, (tally.servedBy.get(sha) ?? 0) + 1);
          } else tally.failures.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
          resolve();
        });
      });
      req.on('error', (error) => {
        tally.failures.push(`connection error: ${error.message}`);
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    });
  const loops = Array.from({ length: clients }, async () => {
    while (running && sent < maxRequests) {
      sent++;
      await one();
      // A paced client (pauseMs) keeps a long test's load steady without taking the machine.
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return tally;
    },
  };
}
