// Shared by the benchmarks: a real Slipway server on free ports, real git pushes, cleanup.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function sh(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

export function progress(line) {
  process.stderr.write(`-----> ${line}\n`);
}

/** Starts dist/cli.js server and resolves once /api/health answers. */
export async function startSlipway(extraEnv = {}, extraArgs = []) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-'));
  const port = await freePort();
  const routerPort = await freePort();
  const token = `bench-${Math.random().toString(36).slice(2)}`;
  const child = spawn(
    path.join(ROOT, 'dist/cli.js'),
    ['server', '--data', dataDir, '--port', String(port), '--router-port', String(routerPort), ...extraArgs],
    {
      env: { ...process.env, SLIPWAY_ADMIN_TOKEN: token, ...extraEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    routerPort,
    token,
    dataDir,
    child,
    remote: (app) => `http://git:${token}@127.0.0.1:${port}/${app}.git`,
    api: async (pathname) => (await fetch(`${url}${pathname}`, { headers: { authorization: `Bearer ${token}` } })).json(),
    async stop(apps = []) {
      // `this.child`: a benchmark may have started the server again.
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        await new Promise((r) => this.child.once('exit', r));
      }
      await stopRouter(dataDir);
      removeAppsContainers(apps);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The router process outlives the server by design: a benchmark stops its own. */
export async function stopRouter(dataDir) {
  let pid;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'router.pid'), 'utf8').trim());
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The process and its direct children (a router's workers, nginx's). */
export function withChildren(pid) {
  try {
    return [
      pid,
      ...sh('pgrep', ['-P', String(pid)])
        .split('\n')
        .filter(Boolean)
        .map(Number),
    ];
  } catch {
    return [pid]; // no children
  }
}

/** CPU time (user + system) a process and its children (the router's workers, nginx's) have used, in µs. */
export function cpuMicros(pid) {
  let ticks = 0;
  for (const p of withChildren(pid)) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return ticks * (1e6 / clockTicksPerSecond());
}
let clockTicks;
const clockTicksPerSecond = () => (clockTicks ??= Number(sh('getconf', ['CLK_TCK']).trim()));

/** What wrk printed (with --latency for the percentiles): req/s, p50 and p99 in ms, errors, non-2xx, requests. */
export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u] ?? NaN);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? unit(m[1], m[2]) : NaN;
  };
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? null;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps: Math.round(rps), p50ms: pct(50), p99ms: pct(99), errors, non2xx, requests };
}

/** The middle value (the lower of the two middle ones for an even count). */
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/**
 * Resident memory of a process and its children (the router's workers), in MB; with
 * `{ children: false }`, of the process alone (the server's children include its router).
 */
export function rssMb(pid, { children = true } = {}) {
  const pids = children ? withChildren(pid) : [pid];
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** Every container and image of these apps, in one engine call each (a scale run has hundreds of apps). */
export function removeAppsContainers(apps) {
  const wanted = new Set(apps);
  const ids = sh('docker', ['ps', '-a', '--filter', 'label=slipway.app', '--format', '{{.ID}} {{.Label "slipway.app"}}'])
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([id, app]) => id && wanted.has(app))
    .map(([id]) => id);
  if (ids.length) sh('docker', ['rm', '-f', ...ids]);
  const images = sh('docker', ['images', '--format', '{{.ID}} {{.Repository}}'])
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([id, repository]) => id && wanted.has(repository?.replace(/^slipway\//, '')) && repository.startsWith('slipway/'))
    .map(([id]) => id);
  if (images.length) sh('docker', ['rmi', '-f', ...new Set(images)]);
}

export function removeAppContainers(app) {
  const ids = sh('docker', ['ps', '-aq', '--filter', `label=slipway.app=${app}`])
    .split('\n')
    .filter(Boolean);
  if (ids.length) sh('docker', ['rm', '-f', ...ids]);
  const images = sh('docker', ['images', '-q', '--filter', `label=slipway.app=${app}`])
    .split('\n')
    .filter(Boolean);
  if (images.length) sh('docker', ['rmi', '-f', ...new Set(images)]);
}

const GIT_ENV = {
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@slipway.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@slipway.invalid',
};

/** A git working copy made from a map of files. */
export function makeRepo(files) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-app-'));
  writeFiles(dir, files);
  sh('git', ['init', '-q', '-b', 'main'], { cwd: dir, env: GIT_ENV });
  commit(dir, 'initial');
  return dir;
}

export function writeFiles(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
}

export function commit(dir, message) {
  sh('git', ['add', '-A'], { cwd: dir, env: GIT_ENV });
  sh('git', ['commit', '-q', '--allow-empty', '-m', message], { cwd: dir, env: GIT_ENV });
  return sh('git', ['rev-parse', 'HEAD'], { cwd: dir, env: GIT_ENV }).trim();
}

/** Runs `git push`; resolves with the exit code, the output and when each line arrived. */
export function push(dir, remote, refspec = 'main', args = [], env = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('git', ['push', ...args, remote, refspec], { cwd: dir, env: { ...GIT_ENV, ...env } });
    let output = '';
    const lines = [];
    let partial = '';
    const onData = (chunk) => {
      const at = performance.now();
      const text = chunk.toString();
      output += text;
      partial += text;
      const pieces = partial.split(/\r?\n|\r/);
      partial = pieces.pop() ?? '';
      for (const piece of pieces) lines.push({ at, text: piece.replace(/^remote:\s*/, '').trimEnd() });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code, output, lines, started, ended: performance.now() }));
  });
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** GET `pathname` from the app at `host` through the router; resolves with the status once the body is read. */
export function routerGet(routerPort, host, pathname = '/') {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: routerPort, path: pathname, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${host}${pathname} timed out`)));
  });
}
