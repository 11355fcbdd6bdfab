// samples.jsonl for tests: each line validated on the way in and out with parseSample, the check the
// dashboard applies when it reads the file, so a fixture cannot write a line the dashboard would reject.
import { parseSample, type SampleRecord } from '../../src/run/metrics.js';
import { appendJsonl, readJsonl } from '../../src/util/jsonl.js';

export function appendSamples(file: string, records: readonly SampleRecord[]): void {
  appendJsonl(file, records.map(parseSample));
}

export function readSamples(file: string): SampleRecord[] {
  return readJsonl(file, parseSample).records;
}
