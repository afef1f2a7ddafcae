// Router benchmark: requests per second and p50/p99 latency for a small and a 1 MB response,
// straight to the app's container, through Slipway's router, and through nginx configured as a
// plain keep-alive reverse proxy to the same container. Loopback only; bounded runs (wrk -d).
// HTTPS rows: the same through Slipway's HTTPS port and through nginx terminating TLS with the
// same certificate (ECDSA P-256) and the same TLS 1.3 cipher, keep-alive (wrk) and new TLS
// handshakes per second (a Node client opening fresh connections, no session resumption).
//
// Usage: scripts/bench/router [--duration 5] [--connections 32]   (prints a table, then JSON)
//        scripts/bench/router --metrics-compare [--rounds 2]: the same app and container through
//        the router with access logs and metrics on (the default) and off (SLIPWAY_ROUTER_METRICS=false),
//        the router restarted between them, alternating on/off rounds; prints the on/off ratios.
import { spawn } from 'node:child_process';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, makeRepo, progress, push, sh, startSlipway, stopRouter, table, ROOT } from './lib/harness.mjs';
import { selfSignedCertificate } from './lib/self-signed.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'metrics-compare': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
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
  const out = sh('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', '-H', `Host: ${host}`, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u] ?? NaN);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? unit(m[1], m[2]) : NaN;
  };
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? null;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps: Math.round(rps), p50ms: pct(50), p99ms: pct(99), errors, non2xx };
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
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { port, httpsPort, stop: () => (child.kill('SIGQUIT'), rmSync(dir, { recursive: true, force: true })) };
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

/** The same requests through the router with access logs and metrics on and off, alternating rounds. */
async function compareMetrics(slipway) {
  const url = `http://127.0.0.1:${slipway.routerPort}`;
  const host = `${APP}.localhost`;
  const runs = { on: { small: [], '1mb': [] }, off: { small: [], '1mb': [] } };
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const mode of ['off', 'on']) {
      await restartRouter(slipway, mode === 'on');
      for (const [size, pathname] of [
        ['small', '/'],
        ['1mb', '/1mb'],
      ]) {
        progress(`round ${round}, metrics ${mode}: wrk ${DURATION}s, ${CONNECTIONS} connections, ${size} response`);
        wrk(`${url}${pathname}`, host);
        runs[mode][size].push(wrk(`${url}${pathname}`, host));
      }
    }
  }
  const mean = (list, key) => list.reduce((a, r) => a + r[key], 0) / list.length;
  const rows = [];
  const summary = {};
  for (const size of ['small', '1mb']) {
    const on = runs.on[size];
    const off = runs.off[size];
    for (const [mode, list] of [
      ['off', off],
      ['on', on],
    ]) {
      rows.push([
        size,
        `metrics ${mode}`,
        Math.round(mean(list, 'rps')),
        mean(list, 'p50ms').toFixed(2),
        mean(list, 'p99ms').toFixed(2),
        list.map((r) => r.rps).join(' / '),
      ]);
    }
    const ratio = { rps: mean(on, 'rps') / mean(off, 'rps'), p99: mean(on, 'p99ms') / mean(off, 'p99ms') };
    summary[size] = ratio;
    rows.push([size, 'on/off', ratio.rps.toFixed(3), (mean(on, 'p50ms') / mean(off, 'p50ms')).toFixed(3), ratio.p99.toFixed(3), '']);
  }
  console.log(`\nAccess logs and metrics on vs off (same container, router restarted between modes, ${values.rounds} alternating rounds, means):\n`);
  console.log(table(['response', 'router', 'req/s', 'p50 ms', 'p99 ms', 'req/s per round'], rows));
  // What the server received, as a check that the "on" runs really measured every request.
  const metrics = await slipway.api(`/api/apps/${APP}/metrics?since=1h`);
  const counted = metrics.minutes.reduce((a, m) => a + Object.values(m.requests).reduce((x, y) => x + y, 0), 0);
  console.log(`\nRequests the server counted for ${APP} in the last hour: ${counted}`);
  return { runs, summary, counted };
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
try {
  progress(`Deploying ${APP} (Node web process on the stack image) to a fresh Slipway`);
  const repo = makeRepo({ Procfile: 'web: node server.js\n', 'server.js': SERVER_JS });
  const result = await push(repo, slipway.remote(APP));
  if (result.code !== 0) throw new Error(`the push failed:\n${result.output}`);
  rmSync(repo, { recursive: true, force: true });
  const containerPort = Number(sh('docker', ['ps', '--filter', `label=slipway.app=${APP}`, '--format', '{{.Label "slipway.port"}}']).trim());
  nginx = await startNginx(containerPort, certificate);

  const targets = {
    direct: { url: `http://127.0.0.1:${containerPort}`, host: 'direct' },
    slipway: { url: `http://127.0.0.1:${slipway.routerPort}`, host: `${APP}.localhost` },
    nginx: { url: `http://127.0.0.1:${nginx.port}`, host: 'nginx' },
    'slipway-https': { url: `https://127.0.0.1:${slipwayHttps}`, host: `${APP}.localhost` },
    'nginx-https': { url: `https://127.0.0.1:${nginx.httpsPort}`, host: `${APP}.localhost` },
  };
  if (values['metrics-compare']) {
    const compared = await compareMetrics(slipway);
    console.log(
      `\n${JSON.stringify({ benchmark: 'router-metrics', machine: machineLine(), durationS: DURATION, connections: CONNECTIONS, ...compared }, null, 2)}`,
    );
    process.exitCode = 0;
  } else {
    const results = {};
    for (const [size, pathname] of [
      ['small', '/'],
      ['1mb', '/1mb'],
    ]) {
      for (const [name, t] of Object.entries(targets)) {
        progress(`wrk ${DURATION}s, ${CONNECTIONS} connections: ${name}, ${size} response`);
        wrk(`${t.url}${pathname}`, t.host); // warm-up of equal length keeps runs comparable
        results[`${name}/${size}`] = wrk(`${t.url}${pathname}`, t.host);
      }
    }
    const rows = [];
    for (const size of ['small', '1mb']) {
      const s = results[`slipway/${size}`];
      const n = results[`nginx/${size}`];
      const d = results[`direct/${size}`];
      for (const name of ['direct', 'nginx', 'slipway', 'nginx-https', 'slipway-https']) {
        const r = results[`${name}/${size}`];
        rows.push([size, name, r.rps, r.p50ms.toFixed(2), r.p99ms.toFixed(2), r.non2xx, r.errors ?? '']);
      }
      rows.push([size, 'slipway/nginx', (s.rps / n.rps).toFixed(2), (s.p50ms / n.p50ms).toFixed(2), (s.p99ms / n.p99ms).toFixed(2), '', '']);
      rows.push([size, 'slipway/direct', (s.rps / d.rps).toFixed(2), (s.p50ms / d.p50ms).toFixed(2), (s.p99ms / d.p99ms).toFixed(2), '', '']);
      const sh_ = results[`slipway-https/${size}`];
      const nh = results[`nginx-https/${size}`];
      rows.push([size, 'https slipway/nginx', (sh_.rps / nh.rps).toFixed(2), (sh_.p50ms / nh.p50ms).toFixed(2), (sh_.p99ms / nh.p99ms).toFixed(2), '', '']);
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
    console.log(table(['response', 'path', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'socket errors'], rows));
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
  await slipway.stop([APP]);
  rmSync(certificate.dir, { recursive: true, force: true });
}
