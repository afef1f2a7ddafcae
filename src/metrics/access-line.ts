/** The router's records as `slipway logs` shows them: one line each, `key=value` like Heroku's router. */
import type { AccessRecord } from '../router/access.js';
import type { LogRecord } from '../logs/merge.js';

/** The container name and type the router's lines carry in `slipway logs` (`--type router`). */
export const ROUTER_SOURCE = { container: 'router', type: 'router', deployment: null } as const;

/** `method=GET path="/x" status=200 duration=1.234ms bytes=512 container=web-1 request_id=… client=127.0.0.1` */
export function accessLine(r: AccessRecord): string {
  const [, , method, path, status, durationMs, bytes, container, requestId, client, retries, upgrade] = r;
  let line = `method=${method} path=${JSON.stringify(path)} status=${status === 0 ? '-' : status} duration=${durationMs}ms bytes=${bytes}`;
  line += ` container=${container === '' ? '-' : container} request_id=${requestId} client=${client}`;
  if (retries > 0) line += ` retries=${retries}`;
  if (upgrade === 1) line += ' upgrade=1';
  return line;
}

export function accessLogRecord(r: AccessRecord): LogRecord {
  return { time: new Date(r[0]).toISOString(), ...ROUTER_SOURCE, stream: 'stdout', line: accessLine(r) };
}

/** `2xx` for 200–299; `none` when no answer reached the client. */
export function statusClass(status: number): StatusClass {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx` as StatusClass;
  return 'none';
}

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none';
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'];
