import http from 'node:http';

/** What one health check saw. */
export interface ProbeResult {
  /** 2xx or 3xx. */
  healthy: boolean;
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  /** The first line of the body (at most 200 characters), or why there was no answer. */
  detail: string;
}

export interface HealthCheck {
  /** e.g. `/up`. */
  path: string;
  /** The Host the app expects: `<app>.<domain>`. */
  host: string;
  /** One check's limit for the whole answer. */
  timeoutMs: number;
}

/** The most of a body read to find its first line. */
const MAX_BODY = 4096;

/**
 * `GET <path>` on a container's port with the app's Host: healthy on 2xx or 3xx. The agent is
 * the container's own keep-alive connection, so repeated checks cost no new connection.
 */
export function probe(port: number, check: HealthCheck, agent: http.Agent, host = '127.0.0.1'): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get(
      {
        host,
        port,
        path: check.path,
        agent,
        headers: { host: check.host, 'user-agent': 'Slipway-Health-Check', accept: '*/*' },
        // Only the status and the first body line are read, from the app's own container: small
        // servers (busybox httpd's CGI) end lines with a bare LF, which Node's strict parser refuses.
        insecureHTTPParser: true,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_BODY) body += chunk;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ healthy: status >= 200 && status < 400, status, detail: firstLine(body) });
        });
        res.on('error', () => undefined);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${check.timeoutMs / 1000} s`)), check.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ healthy: false, status: null, detail: error.code === 'ECONNREFUSED' ? 'connection refused' : error.message });
    });
  });
}

function firstLine(body: string): string {
  return (body.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim().slice(0, 200);
}

/** A sentence for the last check's result: `HTTP 500 "db down"`, or why nothing came back. */
export function describeProbe(result: ProbeResult): string {
  if (result.status === null) return `no answer (${result.detail})`;
  return `HTTP ${result.status}${result.detail ? ` "${result.detail}"` : ''}`;
}

/**
 * Checks until the container is healthy (resolves with the last result), or until the signal
 * aborts (resolves with the last result seen, if any).
 */
export async function untilHealthy(
  port: number,
  check: HealthCheck,
  signal: AbortSignal,
  onResult: (r: ProbeResult) => void,
  intervalMs = 200,
  host = '127.0.0.1',
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (!signal.aborted) {
      const result = await probe(port, check, agent, host);
      onResult(result);
      if (result.healthy) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    agent.destroy();
  }
}
