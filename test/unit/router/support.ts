/**
 * What the router's unit tests share: a Router on a free port with a directory the test fills,
 * small upstreams, and clients. `useRouter()` makes a fresh world before each test and releases
 * everything after it.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { Router, type RouterOptions } from '../../../src/router/proxy.js';
import type { RouteTarget } from '../../../src/store/store.js';

export const DOMAIN = 'test.local';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const MB = 1024 * 1024;

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `label` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 20 ms until it holds or `ms` have passed; returns whether it held. */
export async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export function portOf(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}

/** Writes with backpressure. */
export async function write(stream: Writable, chunk: Buffer): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** The i-th 64 KiB chunk of a recognisable byte pattern. */
export function patternChunk(i: number, size = 64 * 1024): Buffer {
  const chunk = Buffer.alloc(size);
  for (let j = 0; j < size; j++) chunk[j] = (i * 31 + j) & 0xff;
  return chunk;
}

// ---------------------------------------------------------------------------------------------
// Resources, all released after each test

const servers: http.Server[] = [];
export const rawSockets = new Set<net.Socket>();
export const agents: http.Agent[] = [];
const routers: Router[] = [];
export const clientRequests: http.ClientRequest[] = [];

/** The current test's router and what its directory says; replaced before each test. */
export interface World {
  known: Set<string>;
  customDomains: Map<string, string>;
  customDomainLookups: string[];
  maintenance: Set<string>;
  router: Router;
  routerPort: number;
  /** Lines the router logged. */
  logs: string[];
}

export const world = {} as World;

export type ExtraOptions = Partial<Omit<RouterOptions, 'domain' | 'appExists' | 'appForCustomDomain' | 'inMaintenance'>>;

/** Another router on the same directory (the world's router is made by `useRouter`). */
export async function makeRouter(extra: ExtraOptions = {}): Promise<{ router: Router; port: number }> {
  const r = new Router({
    domain: DOMAIN,
    appExists: (app) => world.known.has(app),
    appForCustomDomain: (host) => {
      world.customDomainLookups.push(host);
      return world.customDomains.get(host);
    },
    inMaintenance: (app) => world.maintenance.has(app),
    log: (line) => world.logs.push(line),
    ...extra,
  });
  routers.push(r);
  await r.listen(0, '127.0.0.1');
  return { router: r, port: portOf(r.server) };
}

/** Makes the world's router anew with `extra` options (the default one is closed after the test). */
export async function remakeRouter(extra: ExtraOptions): Promise<void> {
  ({ router: world.router, port: world.routerPort } = await makeRouter(extra));
}

/** Registers the hooks that give each test of the file a fresh world. */
export function useRouter(): void {
  beforeEach(async () => {
    world.known = new Set();
    world.maintenance = new Set();
    world.customDomains = new Map();
    world.customDomainLookups = [];
    world.logs = [];
    await remakeRouter({});
  });

  afterEach(async () => {
    // Upgraded sockets first: the router's server does not close those itself.
    for (const s of rawSockets) s.destroy();
    rawSockets.clear();
    for (const r of clientRequests.splice(0)) r.destroy();
    for (const a of agents.splice(0)) a.destroy();
    await Promise.all(routers.splice(0).map((r) => r.close()));
    await Promise.all(
      servers.splice(0).map((s) => {
        s.closeAllConnections();
        return new Promise<void>((resolve) => s.close(() => resolve()));
      }),
    );
  });
}

export interface Upstream {
  server: http.Server;
  port: number;
  target: RouteTarget;
}

export async function upstream(handler: http.RequestListener, port = 0): Promise<Upstream> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const p = portOf(server);
  return { server, port: p, target: { host: '127.0.0.1', port: p, container: `web-${p}` } };
}

/** An upstream answering every request with `body`, counting the requests it saw. */
export async function textUpstream(body: string, port = 0): Promise<Upstream & { seen: http.IncomingMessage[] }> {
  const seen: http.IncomingMessage[] = [];
  const up = await upstream((req, res) => {
    seen.push(req);
    req.resume();
    req.on('end', () => res.end(body));
  }, port);
  return { ...up, seen };
}

/** Makes `up` answer upgrades with 101 and echo the bytes back. */
export function echoUpgrades(up: Upstream): void {
  up.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    rawSockets.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
}

/** A port on 127.0.0.1 that nothing listens on (just freed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const p = portOf(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface SendOptions {
  host: string;
  path?: string;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent | false;
  port?: number;
}

/** One request to the router with the given Host header; a fresh connection unless an agent is given. */
export function send(options: SendOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port ?? world.routerPort,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { ...options.headers, host: options.host },
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      },
    );
    clientRequests.push(req);
    req.on('error', reject);
    req.setTimeout(4000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.host}${options.path ?? '/'} timed out`)));
    req.end(options.body);
  });
}

export function get(app: string, path = '/'): Promise<Reply> {
  return send({ host: `${app}.${DOMAIN}`, path });
}

/** Sends an upgrade through the router; resolves with the status line it gets back. */
export function upgradeStatus(host: string): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: world.routerPort,
        path: '/ws',
        headers: { host, connection: 'Upgrade', upgrade: 'websocket' },
      });
      clientRequests.push(req);
      req.on('upgrade', (res: http.IncomingMessage, s: net.Socket) => {
        rawSockets.add(s);
        resolve(res.statusCode ?? 0);
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    }),
    3000,
    'upgrade reply',
  );
}

/** A raw TCP connection to the router, collecting everything it receives until it closes. */
export interface RawClient {
  socket: net.Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves when the router closes the connection (or it errors). */
  closed: Promise<void>;
}

export async function rawClient(port = world.routerPort): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  rawSockets.add(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks).toString('latin1'), closed };
}

/**
 * How many HTTP responses `text` holds, by their status lines (a body may end right before the
 * next one). The bodies the router's tests use never contain a status line.
 */
export function countResponses(text: string): number {
  return text.match(/HTTP\/1\.[01] \d{3} /g)?.length ?? 0;
}
