import type { LogRecord } from './merge.js';

/** Cyan, yellow, green, magenta, blue, then their bright variants: readable on dark and light. */
const PALETTE = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/** Gives each container its own colour, in the order they first appear, like `heroku logs`. */
export class ContainerColors {
  private readonly assigned = new Map<string, number>();

  codeOf(container: string): number {
    let code = this.assigned.get(container);
    if (code === undefined) {
      code = PALETTE[this.assigned.size % PALETTE.length]!;
      this.assigned.set(container, code);
    }
    return code;
  }
}

/** `2026-11-26T16:50:01.123Z web-1: listening`, the name coloured when `colors` is given. */
export function formatLogLine(record: Pick<LogRecord, 'time' | 'container' | 'line'>, colors?: ContainerColors): string {
  const name = colors ? `\u001b[${colors.codeOf(record.container)}m${record.container}\u001b[0m` : record.container;
  return `${record.time} ${name}: ${record.line}`;
}
