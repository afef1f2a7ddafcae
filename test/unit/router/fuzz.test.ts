/**
 * Property tests of the router's request parsing (issue 11): generated and mutated heads,
 * pipelined batches of every size, split at every byte. Whatever arrives, the process survives,
 * no request gets two responses, no response arrives that no request asked for, and a request
 * that gets no response sees its connection closed. Bounded: numRuns and a time limit each.
 */
import fc from 'fast-check';
import { countResponses, get, rawClient, remakeRouter, sleep, textUpstream, until, useRouter, world, type RawClient } from './support.js';

useRouter();

const HOSTS = [
  'shop.test.local',
  'SHOP.test.local:80',
  'shop.test.local.',
  'closed.test.local',
  'idle.test.local',
  'x',
  'a.b.test.local',
  'chat.test.local',
  '',
];
const RESERVED = /^(host|content-length|transfer-encoding|connection|upgrade|expect|te|trailer|keep-alive)$/i;

interface Generated {
  method: string;
  path: string;
  host: string;
  headers: [string, string][];
  body: 'none' | 'length' | 'chunked' | 'zero';
  text: string;
  upgrade: boolean;
}

const request: fc.Arbitrary<Generated> = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH'),
  path: fc.oneof(fc.constantFrom('/', '/a?b=c', '/%20', '/x/../y', '/?q=%E2%9C%93'), fc.stringMatching(/^\/[a-zA-Z0-9/?=&%.~_-]{0,24}$/)),
  host: fc.constantFrom(...HOSTS),
  headers: fc.array(
    fc.tuple(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((n) => !RESERVED.test(n)),
      fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/),
    ),
    { maxLength: 4 },
  ),
  body: fc.constantFrom('none' as const, 'length' as const, 'chunked' as const, 'zero' as const),
  text: fc.stringMatching(/^[a-z]{1,20}$/),
  upgrade: fc.boolean(),
});

function render(r: Generated): string {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${r.host}\r\n`;
  for (const [name, value] of r.headers) head += `${name}: ${value}\r\n`;
  // An upgrade request with a body is refused and closed: upgrades here carry none.
  if (r.upgrade && r.body === 'none') head += 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
  switch (r.body) {
    case 'none':
      return `${head}\r\n`;
    case 'zero':
      return `${head}Content-Length: 0\r\n\r\n`;
    case 'length':
      return `${head}Content-Length: ${r.text.length}\r\n\r\n${r.text}`;
    case 'chunked':
      return `${head}Transfer-Encoding: chunked\r\n\r\n${r.text.length.toString(16)}\r\n${r.text}\r\n0\r\n\r\n`;
  }
}

/** Writes `bytes` in pieces cut at `cuts`, each piece its own read on the router's side. */
async function writeInPieces(client: RawClient, bytes: Buffer, cuts: number[]): Promise<void> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const point of [...points, bytes.length]) {
    if (point <= from) continue;
    client.socket.write(bytes.subarray(from, point));
    from = point;
    await sleep(2);
  }
}

async function setUp(extra: { headersTimeoutMs: number; upstreamTimeoutMs: number }): Promise<void> {
  await remakeRouter(extra);
  const shop = await textUpstream('ok');
  // The chat app's server does not do WebSockets: it answers upgrades like any request.
  const chat = await textUpstream('no upgrade');
  for (const app of ['shop', 'closed', 'idle', 'chat', 'a', 'b']) world.known.add(app);
  world.maintenance.add('closed');
  world.router.switchTo('shop', 1, [shop.target]);
  world.router.switchTo('chat', 1, [chat.target]);
}

async function stillServes(): Promise<void> {
  const up = await textUpstream('alive');
  world.known.add('alive');
  world.router.switchTo('alive', 1, [up.target]);
  expect((await get('alive')).text).toBe('alive');
}

test('pipelined batches of well-formed requests, split anywhere: exactly one response each, in order', async () => {
  await setUp({ headersTimeoutMs: 2000, upstreamTimeoutMs: 2000 });
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 16 }), fc.array(fc.nat(), { maxLength: 6 }), async (batch, cuts) => {
      const client = await rawClient();
      try {
        client.socket.setNoDelay(true);
        await writeInPieces(client, Buffer.from(batch.map(render).join(''), 'latin1'), cuts);
        await until(() => countResponses(client.received()) >= batch.length || client.socket.destroyed, 5000);
        await sleep(20); // a response too many would show now
        expect(countResponses(client.received())).toBe(batch.length);
        expect(client.socket.destroyed).toBe(false);
      } finally {
        client.socket.destroy();
      }
    }),
    { numRuns: 60, interruptAfterTimeLimit: 15_000 },
  );
  await stillServes();
}, 40_000);

test('three requests split at every byte: three responses every time', async () => {
  await setUp({ headersTimeoutMs: 2000, upstreamTimeoutMs: 2000 });
  const bytes = Buffer.from(
    'GET /one HTTP/1.1\r\nHost: shop.test.local\r\n\r\n' +
      'POST /two HTTP/1.1\r\nHost: shop.test.local\r\nContent-Length: 5\r\n\r\nhello' +
      'HEAD /three HTTP/1.1\r\nHost: closed.test.local\r\n\r\n',
    'latin1',
  );
  const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  for (let i = 0; i < cuts.length; i += 16) {
    await Promise.all(
      cuts.slice(i, i + 16).map(async (cut) => {
        const client = await rawClient();
        try {
          client.socket.setNoDelay(true);
          await writeInPieces(client, bytes, [cut]);
          await until(() => countResponses(client.received()) >= 3 || client.socket.destroyed, 5000);
          expect([cut, countResponses(client.received())]).toEqual([cut, 3]);
        } finally {
          client.socket.destroy();
        }
      }),
    );
  }
  await stillServes();
}, 60_000);

const INTERESTING = [0, 9, 10, 13, 32, 58, 0x7f, 0x80, 0xff, 0x2c, 0x3b];

const mutation = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('delete' as const, 'insert' as const, 'replace' as const),
  byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
});

function mutate(bytes: Buffer, mutations: { at: number; op: 'delete' | 'insert' | 'replace'; byte: number }[]): Buffer {
  const out = [...bytes];
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.op === 'delete') out.splice(at, 1);
    else if (m.op === 'insert') out.splice(at, 0, m.byte);
    else if (at < out.length) out[at] = m.byte;
  }
  return Buffer.from(out);
}

test('mutated and random heads: never more responses than heads, and an answer or a close', async () => {
  await setUp({ headersTimeoutMs: 300, upstreamTimeoutMs: 300 });
  const input = fc.oneof(
    fc
      .tuple(fc.array(request, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 6 }))
      .map(([batch, mutations]) => mutate(Buffer.from(batch.map(render).join(''), 'latin1'), mutations)),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  );
  await fc.assert(
    fc.asyncProperty(input, fc.array(fc.nat(), { maxLength: 4 }), async (bytes, cuts) => {
      const client = await rawClient();
      try {
        client.socket.setNoDelay(true);
        await writeInPieces(client, bytes, cuts);
        // Each head ends with a blank line, so needs two line feeds; a trailing partial head may get a 400 or 408.
        const bound = Math.floor(bytes.filter((b) => b === 10).length / 2) + 1;
        // Done when closed, or when something came and nothing more for a while.
        let last = '';
        await until(() => {
          const now = client.received();
          const quiet = now !== '' && now === last;
          last = now;
          return client.socket.destroyed || (quiet && countResponses(now) >= 1);
        }, 3000);
        const responses = countResponses(client.received());
        expect(responses).toBeLessThanOrEqual(bound);
        expect(client.socket.destroyed || responses >= 1).toBe(true);
      } finally {
        client.socket.destroy();
      }
    }),
    { numRuns: 80, interruptAfterTimeLimit: 20_000 },
  );
  await stillServes();
}, 45_000);
