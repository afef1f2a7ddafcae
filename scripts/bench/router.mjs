// Router benchmark: requests per second and p50/p99 latency for a small and a 1 MB response,
// straight to the app's container, through Slipway's router, and through nginx configured as a
// plain keep-alive reverse proxy to the same container. Loopback only; bounded runs (wrk -d).
// HTTPS rows: the same through Slipway's HTTPS port and through nginx terminating TLS with the
// same certificate (ECDSA P-256) and the same TLS 1.3 cipher, keep-alive (wrk) and new TLS
// handshakes per second (a Node client opening fresh connections, no session resumption).
// node-floor rows: a bare Node socket server writing a canned response, plain and TLS: what any
// Node program spends to read a request and write an answer here. Each row has the proxy's CPU
// time per request (its processes' utime+stime from /proc over the measured run).
//
// Usage: scripts/bench/router [--duration 5] [--connections 32]   (prints a table, then JSON)
//        scripts/bench/router --metrics-compare [--rounds 5]: the router with access logs and
//        metrics on (the default) against off (SLIPWAY_ROUTER_METRICS=false), measured side by side
//        with a second router that has them off, serving the same container at the same time (see
//        compareMetrics); prints the on/off ratios, and each router's and the server's CPU per request.
import { spawn } from 'node:child_process';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMicros, freePort, makeRepo, median, parseWrk, progress, push, sh, startSlipway, stopRouter, table, ROOT } from './lib/harness.mjs';
import { selfSignedCertificate } from './lib/self-signed.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'metrics-compare': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '5' },
    // Another name lets a run go beside another helper's (the engine is shared).
    app: { type: 'string', default: 'bench-router' },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const APP = values.app;

const SERVER_JS = `
const http = require('node:http');
const small = Buffer.from('ok ' + process.env.CONTAINER_VERSION + '\\n');
const big = Buffer.alloc(1024 * 1024, 'x');
http.createServer((req, res) => {
  const body = req.url === '/1mb' ? big : small;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function wrk(url, host) {
  return parseWrk(sh('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', '-H', `Host: ${host}`, url]));
}

/** The one TLS 1.3 suite both servers are held to. */
const CIPHER = 'TLS_AES_128_GCM_SHA256';

/** A self-signed ECDSA P-256 certificate for *.localhost, shared by Slipway and nginx. */
function makeCertificate() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cert-'));
  selfSignedCertificate({ keyFile: `${dir}/key.pem`, certFile: `${dir}/cert.pem`, days: 2, subject: '/CN=*.localhost', subjectAltName: 'DNS:*.localhost' });
  return { dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

/** Fresh TLS connections per second (full handshakes: no session is offered), `concurrency` at a time. */
async function handshakes(port, servername, seconds, concurrency = 8) {
  let count = 0;
  let errors = 0;
  let cipher = '';
  const deadline = Date.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, servername, rejectUnauthorized: false, ciphers: CIPHER, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'] },
        () => {
          count++;
          cipher = socket.getCipher().standardName;
          socket.destroy();
          resolve();
        },
      );
      socket.on('error', () => {
        errors++;
        socket.destroy();
        resolve();
      });
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  return { perSecond: Math.round(count / ((Date.now() - started) / 1000)), errors, cipher };
}

/** Resolves once something answers HTTP on the port (5 s at most). */
async function answering(port) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The floor for any Node program answering HTTP and HTTPS here: a bare socket server (no HTTP
 * parser, no proxying) that writes a canned response, small or 1 MB, for each request it reads.
 * What the router spends above it is its own work; what this spends is Node's streams and TLS.
 */
async function startNodeFloor(certificate) {
  const port = await freePort();
  const httpsPort = await freePort();
  const script = `
const net = require('node:net'), tls = require('node:tls'), fs = require('node:fs');
const answer = (size) => Buffer.concat([Buffer.from('HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: ' + size + '\\r\\n\\r\\n'), Buffer.alloc(size, 'x')]);
const small = answer(5), big = answer(1024 * 1024);
const serve = (socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.on('data', (data) => socket.write(data.includes('GET /1mb') ? big : small));
};
net.createServer(serve).listen(${port}, '127.0.0.1');
tls.createServer({ cert: fs.readFileSync(${JSON.stringify(certificate.cert)}), key: fs.readFileSync(${JSON.stringify(certificate.key)}) }, serve).listen(${httpsPort}, '127.0.0.1');
`;
  const child = spawn(process.execPath, [`--tls-cipher-list=${CIPHER}`, '-e', script], { stdio: 'ignore' });
  await answering(port);
  return { port, httpsPort, pid: child.pid, stop: () => child.kill() };
}

async function startNginx(upstreamPort, certificate) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-nginx-'));
  const port = await freePort();
  const httpsPort = await freePort();
  mkdirSync(path.join(dir, 'logs'));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
    }
  }
  server {
    listen 127.0.0.1:${httpsPort} ssl http2;
    ssl_certificate ${certificate.cert};
    ssl_certificate_key ${certificate.key};
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites ${CIPHER};
    ssl_session_tickets off;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  await answering(port);
  return { port, httpsPort, pid: child.pid, stop: () => (child.kill('SIGQUIT'), rmSync(dir, { recursive: true, force: true })) };
}

/** Starts the router again, on the same data directory, port and routes, with metrics on or off. */
async function restartRouter(slipway, metrics) {
  await stopRouter(slipway.dataDir);
  sh(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'router', '--detach', '--data', slipway.dataDir, '--router-port', String(slipway.routerPort)], {
    env: { ...process.env, SLIPWAY_ROUTER_METRICS: String(metrics) },
  });
  // Connected to the server again (so that records flow), then warmed up like every run.
  await new Promise((r) => setTimeout(r, 1000));
}

/** wrk in the background: resolves with its parsed result. */
function wrkAsync(url, host, connections) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${DURATION}s`, '--latency', '-H', `Host: ${host}`, url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', () => resolve(parseWrk(out)));
  });
}

/** CPU time in µs that a process and its children (a router's workers) have used so far. */
const routerPid = (dataDir) => Number(readFileSync(path.join(dataDir, 'router.pid'), 'utf8').trim());

/**
 * Access logs and metrics on against off, side by side: the router under test (the server's, on
 * or off by round) and a second router with them off (on a copy of the routes) serve the same
 * container at the same time, each to its own wrk with half the connections. Whatever else the
 * machine does then falls on both alike. Each round measures the pair twice: with the router under
 * test off (the control: how the two compare when they do the same work) and on; its on/off figure
 * is the second ratio over the first.
 */
async function compareMetrics(slipway) {
  const host = `${APP}.localhost`;
  const half = Math.max(1, Math.floor(CONNECTIONS / 2));
  const twinDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-twin-'));
  const sqlite = createRequire(import.meta.url)('better-sqlite3');
  const db = new sqlite(path.join(slipway.dataDir, 'slipway.db'), { readonly: true });
  await db.backup(path.join(twinDir, 'slipway.db'));
  db.close();
  const twinPort = await freePort();
  sh(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'router', '--detach', '--data', twinDir, '--router-port', String(twinPort)], {
    env: { ...process.env, SLIPWAY_ROUTER_METRICS: 'false' },
  });
  const rounds = [];
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const mode of ['off', 'on']) {
        await restartRouter(slipway, mode === 'on');
        for (const [size, pathname] of [
          ['small', '/'],
          ['1mb', '/1mb'],
        ]) {
          progress(`round ${round}, metrics ${mode} beside a router with them off: wrk ${DURATION}s, ${half}+${half} connections, ${size} response`);
          const pair = () =>
            Promise.all([
              wrkAsync(`http://127.0.0.1:${slipway.routerPort}${pathname}`, host, half),
              wrkAsync(`http://127.0.0.1:${twinPort}${pathname}`, host, half),
            ]);
          await pair(); // warm-up of equal length
          const pids = { tested: routerPid(slipway.dataDir), twin: routerPid(twinDir), server: slipway.child.pid };
          const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMicros(pid)]));
          const [tested, twin] = await pair();
          const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMicros(pid) - before[k]]));
          rounds.push({
            round,
            mode,
            size,
            tested,
            twin,
            cpuPerRequestUs: {
              tested: cpu.tested / tested.requests,
              twin: cpu.twin / twin.requests,
              server: cpu.server / tested.requests,
            },
          });
        }
      }
    }
  } finally {
    await stopRouter(twinDir);
    rmSync(twinDir, { recursive: true, force: true });
  }

  const rows = [];
  const summary = {};
  for (const size of ['small', '1mb']) {
    const of = (mode) => rounds.filter((r) => r.size === size && r.mode === mode);
    const [off, on] = [of('off'), of('on')];
    // Per round: (on / twin) over (off / twin), paired within the round; CPU per request alike.
    const paired = (value) => median(on.map((r, i) => value(r) / value(off[i])));
    const cpuRatio = (r) => r.cpuPerRequestUs.tested / r.cpuPerRequestUs.twin;
    const rps = paired((r) => r.tested.rps / r.twin.rps);
    const p99 = paired((r) => r.tested.p99ms / r.twin.p99ms);
    const cpu = paired(cpuRatio);
    const serverCpu = (list) => median(list.map((r) => r.cpuPerRequestUs.server));
    summary[size] = { rps, p99, routerCpu: cpu, serverCpuUs: { off: serverCpu(off), on: serverCpu(on) } };
    for (const [mode, list] of [
      ['off', off],
      ['on', on],
    ]) {
      rows.push([
        size,
        `metrics ${mode}`,
        list.map((r) => `${r.tested.rps}/${r.twin.rps}`).join(' '),
        median(list.map((r) => r.tested.rps / r.twin.rps)).toFixed(3),
        median(list.map((r) => r.tested.p99ms / r.twin.p99ms)).toFixed(3),
        median(list.map(cpuRatio)).toFixed(3),
        serverCpu(list).toFixed(1),
      ]);
    }
    rows.push([size, 'on/off', '', rps.toFixed(3), p99.toFixed(3), cpu.toFixed(3), '']);
  }
  console.log(
    `\nAccess logs and metrics on vs off, side by side with a router that has them off (${values.rounds} rounds of ${DURATION}s; ratios are medians over the rounds):\n`,
  );
  console.log(
    table(
      [
        'response',
        'router under test',
        'req/s per round (tested/twin)',
        'req/s tested/twin',
        'p99 tested/twin',
        'router CPU/req tested/twin',
        'server CPU µs/req',
      ],
      rows,
    ),
  );
  // What the server received, as a check that the "on" runs really measured every request.
  const metrics = await slipway.api(`/api/apps/${APP}/metrics?since=1h`);
  const counted = metrics.minutes.reduce((a, m) => a + Object.values(m.requests).reduce((x, y) => x + y, 0), 0);
  const sent = rounds.filter((r) => r.mode === 'on').reduce((a, r) => a + r.tested.requests, 0);
  console.log(`\nRequests the server counted for ${APP} in the last hour: ${counted} (the measured "on" runs alone sent ${sent})`);
  return { rounds, summary, counted };
}

function machineLine() {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

const certificate = makeCertificate();
const slipwayHttps = await freePort();
// The same suite on Slipway's side: Node's TLS takes its TLS 1.3 suites from this option.
const slipway = await startSlipway({
  SLIPWAY_HTTPS_PORT: String(slipwayHttps),
  SLIPWAY_TLS_CERT: certificate.cert,
  SLIPWAY_TLS_KEY: certificate.key,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --tls-cipher-list=${CIPHER}`.trim(),
});
let nginx;
let floor;
try {
  progress(`Deploying ${APP} (Node web process on the stack image) to a fresh Slipway`);
  const repo = makeRepo({ Procfile: 'web: node server.js\n', 'server.js': SERVER_JS });
  const result = await push(repo, slipway.remote(APP));
  if (result.code !== 0) throw new Error(`the push failed:\n${result.output}`);
  rmSync(repo, { recursive: true, force: true });
  const containerPort = Number(sh('docker', ['ps', '--filter', `label=slipway.app=${APP}`, '--format', '{{.Label "slipway.port"}}']).trim());
  nginx = await startNginx(containerPort, certificate);
  floor = await startNodeFloor(certificate);

  const targets = {
    direct: { url: `http://127.0.0.1:${containerPort}`, host: 'direct' },
    slipway: { url: `http://127.0.0.1:${slipway.routerPort}`, host: `${APP}.localhost` },
    nginx: { url: `http://127.0.0.1:${nginx.port}`, host: 'nginx' },
    'slipway-https': { url: `https://127.0.0.1:${slipwayHttps}`, host: `${APP}.localhost` },
    'nginx-https': { url: `https://127.0.0.1:${nginx.httpsPort}`, host: `${APP}.localhost` },
    'node-floor': { url: `http://127.0.0.1:${floor.port}`, host: 'floor' },
    'node-floor-https': { url: `https://127.0.0.1:${floor.httpsPort}`, host: 'floor' },
  };
  if (values['metrics-compare']) {
    const compared = await compareMetrics(slipway);
    console.log(
      `\n${JSON.stringify({ benchmark: 'router-metrics', machine: machineLine(), durationS: DURATION, connections: CONNECTIONS, ...compared }, null, 2)}`,
    );
    process.exitCode = 0;
  } else {
    const results = {};
    // The proxy's processes, whose CPU time each run measures (the router's workers and nginx's are their children).
    const proxyPid = {
      slipway: routerPid(slipway.dataDir),
      'slipway-https': routerPid(slipway.dataDir),
      nginx: nginx.pid,
      'nginx-https': nginx.pid,
      'node-floor': floor.pid,
      'node-floor-https': floor.pid,
    };
    for (const [size, pathname] of [
      ['small', '/'],
      ['1mb', '/1mb'],
    ]) {
      for (const [name, t] of Object.entries(targets)) {
        progress(`wrk ${DURATION}s, ${CONNECTIONS} connections: ${name}, ${size} response`);
        wrk(`${t.url}${pathname}`, t.host); // warm-up of equal length keeps runs comparable
        const pid = proxyPid[name];
        const before = pid === undefined ? 0 : cpuMicros(pid);
        const result = wrk(`${t.url}${pathname}`, t.host);
        result.proxyCpuUs = pid === undefined ? null : (cpuMicros(pid) - before) / result.requests;
        results[`${name}/${size}`] = result;
      }
    }
    const rows = [];
    /** One row of a over b: throughput, p50, p99 and (when both were measured) the proxy's CPU per request. */
    const ratio = (label, size, a, b) => {
      const [x, y] = [results[`${a}/${size}`], results[`${b}/${size}`]];
      const cpu = x.proxyCpuUs === null || y.proxyCpuUs === null ? '' : (x.proxyCpuUs / y.proxyCpuUs).toFixed(2);
      return [size, label, (x.rps / y.rps).toFixed(2), (x.p50ms / y.p50ms).toFixed(2), (x.p99ms / y.p99ms).toFixed(2), cpu, '', ''];
    };
    for (const size of ['small', '1mb']) {
      for (const name of ['direct', 'nginx', 'slipway', 'nginx-https', 'slipway-https', 'node-floor', 'node-floor-https']) {
        const r = results[`${name}/${size}`];
        rows.push([size, name, r.rps, r.p50ms.toFixed(2), r.p99ms.toFixed(2), r.proxyCpuUs === null ? '' : r.proxyCpuUs.toFixed(1), r.non2xx, r.errors ?? '']);
      }
      rows.push(ratio('slipway/nginx', size, 'slipway', 'nginx'));
      rows.push(ratio('slipway/direct', size, 'slipway', 'direct'));
      rows.push(ratio('https slipway/nginx', size, 'slipway-https', 'nginx-https'));
    }
    for (const [name, port] of [
      ['nginx', nginx.httpsPort],
      ['slipway', slipwayHttps],
    ]) {
      progress(`TLS handshakes ${DURATION}s, 8 at a time: ${name}`);
      await handshakes(port, `${APP}.localhost`, Math.min(2, DURATION));
      results[`${name}/handshakes`] = await handshakes(port, `${APP}.localhost`, DURATION);
    }
    const machine = machineLine();
    console.log(`Router benchmark, ${DURATION}s per run, ${CONNECTIONS} connections, wrk -t2, on ${machine}\n`);
    console.log(table(['response', 'path', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'non-2xx', 'socket errors'], rows));
    const hs = (name) => results[`${name}/handshakes`];
    console.log(
      `\n${table(
        ['new TLS connections', 'per second', 'errors', 'cipher'],
        [
          ['nginx', hs('nginx').perSecond, hs('nginx').errors, hs('nginx').cipher],
          ['slipway', hs('slipway').perSecond, hs('slipway').errors, hs('slipway').cipher],
          ['slipway/nginx', (hs('slipway').perSecond / hs('nginx').perSecond).toFixed(2), '', ''],
        ],
      )}`,
    );
    console.log(`\n${JSON.stringify({ benchmark: 'router', machine, durationS: DURATION, connections: CONNECTIONS, results }, null, 2)}`);
  }
} finally {
  nginx?.stop();
  floor?.stop();
  await slipway.stop([APP]);
  rmSync(certificate.dir, { recursive: true, force: true });
}
