/**
 * The server's Prometheus metrics (`GET /metrics`), with prom-client: the router's requests per
 * app and status class, their durations, upstream errors and retries, deployments and their
 * phases, containers' restarts, CPU and memory, and the server process's own (memory, CPU,
 * event loop). Labels take bounded values only: app, status class, phase, container name.
 */
import client from 'prom-client';
import type { AppTraffic } from '../router/access.js';
import { statusClass, type StatusClass } from './access-line.js';
import type { ContainerSample } from './minutes.js';

/** Seconds: from a fast static answer to the router's upstream timeout. */
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PHASE_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200];

type DurationLabel = 'app' | 'status_class' | 'le';

/**
 * The router's request durations as a Prometheus histogram, counted per bucket here and handed
 * to prom-client's registry, which writes the exposition like any of its metrics. prom-client's
 * own Histogram hashes the labels of every value it observes: 1.4 µs a request on this machine,
 * most of what metrics cost the server; counting into a bucket costs a few comparisons.
 */
class RequestDurations {
  readonly name = 'slipway_router_request_duration_seconds';
  readonly help = 'From routing a request to the end of its response (upgrades excluded)';
  // prom-client's types declare an enum its code does not export; its registry writes the string.
  readonly type = 'histogram' as unknown as client.MetricType;
  readonly aggregator = 'sum';
  /** Per app and status class: counts per bucket (the last: above every bound), and the sum in seconds. */
  private readonly series = new Map<string, { app: string; statusClass: StatusClass; counts: Float64Array; sum: number }>();

  add(app: string, statusClass: StatusClass, durationsMs: readonly number[]): void {
    const key = `${app} ${statusClass}`;
    let series = this.series.get(key);
    if (series === undefined) this.series.set(key, (series = { app, statusClass, counts: new Float64Array(REQUEST_BUCKETS.length + 1), sum: 0 }));
    for (const ms of durationsMs) {
      const seconds = ms / 1000;
      // Prometheus' buckets hold what is at most their bound (`le`).
      let i = 0;
      while (i < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[i]!) i++;
      series.counts[i]!++;
      series.sum += seconds;
    }
  }

  get(): Promise<client.MetricObjectWithValues<client.MetricValueWithName<DurationLabel>>> {
    const values: client.MetricValueWithName<DurationLabel>[] = [];
    for (const { app, statusClass, counts, sum } of this.series.values()) {
      const labels = { app, status_class: statusClass };
      let below = 0;
      for (let i = 0; i <= REQUEST_BUCKETS.length; i++) {
        below += counts[i]!;
        values.push({ labels: { ...labels, le: REQUEST_BUCKETS[i] ?? '+Inf' }, value: below, metricName: `${this.name}_bucket` });
      }
      values.push({ labels, value: sum, metricName: `${this.name}_sum` }, { labels, value: below, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values, collect: () => undefined });
  }

  reset(): void {
    this.series.clear();
  }
}

export class PromMetrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'app' | 'status_class'>;
  private readonly duration = new RequestDurations();
  private readonly bytes: client.Counter<'app'>;
  private readonly upstreamErrors: client.Counter<'app' | 'status'>;
  private readonly retries: client.Counter<'app'>;
  private readonly deployments: client.Counter<'app' | 'status'>;
  private readonly phases: client.Histogram<'phase'>;
  private readonly restarts: client.Gauge<'app' | 'container'>;
  private readonly memory: client.Gauge<'app' | 'container'>;
  private readonly cpu: client.Gauge<'app' | 'container'>;
  /** The containers each app's gauges have series for. */
  private readonly sampled = new Map<string, Set<string>>();

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new client.Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => new client.Gauge<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new client.Histogram<L>({ name, help, labelNames, buckets, registers });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'slipway_server_' });
    this.requests = counter('slipway_router_requests_total', 'Requests the router answered, by app and status class', ['app', 'status_class']);
    // The registry takes any object with a metric's name, help, type and values (get).
    this.registry.registerMetric(this.duration as unknown as client.Metric);
    this.bytes = counter('slipway_router_response_bytes_total', 'Response body bytes sent to clients', ['app']);
    this.upstreamErrors = counter(
      'slipway_router_upstream_errors_total',
      'Requests the app did not answer: 502 (unreachable, bad response) and 504 (timed out)',
      ['app', 'status'],
    );
    this.retries = counter('slipway_router_retries_total', 'Requests sent again to a container after a failed attempt', ['app']);
    this.deployments = counter('slipway_deployments_total', 'Deployments finished, by final status', ['app', 'status']);
    this.phases = histogram('slipway_deploy_phase_duration_seconds', 'How long each phase of a deployment took', ['phase'], PHASE_BUCKETS);
    this.restarts = gauge('slipway_container_restarts', 'Times the engine restarted each running container', ['app', 'container']);
    this.memory = gauge('slipway_container_memory_bytes', 'Memory each running container uses', ['app', 'container']);
    this.cpu = gauge('slipway_container_cpu_percent', 'CPU each running container used at the last sample, in % of one core', ['app', 'container']);
  }

  /** What a router sent: each app's requests, summed (router/access.ts). */
  addTraffic(traffic: readonly AppTraffic[]): void {
    for (const { app, statuses, durations, bytes, retries } of traffic) {
      const byClass = new Map<StatusClass, number>();
      for (const status in statuses) {
        const n = statuses[status]!;
        const cls = statusClass(Number(status));
        byClass.set(cls, (byClass.get(cls) ?? 0) + n);
        if (status === '502' || status === '504') this.upstreamErrors.inc({ app, status }, n);
      }
      if (byClass.size === 0) continue;
      for (const [cls, n] of byClass) this.requests.inc({ app, status_class: cls }, n);
      this.bytes.inc({ app }, bytes);
      if (retries > 0) this.retries.inc({ app }, retries);
      for (const status in durations) this.duration.add(app, statusClass(Number(status)), durations[status]!);
    }
  }

  deploymentFinished(app: string, status: string, phases: readonly { phase: string; seconds: number }[]): void {
    this.deployments.inc({ app, status });
    for (const { phase, seconds } of phases) this.phases.observe({ phase }, seconds);
  }

  /** The app's running containers now: their series replace the previous ones (gone containers drop out). */
  containers(app: string, samples: readonly { container: string; restarts: number; stats: ContainerSample | null }[]): void {
    this.forgetApp(app);
    const names = new Set<string>();
    for (const { container, restarts, stats } of samples) {
      names.add(container);
      this.restarts.set({ app, container }, restarts);
      if (stats === null) continue;
      this.memory.set({ app, container }, stats.memoryBytes);
      this.cpu.set({ app, container }, stats.cpuPercent);
    }
    this.sampled.set(app, names);
  }

  /** Drops an app's container series (a deleted app, or before a new sample of its containers). */
  forgetApp(app: string): void {
    for (const container of this.sampled.get(app) ?? []) for (const gauge of [this.restarts, this.memory, this.cpu]) gauge.remove({ app, container });
    this.sampled.delete(app);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
