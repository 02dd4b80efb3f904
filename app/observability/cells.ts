/**
 * Counter and histogram families for the request path. prom-client's own cost ~0.5 µs per update
 * (a label hash string and a few objects each time); these cost a Map lookup and an addition. They
 * plug into a prom-client Registry as ordinary metrics (`name`, `help`, `get()`), so the text
 * format, the default metrics and the cluster aggregation stay prom-client's.
 */
import type { Registry } from 'prom-client';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Child<C> {
  labels: Record<string, string>;
  cell: C;
}

abstract class Family<C> {
  readonly aggregator = 'sum';
  protected readonly children: Array<Child<C>> = [];
  private readonly byLabel = new Map<string, Map<string, Map<string, C>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    if (labelNames.length > 3) throw new Error(`metric ${name}: at most three labels`);
    registry.registerMetric(this as never);
  }

  protected abstract newCell(): C;

  /** The cell for these label values, in `labelNames` order; made once, then only looked up. */
  child(a = '', b = '', c = ''): C {
    let byB = this.byLabel.get(a);
    if (byB === undefined) this.byLabel.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (byC === undefined) byB.set(b, (byC = new Map()));
    let cell = byC.get(c);
    if (cell === undefined) {
      cell = this.newCell();
      byC.set(c, cell);
      const values = [a, b, c];
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      this.children.push({ labels, cell });
    }
    return cell;
  }
}

export class CounterCell {
  value = 0;
}

export class CounterFamily extends Family<CounterCell> {
  readonly type = 'counter';

  protected newCell(): CounterCell {
    return new CounterCell();
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.children.map(({ labels, cell }) => ({ labels, value: cell.value })),
    };
  }

  reset(): void {
    for (const { cell } of this.children) cell.value = 0;
  }
}

export class HistogramCell {
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected newCell(): HistogramCell {
    return new HistogramCell(this.bounds);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.children) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += cell.counts[i];
        const le = i < this.bounds.length ? this.bounds[i] : '+Inf';
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: bucket });
      }
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const { cell } of this.children) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
