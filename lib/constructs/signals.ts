import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Cache } from './cache';

export interface ServiceSignalsProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly service: ecs.FargateService;
  readonly database: rds.DatabaseInstance;
  readonly cache: Cache;
  /** Namespace of the app's Embedded Metric Format metrics, e.g. `LlmApi/prod`. */
  readonly appNamespace: string;
  /**
   * Value of the app metrics' `Service` dimension.
   * @default 'llm-api'
   */
  readonly appServiceName?: string;
  /** 5xx rate alarms read 0 % below this many requests in 5 minutes. */
  readonly http5xxMinRequests: number;
  /**
   * Budget threshold crossings counted from the app's log lines (LogMetrics).
   * @default - none
   */
  readonly budgetThresholdCrossed?: cloudwatch.IMetric;
}

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

/**
 * Every metric the alarms and the dashboard watch, defined once. Not a construct: it creates no
 * resources, it only names metrics of the resources handed in.
 */
export class ServiceSignals {
  public readonly target5xx: cloudwatch.IMetric;
  public readonly elb5xx: cloudwatch.IMetric;
  public readonly albRequests: cloudwatch.IMetric;
  /** `100 * (target 5xx + load balancer 5xx) / requests` over 5 minutes. */
  public readonly http5xxRate: cloudwatch.IMetric;
  public readonly rejectedConnections: cloudwatch.IMetric;
  public readonly targetConnectionErrors: cloudwatch.IMetric;
  public readonly p99Latency: cloudwatch.IMetric;
  public readonly unhealthyHosts: cloudwatch.IMetric;
  public readonly runningTasks: cloudwatch.IMetric;
  public readonly serviceCpu: cloudwatch.IMetric;
  public readonly serviceMemory: cloudwatch.IMetric;
  public readonly dbCpu: cloudwatch.IMetric;
  public readonly dbFreeStorage: cloudwatch.IMetric;
  public readonly dbFreeableMemory: cloudwatch.IMetric;
  public readonly dbConnections: cloudwatch.IMetric;
  public readonly cacheEngineCpu: cloudwatch.IMetric;
  public readonly cacheMemory: cloudwatch.IMetric;
  public readonly cacheEvictions: cloudwatch.IMetric;
  /** App: `100 * UpstreamErrors / Requests` over 5 minutes. */
  public readonly upstreamErrorRate: cloudwatch.IMetric;
  public readonly rateLimited: cloudwatch.IMetric;
  public readonly requests: cloudwatch.IMetric;
  public readonly appErrors5xx: cloudwatch.IMetric;
  public readonly upstreamErrors: cloudwatch.IMetric;
  public readonly promptTokens: cloudwatch.IMetric;
  public readonly completionTokens: cloudwatch.IMetric;
  public readonly cacheHits: cloudwatch.IMetric;
  public readonly gatewayOverheadP99: cloudwatch.IMetric;
  /** App fault counters (EMF): the limiter served from process memory because Redis failed. */
  public readonly limiterFailOpen: cloudwatch.IMetric;
  public readonly usageRowsDropped: cloudwatch.IMetric;
  public readonly budgetReseedFailures: cloudwatch.IMetric;
  public readonly budgetThresholdCrossed?: cloudwatch.IMetric;

  constructor(props: ServiceSignalsProps) {
    const { loadBalancer, targetGroup, service, database, cache } = props;
    const sum5 = { statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES };
    const avg5 = { statistic: cloudwatch.Stats.AVERAGE, period: FIVE_MINUTES };

    this.target5xx = loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, sum5);
    this.elb5xx = loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, sum5);
    this.albRequests = loadBalancer.metrics.requestCount(sum5);
    this.http5xxRate = new cloudwatch.MathExpression({
      expression: `IF(requests >= ${props.http5xxMinRequests}, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)`,
      usingMetrics: { target5xx: this.target5xx, elb5xx: this.elb5xx, requests: this.albRequests },
      label: '5xx (% of requests)',
      period: FIVE_MINUTES,
    });
    this.rejectedConnections = loadBalancer.metrics.rejectedConnectionCount(sum5);
    this.targetConnectionErrors = loadBalancer.metrics.targetConnectionErrorCount(sum5);
    this.p99Latency = targetGroup.metrics.targetResponseTime({ statistic: cloudwatch.Stats.p(99), period: FIVE_MINUTES });
    this.unhealthyHosts = targetGroup.metrics.unhealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: ONE_MINUTE });

    this.runningTasks = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: service.cluster.clusterName, ServiceName: service.serviceName },
      statistic: cloudwatch.Stats.MINIMUM,
      period: ONE_MINUTE,
    });
    this.serviceCpu = service.metricCpuUtilization(avg5);
    this.serviceMemory = service.metricMemoryUtilization(avg5);

    this.dbCpu = database.metricCPUUtilization(avg5);
    this.dbFreeStorage = database.metricFreeStorageSpace({ statistic: cloudwatch.Stats.MINIMUM, period: FIVE_MINUTES });
    this.dbFreeableMemory = database.metricFreeableMemory({ statistic: cloudwatch.Stats.MINIMUM, period: FIVE_MINUTES });
    this.dbConnections = database.metricDatabaseConnections({ statistic: cloudwatch.Stats.MAXIMUM, period: FIVE_MINUTES });

    this.cacheEngineCpu = cache.metricEngineCpuUtilization();
    this.cacheMemory = cache.metricMemoryUsagePercentage();
    this.cacheEvictions = cache.metricEvictions();

    const app = (metricName: string, statistic: string = cloudwatch.Stats.SUM) =>
      new cloudwatch.Metric({
        namespace: props.appNamespace,
        metricName,
        dimensionsMap: { Service: props.appServiceName ?? 'llm-api' },
        statistic,
        period: FIVE_MINUTES,
      });
    this.requests = app('Requests');
    this.appErrors5xx = app('Errors5xx');
    this.upstreamErrors = app('UpstreamErrors');
    this.rateLimited = app('RateLimited');
    this.promptTokens = app('PromptTokens');
    this.completionTokens = app('CompletionTokens');
    this.cacheHits = app('CacheHits');
    this.gatewayOverheadP99 = app('GatewayOverhead', cloudwatch.Stats.p(99));
    this.limiterFailOpen = app('LimiterFailOpen');
    this.usageRowsDropped = app('UsageRowsDropped');
    this.budgetReseedFailures = app('BudgetReseedFailures');
    this.budgetThresholdCrossed = props.budgetThresholdCrossed;
    this.upstreamErrorRate = new cloudwatch.MathExpression({
      // The app publishes zeros in quiet intervals: no requests is a 0 % rate, not a division by zero.
      expression: 'IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)',
      usingMetrics: { errors: this.upstreamErrors, requests: this.requests },
      label: 'Upstream error rate (%)',
      period: FIVE_MINUTES,
    });
  }
}
