import { DeployLog } from '../../src/deploy/log.js';

function recorded(log: DeployLog): string[] {
  const lines: string[] = [];
  log.onLine((line) => lines.push(line));
  return lines;
}

describe('DeployLog', () => {
  test('prefixes phases, details and errors', () => {
    const log = new DeployLog();
    const lines = recorded(log);
    log.phase('Building');
    log.detail('npm ci');
    log.error('Build failed');
    log.blank();
    log.write('raw line');
    expect(lines).toEqual(['-----> Building', '       npm ci', ' !     Build failed', '', 'raw line']);
  });

  test('the detail prefix is 7 spaces and the error prefix is " !" and 5 spaces', () => {
    const log = new DeployLog();
    const lines = recorded(log);
    log.detail('x');
    log.error('y');
    expect(lines[0]).toBe(`${' '.repeat(7)}x`);
    expect(lines[1]).toBe(` !${' '.repeat(5)}y`);
    // Both line the text up with the text after "-----> ".
    expect(lines[0]!.indexOf('x')).toBe('-----> '.length);
    expect(lines[1]!.indexOf('y')).toBe('-----> '.length);
  });

  test('every listener gets every line, in order', () => {
    const log = new DeployLog();
    const first = recorded(log);
    log.phase('one');
    const second = recorded(log);
    log.detail('two');
    log.detail('three');
    expect(first).toEqual(['-----> one', '       two', '       three']);
    // A late subscriber only sees what comes after it subscribed.
    expect(second).toEqual(['       two', '       three']);
  });

  test('many listeners do not trigger a max-listeners warning', () => {
    const log = new DeployLog();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const all = Array.from({ length: 20 }, () => recorded(log));
      log.write('x');
      for (const lines of all) expect(lines).toEqual(['x']);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  test('nothing is emitted after end()', () => {
    const log = new DeployLog();
    const lines = recorded(log);
    log.phase('before');
    expect(log.isEnded).toBe(false);
    log.end();
    expect(log.isEnded).toBe(true);
    log.phase('after');
    log.detail('after');
    log.error('after');
    log.blank();
    log.write('after');
    expect(lines).toEqual(['-----> before']);
  });

  test('end listeners are called once', () => {
    const log = new DeployLog();
    let ends = 0;
    log.onEnd(() => ends++);
    log.end();
    log.end();
    expect(ends).toBe(1);
  });

  test('unsubscribing a line listener stops its lines, others keep theirs', () => {
    const log = new DeployLog();
    const kept: string[] = [];
    const dropped: string[] = [];
    log.onLine((l) => kept.push(l));
    const off = log.onLine((l) => dropped.push(l));
    log.write('a');
    off();
    log.write('b');
    off(); // a second call is harmless
    log.write('c');
    expect(dropped).toEqual(['a']);
    expect(kept).toEqual(['a', 'b', 'c']);
  });

  test('unsubscribing an end listener', () => {
    const log = new DeployLog();
    let a = 0;
    let b = 0;
    const offA = log.onEnd(() => a++);
    log.onEnd(() => b++);
    offA();
    log.end();
    expect(a).toBe(0);
    expect(b).toBe(1);
  });

  test('the same function subscribed twice gets each line twice and unsubscribes independently', () => {
    const log = new DeployLog();
    const lines: string[] = [];
    const listener = (l: string): void => {
      lines.push(l);
    };
    const off1 = log.onLine(listener);
    log.onLine(listener);
    log.write('x');
    off1();
    log.write('y');
    expect(lines).toEqual(['x', 'x', 'y']);
  });
});

describe('DeployLog: control characters', () => {
  test('binary bytes become U+FFFD; tabs and colour escapes pass', () => {
    const log = new DeployLog();
    const lines: string[] = [];
    log.onLine((l) => lines.push(l));
    log.write('a\u0000b\u0007c\rd\te\u001b[32mgreen\u001b[0m\u007f');
    expect(lines).toEqual(['a\uFFFDb\uFFFDc\uFFFDd\te\u001b[32mgreen\u001b[0m\uFFFD']);
  });
});

describe('DeployLog.follow', () => {
  test('replays what was written, then passes new lines, with nothing missed or repeated', () => {
    const log = new DeployLog();
    log.phase('Building');
    log.detail('step 1');
    const seen: string[] = [];
    const stop = log.follow((l) => seen.push(l));
    log.detail('step 2');
    stop();
    log.detail('step 3');
    expect(seen).toEqual(['-----> Building', '       step 1', '       step 2']);
  });
});
