import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { VOICE } from '../../src/deploy/log.js';

// Each test runs the real hook script (hooks/relay.cjs) as git would, with crafted pkt-lines on
// its stdin; a hook that loops or hangs is killed after HOOK_TIMEOUT_MS and the test fails.
const RELAY = path.resolve('hooks/relay.cjs');
const HOOK_TIMEOUT_MS = 5000;
const TEST_TIMEOUT_MS = 15_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-hook-test-'));
}, TEST_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }), TEST_TIMEOUT_MS);

/** One pkt-line: its length in 4 hex digits (the 4 included), then the line. */
function pkt(line: string): string {
  const payload = `${line}\n`;
  return (Buffer.byteLength(payload) + 4).toString(16).padStart(4, '0') + payload;
}

const FLUSH = '0000';
const VERSION = pkt('version=1\0atomic') + FLUSH;
const COMMAND = pkt(`${'0'.repeat(40)} ${'a'.repeat(40)} refs/heads/main`) + FLUSH;

async function runHook(input: string, socket: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; timedOut: boolean }> {
  const result = await execa('node', [RELAY], {
    input,
    env: { SLIPWAY_HOOK_SOCKET: socket },
    timeout: HOOK_TIMEOUT_MS,
    reject: false,
    cwd: dir,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut };
}

describe('hooks/relay.cjs reading pkt-lines', () => {
  test.each([
    ['a non-hex length', 'zzzz'],
    ['a length with a sign', '+00a'],
    ['a length below 4 (a v2 delimiter)', '0001'],
    ['a length past the largest pkt-line', 'fff1'],
    ['a non-hex length after a valid line', `${pkt('version=1')}00g5`],
  ])(
    '%s ends the hook at once with one error line, and no answer to git',
    async (_name, input) => {
      const result = await runHook(`${input}${'x'.repeat(64)}`, path.join(dir, 'no.sock'));
      expect(result.timedOut).toBe(false);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        new RegExp(`^${VOICE.error}slipway hook: git sent a malformed pkt-line length "[^"]*"; nothing was deployed, push again\\n$`),
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'input that ends before the commands ends the hook with one error line',
    async () => {
      const result = await runHook(VERSION, path.join(dir, 'no.sock'));
      expect(result.timedOut).toBe(false);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(`${VOICE.error}slipway hook: git closed the connection before sending the pushed commands; nothing was deployed\n`);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "well-formed input reaches the server (with the hook's parent as the pusher) and its verdict reaches git",
    async () => {
      const socketPath = path.join(dir, 'server.sock');
      let request: { gitDir: string; commands: unknown[]; pusherPid: number } | undefined;
      const server = net.createServer((socket) => {
        socket.once('data', (chunk) => {
          request = JSON.parse(chunk.toString('utf8').trim()) as typeof request;
          socket.write(`${JSON.stringify({ type: 'line', text: `${VOICE.phase}Building` })}\n`);
          socket.end(`${JSON.stringify({ type: 'result', refs: [{ ref: 'refs/heads/main', ok: false, reason: 'hook-error' }] })}\n`);
        });
      });
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      try {
        const child = execa('node', [RELAY], {
          input: VERSION + COMMAND,
          env: { SLIPWAY_HOOK_SOCKET: socketPath },
          timeout: HOOK_TIMEOUT_MS,
          reject: false,
          cwd: dir,
          stripFinalNewline: false,
        });
        const result = await child;
        expect(result.exitCode).toBe(0);
        expect(result.stderr).toBe(`${VOICE.phase}Building\n`);
        expect(result.stdout).toBe(pkt('version=1') + FLUSH + pkt('ng refs/heads/main hook-error') + FLUSH);
        expect(request?.commands).toEqual([{ oldOid: '0'.repeat(40), newOid: 'a'.repeat(40), ref: 'refs/heads/main' }]);
        // The hook's parent here is this test process, as it is git-receive-pack under git.
        expect(request?.pusherPid).toBe(process.pid);
      } finally {
        server.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a server that is not there: the push is refused with an error line in Slipway's voice",
    async () => {
      const result = await runHook(VERSION + COMMAND, path.join(dir, 'no.sock'));
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toBe(`${VOICE.error}The Slipway server stopped answering during the push; check its logs and push again.\n`);
      expect(result.stdout).toBe(pkt('version=1') + FLUSH + pkt('ng refs/heads/main slipway server unreachable') + FLUSH);
    },
    TEST_TIMEOUT_MS,
  );
});
