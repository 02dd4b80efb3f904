import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AlarmThresholds } from '../config';
import { ServiceSignals } from './signals';

export interface AlarmsProps {
  readonly signals: ServiceSignals;
  readonly thresholds: AlarmThresholds;
  /** Tasks the service must keep running; fewer raises an alarm. */
  readonly minTasks: number;
  /** Prefix of every alarm name, e.g. `llm-api-prod`. */
  readonly alarmNamePrefix: string;
  /** Where every alarm notifies, firing and recovering (Notifications' topic). */
  readonly topic: sns.ITopic;
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * One alarm per signal, each notifying the topic when it fires and when it recovers.
 */
export class Alarms extends Construct {
  public readonly topic: sns.ITopic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.alarmNamePrefix = props.alarmNamePrefix;
    const { signals: s, thresholds: t } = props;

    this.topic = props.topic;

    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;
    this.add('Http5xxRate', s.http5xxRate, above, t.http5xxRatePercent, 1, '5xx answers (targets and the load balancer) in % of requests over 5 min');
    this.add('P99Latency', s.p99Latency, above, t.p99LatencySeconds, 3, 'TargetResponseTime p99 (seconds) is high');
    this.add('GatewayOverheadP99', s.gatewayOverheadP99, above, t.gatewayOverheadP99Ms, 3, "The gateway's own time per request (p99, ms) is high");
    this.add('RejectedConnections', s.rejectedConnections, above, t.rejectedConnectionsPer5Min, 1, 'The load balancer refused connections: it reached its connection limit');
    this.add('TargetConnectionErrors', s.targetConnectionErrors, above, t.targetConnectionErrorsPer5Min, 1, 'The load balancer could not connect to tasks');
    this.add('UnhealthyHosts', s.unhealthyHosts, above, t.unhealthyHosts, 3, 'Targets fail the /health check');
    this.add('RunningTasksLow', s.runningTasks, below, props.minTasks, 3, `Fewer than ${props.minTasks} tasks running`, {
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.add('ServiceCpu', s.serviceCpu, above, t.serviceCpuPercent, 3, 'ECS service CPU (%) is high');
    this.add('ServiceMemory', s.serviceMemory, above, t.serviceMemoryPercent, 3, 'ECS service memory (%) is high');
    this.add('DbCpu', s.dbCpu, above, t.dbCpuPercent, 3, 'RDS CPU (%) is high');
    this.add('DbFreeStorage', s.dbFreeStorage, below, t.dbFreeStorageGiB * GIB, 1, `RDS free storage below ${t.dbFreeStorageGiB} GiB`);
    this.add('DbFreeableMemory', s.dbFreeableMemory, below, t.dbFreeableMemoryMiB * MIB, 3, `RDS freeable memory below ${t.dbFreeableMemoryMiB} MiB`);
    this.add('DbConnections', s.dbConnections, above, t.dbConnections, 3, 'RDS connections near max_connections');
    this.add('CacheEngineCpu', s.cacheEngineCpu, above, t.cacheEngineCpuPercent, 3, 'ElastiCache engine CPU (%) is high');
    this.add('CacheMemory', s.cacheMemory, above, t.cacheMemoryPercent, 3, 'ElastiCache memory use (% of maxmemory) is high');
    this.add('CacheEvictions', s.cacheEvictions, above, t.cacheEvictionsPer5Min, 1, 'ElastiCache evicts keys: rate-limit and cache state is being lost');
    this.add('UpstreamErrorRate', s.upstreamErrorRate, above, t.upstreamErrorRatePercent, 2, 'Upstream errors (% of requests) are high');
    this.add('RateLimited', s.rateLimited, above, t.rateLimitedPer5Min, 1, 'Many requests answered 429 by the gateway limiter');
    this.add('LimiterFailOpen', s.limiterFailOpen, above, t.limiterFailOpenPer5Min, 1, 'Redis failed: limits are enforced per process only (fail open)');
    this.add('UsageRowsDropped', s.usageRowsDropped, above, t.usageRowsDroppedPer5Min, 1, 'Usage rows were dropped: Postgres was away longer than the buffer holds');
    this.add('BudgetReseedFailures', s.budgetReseedFailures, above, t.budgetReseedFailuresPer5Min, 1, 'Budget counters lost in Redis could not be re-seeded from the usage table');
    if (s.budgetThresholdCrossed) {
      this.add('BudgetThreshold', s.budgetThresholdCrossed, above, 0, 1, 'A key or team crossed 80 % or 100 % of a budget: the budget_threshold log line says which');
    }
  }

  private add(
    id: string,
    metric: cloudwatch.IMetric,
    comparisonOperator: cloudwatch.ComparisonOperator,
    threshold: number,
    evaluationPeriods: number,
    description: string,
    options: { treatMissingData?: cloudwatch.TreatMissingData } = {},
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${this.alarmNamePrefix}-${kebab(id)}`,
      alarmDescription: description,
      metric,
      threshold,
      comparisonOperator,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new cwActions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
  }

}

function kebab(id: string): string {
  return id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([a-z])([0-9])/g, '$1-$2')
    .toLowerCase();
}
