'use strict';
// Relays a push from git's proc-receive protocol to the Slipway server and back.
// All logic lives in the server: this file speaks pkt-lines to git, forwards the pushed
// commands over the server's unix socket, copies every line it gets to stderr as it
// arrives (git shows them as `remote:` lines), and answers git with the server's verdict.
const net = require('node:net');
const { execFileSync } = require('node:child_process');

// Slipway's prefix for an error line: the same as the server's (VOICE.error in src/deploy/log.ts;
// test/unit/hook-relay.test.ts checks they agree).
const ERROR = ' !     ';
const FLUSH = Symbol('flush');
// A pkt-line is 4 hex digits giving its whole length (the 4 included), at most 65520 bytes;
// "0000" is a flush. Anything else is not git talking: stop rather than guess.
const PKT_LENGTH = /^[0-9a-f]{4}$/;
const MAX_PKT = 65520;
let buffered = Buffer.alloc(0);
const waiting = [];
const packets = [];

process.stdin.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  for (;;) {
    if (buffered.length < 4) break;
    const head = buffered.subarray(0, 4).toString('latin1');
    const size = PKT_LENGTH.test(head) ? parseInt(head, 16) : NaN;
    if (size === 0) {
      packets.push(FLUSH);
      buffered = buffered.subarray(4);
      continue;
    }
    if (!(size >= 4 && size <= MAX_PKT)) {
      say(`${ERROR}slipway hook: git sent a malformed pkt-line length ${JSON.stringify(head)}; nothing was deployed, push again`);
      process.exit(1);
    }
    if (buffered.length < size) break;
    packets.push(buffered.subarray(4, size).toString('utf8').replace(/\n$/, ''));
    buffered = buffered.subarray(size);
  }
  while (waiting.length > 0 && packets.length > 0) waiting.shift()(packets.shift());
});
// Input that ends mid-conversation: git went away; there is nobody to answer.
process.stdin.on('end', () => {
  if (waiting.length > 0) {
    say(`${ERROR}slipway hook: git closed the connection before sending the pushed commands; nothing was deployed`);
    process.exit(1);
  }
});

function nextPacket() {
  if (packets.length > 0) return Promise.resolve(packets.shift());
  return new Promise((resolve) => waiting.push(resolve));
}

async function untilFlush() {
  const lines = [];
  for (let p = await nextPacket(); p !== FLUSH; p = await nextPacket()) lines.push(p);
  return lines;
}

function pkt(line) {
  const payload = Buffer.from(`${line}\n`, 'utf8');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0'), 'ascii'), payload]);
}

function say(line) {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // The client is gone; the deployment goes on regardless.
  }
}
process.stderr.on('error', () => undefined);

function socketPath() {
  if (process.env.SLIPWAY_HOOK_SOCKET) return process.env.SLIPWAY_HOOK_SOCKET;
  return execFileSync('git', ['config', '--get', 'slipway.socket'], { encoding: 'utf8' }).trim();
}

function relay(commands) {
  return new Promise((resolve) => {
    const fail = (why) => resolve(commands.map((c) => ({ ref: c.ref, ok: false, reason: why })));
    let path;
    try {
      path = socketPath();
    } catch {
      return fail('slipway is not configured for this repository');
    }
    const socket = net.connect(path);
    let rest = '';
    let result;
    // Who pushed: git-receive-pack runs hooks/proc-receive, which execs this script, so our
    // parent is that git-receive-pack; the server started it for an authenticated request and
    // keeps its pid with the token (GitHttp.pusherOf, src/git/http.ts) while it runs. The socket
    // lives in the server's 0700 data directory: only the server's user can connect to it.
    socket.on('connect', () => socket.write(`${JSON.stringify({ gitDir: process.cwd(), commands, pusherPid: process.ppid })}\n`));
    socket.on('data', (chunk) => {
      rest += chunk.toString('utf8');
      let newline;
      while ((newline = rest.indexOf('\n')) !== -1) {
        const message = JSON.parse(rest.slice(0, newline));
        rest = rest.slice(newline + 1);
        if (message.type === 'line') say(message.text);
        else if (message.type === 'result') result = message.refs;
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (result) resolve(result);
      else {
        say(`${ERROR}The Slipway server stopped answering during the push; check its logs and push again.`);
        fail('slipway server unreachable');
      }
    });
  });
}

(async () => {
  await untilFlush(); // version=1 and git's capabilities; we need none of them
  process.stdout.write(Buffer.concat([pkt('version=1'), Buffer.from('0000')]));
  const commands = (await untilFlush()).map((line) => {
    const [oldOid, newOid, ref] = line.split(' ');
    return { oldOid, newOid, ref };
  });
  const results = await relay(commands);
  const out = results.map((r) => pkt(r.ok ? `ok ${r.ref}` : `ng ${r.ref} ${r.reason}`));
  // Every line must reach git before the verdict, and before exit drops what is buffered.
  await new Promise((resolve) => process.stderr.write('', resolve));
  process.stdout.write(Buffer.concat([...out, Buffer.from('0000')]), () => process.exit(0));
})().catch((error) => {
  say(`${ERROR}slipway hook: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
