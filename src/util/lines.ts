/**
 * Splits a byte stream into text lines as they arrive. A line longer than `maxLineLength`
 * is emitted in pieces so a process that never prints a newline cannot grow memory.
 */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder('utf-8');

  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineLength = 8192,
    /**
     * When set, text left without a newline this long is emitted as a line of its own, so
     * a progress indicator that never ends its line still shows up.
     */
    private readonly idleFlushMs?: number,
  ) {}

  write(chunk: Uint8Array | string): void {
    this.split(chunk);
    if (this.idleFlushMs === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = this.pending === '' ? undefined : setTimeout(() => this.flush(), this.idleFlushMs);
  }

  /** Emits the text after the last newline now, as a line. */
  flush(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.pending !== '') this.onLine(this.pending.replace(/\r$/, ''));
    this.pending = '';
  }

  private split(chunk: Uint8Array | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) !== -1) {
      this.onLine(this.pending.slice(0, newline).replace(/\r$/, ''));
      this.pending = this.pending.slice(newline + 1);
    }
    while (this.pending.length > this.maxLineLength) {
      // Never cut between the two halves of a surrogate pair (an emoji, say).
      const high = this.pending.charCodeAt(this.maxLineLength - 1);
      const cut = high >= 0xd800 && high <= 0xdbff ? this.maxLineLength - 1 : this.maxLineLength;
      this.onLine(this.pending.slice(0, cut));
      this.pending = this.pending.slice(cut);
    }
  }

  /** Emits what is left after the last newline. */
  end(): void {
    this.pending += this.decoder.decode();
    this.flush();
  }
}
