// Operations benchmark: how long scale, restart, env:set --restart and rollback take from the
// request to the result, on a busybox app, while clients keep requesting it through the router
// (and how many of their requests failed: the aim is none). Loopback only; every loop is bounded.
//
// Usage: scripts/bench/operations [--runs 5]   (progress on stderr; a table, then JSON on stdout)
import http from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { commit, makeRepo, percentile, progress, push, startSlipway, table, writeFiles } from './lib/harness.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const APP = 'bench-ops';
const WEB = 'echo "$CONTAINER_VERSION" > /app/version.txt && exec httpd -f -p 127.0.0.1:$PORT -h /app';
const FILES = {
  Dockerfile: 'FROM slipway/test-busybox:latest\nCOPY . /app\nWORKDIR /app\n',
  Procfile: `web: ${WEB}\nworker: exec sleep 100000\npostdeploy: echo migrated\n`,
  'index.html': 'v1\n',
};

/** Clients requesting the app until stopped; counts answers that are not 200. */
function load(routerPort, clients = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  let ok = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: routerPort, path: '/version.txt', headers: { host: `${APP}.localhost` }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    });
  const loops = Array.from({ length: clients }, async () => {
    for (let i = 0; running && i < 1_000_000; i++) await one();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed };
    },
  };
}

/** POSTs an operation and reads its NDJSON to the end; resolves with the time it took. */
async function operation(slipway, pathname, body) {
  const started = performance.now();
  const res = await fetch(`${slipway.url}${pathname}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${slipway.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const last = JSON.parse(text.trim().split('\n').at(-1));
  if (!('result' in last)) throw new Error(`${pathname} failed: ${text}`);
  return performance.now() - started;
}

async function main() {
  const slipway = await startSlipway();
  const dir = makeRepo(FILES);
  try {
    progress('First deploy');
    let result = await push(dir, slipway.remote(APP));
    if (result.code !== 0) throw new Error(result.output);
    writeFiles(dir, { 'index.html': 'v2\n' });
    commit(dir, 'v2');
    result = await push(dir, slipway.remote(APP));
    if (result.code !== 0) throw new Error(result.output);

    const steps = [
      ['scale web 1 → 3', () => operation(slipway, `/api/apps/${APP}/scale`, { web: 3 })],
      ['scale web 3 → 1', () => operation(slipway, `/api/apps/${APP}/scale`, { web: 1 })],
      ['restart (web-1, worker-1)', () => operation(slipway, `/api/apps/${APP}/restart`, {})],
      [
        'env change + restart',
        async () => {
          const started = performance.now();
          await fetch(`${slipway.url}/api/apps/${APP}/env`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${slipway.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ RUN: String(started) }),
          });
          await operation(slipway, `/api/apps/${APP}/restart`, {});
          return performance.now() - started;
        },
      ],
      ['rollback (previous image, hook)', () => operation(slipway, `/api/apps/${APP}/rollback`, {})],
    ];
    const times = new Map(steps.map(([name]) => [name, []]));
    const traffic = load(slipway.routerPort);
    for (let run = 1; run <= RUNS; run++) {
      progress(`Run ${run}/${RUNS}`);
      for (const [name, step] of steps) times.get(name).push(await step());
    }
    const requests = await traffic.stop();

    const rows = steps.map(([name]) => {
      const xs = times.get(name);
      return [name, Math.round(percentile(xs, 50)), Math.round(percentile(xs, 90))];
    });
    console.log(table(['operation', 'median ms', 'p90 ms'], rows));
    console.log(`\nrequests during the operations: ${requests.ok} answered 200, ${requests.failed} failed`);
    console.log(JSON.stringify({ runs: RUNS, operations: Object.fromEntries(times), requests }));
  } finally {
    await slipway.stop([APP]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
