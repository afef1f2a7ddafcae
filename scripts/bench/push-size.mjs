// Push throughput for a repository with 200 MB of objects: Slipway against `git http-backend`
// behind a plain CGI server (busybox httpd), both over loopback. The push is a tag, which
// Slipway stores without deploying, so both sides do the same work: receive and index a pack.
//
// Usage: scripts/bench/push-size [--mb 200] [--runs 3]   (progress on stderr; table, then JSON)
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { commit, freePort, makeRepo, percentile, progress, push, sh, startSlipway, table } from './lib/harness.mjs';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });
const MB = Number(values.mb);
const RUNS = Number(values.runs);

async function startCgiServer() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cgi-'));
  mkdirSync(path.join(root, 'www/cgi-bin'), { recursive: true });
  mkdirSync(path.join(root, 'repos'));
  const script = path.join(root, 'www/cgi-bin/git');
  writeFileSync(script, `#!/bin/sh\nexport GIT_PROJECT_ROOT=${root}/repos GIT_HTTP_EXPORT_ALL=1 REMOTE_USER=bench\nexec git http-backend\n`);
  chmodSync(script, 0o755);
  const port = await freePort();
  const child = spawn('busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', path.join(root, 'www')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 200));
  return {
    newRepo(name) {
      const dir = path.join(root, 'repos', `${name}.git`);
      sh('git', ['init', '-q', '--bare', dir]);
      sh('git', ['config', 'http.receivepack', 'true'], { cwd: dir });
      return `http://127.0.0.1:${port}/cgi-bin/git/${name}.git`;
    },
    stop() {
      child.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

progress(`Making a repository with ${MB} MB of incompressible objects`);
const repo = makeRepo({ Procfile: 'web: true\n' });
for (let i = 0; i < MB / 10; i++) writeFileSync(path.join(repo, `blob-${i}.bin`), randomBytes(10 * 1024 * 1024));
commit(repo, 'big');
sh('git', ['tag', 'big'], { cwd: repo });

const slipway = await startSlipway();
const cgi = await startCgiServer();
const times = { slipway: [], cgi: [] };
try {
  for (let i = 1; i <= RUNS; i++) {
    for (const [name, remote] of [
      ['cgi', cgi.newRepo(`big-${i}`)],
      ['slipway', slipway.remote(`big-push-${i}`)],
    ]) {
      progress(`Run ${i}/${RUNS}: ${name}`);
      // busybox httpd cannot take a chunked request body: one sized POST for both servers.
      // Without compression and delta search the client's CPU no longer hides the servers'.
      const result = await push(repo, remote, 'refs/tags/big', [], {
        GIT_CONFIG_COUNT: '3',
        GIT_CONFIG_KEY_0: 'http.postBuffer',
        GIT_CONFIG_VALUE_0: String((MB + 64) * 1024 * 1024),
        GIT_CONFIG_KEY_1: 'core.compression',
        GIT_CONFIG_VALUE_1: '0',
        GIT_CONFIG_KEY_2: 'pack.window',
        GIT_CONFIG_VALUE_2: '0',
      });
      if (result.code !== 0) throw new Error(`${name} push failed:\n${result.output}`);
      times[name].push((result.ended - result.started) / 1000);
    }
  }
  const med = (xs) => percentile(xs, 50);
  const results = {
    megabytes: MB,
    slipway: { medianS: Number(med(times.slipway).toFixed(2)), mbPerS: Math.round(MB / med(times.slipway)), runs: times.slipway },
    gitHttpBackend: { medianS: Number(med(times.cgi).toFixed(2)), mbPerS: Math.round(MB / med(times.cgi)), runs: times.cgi },
  };
  results.ratio = Number((med(times.cgi) / med(times.slipway)).toFixed(2));
  console.log(`Push of ${MB} MB of objects as a tag, ${RUNS} runs each, on ${os.cpus().length} cores, Node ${process.version}\n`);
  console.log(
    table(
      ['server', 'median s', 'MB/s'],
      [
        ['git http-backend (busybox httpd CGI)', results.gitHttpBackend.medianS, results.gitHttpBackend.mbPerS],
        ['Slipway', results.slipway.medianS, results.slipway.mbPerS],
        ['ratio Slipway/http-backend', '', results.ratio],
      ],
    ),
  );
  console.log(`\n${JSON.stringify({ benchmark: 'push-size', results }, null, 2)}`);
} finally {
  cgi.stop();
  await slipway.stop();
  rmSync(repo, { recursive: true, force: true });
}
