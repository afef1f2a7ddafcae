import { jest } from '@jest/globals';
import { makeProgress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  let text = '';
  const stream = { isTTY, columns: 40, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, written: () => text };
}

describe('makeProgress', () => {
  test('off a terminal: one plain line per step, no escape codes, nothing on done', () => {
    const { stream, written } = fakeStream(false);
    const progress = makeProgress('Scaling my-app', stream);
    progress.line('-----> Starting web-2');
    progress.line('       listening');
    progress.done();
    expect(written()).toBe('-----> Starting web-2\n       listening\n');
  });

  test('on a terminal: a spinner beside the latest step, steps kept above it, cleared on done', () => {
    jest.useFakeTimers();
    try {
      const { stream, written } = fakeStream(true);
      const progress = makeProgress('Scaling my-app', stream);
      expect(written()).toBe('\r\u001b[2K⠋ Scaling my-app');
      jest.advanceTimersByTime(80);
      expect(written().endsWith('\r\u001b[2K⠙ Scaling my-app')).toBe(true);
      progress.line('-----> Starting web-2');
      expect(written()).toContain('\r\u001b[2K-----> Starting web-2\n');
      expect(written().endsWith(' Starting web-2')).toBe(true);
      progress.done();
      expect(written().endsWith('\r\u001b[2K')).toBe(true);
      const length = written().length;
      jest.advanceTimersByTime(500);
      expect(written()).toHaveLength(length);
    } finally {
      jest.useRealTimers();
    }
  });

  test('on a terminal, a long step is cut to the width', () => {
    const { stream, written } = fakeStream(true);
    const progress = makeProgress('x'.repeat(100), stream);
    progress.done();
    expect(written()).toBe(`\r\u001b[2K⠋ ${'x'.repeat(37)}\r\u001b[2K`);
  });
});
