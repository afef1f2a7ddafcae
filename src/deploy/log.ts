import { EventEmitter } from 'node:events';

const RECENT_LINES = 10_000;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B-\u001A\u001C-\u001F\u007F]/g;

/** A line made safe for a terminal and for git's client: control characters become U+FFFD. */
export function sanitizeLine(line: string): string {
  return line.replace(CONTROL_CHARACTERS, '\uFFFD');
}

/**
 * Slipway's voice in every line it writes for a user (a push, an operation, a deployment's log):
 * `-----> ` for a phase, seven spaces for detail under it, ` !     ` for an error. The git hook
 * (hooks/relay.cjs, CommonJS) writes its few error lines with the same prefix (a test checks it).
 */
export const VOICE = { phase: '-----> ', detail: '       ', error: ' !     ' } as const;

export const phaseLine = (text: string): string => `${VOICE.phase}${text}`;
export const detailLine = (text: string): string => `${VOICE.detail}${text}`;
export const errorLine = (text: string): string => `${VOICE.error}${text}`;

/** A line's text without its prefix or indentation (what a progress display shows). */
export function unvoiced(line: string): string {
  for (const prefix of [VOICE.phase, VOICE.error]) if (line.startsWith(prefix)) return line.slice(prefix.length);
  return line.trimStart();
}

/** Slipway's own lines (phases and errors), as opposed to the output of a build or a hook. */
export function isOwnLine(line: string): boolean {
  return line.startsWith(VOICE.phase) || line.startsWith(VOICE.error);
}

/**
 * One deployment's output, in Slipway's voice (VOICE). Every line is emitted as it is written; the relay to the git client, the
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
    this.write(phaseLine(text));
  }

  detail(text: string): void {
    this.write(detailLine(text));
  }

  error(text: string): void {
    this.write(errorLine(text));
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
    if (this.dropped > 0) listener(detailLine(`... ${this.dropped} earlier lines: see the full log once the deployment ends`));
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
