// Router A/B: the router as this checkout builds it against the router of another commit (the
// anchor, measured in the same run), each alone in its own process before the same bare Node app,
// no Docker and no server around them. Rounds alternate which goes first; each run is wrk
// (1 thread, small keep-alive requests, bounded by -d) after an equal warm-up. Reported: each
// router's CPU time per request (its process's utime+stime from /proc) and req/s, their medians,
// and the median of the paired per-round ratios (this / base), which the machine's drift between
// rounds cancels out of. For changes on the router's path, where whole runs of scripts/bench/router
// move by ±30 % on a shared VM.
//
// Usage: scripts/bench/router-ab [--base HEAD~1] [--rounds 10] [--duration 3] [--connections 16]
//        (prints a table, then JSON)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMicros, freePort, median, parseWrk, progress, sh, table, ROOT } from './lib/harness.mjs';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
if (!(ROUNDS >= 1 && DURATION >= 1 && CONNECTIONS >= 1)) throw new Error('--rounds, --duration and --connections take whole numbers of 1 or more');

const APP_JS = `
const body = Buffer.from('ok\\n');
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

/** Starts a node child and resolves once it prints "ready". */
function start(args) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 20 s`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
    child.stdout.on('data', (data) => {
      if (!String(data).includes('ready')) return;
      clearTimeout(timer);
      resolve(child);
    });
  });
}

function wrk(port, seconds) {
  const out = sh('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-H', 'Host: app.localhost', `http://127.0.0.1:${port}/`]);
  const { requests, non2xx } = parseWrk(out);
  if (!(requests > 0) || non2xx > 0) throw new Error(`wrk through the router got ${requests} requests, ${non2xx} not 2xx:\n${out}`);
  return requests;
}

const baseSha = sh('git', ['rev-parse', '--short', values.base], { cwd: ROOT }).trim();
const thisSha = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).trim();
const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no', 'src'], { cwd: ROOT }).trim() !== '';
const thisLabel = `${thisSha}${dirty ? '+changes' : ''}`;
const baseDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-ab-'));
const children = [];
try {
  progress(`Building the router of ${values.base} (${baseSha}) in ${baseDir}`);
  sh('git', ['worktree', 'add', '--detach', '--quiet', baseDir, baseSha], { cwd: ROOT });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(baseDir, 'node_modules'));
  sh(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(baseDir, 'tsconfig.json')]);
  progress(`Building this checkout's router (${thisLabel})`);
  sh(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')]);

  const appPort = await freePort();
  children.push(await start(['-e', APP_JS, String(appPort)]));
  const routers = {};
  for (const [name, checkout] of [
    ['base', baseDir],
    ['this', ROOT],
  ]) {
    const port = await freePort();
    const child = await start([path.join(ROOT, 'scripts/bench/lib/router-alone.mjs'), checkout, String(port), String(appPort)]);
    children.push(child);
    routers[name] = { port, pid: child.pid };
  }

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? ['base', 'this'] : ['this', 'base'];
    const result = {};
    for (const name of order) {
      progress(`round ${round}/${ROUNDS}: ${name === 'base' ? baseSha : thisLabel}, wrk ${DURATION}s, ${CONNECTIONS} connections`);
      const { port, pid } = routers[name];
      wrk(port, DURATION); // warm-up of equal length
      const before = cpuMicros(pid);
      const requests = wrk(port, DURATION);
      result[name] = { rps: Math.round(requests / DURATION), cpuUsPerRequest: (cpuMicros(pid) - before) / requests };
    }
    rounds.push(result);
  }

  const column = (name, key) => rounds.map((r) => r[name][key]);
  const paired = (key) => median(rounds.map((r) => r.this[key] / r.base[key]));
  const summary = {
    base: { commit: baseSha, cpuUsPerRequest: median(column('base', 'cpuUsPerRequest')), rps: median(column('base', 'rps')) },
    this: { commit: thisLabel, cpuUsPerRequest: median(column('this', 'cpuUsPerRequest')), rps: median(column('this', 'rps')) },
    pairedRatio: { cpuUsPerRequest: paired('cpuUsPerRequest'), rps: paired('rps') },
  };
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`Router A/B, ${ROUNDS} rounds of wrk ${DURATION}s, ${CONNECTIONS} connections, small responses, on ${machine}\n`);
  const rows = rounds.map((r, i) => [
    i + 1,
    r.base.cpuUsPerRequest.toFixed(1),
    r.this.cpuUsPerRequest.toFixed(1),
    (r.this.cpuUsPerRequest / r.base.cpuUsPerRequest).toFixed(3),
    r.base.rps,
    r.this.rps,
    (r.this.rps / r.base.rps).toFixed(3),
  ]);
  rows.push([
    'median',
    summary.base.cpuUsPerRequest.toFixed(1),
    summary.this.cpuUsPerRequest.toFixed(1),
    summary.pairedRatio.cpuUsPerRequest.toFixed(3),
    summary.base.rps,
    summary.this.rps,
    summary.pairedRatio.rps.toFixed(3),
  ]);
  console.log(table(['round', `CPU µs/req ${baseSha}`, `CPU µs/req ${thisLabel}`, 'ratio', `req/s ${baseSha}`, `req/s ${thisLabel}`, 'ratio'], rows));
  console.log(
    `\n${JSON.stringify({ benchmark: 'router-ab', machine, rounds: ROUNDS, durationS: DURATION, connections: CONNECTIONS, ...summary, perRound: rounds }, null, 2)}`,
  );
} finally {
  for (const child of children) child.kill();
  try {
    sh('git', ['worktree', 'remove', '--force', baseDir], { cwd: ROOT });
  } catch {
    rmSync(baseDir, { recursive: true, force: true });
  }
}
