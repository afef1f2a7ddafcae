import { LineSplitter } from '../../src/util/lines.js';

function splitter(maxLineLength?: number): { lines: string[]; s: LineSplitter } {
  const lines: string[] = [];
  const s = maxLineLength === undefined ? new LineSplitter((l) => lines.push(l)) : new LineSplitter((l) => lines.push(l), maxLineLength);
  return { lines, s };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('LineSplitter', () => {
  test('splits one chunk into lines and keeps the unterminated rest', () => {
    const { lines, s } = splitter();
    s.write('one\ntwo\nthree');
    expect(lines).toEqual(['one', 'two']);
    s.end();
    expect(lines).toEqual(['one', 'two', 'three']);
  });

  test('a line split across chunks is emitted once, whole', () => {
    const { lines, s } = splitter();
    s.write(bytes('hel'));
    s.write(bytes('lo wo'));
    expect(lines).toEqual([]);
    s.write(bytes('rld\nnext'));
    expect(lines).toEqual(['hello world']);
    s.write(bytes(' line\n'));
    expect(lines).toEqual(['hello world', 'next line']);
  });

  test('accepts strings and bytes', () => {
    const { lines, s } = splitter();
    s.write('a');
    s.write(bytes('b\n'));
    s.write('c\n');
    expect(lines).toEqual(['ab', 'c']);
  });

  test('strips CR from CRLF line endings, also when CR and LF are in different chunks', () => {
    const { lines, s } = splitter();
    s.write(bytes('one\r\ntwo\r'));
    s.write(bytes('\nthree\r\n'));
    expect(lines).toEqual(['one', 'two', 'three']);
  });

  test('keeps a CR that is not at the end of the line', () => {
    const { lines, s } = splitter();
    s.write('progress 10%\rprogress 100%\n');
    expect(lines).toEqual(['progress 10%\rprogress 100%']);
  });

  test('empty lines are emitted as empty strings', () => {
    const { lines, s } = splitter();
    s.write('\n\na\n\r\n');
    expect(lines).toEqual(['', '', 'a', '']);
  });

  test.each([1, 2])('a multi-byte UTF-8 character split after byte %i decodes correctly', (cut) => {
    const { lines, s } = splitter();
    const euro = bytes('€'); // e2 82 ac
    expect(euro).toHaveLength(3);
    s.write(new Uint8Array([...bytes('price: '), ...euro.slice(0, cut)]));
    s.write(new Uint8Array([...euro.slice(cut), ...bytes('5\n')]));
    expect(lines).toEqual(['price: €5']);
  });

  test('a 4-byte character split byte by byte decodes correctly', () => {
    const { lines, s } = splitter();
    for (const b of bytes('🚀\n')) s.write(new Uint8Array([b]));
    expect(lines).toEqual(['🚀']);
  });

  test('a line longer than maxLineLength is emitted in pieces of maxLineLength', () => {
    const { lines, s } = splitter(4);
    s.write('abcdefghij');
    expect(lines).toEqual(['abcd', 'efgh']);
    s.write('\n');
    expect(lines).toEqual(['abcd', 'efgh', 'ij']);
  });

  test('a line of exactly maxLineLength is one line', () => {
    const { lines, s } = splitter(4);
    s.write('abcd');
    expect(lines).toEqual([]);
    s.write('\nefgh\n');
    expect(lines).toEqual(['abcd', 'efgh']);
  });

  test('over-long pieces arriving over several chunks', () => {
    const { lines, s } = splitter(3);
    s.write('ab');
    s.write('cd');
    expect(lines).toEqual(['abc']);
    s.write('efgh');
    expect(lines).toEqual(['abc', 'def']);
    s.end();
    expect(lines).toEqual(['abc', 'def', 'gh']);
  });

  test('the default maxLineLength is 8192', () => {
    const { lines, s } = splitter();
    s.write('x'.repeat(8192));
    expect(lines).toEqual([]);
    s.write('y');
    expect(lines).toEqual(['x'.repeat(8192)]);
    s.end();
    expect(lines).toEqual(['x'.repeat(8192), 'y']);
  });

  test('end() flushes the remainder without its trailing CR', () => {
    const { lines, s } = splitter();
    s.write('done\nlast\r');
    s.end();
    expect(lines).toEqual(['done', 'last']);
  });

  test('end() emits nothing when nothing is pending', () => {
    const { lines, s } = splitter();
    s.end();
    expect(lines).toEqual([]);
    s.write('a\n');
    s.end();
    expect(lines).toEqual(['a']);
  });

  test('end() twice emits the remainder once', () => {
    const { lines, s } = splitter();
    s.write('rest');
    s.end();
    s.end();
    expect(lines).toEqual(['rest']);
  });

  test('end() turns an incomplete UTF-8 sequence into a replacement character', () => {
    const { lines, s } = splitter();
    s.write(new Uint8Array([...bytes('a'), 0xe2, 0x82]));
    expect(lines).toEqual([]);
    s.end();
    expect(lines).toEqual(['a\uFFFD']);
  });

  test('an over-long line is never cut inside a surrogate pair', () => {
    const { lines, s } = splitter(4);
    s.write('abc\u{1F600}def');
    expect(lines).toEqual(['abc', '\u{1F600}de']);
    s.end();
    expect(lines).toEqual(['abc', '\u{1F600}de', 'f']);
  });
});

describe('LineSplitter: partial lines', () => {
  test('flush() emits the text after the last newline as a line', () => {
    const { lines, s } = splitter();
    s.write('done\nprogress 10%');
    s.flush();
    expect(lines).toEqual(['done', 'progress 10%']);
    s.end();
    expect(lines).toEqual(['done', 'progress 10%']);
  });

  test('with idleFlushMs, an unfinished line shows up after that long without a newline', async () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 8192, 30);
    s.write('waiting for input');
    expect(lines).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(lines).toEqual(['waiting for input']);
    s.write(' ... ok\n');
    expect(lines).toEqual(['waiting for input', ' ... ok']);
    s.end();
  });
});
