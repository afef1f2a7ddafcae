/** The router's own answers: short HTML pages (never a stack trace) and bare replies on a socket. */
import type net from 'node:net';
import type { Sink } from './response.js';

/** Clients may come back in a minute; nothing may keep the page as the app's answer. */
const MAINTENANCE_HEADERS = ['retry-after', '60', 'cache-control', 'no-store'];

export function page(res: Sink, status: number, title: string, message: string, headers: readonly string[] = []): void {
  const body = `<!doctype html><title>${status} ${title}</title><h1>${title}</h1><p>${message}</p>\n`;
  res.writeHead(status, ['content-type', 'text/html; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), ...headers]);
  res.end(body);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function rawReply(socket: net.Socket, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export function notFoundPage(res: Sink, host: string | undefined): void {
  page(res, 404, 'No such app', `No app is served at ${escapeHtml(host ?? '(no Host header)')}.`);
}

export function twoHostsPage(res: Sink): void {
  page(res, 400, 'Bad request', 'The request has more than one Host header; send exactly one.', ['connection', 'close']);
}

export function maintenancePage(res: Sink, app: string): void {
  page(res, 503, 'Down for maintenance', `${escapeHtml(app)} is down for maintenance and will be back shortly.`, MAINTENANCE_HEADERS);
}

export function notRunningPage(res: Sink, app: string): void {
  page(res, 503, 'App not running', `${escapeHtml(app)} has no running web container; deploy it or scale web up.`);
}

export function gatewayTimeoutPage(res: Sink, app: string): void {
  page(res, 504, 'Gateway timeout', `${escapeHtml(app)} did not answer in time.`);
}

export function badGatewayPage(res: Sink, app: string): void {
  page(res, 502, 'Bad gateway', `${escapeHtml(app)} could not be reached.`);
}

/** forceHttps: the same URL on the HTTPS port (308 keeps the method and body). */
export function httpsRedirect(res: Sink, host: string, url: string, httpsPort: number): void {
  const name = host.replace(/:\d+$/, '');
  const location = `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${url.startsWith('/') ? url : '/'}`;
  page(res, 308, 'Permanent redirect', `This app is served over HTTPS: <a href="${escapeHtml(location)}">${escapeHtml(location)}</a>.`, ['location', location]);
}
