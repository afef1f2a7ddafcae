import { execa } from 'execa';

export interface PromSample {
  /** The family's name (`slipway_router_request_duration_seconds`). */
  family: string;
  type: string;
  /** The sample's own name (`…_bucket`, `…_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Prometheus' own text-format parser (client_python's, Debian's python3-prometheus-client,
 * installed by scripts/setup): what a real scraper would read. Throws on text it rejects.
 */
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        # NaN (a gauge not measured yet) is no JSON: sent as a string, read back as NaN.
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value if s.value == s.value else "NaN"})
print(json.dumps(out))
`;

export async function parsePrometheus(text: string): Promise<PromSample[]> {
  // Debian's interpreter, where the package is (a pyenv one on PATH would not have it).
  const { stdout } = await execa('/usr/bin/python3', ['-c', PARSE], { input: text });
  return (JSON.parse(stdout) as (Omit<PromSample, 'value'> & { value: number | 'NaN' })[]).map((s) => ({ ...s, value: Number(s.value) }));
}

/** The value of the one sample with this name and these labels (among others), or undefined. */
export function sampleValue(samples: readonly PromSample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
