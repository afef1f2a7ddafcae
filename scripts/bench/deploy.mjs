// Deploy benchmark: push-to-live with Slipway against the machine's floor — the same work done
// by hand with the git and docker CLIs — plus Slipway's phase timeline, a no-change rebuild, a
// first deploy, a push while 5 other apps deploy, hook-line latency, and the server's memory;
// then examples/hello built on the stack (a real npm dependency): its first deploy, a code-only
// change and one dependency added, counting the registry requests npm makes in each build.
// Loopback only (the stack builds reach the npm registry); every loop is bounded.
//
// Usage: scripts/bench/deploy [--runs 10] [--hello-only] [--engine swarm]   (progress on stderr; a table, then JSON on stdout)
// --engine swarm: push-to-live on the 3-node test cluster (scripts/cluster up) against the same
// app on one engine, alternating in the same run; nothing else.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { commit, freePort, makeRepo, percentile, progress, push, ROOT, sh, startSlipway, table } from './lib/harness.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, 'hello-only': { type: 'boolean', default: false }, engine: { type: 'string', default: 'docker' } },
});
const RUNS = Number(values.runs);
const BASE = 'slipway/test-busybox:latest';
const DOCKERFILE = `FROM ${BASE}\nCOPY . /app\nWORKDIR /app\n`;
const WEB = 'echo "$CONTAINER_VERSION" > /app/version.txt && exec httpd -f -p 127.0.0.1:$PORT -h /app';
const APP_FILES = {
  Dockerfile: DOCKERFILE,
  Procfile: `web: ${WEB}\npostdeploy: echo migrated\n`,
  'index.html': 'v0\n',
};

const median = (xs) => percentile(xs, 50);
const p90 = (xs) => percentile(xs, 90);
const ms = (x) => Math.round(x);

/** fetch() cannot set Host; node:http can. */
function httpGet(port, host, pathname) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** Polls (every 5 ms, at most 60 s) until the router serves `sha`; returns when it did. */
async function untilServed(routerPort, app, sha) {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const r = await httpGet(routerPort, `${app}.localhost`, '/version.txt');
    if (r.status === 200 && r.body.trim() === sha) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${app} never served ${sha}`);
}

// ---- the floor: the same steps with the git and docker CLIs, no Slipway

const FLOOR_SCRIPT = `
set -euo pipefail
export DOCKER_BUILDKIT=0
git -C "$WORK" push -q "$BARE" main 2>/dev/null
sha=$(git -C "$BARE" rev-parse main)
git -C "$BARE" archive --format=tar "$sha" | docker build -q --network host -t "floor-bench:$N" - >/dev/null 2>"$ERRLOG" || { cat "$ERRLOG" >&2; exit 1; }
docker run -d --name "floor-bench-$N" --network host --init -e PORT="$PORT" -e CONTAINER_VERSION="$sha" \\
  --entrypoint /bin/sh "floor-bench:$N" -c "$WEB" >/dev/null
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.005; done
docker run --rm --network host --init --entrypoint /bin/sh "floor-bench:$N" -c 'echo migrated' >/dev/null
if [ -n "$OLD" ]; then docker stop -t 30 "$OLD" >/dev/null && docker rm "$OLD" >/dev/null; fi
`;

function floorSetup() {
  const work = makeRepo(APP_FILES);
  const bare = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-bare-'));
  sh('git', ['init', '-q', '--bare', bare]);
  return { work, bare, n: 0, old: '' };
}

async function floorRun(floor) {
  floor.n += 1;
  writeFileSync(path.join(floor.work, 'index.html'), `floor ${floor.n}\n`);
  commit(floor.work, `floor ${floor.n}`);
  const port = await freePort();
  const started = performance.now();
  execFileSync('bash', ['-c', FLOOR_SCRIPT], {
    env: {
      ...process.env,
      ERRLOG: path.join(floor.bare, 'build.err'),
      WORK: floor.work,
      BARE: floor.bare,
      N: String(floor.n),
      PORT: String(port),
      WEB,
      OLD: floor.old,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const elapsed = performance.now() - started;
  if (floor.old) sh('docker', ['rmi', '-f', `floor-bench:${floor.n - 1}`]);
  floor.old = `floor-bench-${floor.n}`;
  return elapsed;
}

function floorCleanup(floor) {
  if (floor.old) sh('docker', ['rm', '-f', floor.old]);
  sh('docker', ['rmi', '-f', `floor-bench:${floor.n}`]);
  rmSync(floor.work, { recursive: true, force: true });
  rmSync(floor.bare, { recursive: true, force: true });
}

// ---- Slipway

/** Content no earlier run of this script built: no build cache, registry or node has its image yet. */
const NONCE = `${process.pid}-${Date.now()}`;

async function slipwayRun(slipway, repo, app, label, change = true) {
  if (change) writeFileSync(path.join(repo, 'index.html'), `${label} ${NONCE}\n`);
  const sha = commit(repo, label);
  const started = performance.now();
  const pushed = push(repo, slipway.remote(app));
  const live = await untilServed(slipway.routerPort, app, sha);
  const result = await pushed;
  if (result.code !== 0) throw new Error(`push failed:\n${result.output}`);
  return { toLive: live - started, pushExit: result.ended - started, startedAtMs: Date.now() - (performance.now() - started) };
}

async function phaseTimeline(slipway, app, id, pushStartedAtMs) {
  const d = await slipway.api(`/api/apps/${app}/deployments/${id}`);
  const phases = Object.fromEntries(d.phases.map((p) => [p.phase, p.durationMs]));
  const buildStart = Date.parse(d.phases.find((p) => p.phase === 'build')?.startedAt ?? d.createdAt);
  return { receive: buildStart - pushStartedAtMs, ...phases };
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

// ---- hook line latency: a Node hook prints timestamps; the client notes when each arrives

const LATENCY_HOOK = `node -e 'let i=0;const t=setInterval(()=>{console.log("tick "+Date.now());if(++i===200)clearInterval(t)},10)'`;

async function hookLatency(slipway) {
  const repo = makeRepo({
    Procfile: `web: node -e 'require("http").createServer((q,s)=>s.end("ok")).listen(process.env.PORT,"127.0.0.1")'\npostdeploy: ${LATENCY_HOOK}\n`,
  });
  try {
    const start = Date.now() - performance.now();
    const result = await push(repo, slipway.remote('bench-latency'));
    if (result.code !== 0) throw new Error(`latency push failed:\n${result.output}`);
    const delays = result.lines
      .map((l) => /^tick (\d+)$/.exec(l.text))
      .map((m, i) => (m ? start + result.lines[i].at - Number(m[1]) : undefined))
      .filter((x) => x !== undefined);
    return { lines: delays.length, p50: median(delays), p99: percentile(delays, 99), max: Math.max(...delays) };
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

// ---- examples/hello on the stack: first deploy, code-only change, one dependency added

/** Polls (every 20 ms, at most 10 min) until examples/hello serves `sha`. */
async function untilHelloServes(routerPort, app, sha) {
  const deadline = performance.now() + 600_000;
  while (performance.now() < deadline) {
    const r = await httpGet(routerPort, `${app}.localhost`, '/');
    if (r.status === 200 && r.body.includes(`version:   ${sha}`)) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${app} never served ${sha}`);
}

async function helloRows(slipway) {
  const app = 'bench-hello';
  const post = (pathname, body) =>
    fetch(`${slipway.url}${pathname}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slipway.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  await post('/api/apps', { name: app });
  await post(`/api/apps/${app}/storage`, { path: '/data' });
  const repo = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-hello-'));
  cpSync(path.join(ROOT, 'examples/hello'), repo, { recursive: true });
  // npm prints each registry request at this level ("npm http fetch GET 200 <url> … (cache miss)").
  writeFileSync(path.join(repo, '.npmrc'), 'loglevel=http\n');
  sh('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  const deploy = async (label) => {
    const sha = commit(repo, label);
    const started = performance.now();
    const pushed = push(repo, slipway.remote(app));
    const live = await untilHelloServes(slipway.routerPort, app, sha);
    const result = await pushed;
    if (result.code !== 0) throw new Error(`hello push failed:\n${result.output}`);
    const fetches = result.lines.filter((l) => /npm http fetch GET/.test(l.text));
    return {
      ms: ms(live - started),
      registryRequests: fetches.length,
      installCached: result.lines.some((l) => /npm ci \(package-lock\.json\) \(cached\)/.test(l.text)),
    };
  };
  try {
    progress('examples/hello: first deploy (Node and npm tarballs already cached or downloaded once)');
    const first = await deploy('hello');
    progress('examples/hello: a code-only change');
    writeFileSync(path.join(repo, 'README.md'), `${readFileSync(path.join(repo, 'README.md'), 'utf8')}\nchanged\n`);
    const codeOnly = await deploy('code only');
    progress('examples/hello: one dependency added (ms@2.1.3)');
    sh('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error', '--omit-lockfile-registry-resolved=false', 'ms@2.1.3'], {
      cwd: repo,
    });
    const oneDependency = await deploy('one dependency');
    return { first, codeOnly, oneDependency };
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

// ---- --engine swarm: the same push on the 3-node test cluster and on one engine, alternating

async function swarmRows() {
  sh('bash', [path.join(ROOT, 'scripts/cluster'), 'up', '--nodes', '3'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const env = Object.fromEntries(
    sh('bash', [path.join(ROOT, 'scripts/cluster'), 'env'])
      .split('\n')
      .map((l) => /^([A-Z_]+)="?([^"]*)"?$/.exec(l))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
  const manager = env.SLIPWAY_CLUSTER_MANAGER;
  // Swarm tasks answer on their node's address: the web process listens on every interface (both engines, alike).
  const files = { ...APP_FILES, Procfile: `web: echo "$CONTAINER_VERSION" > /app/version.txt && exec httpd -f -p $PORT -h /app\npostdeploy: echo migrated\n` };
  const app = 'bench-swarm';
  const removeServices = () => {
    const ids = sh('/usr/bin/docker', ['-H', manager, 'service', 'ls', '-q', '--filter', `label=slipway.app=${app}`])
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) sh('/usr/bin/docker', ['-H', manager, 'service', 'rm', ...ids]);
  };
  removeServices();
  const single = await startSlipway();
  const swarm = await startSlipway({ DOCKER_HOST: manager }, ['--engine', 'swarm', '--registry', env.SLIPWAY_CLUSTER_REGISTRY]);
  const singleRepo = makeRepo(files);
  const swarmRepo = makeRepo(files);
  try {
    progress('First deploys (not counted): one engine, then the swarm');
    await slipwayRun(single, singleRepo, app, 'warm-up');
    await slipwayRun(swarm, swarmRepo, app, 'warm-up');
    const singleTimes = [];
    const swarmTimes = [];
    const singleTimelines = [];
    const timelines = [];
    for (let i = 1; i <= RUNS; i++) {
      progress(`Run ${i}/${RUNS}: one engine, then the swarm`);
      const one = await slipwayRun(single, singleRepo, app, `run ${i}`);
      singleTimes.push(one.toLive);
      singleTimelines.push(await phaseTimeline(single, app, i + 1, one.startedAtMs));
      const run = await slipwayRun(swarm, swarmRepo, app, `run ${i}`);
      swarmTimes.push(run.toLive);
      timelines.push(await phaseTimeline(swarm, app, i + 1, run.startedAtMs));
    }
    const phases = ['receive', 'build', 'start', 'boot', 'postdeploy', 'switch', 'retire'];
    return {
      single: { medianMs: ms(median(singleTimes)), p90Ms: ms(p90(singleTimes)), runs: singleTimes.map(ms) },
      swarm: { medianMs: ms(median(swarmTimes)), p90Ms: ms(p90(swarmTimes)), runs: swarmTimes.map(ms) },
      ratioMedian: Number((median(swarmTimes) / median(singleTimes)).toFixed(2)),
      ratioP90: Number((p90(swarmTimes) / p90(singleTimes)).toFixed(2)),
      singlePhaseMediansMs: Object.fromEntries(phases.map((p) => [p, ms(median(singleTimelines.map((t) => t[p] ?? 0)))])),
      swarmPhaseMediansMs: Object.fromEntries(phases.map((p) => [p, ms(median(timelines.map((t) => t[p] ?? 0)))])),
    };
  } finally {
    rmSync(singleRepo, { recursive: true, force: true });
    rmSync(swarmRepo, { recursive: true, force: true });
    await single.stop([app]);
    await swarm.stop();
    removeServices();
    // The app's images on every node (built on the manager, pulled by the others).
    for (const host of env.SLIPWAY_CLUSTER_HOSTS.split(' ')) {
      // By id: the nodes pulled them by digest, untagged.
      const images = sh('/usr/bin/docker', ['-H', host, 'images', '--format', '{{.Repository}} {{.ID}}'])
        .split('\n')
        .filter((line) => line.split(' ')[0].endsWith(`slipway/${app}`))
        .map((line) => line.split(' ')[1]);
      if (images.length > 0) {
        try {
          sh('/usr/bin/docker', ['-H', host, 'rmi', '-f', ...images]);
        } catch {
          // still used by a task Swarm has not removed yet: the next run's cleanup takes it
        }
      }
    }
  }
}

// ---- main

if (values.engine === 'swarm') {
  const results = await swarmRows();
  console.log(`Deploy benchmark on a 3-node swarm against one engine, ${RUNS} runs each (alternating, first not counted)\n`);
  console.log(
    table(
      ['push-to-live', 'median ms', 'p90 ms'],
      [
        ['one engine', results.single.medianMs, results.single.p90Ms],
        ['3-node swarm', results.swarm.medianMs, results.swarm.p90Ms],
        ['ratio swarm/one engine', results.ratioMedian, results.ratioP90],
        ...Object.entries(results.swarmPhaseMediansMs).map(([p, v]) => [`  phase ${p}: one engine / swarm`, `${results.singlePhaseMediansMs[p]} / ${v}`, '']),
      ],
    ),
  );
  console.log(`\n${JSON.stringify({ benchmark: 'deploy-swarm', runs: RUNS, results }, null, 2)}`);
  process.exit(0);
} else if (values.engine !== 'docker') {
  console.error(`--engine must be docker or swarm, not "${values.engine}"`);
  process.exit(2);
}

if (values['hello-only']) {
  const slipway = await startSlipway();
  try {
    const hello = await helloRows(slipway);
    console.log(
      table(
        ['examples/hello on the stack', 'push-to-live ms', 'npm registry requests', 'install layer'],
        [
          ['first deploy of the app', hello.first.ms, hello.first.registryRequests, hello.first.installCached ? 'cached' : 'built'],
          ['code-only change', hello.codeOnly.ms, hello.codeOnly.registryRequests, hello.codeOnly.installCached ? 'cached' : 'built'],
          ['one dependency added', hello.oneDependency.ms, hello.oneDependency.registryRequests, hello.oneDependency.installCached ? 'cached' : 'built'],
        ],
      ),
    );
    console.log(`\n${JSON.stringify({ benchmark: 'deploy-hello', results: hello }, null, 2)}`);
  } finally {
    await slipway.stop(['bench-hello']);
  }
  process.exit(0);
}

const slipway = await startSlipway();
const floor = floorSetup();
const app = 'bench-deploy';
const repo = makeRepo(APP_FILES);
const apps = [app, 'bench-first', 'bench-latency', 'bench-hello', ...Array.from({ length: 5 }, (_, i) => `bench-other-${i + 1}`)];
try {
  const idleRss = rssMb(slipway.child.pid);
  progress('First deploys (not counted): floor and Slipway');
  await floorRun(floor);
  await slipwayRun(slipway, repo, app, 'warm-up');

  const floorTimes = [];
  const slipwayTimes = [];
  const pushExits = [];
  const timelines = [];
  for (let i = 1; i <= RUNS; i++) {
    progress(`Run ${i}/${RUNS}: floor, then Slipway`);
    floorTimes.push(await floorRun(floor));
    const run = await slipwayRun(slipway, repo, app, `run ${i}`);
    slipwayTimes.push(run.toLive);
    pushExits.push(run.pushExit);
    timelines.push(await phaseTimeline(slipway, app, i + 1, run.startedAtMs));
  }

  progress('No-change rebuild (cached layers) and a first deploy');
  const noChange = await slipwayRun(slipway, repo, app, 'no change', false);
  const firstRepo = makeRepo(APP_FILES);
  const first = await slipwayRun(slipway, firstRepo, 'bench-first', 'first');
  rmSync(firstRepo, { recursive: true, force: true });

  progress('One push while 5 other apps deploy');
  const others = Array.from({ length: 5 }, (_, i) => makeRepo({ ...APP_FILES, 'index.html': `other ${i}\n` }));
  const otherPushes = others.map((dir, i) => push(dir, slipway.remote(`bench-other-${i + 1}`)));
  let peakRss = rssMb(slipway.child.pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(slipway.child.pid))), 20);
  const busy = await slipwayRun(slipway, repo, app, 'while busy');
  await Promise.all(otherPushes);
  clearInterval(sampler);
  for (const dir of others) rmSync(dir, { recursive: true, force: true });

  progress('Hook line latency (200 lines from a Node hook on the stack image)');
  const latency = await hookLatency(slipway);

  const hello = await helloRows(slipway);

  const phases = ['receive', 'build', 'start', 'boot', 'postdeploy', 'switch', 'retire'];
  const phaseMedians = Object.fromEntries(phases.map((p) => [p, ms(median(timelines.map((t) => t[p] ?? 0)))]));
  const results = {
    floor: { medianMs: ms(median(floorTimes)), p90Ms: ms(p90(floorTimes)), runs: floorTimes.map(ms) },
    slipway: { medianMs: ms(median(slipwayTimes)), p90Ms: ms(p90(slipwayTimes)), runs: slipwayTimes.map(ms), pushExitMedianMs: ms(median(pushExits)) },
    ratioMedian: Number((median(slipwayTimes) / median(floorTimes)).toFixed(2)),
    ratioP90: Number((p90(slipwayTimes) / p90(floorTimes)).toFixed(2)),
    phaseMediansMs: phaseMedians,
    noChangeRebuildMs: ms(noChange.toLive),
    firstDeployMs: ms(first.toLive),
    whileFiveOthersDeployMs: ms(busy.toLive),
    hookLineLatencyMs: { lines: latency.lines, p50: ms(latency.p50), p99: ms(latency.p99), max: ms(latency.max) },
    serverRssMb: { idle: idleRss, peakWhileSixDeploy: peakRss },
    hello: { ...hello, codeOnlyOverBusybox: Number((hello.codeOnly.ms / median(slipwayTimes)).toFixed(2)) },
  };
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, git ${sh('git', ['--version']).trim().split(' ').pop()}, Docker ${sh('docker', ['version', '--format', '{{.Server.Version}}']).trim()}`;
  console.log(`Deploy benchmark, ${RUNS} runs each (alternating, first not counted), on ${machine}\n`);
  console.log(
    table(
      ['measure', 'median ms', 'p90 ms'],
      [
        ['floor (git + docker CLIs)', results.floor.medianMs, results.floor.p90Ms],
        ['Slipway push-to-live', results.slipway.medianMs, results.slipway.p90Ms],
        ['ratio Slipway/floor', results.ratioMedian, results.ratioP90],
        ['Slipway git push exits', results.slipway.pushExitMedianMs, ''],
        ...phases.map((p) => [`  phase: ${p}`, phaseMedians[p], '']),
        ['no-change rebuild', results.noChangeRebuildMs, ''],
        ['first deploy of an app', results.firstDeployMs, ''],
        ['push while 5 other apps deploy', results.whileFiveOthersDeployMs, ''],
        ['hook line to git client p50 / p99', `${results.hookLineLatencyMs.p50} / ${results.hookLineLatencyMs.p99}`, ''],
        ['server RSS idle / during 6 deploys (MB)', `${idleRss} / ${peakRss}`, ''],
        ['examples/hello: first deploy (npm requests)', `${hello.first.ms} (${hello.first.registryRequests})`, ''],
        ['examples/hello: code-only change (npm requests)', `${hello.codeOnly.ms} (${hello.codeOnly.registryRequests})`, ''],
        ['  ratio to the busybox push-to-live', results.hello.codeOnlyOverBusybox, ''],
        ['examples/hello: one dependency added (npm requests)', `${hello.oneDependency.ms} (${hello.oneDependency.registryRequests})`, ''],
      ],
    ),
  );
  console.log(`\n${JSON.stringify({ benchmark: 'deploy', machine, runs: RUNS, results }, null, 2)}`);
} finally {
  floorCleanup(floor);
  rmSync(repo, { recursive: true, force: true });
  await slipway.stop(apps);
}
