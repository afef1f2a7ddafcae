import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestApp } from './app.js';
import { removeApp } from './docker.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');

export interface TestServer {
  url: string;
  port: number;
  routerPort: number;
  /** The router's HTTPS port, when started with `https: true`. */
  httpsPort: number | undefined;
  token: string;
  dataDir: string;
  remote(app: string, token?: string): string;
  api<T = unknown>(method: string, pathname: string, body?: unknown): Promise<{ status: number; body: T }>;
  output(): string;
  /** The server process's id (for reading its memory use). */
  pid(): number;
  /** SIGKILL, as a crash would: no cleanup runs (the router process keeps serving). */
  crash(): Promise<void>;
  /** The router process's id (from <data>/router.pid). */
  routerPid(): number | undefined;
  /** SIGHUP to the router: a new router process takes over; resolves once the old one exited. */
  replaceRouter(): Promise<number>;
  /** Stops the server if it runs, then starts it again on the same data, ports and token (with `env` added to its environment from now on). */
  restart(env?: Record<string, string>): Promise<void>;
  /** Stops the server (SIGTERM) and waits for it to exit; the router keeps running. */
  stopServer(): Promise<void>;
  /** Stops the server and its router, and removes the data directory. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
}

/** Where test servers keep build downloads (Node, npm), so CI downloads each version once. */
const TEST_BUILD_CACHE = '/var/cache/slipway-test/build';

function spawnServer(dataDir: string, port: number, routerPort: number, token: string, options: { env?: Record<string, string>; args?: string[] }): Spawned {
  // The file itself, as an installed `slipway server` runs: its shebang sets Node's flags.
  const child: ChildProcess = spawn(CLI, ['server', '--data', dataDir, '--port', String(port), '--router-port', String(routerPort), ...(options.args ?? [])], {
    // Node and npm tarballs are kept across test servers and runs: each is downloaded once.
    env: { ...process.env, SLIPWAY_ADMIN_TOKEN: token, SLIPWAY_BUILD_CACHE: process.env.SLIPWAY_BUILD_CACHE ?? TEST_BUILD_CACHE, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

function readRouterPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dataDir, 'router.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

interface Reply {
  status: number;
  text: string;
}

/**
 * One request to the server. fetch() cannot be given a CA of its own, so a server whose API speaks
 * TLS with a certificate from the test's private CA (`ca`) is asked through node:https instead.
 */
async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string }, ca: string | undefined): Promise<Reply> {
  if (ca === undefined) {
    const res = await fetch(url, init);
    return { status: res.status, text: await res.text() };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

async function untilHealthy(url: string, spawned: Spawned, ca: string | undefined): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (spawned.child.exitCode !== null) throw new Error(`the server exited early:\n${spawned.output()}`);
    try {
      if ((await send(`${url}/api/health`, {}, ca)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not become ready:\n${spawned.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ServerOptions {
  /** Added to the server's environment. */
  env?: Record<string, string>;
  /** Added to `slipway server`'s arguments (`--data DIR` puts the data directory there). */
  args?: string[];
  /** The router also serves HTTPS (`--https-port`), on a free port: `server.httpsPort`. */
  https?: boolean;
  /**
   * The API and git answer over HTTPS (SLIPWAY_API_TLS) with this certificate for localhost:
   * `server.url` and `remote()` are https://localhost:PORT, and the test side trusts `ca` (PEM).
   */
  apiTls?: { certFile: string; keyFile: string; ca: string };
}

/** Starts the real server (dist/cli.js) in its own process, on free ports and a fresh data dir. */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  // A test may put the data directory elsewhere (its own disk): the router's pid file is there.
  const given = options.args?.indexOf('--data') ?? -1;
  const dataDir = given >= 0 && options.args![given + 1] ? options.args![given + 1]! : mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  const port = await freePort();
  const routerPort = await freePort();
  const httpsPort = options.https ? await freePort() : undefined;
  if (httpsPort !== undefined) options = { ...options, args: [...(options.args ?? []), '--https-port', String(httpsPort)] };
  const token = `test-token-${Math.random().toString(36).slice(2)}`;
  const tls = options.apiTls;
  if (tls !== undefined) options = { ...options, env: { SLIPWAY_API_TLS: '1', SLIPWAY_TLS_CERT: tls.certFile, SLIPWAY_TLS_KEY: tls.keyFile, ...options.env } };
  const url = tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`;
  let spawned = spawnServer(dataDir, port, routerPort, token, options);
  let previousOutput = '';
  await untilHealthy(url, spawned, tls?.ca);

  return {
    url,
    port,
    routerPort,
    httpsPort,
    token,
    dataDir,
    remote: (app, t = token) => `${url.replace('://', `://git:${t}@`)}/${app}.git`,
    async api<T>(method: string, pathname: string, body?: unknown) {
      const res = await send(
        `${url}${pathname}`,
        {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        },
        tls?.ca,
      );
      const text = res.text;
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // plain text endpoint
      }
      return { status: res.status, body: parsed as T };
    },
    output: () => previousOutput + spawned.output(),
    pid: () => spawned.child.pid!,
    async crash() {
      spawned.child.kill('SIGKILL');
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) await new Promise((r) => spawned.child.once('exit', r));
    },
    routerPid: () => readRouterPid(dataDir),
    async replaceRouter() {
      const old = readRouterPid(dataDir);
      if (old === undefined) throw new Error('no router runs');
      process.kill(old, 'SIGHUP');
      await until('the new router', () => (readRouterPid(dataDir) ?? old) !== old);
      await until('the old router to exit', () => !alive(old));
      return readRouterPid(dataDir)!;
    },
    async restart(env?: Record<string, string>) {
      if (env !== undefined) options = { ...options, env: { ...options.env, ...env } };
      // A server still running is stopped first (SIGTERM): else the new one cannot take the port,
      // and the old one, still answering, would pass for it and outlive the test.
      await stopProcess(spawned.child);
      previousOutput += spawned.output();
      spawned = spawnServer(dataDir, port, routerPort, token, options);
      await untilHealthy(url, spawned, tls?.ca);
    },
    stopServer: () => stopProcess(spawned.child),
    async stop() {
      await stopProcess(spawned.child);
      // The router outlives the server by design; the test's is stopped here so nothing leaks.
      const router = readRouterPid(dataDir);
      if (router !== undefined && alive(router)) {
        process.kill(router, 'SIGTERM');
        await until('the router to stop', () => !alive(router)).catch(() => process.kill(router, 'SIGKILL'));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliOptions {
  /** null: no SLIPWAY_TOKEN at all; default: the server's admin token. */
  token?: string | null;
  cwd?: string;
  input?: string | Buffer;
}

export type CliRunner = ReturnType<typeof cliRunner>;

/** The environment the CLI runs in: only a HOME of its own, PATH, the server's URL and (unless null) a token. */
export function cliEnv(server: TestServer, home: string, token: string | null = server.token): Record<string, string> {
  const env: Record<string, string> = { HOME: home, PATH: process.env.PATH ?? '', SLIPWAY_URL: server.url };
  if (token !== null) env.SLIPWAY_TOKEN = token;
  return env;
}

/** Runs the real CLI (dist/cli.js) as a user would, never on a TTY, with its own HOME. */
export function cliRunner(server: TestServer, home: string) {
  return (args: string[], options: CliOptions = {}) =>
    execa(process.execPath, [CLI, ...args], {
      env: cliEnv(server, home, options.token === undefined ? server.token : options.token),
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
      cwd: options.cwd ?? home,
      input: options.input,
    });
}

/** A CLI started without waiting for it (`logs --follow`): its stdout lines collect in `lines`. */
export interface RunningCli {
  child: ChildProcess;
  lines: string[];
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * One test file's real server, with an admin CLI in a HOME of its own, and everything the file
 * leaves behind: `stop()` (in afterAll) stops the server and its router, kills CLIs still
 * running, removes the named apps' containers and images, the git working copies and the HOME.
 * Each file keeps its own hooks (and their timeouts); this owns the setup and the teardown.
 */
export class ServerSuite {
  private server: TestServer | undefined;
  private home: string | undefined;
  private readonly appNames = new Set<string>();
  private readonly copies: TestApp[] = [];
  private readonly running: ChildProcess[] = [];

  /** `apps`: the apps whose containers and images `stop()` removes (more with `owns`). */
  constructor(apps: string[] = []) {
    for (const name of apps) this.appNames.add(name);
  }

  async start(options: ServerOptions = {}): Promise<{ server: TestServer; home: string; slipway: CliRunner }> {
    this.server = await startServer(options);
    this.home = mkdtempSync(path.join(os.tmpdir(), 'slipway-home-'));
    return { server: this.server, home: this.home, slipway: cliRunner(this.server, this.home) };
  }

  /** Marks an app whose containers and images `stop()` removes; returns its name. */
  owns(name: string): string {
    this.appNames.add(name);
    return name;
  }

  /** A git working copy of `files`, removed by `stop()`. */
  app(files: Record<string, string | Buffer>): TestApp {
    const app = new TestApp(files);
    this.copies.push(app);
    return app;
  }

  /** Starts the CLI without waiting for it; `stop()` kills it if it still runs. */
  spawnCli(args: string[]): RunningCli {
    if (this.server === undefined || this.home === undefined) throw new Error('start() the suite first');
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(this.server, this.home), stdio: ['ignore', 'pipe', 'pipe'] });
    this.running.push(child);
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const pieces = (partial + chunk.toString()).split('\n');
      partial = pieces.pop()!;
      lines.push(...pieces);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, lines, stderr: () => stderr, exited };
  }

  async stop(): Promise<void> {
    for (const child of this.running) child.kill('SIGKILL');
    await this.server?.stop();
    for (const name of this.appNames) await removeApp(name);
    for (const copy of this.copies) copy.remove();
    if (this.home !== undefined) rmSync(this.home, { recursive: true, force: true });
  }
}
