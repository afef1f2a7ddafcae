// Scale benchmark: how Slipway's costs grow with the number of apps. Deploys N small busybox
// apps on one server, then at each N measures: push-to-live of one more app, server and router
// memory, router throughput to one app (wrk), the time until every app is served after a router
// start and after a cold start of both (server starting its router), and GET /api/apps latency.
// Loopback only; every loop is bounded.
//
// Usage: scripts/bench/scale [--apps 1,30,100,300]   (progress on stderr; a table, then JSON on stdout)
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, makeRepo, percentile, progress, push, rssMb, sh, startSlipway, stopRouter, table } from './lib/harness.mjs';

const { values } = parseArgs({ options: { apps: { type: 'string', default: '1,30,100,300' } } });
const COUNTS = values.apps
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
if (COUNTS.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--apps takes counts such as 1,30,100');
const WEB = 'echo "$CONTAINER_VERSION" > /app/version.txt && exec httpd -f -p 127.0.0.1:$PORT -h /app';
const FILES = {
  Dockerfile: 'FROM slipway/test-busybox:latest\nCOPY . /app\nWORKDIR /app\n',
  Procfile: `web: ${WEB}\n`,
  'index.html': 'hello\n',
};
const PARALLEL_PUSHES = 4;

function get(port, host, pathname = '/version.txt') {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(5000, () => req.destroy());
  });
}

/** Polls until the app answers 200 (at most until the deadline). */
async function untilServes(port, app, deadline) {
  while ((await get(port, `${app}.localhost`)) !== 200) {
    if (performance.now() > deadline) throw new Error(`${app} was not served within 120 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Milliseconds from `since` until the routes serve: the first and the last app answer (a router
 * takes its whole table at once, from the database or the server). Every other app is then checked
 * to answer too, outside the time: asking N apps one by one would time the client, not the router.
 */
async function untilAllServe(port, apps, since) {
  const deadline = since + 120_000;
  await untilServes(port, apps[0], deadline);
  await untilServes(port, apps[apps.length - 1], deadline);
  const served = performance.now() - since;
  for (const app of apps) await untilServes(port, app, deadline);
  return served;
}

function routerPid(dataDir) {
  try {
    return Number(sh('cat', [path.join(dataDir, 'router.pid')]).trim());
  } catch {
    return undefined;
  }
}

// --expose-gc lets GET /api/debug/memory collect garbage first: what the server holds, not what V8 has yet to collect.
const SERVER_ENV = { NODE_OPTIONS: '--expose-gc', SLIPWAY_ROUTER_WORKERS: '0' };
const server = await startSlipway(SERVER_ENV);
const apps = [];
const repo = makeRepo(FILES);
const rows = [];
const results = {};
let baseline;
try {
  for (const n of COUNTS) {
    // Up to n - 1 apps unmeasured, a few pushes at a time; the n-th is the measured push.
    while (apps.length < n - 1) {
      const batch = [];
      while (apps.length < n - 1 && batch.length < PARALLEL_PUSHES) {
        const app = `scale-${apps.length + 1}`;
        apps.push(app);
        batch.push(push(repo, server.remote(app)).then((r) => (r.code === 0 ? undefined : Promise.reject(new Error(`${app}: ${r.output}`)))));
      }
      await Promise.all(batch);
      progress(`${apps.length} apps deployed`);
    }
    const app = `scale-${apps.length + 1}`;
    apps.push(app);
    const started = performance.now();
    const pushed = await push(repo, server.remote(app));
    if (pushed.code !== 0) throw new Error(pushed.output);
    const pushToLive = await untilAllServe(server.routerPort, [app], started);

    await new Promise((r) => setTimeout(r, 1000));
    const memory = await server.api('/api/debug/memory');
    if (!memory.gcForced) throw new Error('the server did not run with --expose-gc');
    const serverHeapMb = memory.heapUsedBytes / 2 ** 20;
    // The server's process alone (its router is its child) and after the collection above.
    const serverMb = rssMb(server.child.pid, { children: false });
    const routerMb = rssMb(routerPid(server.dataDir));
    baseline ??= { n, serverMb, serverHeapMb, routerMb };

    progress(`N=${n}: wrk 3 s, 32 connections to one app`);
    const wrk = sh('wrk', ['-t2', '-c32', '-d3s', '-H', `Host: ${apps[0]}.localhost`, `http://127.0.0.1:${server.routerPort}/version.txt`]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk)?.[1] ?? NaN);

    const latencies = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await server.api('/api/apps');
      latencies.push(performance.now() - t);
    }

    progress(`N=${n}: router restart`);
    await stopRouter(server.dataDir);
    const routerStart = performance.now();
    spawn(path.join(ROOT, 'dist/cli.js'), ['router', '--data', server.dataDir, '--router-port', String(server.routerPort)], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, SLIPWAY_ROUTER_WORKERS: '0' },
    }).unref();
    const afterRouterStart = await untilAllServe(server.routerPort, apps, routerStart);

    progress(`N=${n}: cold start (server and router stopped, server started)`);
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    await stopRouter(server.dataDir);
    const coldStart = performance.now();
    server.child = spawn(
      path.join(ROOT, 'dist/cli.js'),
      ['server', '--data', server.dataDir, '--port', String(server.port), '--router-port', String(server.routerPort)],
      {
        env: { ...process.env, SLIPWAY_ADMIN_TOKEN: server.token, ...SERVER_ENV },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const afterServerStart = await untilAllServe(server.routerPort, apps, coldStart);
    for (
      let i = 0;
      i < 200 &&
      !(await fetch(`${server.url}/api/health`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await new Promise((r) => setTimeout(r, 50));

    const perApp = (now, base) => (n > baseline.n ? ((now - base) / (n - baseline.n)).toFixed(3) : '-');
    results[n] = {
      pushToLiveMs: Math.round(pushToLive),
      serverMb: Math.round(serverMb),
      routerMb: Math.round(routerMb),
      serverMbPerApp: perApp(serverMb, baseline.serverMb),
      serverHeapMb: Number(serverHeapMb.toFixed(1)),
      // Where the rest of the RSS is: the heap V8 reserved, and memory outside it (Buffers, SQLite, malloc).
      serverHeapTotalMb: Number((memory.heapTotalBytes / 2 ** 20).toFixed(1)),
      serverExternalMb: Number((memory.externalBytes / 2 ** 20).toFixed(1)),
      serverHeapMbPerApp: perApp(serverHeapMb, baseline.serverHeapMb),
      routerMbPerApp: perApp(routerMb, baseline.routerMb),
      routerRps: Math.round(rps),
      routesServeAfterRouterStartMs: Math.round(afterRouterStart),
      routesServeAfterColdStartMs: Math.round(afterServerStart),
      apiAppsP50Ms: Number(percentile(latencies, 50).toFixed(1)),
    };
    const r = results[n];
    rows.push([
      n,
      r.pushToLiveMs,
      r.serverMb,
      r.serverMbPerApp,
      r.serverHeapMb,
      r.serverHeapMbPerApp,
      r.routerMb,
      r.routerMbPerApp,
      r.routerRps,
      r.routesServeAfterRouterStartMs,
      r.routesServeAfterColdStartMs,
      r.apiAppsP50Ms,
    ]);
  }
} finally {
  await server.stop(apps);
}

console.log(`Scale benchmark on ${sh('nproc', []).trim()} cores (router in one process)\n`);
console.log(
  table(
    [
      'apps',
      'push-to-live ms',
      'server MB',
      'server MB/app',
      'server heap MB (after GC)',
      'server heap MB/app',
      'router MB',
      'router MB/app',
      'router req/s (one app)',
      'all served after router start ms',
      'all served after cold start ms',
      'GET /api/apps p50 ms',
    ],
    rows,
  ),
);
console.log(`\n${JSON.stringify(results, null, 2)}`);
