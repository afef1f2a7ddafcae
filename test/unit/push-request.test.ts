import { parsePushHead, refusePush } from '../../src/git/push-request.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

function pkt(line: string): string {
  return `${(Buffer.byteLength(line) + 4).toString(16).padStart(4, '0')}${line}`;
}

const shallowPush = Buffer.from(
  `${pkt(`shallow ${A}\n`)}${pkt(`${ZERO} ${B} refs/heads/main\0 report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5`)}${pkt(`${ZERO} ${B} refs/heads/master\n`)}0000PACK...`,
);

/** Splits a pkt-line stream into its payloads (a flush is "0000"). */
function packets(data: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length;) {
    const size = parseInt(data.subarray(i, i + 4).toString(), 16);
    out.push(size === 0 ? '0000' : data.subarray(i + 4, i + size).toString('latin1'));
    i += size === 0 ? 4 : size;
  }
  return out;
}

test('the head of a shallow push: its shallow lines, refs and capabilities', () => {
  expect(parsePushHead(shallowPush)).toEqual({
    shallow: [A],
    refs: ['refs/heads/main', 'refs/heads/master'],
    capabilities: ['report-status-v2', 'side-band-64k', 'quiet', 'object-format=sha1', 'agent=git/2.39.5'],
  });
});

test("a full clone's push is not shallow", () => {
  const head = parsePushHead(Buffer.from(`${pkt(`${ZERO} ${B} refs/heads/main\0report-status`)}0000`));
  expect(head).toEqual({ shallow: [], refs: ['refs/heads/main'], capabilities: ['report-status'] });
});

test('an incomplete head asks for more; something that is not a push is null', () => {
  const cut = shallowPush.indexOf('0000PACK');
  for (const end of [0, 3, 10, 60, cut]) expect(parsePushHead(shallowPush.subarray(0, end))).toBeUndefined();
  expect(parsePushHead(Buffer.from('\x1f\x8b\x08 gzip'))).toBeNull();
  expect(parsePushHead(Buffer.from('0000'))).toBeNull();
  expect(parsePushHead(Buffer.from(`${pkt(`${ZERO} ${B} refs/heads/main\n`)}${pkt(`shallow ${A}\n`)}0000`))).toBeNull();
  expect(parsePushHead(Buffer.from(`${pkt('hello\n')}0000`))).toBeNull();
});

test('the refusal: the message on side band 2, then a report rejecting every ref on side band 1', () => {
  const head = parsePushHead(shallowPush)!;
  const answer = packets(refusePush(head, [' !     Run git fetch --unshallow.'], 'shallow clone'));
  expect(answer[0]).toBe('\x02 !     Run git fetch --unshallow.\n');
  expect(answer.at(-1)).toBe('0000');
  const report = Buffer.from(
    answer
      .slice(1, -1)
      .map((p) => p.slice(1))
      .join(''),
    'latin1',
  );
  expect(answer.slice(1, -1).every((p) => p.startsWith('\x01'))).toBe(true);
  expect(packets(report)).toEqual(['unpack ok\n', 'ng refs/heads/main shallow clone\n', 'ng refs/heads/master shallow clone\n', '0000']);
});

test('without a side band the report is sent alone; without a report, nothing', () => {
  const plain = refusePush({ shallow: [A], refs: ['refs/heads/main'], capabilities: ['report-status'] }, ['message'], 'why');
  expect(packets(plain)).toEqual(['unpack ok\n', 'ng refs/heads/main why\n', '0000']);
  expect(refusePush({ shallow: [A], refs: ['refs/heads/main'], capabilities: [] }, ['message'], 'why')).toHaveLength(0);
});
