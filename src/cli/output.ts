/** Terminal output: aligned tables, relative times, colour only on a TTY without NO_COLOR. */

export interface Output {
  json: boolean;
  color: boolean;
  write(text: string): void;
}

export function makeOutput(json: boolean, env: NodeJS.ProcessEnv, stream: NodeJS.WriteStream = process.stdout): Output {
  return {
    json,
    color: Boolean(stream.isTTY) && env.NO_COLOR === undefined,
    write: (text) => void stream.write(text),
  };
}

export function printJson(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A list as the API gave it (--json), or `empty` (what to do next) when it has no items, or a table with a row per item. */
export function printList<T>(out: Output, items: readonly T[], empty: string, headers: string[], row: (item: T) => (string | number | null)[]): void {
  if (out.json) return printJson(out, items);
  out.write(items.length === 0 ? empty : table(headers, items.map(row)));
}

export function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}

export function bold(out: Output, text: string): string {
  return out.color ? `\u001b[1m${text}\u001b[0m` : text;
}

export function statusColor(out: Output, status: string): string {
  if (!out.color) return status;
  const code = status === 'success' ? 32 : status.endsWith('error') || status === 'aborted' ? 31 : 33;
  return `\u001b[${code}m${status}\u001b[0m`;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

export function duration(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}
