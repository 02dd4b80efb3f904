import { RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
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
  /**
   * Addresses subscribed to the alarm topic.
   * @default - no subscriptions
   */
  readonly emails?: string[];
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * The alarm topic (encrypted, TLS-only) and one alarm per signal, each notifying the topic when
 * it fires and when it recovers.
 */
export class Alarms extends Construct {
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.alarmNamePrefix = props.alarmNamePrefix;
    const { signals: s, thresholds: t } = props;

    const key = new kms.Key(this, 'TopicKey', {
      description: `Alarm topic of ${props.alarmNamePrefix}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch publishes to the encrypted topic on its own behalf.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.alarmNamePrefix} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;
    this.add('Target5xx', s.target5xx, above, t.target5xxPer5Min, 1, 'Targets answered 5xx (sum over 5 min)');
    this.add('Elb5xx', s.elb5xx, above, t.elb5xxPer5Min, 1, 'The load balancer itself answered 5xx (no healthy target, timeouts)');
    this.add('P99Latency', s.p99Latency, above, t.p99LatencySeconds, 3, 'TargetResponseTime p99 (seconds) is high');
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
