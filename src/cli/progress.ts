import { unvoiced } from '../deploy/log.js';

/**
 * Progress of a long operation on stderr (stdout stays for the result): on a TTY, a spinner
 * beside the latest step, each finished step kept above it; elsewhere, one plain line per step.
 */
export interface Progress {
  line(text: string): void;
  /** Clears the spinner; call once the operation ended, either way. */
  done(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

export function makeProgress(title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return { line: (text) => void stream.write(`${text}\n`), done: () => undefined };
  }
  let current = title;
  let frame = 0;
  const width = (): number => Math.max(20, (stream.columns || 80) - 3);
  const draw = (): void => {
    stream.write(`\r\u001b[2K${FRAMES[frame % FRAMES.length]} ${current.slice(0, width())}`);
    frame++;
  };
  const timer = setInterval(draw, FRAME_MS);
  draw();
  return {
    line(text) {
      stream.write(`\r\u001b[2K${text}\n`);
      current = text.trim() === '' ? current : unvoiced(text);
      draw();
    },
    done() {
      clearInterval(timer);
      stream.write('\r\u001b[2K');
    },
  };
}

/** Runs `task` with a progress display that is always cleared afterwards. */
export async function withProgress<T>(title: string, task: (onLine: (line: string) => void) => Promise<T>): Promise<T> {
  const progress = makeProgress(title);
  try {
    return await task((line) => progress.line(line));
  } finally {
    progress.done();
  }
}
