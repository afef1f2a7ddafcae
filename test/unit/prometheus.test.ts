import { PromMetrics } from '../../src/metrics/prometheus.js';
import type { AppTraffic } from '../../src/router/access.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const traffic = (durations: AppTraffic['durations'], statuses: AppTraffic['statuses']): AppTraffic[] => [
  { app: 'shop', statuses, durations, bytes: 10, retries: 0, lines: [] },
];

test('request durations land in the buckets that hold them (at most `le`), cumulative, with sum and count, as Prometheus parses them', async () => {
  const prom = new PromMetrics();
  prom.addTraffic(traffic({ 200: [0.5, 1, 1.0001] }, { 200: 3 }));
  prom.addTraffic(traffic({ 200: [2500, 70_000], 503: [5] }, { 200: 2, 503: 1 }));
  const samples = await parsePrometheus(await prom.exposition());
  const bucket = (statusClass: string, le: string): number | undefined =>
    sampleValue(samples, 'slipway_router_request_duration_seconds_bucket', { app: 'shop', status_class: statusClass, le });
  expect(['0.001', '0.005', '1', '2.5', '60', '+Inf'].map((le) => bucket('2xx', le))).toEqual([2, 3, 3, 4, 4, 5]);
  expect(['0.001', '0.005', '+Inf'].map((le) => bucket('5xx', le))).toEqual([0, 1, 1]);
  expect(sampleValue(samples, 'slipway_router_request_duration_seconds_count', { app: 'shop', status_class: '2xx' })).toBe(5);
  expect(sampleValue(samples, 'slipway_router_request_duration_seconds_sum', { app: 'shop', status_class: '2xx' })).toBeCloseTo(72.5025001, 6);
  expect(samples.find((s) => s.name === 'slipway_router_request_duration_seconds_count')?.type).toBe('histogram');
  expect(sampleValue(samples, 'slipway_router_requests_total', { app: 'shop', status_class: '2xx' })).toBe(5);
}, 20_000);
