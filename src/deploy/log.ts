import { EventEmitter } from 'node:events';

const RECENT_LINES = 10_000;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B-\u001A\u001C-\u001F\u007F]/g;

/** A line made safe for a terminal and for git's client: control characters become U+FFFD. */
export function sanitizeLine(line: string): string {
  return line.replace(CONTROL_CHARACTERS, '\uFFFD');
}

/** Slipway's own lines (phases and errors), as opposed to the output of a build or a hook. */
export function isOwnLine(line: string): boolean {
  return line.startsWith('-----> ') || line.startsWith(' !     ');
}

/**
 * One deployment's output, in one voice: `-----> ` for a phase, indented detail, `!     `
 * for errors. Every line is emitted as it is written; the relay to the git client, the
 * store and followers subscribe.
 */
export class DeployLog {
  private readonly emitter = new EventEmitter();
  private ended = false;
  /** The latest lines, so a follower that arrives late sees what it missed. */
  private readonly recent: string[] = [];
  private dropped = 0;

  constructor() {
    // A relay, a recorder and any number of followers may subscribe.
    this.emitter.setMaxListeners(0);
  }

  phase(text: string): void {
    this.write(`-----> ${text}`);
  }

  detail(text: string): void {
    this.write(`       ${text}`);
  }

  error(text: string): void {
    this.write(` !     ${text}`);
  }

  blank(): void {
    this.write('');
  }

  write(line: string): void {
    if (this.ended) return;
    // Control characters from binary output would garble the terminal, and git's client drops
    // the rest of a message after a NUL; tabs and colour escapes pass.
    const clean = sanitizeLine(line);
    this.recent.push(clean);
    if (this.recent.length > RECENT_LINES) {
      this.recent.shift();
      this.dropped++;
    }
    this.emitter.emit('line', clean);
  }

  /**
   * Calls `listener` with every line written so far (the latest RECENT_LINES of them), then
   * with each new one: nothing is missed between the two, since both happen in one call.
   */
  follow(listener: (line: string) => void): () => void {
    if (this.dropped > 0) listener(`       ... ${this.dropped} earlier lines: see the full log once the deployment ends`);
    for (const line of this.recent) listener(line);
    return this.onLine(listener);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.emitter.emit('end');
  }

  get isEnded(): boolean {
    return this.ended;
  }

  onLine(listener: (line: string) => void): () => void {
    this.emitter.on('line', listener);
    return () => this.emitter.off('line', listener);
  }

  onEnd(listener: () => void): () => void {
    this.emitter.on('end', listener);
    return () => this.emitter.off('end', listener);
  }
}
