/**
 * Checks a document against the CloudWatch Embedded Metric Format specification: the `_aws`
 * metadata, each MetricDirective, and the root members its dimensions and metrics point at.
 */
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

export function emfProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const root = doc as Record<string, unknown>;
  const aws = root?._aws as Record<string, unknown> | undefined;
  if (!aws || typeof aws !== 'object') return ['_aws is missing'];
  if (!Number.isInteger(aws.Timestamp) || (aws.Timestamp as number) < 0) problems.push('_aws.Timestamp is not epoch ms');
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...problems, '_aws.CloudWatchMetrics is not a non-empty array'];
  for (const d of directives as Array<Record<string, unknown>>) {
    const ns = d.Namespace;
    if (typeof ns !== 'string' || ns.length < 1 || ns.length > 255) problems.push(`bad Namespace ${String(ns)}`);
    if (!Array.isArray(d.Dimensions)) problems.push('Dimensions is not an array');
    for (const set of (d.Dimensions as unknown[]) ?? []) {
      if (!Array.isArray(set) || set.length > 30) problems.push('a DimensionSet is not an array of at most 30');
      for (const dim of (set as unknown[]) ?? []) {
        if (typeof dim !== 'string') problems.push('a dimension name is not a string');
        else if (typeof root[dim] !== 'string') problems.push(`dimension ${dim} has no string member in the root`);
      }
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length > 100) problems.push('Metrics is not an array of at most 100');
    for (const m of (d.Metrics as Array<Record<string, unknown>>) ?? []) {
      const name = m.Name;
      if (typeof name !== 'string' || name.length < 1 || name.length > 255) {
        problems.push(`bad metric Name ${String(name)}`);
        continue;
      }
      if (m.Unit !== undefined && !UNITS.has(m.Unit as string)) problems.push(`${name}: bad Unit ${String(m.Unit)}`);
      const v = root[name];
      const ok =
        (typeof v === 'number' && Number.isFinite(v)) ||
        (Array.isArray(v) && v.length <= 100 && v.every((x) => typeof x === 'number' && Number.isFinite(x)));
      if (!ok) problems.push(`${name}: root member is not a number or an array of at most 100 numbers`);
    }
  }
  return problems;
}

/** The p-th percentile (0–100) by nearest rank, as a check on what CloudWatch would compute. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
