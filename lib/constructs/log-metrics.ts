import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface LogMetricsProps {
  /** The gateway's log group (its JSON log lines). */
  readonly logGroup: logs.ILogGroup;
  /** Namespace of the metrics, e.g. `LlmApi/prod`. */
  readonly namespace: string;
}

/**
 * Metrics CloudWatch Logs derives from the gateway's structured log lines, for events that are
 * rare and matter one by one rather than as rates.
 */
export class LogMetrics extends Construct {
  /**
   * `{"event":"budget_threshold","scope":"key"|"team","id":…,"period":"day"|"month","percent":80|100}`:
   * a key or team crossed 80 % or 100 % of a budget. One count per line; the line says which.
   */
  public readonly budgetThresholdCrossed: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: LogMetricsProps) {
    super(scope, id);
    const filter = new logs.MetricFilter(this, 'BudgetThreshold', {
      logGroup: props.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.event', '=', 'budget_threshold'),
      metricNamespace: props.namespace,
      metricName: 'BudgetThresholdCrossed',
      metricValue: '1',
      unit: cloudwatch.Unit.COUNT,
    });
    this.budgetThresholdCrossed = filter.metric({ statistic: cloudwatch.Stats.SUM });
  }
}
