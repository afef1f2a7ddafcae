import type { MinuteSummary } from '../../metrics/minutes.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { printJson, table } from '../output.js';
import { sparkline } from '../sparkline.js';

interface MetricsJson {
  app: string;
  since: string;
  minutes: MinuteSummary[];
}

const total = (m: MinuteSummary): number => Object.values(m.requests).reduce((a, b) => a + b, 0);
const last = <T>(values: readonly T[]): T | undefined => values[values.length - 1];
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function latestKnown(values: readonly (number | null)[]): string {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return `${values[i]} ms`;
  return '-';
}

/** Rows of name, sparkline, totals: one per series, each minute one character. */
export function metricsReport(data: MetricsJson): string {
  const { minutes } = data;
  const rows: string[][] = [];
  const sum = (f: (m: MinuteSummary) => number): number => minutes.reduce((a, m) => a + f(m), 0);
  rows.push(['requests/min', sparkline(minutes.map(total)), `${sum(total)} in all`]);
  for (const cls of ['2xx', '3xx', '4xx', '5xx'] as const) {
    if (sum((m) => m.requests[cls]) > 0) rows.push([cls, sparkline(minutes.map((m) => m.requests[cls])), String(sum((m) => m.requests[cls]))]);
  }
  for (const p of ['p50Ms', 'p95Ms', 'p99Ms'] as const) {
    const values = minutes.map((m) => m[p]);
    rows.push([`${p.slice(0, 3)} latency`, sparkline(values), `last ${latestKnown(values)}`]);
  }
  rows.push(['bytes/min', sparkline(minutes.map((m) => m.bytes)), mib(sum((m) => m.bytes))]);
  const containers = [...new Set(minutes.flatMap((m) => Object.keys(m.containers)))].sort();
  for (const name of containers) {
    const cpu = minutes.map((m) => m.containers[name]?.cpuPercent ?? null);
    const memory = minutes.map((m) => m.containers[name]?.memoryBytes ?? null);
    const lastMemory = last(memory.filter((v): v is number => v !== null));
    const lastCpu = last(cpu.filter((v): v is number => v !== null));
    rows.push([`${name} cpu`, sparkline(cpu), lastCpu === undefined ? '-' : `last ${lastCpu}%`]);
    rows.push([`${name} memory`, sparkline(memory), lastMemory === undefined ? '-' : `last ${mib(lastMemory)}`]);
  }
  const first = minutes[0] === undefined ? '' : new Date(minutes[0].minute).toISOString().slice(11, 16);
  return `${table(['SERIES', `PER MINUTE SINCE ${first} UTC`, 'TOTAL / LAST'], rows)}(${data.app}, last ${data.since}; one character a minute, the last one still running)\n`;
}

export const metricsCommands: Command[] = [
  {
    name: 'metrics',
    summary: "the app's requests per minute by status, p50/p95/p99 latency, bytes, and containers' CPU and memory",
    usage: 'slipway metrics [-a APP] [--since 1h] [--json]',
    example: 'slipway metrics -a my-app --since 30m',
    options: { since: { type: 'string' } },
    async run(ctx) {
      const since = typeof ctx.options.since === 'string' ? ctx.options.since : '1h';
      if (!/^\d{1,4}[mh]$/.test(since)) throw new CliError(`--since takes minutes or hours such as 30m, 1h or 24h, not "${since}".`, 2);
      const app = await ctx.app();
      const data = await ctx.api().json<MetricsJson>('GET', `/api/apps/${encodeURIComponent(app)}/metrics?since=${since}`);
      if (ctx.out.json) return printJson(ctx.out, data);
      ctx.out.write(metricsReport(data));
    },
  },
];
