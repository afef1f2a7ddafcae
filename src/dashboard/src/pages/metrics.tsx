import { useState } from 'preact/hooks';
import { path } from '../api';
import { usePoll } from '../live';
import {
  CLASSES,
  classCounts,
  formatBytes,
  formatMs,
  formatPercent,
  groupMinutes,
  linePath,
  type MetricsJson,
  type MetricsMinute,
  requestTotal,
  scaleMax,
  type Since,
  summarize,
  WINDOWS,
} from '../metrics-data';
import { onLinkClick } from '../router';

/** Bars a chart draws at most: 24 h of minutes are grouped 12 to a bar. */
const MAX_BARS = 120;
/** The charts' drawing box (they stretch to the page's width). */
const W = 600;
const H = 80;

const time = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * An app's requests, latency, bytes and containers' CPU and memory per minute, from the same API
 * as `slipway metrics`, fetched again every few seconds (the router reports every 250 ms). Every
 * chart has its numbers beside it in text; the charts are small SVGs drawn here (see README).
 */
export function MetricsTab({ name }: { name: string }) {
  const [since, setSince] = useState<Since>('1h');
  const chosen = WINDOWS.find((w) => w.since === since)!;
  const { data, error } = usePoll<MetricsJson>(`${path.app(name)}/metrics?since=${since}`, chosen.refreshMs, name);
  const minutes = data?.since === since ? data.minutes : undefined;
  // The engine reports the host's memory as the limit of a container without one: a limit is
  // shown only when the app sets one.
  const { data: settings } = usePoll<{ memory: number | null }>(`${path.app(name)}/settings`, 0, name);
  const memoryLimited = typeof settings?.memory === 'number';
  return (
    <section aria-label="Metrics" class="metrics">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Window{' '}
          <select name="since" value={since} onChange={(e) => setSince((e.currentTarget as HTMLSelectElement).value as Since)}>
            {WINDOWS.map((w) => (
              <option key={w.since} value={w.since}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">per minute, updated every {chosen.refreshMs / 1000} s</span>
        <a href={`/apps/${encodeURIComponent(name)}/logs?type=router`} onClick={onLinkClick}>
          Router access lines
        </a>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {minutes === undefined ? <p class="muted">Loading…</p> : <MetricsBody minutes={minutes} phrase={chosen.phrase} memoryLimited={memoryLimited} />}
    </section>
  );
}

function MetricsBody({ minutes, phrase, memoryLimited }: { minutes: MetricsMinute[]; phrase: string; memoryLimited: boolean }) {
  const summary = summarize(minutes);
  const grouped = groupMinutes(minutes, MAX_BARS);
  const perBar = grouped.length < minutes.length ? `${Math.ceil(minutes.length / grouped.length)} minutes` : 'minute';
  const from = minutes[0]?.minute ?? Date.now();
  const axis = (
    <div class="axis muted" aria-hidden="true">
      <span>{time(from)}</span>
      <span>now</span>
    </div>
  );
  return (
    <>
      <h3>Requests</h3>
      {summary.requests === 0 ? (
        <p class="empty" data-empty="requests">
          No requests in {phrase}.
        </p>
      ) : (
        <div class="metric">
          <dl class="figures">
            <div>
              <dt>All</dt>
              <dd data-metric="requests">{summary.requests}</dd>
            </div>
            {CLASSES.map((c) => (
              <div key={c} class={`c-${c}`}>
                <dt>
                  <span class="swatch" /> {c}
                </dt>
                <dd data-metric={c}>{summary.byClass[c]}</dd>
              </div>
            ))}
          </dl>
          <figure>
            <RequestBars minutes={grouped} perBar={perBar} phrase={phrase} total={summary.requests} />
            {axis}
          </figure>
        </div>
      )}
      {summary.requests > 0 && (
        <>
          <h3>Latency</h3>
          <div class="metric">
            <dl class="figures">
              {(['p50Ms', 'p95Ms', 'p99Ms'] as const).map((p) => (
                <div key={p} class={`l-${p}`}>
                  <dt>
                    <span class="swatch" /> {p.slice(0, 3)}
                  </dt>
                  <dd data-metric={p}>{formatMs(summary.latest?.[p] ?? null)}</dd>
                </div>
              ))}
              <div>
                <dt>worst p99</dt>
                <dd data-metric="worstP99Ms">{formatMs(summary.worstP99Ms)}</dd>
              </div>
            </dl>
            <p class="muted note">
              p50/p95/p99 of the latest minute with requests ({summary.latest ? time(summary.latest.minute) : '—'}); worst p99: the slowest minute's.
            </p>
            <figure>
              <Lines
                label={`Latency per ${perBar} in ${phrase}: p50, p95 and p99; worst p99 ${formatMs(summary.worstP99Ms)}`}
                series={[
                  ['p50Ms', grouped.map((m) => m.p50Ms)],
                  ['p95Ms', grouped.map((m) => m.p95Ms)],
                  ['p99Ms', grouped.map((m) => m.p99Ms)],
                ]}
              />
              {axis}
            </figure>
          </div>
          <h3>Bytes sent</h3>
          <div class="metric">
            <dl class="figures">
              <div>
                <dt>In all</dt>
                <dd data-metric="bytes">{formatBytes(summary.bytes)}</dd>
              </div>
            </dl>
            <figure>
              <Bars
                label={`Bytes sent per ${perBar} in ${phrase}: ${formatBytes(summary.bytes)} in all`}
                values={grouped.map((m) => m.bytes)}
                title={(m, v) => `${time(m.minute)}: ${formatBytes(v)}`}
                minutes={grouped}
              />
              {axis}
            </figure>
          </div>
        </>
      )}
      <h3>Containers</h3>
      {summary.containers.length === 0 ? (
        <p class="empty" data-empty="containers">
          No samples of running containers in {phrase} (the engine's stats are read every 15 s).
        </p>
      ) : (
        <table class="list container-metrics">
          <thead>
            <tr>
              <th scope="col">Container</th>
              <th scope="col">CPU (of one core)</th>
              <th scope="col">Memory</th>
            </tr>
          </thead>
          <tbody>
            {summary.containers.map((c) => (
              <tr key={c.name} data-container={c.name}>
                <th scope="row">{c.name}</th>
                <td>
                  <div class="valued">
                    <span class="cpu">{formatPercent(c.last.cpuPercent)}</span>
                    <Lines
                      label={`CPU of ${c.name} per ${perBar} in ${phrase}, now ${formatPercent(c.last.cpuPercent)}`}
                      series={[['cpu', c.cpu]]}
                      small
                      floor={1}
                    />
                  </div>
                </td>
                <td>
                  <div class="valued">
                    <span>
                      <span class="memory">{formatBytes(c.last.memoryBytes)}</span>
                      {memoryLimited && c.last.memoryLimitBytes > 0 && <span class="muted"> of {formatBytes(c.last.memoryLimitBytes)}</span>}
                    </span>
                    <Lines
                      label={`Memory of ${c.name} per ${perBar} in ${phrase}, now ${formatBytes(c.last.memoryBytes)}`}
                      series={[['memory', c.memory]]}
                      small
                    />
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Requests per bar, stacked by status class (2xx at the bottom); each bar's counts in its tooltip. */
function RequestBars({ minutes, perBar, phrase, total }: { minutes: MetricsMinute[]; perBar: string; phrase: string; total: number }) {
  const totals = minutes.map((m) => requestTotal(m.requests));
  const max = scaleMax([totals]);
  const slot = W / Math.max(1, minutes.length);
  const peak = Math.max(...totals);
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`Requests per ${perBar} in ${phrase}: ${total} in all, at most ${peak} in one ${perBar}`}
    >
      {minutes.map((m, i) => {
        const counts = classCounts(m.requests);
        let top = H;
        const text = CLASSES.filter((c) => counts[c] > 0)
          .map((c) => `${counts[c]} ${c}`)
          .join(', ');
        return (
          <g key={m.minute}>
            <title>{`${time(m.minute)}: ${text || 'no requests'}`}</title>
            {CLASSES.map((c) => {
              if (counts[c] === 0) return null;
              const h = (counts[c] / max) * H;
              top -= h;
              return <rect key={c} class={`c-${c}`} x={i * slot + slot * 0.1} y={top} width={slot * 0.8} height={h} />;
            })}
          </g>
        );
      })}
    </svg>
  );
}

function Bars({
  label,
  values,
  title,
  minutes,
}: {
  label: string;
  values: number[];
  title: (m: MetricsMinute, v: number) => string;
  minutes: MetricsMinute[];
}) {
  const max = scaleMax([values]);
  const slot = W / Math.max(1, values.length);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {values.map((v, i) => (
        <rect key={minutes[i]!.minute} class="bar-bytes" x={i * slot + slot * 0.1} y={H - (v / max) * H} width={slot * 0.8} height={(v / max) * H}>
          <title>{title(minutes[i]!, v)}</title>
        </rect>
      ))}
    </svg>
  );
}

/** Lines on one scale; a gap where a minute has no value. */
function Lines({ label, series, small = false, floor }: { label: string; series: [string, (number | null)[]][]; small?: boolean; floor?: number }) {
  const h = small ? 24 : H;
  const w = small ? 120 : W;
  const max = scaleMax(
    series.map(([, v]) => v),
    floor ?? 0,
  );
  return (
    <svg class={small ? 'spark' : 'chart'} viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {series.map(([key, values]) => (
        <path key={key} class={`line l-${key}`} d={linePath(values, w, h - 1, max)} vector-effect="non-scaling-stroke" />
      ))}
    </svg>
  );
}
