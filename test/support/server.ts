import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');

export interface TestServer {
  url: string;
  port: number;
  routerPort: number;
  token: string;
  dataDir: string;
  remote(app: string, token?: string): string;
  api<T = unknown>(method: string, pathname: string, body?: unknown): Promise<{ status: number; body: T }>;
  output(): string;
  /** The server process's id (for reading its memory use). */
  pid(): number;
  /** SIGKILL, as a crash would: no cleanup runs. */
  crash(): Promise<void>;
  /** Starts the server again on the same data, ports and token. */
  restart(): Promise<void>;
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
  const child: ChildProcess = spawn(
    CLI,
    ['server', '--data', dataDir, '--port', String(port), '--router-port', String(routerPort), ...(options.args ?? [])],
    {
      // Node and npm tarballs are kept across test servers and runs: each is downloaded once.
      env: { ...process.env, SLIPWAY_ADMIN_TOKEN: token, SLIPWAY_BUILD_CACHE: process.env.SLIPWAY_BUILD_CACHE ?? TEST_BUILD_CACHE, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

async function untilHealthy(url: string, spawned: Spawned): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (spawned.child.exitCode !== null) throw new Error(`the server exited early:\n${spawned.output()}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not become ready:\n${spawned.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the real server (dist/cli.js) in its own process, on free ports and a fresh data dir. */
export async function startServer(options: { env?: Record<string, string>; args?: string[] } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  const port = await freePort();
  const routerPort = await freePort();
  const token = `test-token-${Math.random().toString(36).slice(2)}`;
  const url = `http://127.0.0.1:${port}`;
  let spawned = spawnServer(dataDir, port, routerPort, token, options);
  let previousOutput = '';
  await untilHealthy(url, spawned);

  return {
    url,
    port,
    routerPort,
    token,
    dataDir,
    remote: (app, t = token) => `http://git:${t}@127.0.0.1:${port}/${app}.git`,
    async api<T>(method: string, pathname: string, body?: unknown) {
      const res = await fetch(`${url}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
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
    async restart() {
      previousOutput += spawned.output();
      spawned = spawnServer(dataDir, port, routerPort, token, options);
      await untilHealthy(url, spawned);
    },
    async stop() {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) {
        spawned.child.kill('SIGTERM');
        await new Promise((r) => spawned.child.once('exit', r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
