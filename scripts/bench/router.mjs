// Router benchmark: requests per second and p50/p99 latency for a small and a 1 MB response,
// straight to the app's container, through Slipway's router, and through nginx configured as a
// plain keep-alive reverse proxy to the same container. Loopback only; bounded runs (wrk -d).
//
// Usage: scripts/bench/router [--duration 5] [--connections 32]   (prints a table, then JSON)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, makeRepo, progress, push, sh, startSlipway, table } from './lib/harness.mjs';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } });
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const APP = 'bench-router';

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

async function startNginx(upstreamPort) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-nginx-'));
  const port = await freePort();
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
  return { port, stop: () => (child.kill('SIGQUIT'), rmSync(dir, { recursive: true, force: true })) };
}

const slipway = await startSlipway();
let nginx;
try {
  progress(`Deploying ${APP} (Node web process on the stack image) to a fresh Slipway`);
  const repo = makeRepo({ Procfile: 'web: node server.js\n', 'server.js': SERVER_JS });
  const result = await push(repo, slipway.remote(APP));
  if (result.code !== 0) throw new Error(`the push failed:\n${result.output}`);
  rmSync(repo, { recursive: true, force: true });
  const containerPort = Number(sh('docker', ['ps', '--filter', `label=slipway.app=${APP}`, '--format', '{{.Label "slipway.port"}}']).trim());
  nginx = await startNginx(containerPort);

  const targets = {
    direct: { url: `http://127.0.0.1:${containerPort}`, host: 'direct' },
    slipway: { url: `http://127.0.0.1:${slipway.routerPort}`, host: `${APP}.localhost` },
    nginx: { url: `http://127.0.0.1:${nginx.port}`, host: 'nginx' },
  };
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
    for (const name of ['direct', 'nginx', 'slipway']) {
      const r = results[`${name}/${size}`];
      rows.push([size, name, r.rps, r.p50ms.toFixed(2), r.p99ms.toFixed(2), r.non2xx, r.errors ?? '']);
    }
    rows.push([size, 'slipway/nginx', (s.rps / n.rps).toFixed(2), (s.p50ms / n.p50ms).toFixed(2), (s.p99ms / n.p99ms).toFixed(2), '', '']);
    rows.push([size, 'slipway/direct', (s.rps / d.rps).toFixed(2), (s.p50ms / d.p50ms).toFixed(2), (s.p99ms / d.p99ms).toFixed(2), '', '']);
  }
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`Router benchmark, ${DURATION}s per run, ${CONNECTIONS} connections, wrk -t2, on ${machine}\n`);
  console.log(table(['response', 'path', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'socket errors'], rows));
  console.log(`\n${JSON.stringify({ benchmark: 'router', machine, durationS: DURATION, connections: CONNECTIONS, results }, null, 2)}`);
} finally {
  nginx?.stop();
  await slipway.stop([APP]);
}
