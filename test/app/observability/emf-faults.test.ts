import { EmfAggregator, EMF_FAULT_METRICS, withEmfFaults, type FaultEvents } from '../../../app/observability/emf';

describe('EMF fault counters', () => {
  it('are written every interval, zeros included, and reset after each', () => {
    const agg = new EmfAggregator('LlmApi/test', 'llm-api');
    agg.fault('LimiterFailOpen');
    agg.fault('UsageRowsDropped', 25);
    const doc = agg.take(1_700_000_040_000);
    const names = doc._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name);
    for (const name of EMF_FAULT_METRICS) expect(names).toContain(name);
    expect(doc).toMatchObject({ LimiterFailOpen: 1, UsageRowsDropped: 25, BudgetReseedFailures: 0 });
    expect(agg.take(1_700_000_100_000)).toMatchObject({ LimiterFailOpen: 0, UsageRowsDropped: 0, BudgetReseedFailures: 0 });
  });

  it('withEmfFaults keeps the existing handlers and counts limiter fallbacks, dropped rows and failed re-seeds', () => {
    const seen: string[] = [];
    const faults: Array<[string, number | undefined]> = [];
    const events: FaultEvents = withEmfFaults<FaultEvents>(
      { redisFallback: (c: 'limiter' | 'cache') => seen.push(`fallback:${c}`), usageDropped: (n: number) => seen.push(`dropped:${n}`) },
      { fault: (name, n) => faults.push([name, n]) },
    );
    events.redisFallback?.('limiter');
    events.redisFallback?.('cache');
    events.usageDropped?.(3);
    events.reseedFailed?.(new Error('seed failed'));
    expect(seen).toEqual(['fallback:limiter', 'fallback:cache', 'dropped:3']);
    expect(faults).toEqual([
      ['LimiterFailOpen', undefined],
      ['UsageRowsDropped', 3],
      ['BudgetReseedFailures', undefined],
    ]);
  });

  it('withEmfFaults without an emitter returns the events as they are', () => {
    const events = { usageDropped: () => undefined };
    expect(withEmfFaults(events, undefined)).toBe(events);
  });
});
