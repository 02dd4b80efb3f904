import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { isImportOf, only } from '../synth';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** Issue point 7: encrypted TLS-only topic, one alarm per signal with the topic action, dashboard. */
export function monitoringChecks(name: StageName, template: () => Template): void {
  const config = STAGES[name];
  const t = config.monitoring.thresholds;
  const alarms = () => Object.values(template().findResources('AWS::CloudWatch::Alarm')).map((r) => r.Properties);
  const alarm = (suffix: string) => {
    const found = alarms().find((a) => a.AlarmName === `llm-api-${name}-${suffix}`);
    if (!found) throw new Error(`no alarm llm-api-${name}-${suffix}`);
    return found;
  };
  const topicId = () => only(template(), 'AWS::SNS::Topic').logicalId;
  /** Names of the metrics an alarm reads, whether direct or inside a math expression. */
  const metricNames = (a: any): string[] =>
    a.MetricName ? [a.MetricName] : a.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.MetricName);

  describe('monitoring', () => {
    test('SNS topic is KMS-encrypted with a key CloudWatch, RDS and ElastiCache may publish with', () => {
      const topic = only(template(), 'AWS::SNS::Topic').props;
      const key = template().toJSON().Resources[topic.KmsMasterKeyId['Fn::GetAtt'][0]].Properties;
      expect(key.EnableKeyRotation).toBe(true);
      expect(key.KeyPolicy.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Principal: { Service: ['cloudwatch.amazonaws.com', 'elasticache.amazonaws.com', 'events.rds.amazonaws.com'] },
            Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
          }),
        ]),
      );
    });

    test('topic policy refuses publishing without TLS', () => {
      template().hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId() }],
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        }),
      });
    });

    test('e-mail subscriptions from the config', () => {
      const subscriptions = Object.values(template().findResources('AWS::SNS::Subscription')).map((r) => r.Properties);
      expect(subscriptions.map((s) => s.Endpoint).sort()).toEqual([...config.monitoring.alarmEmails].sort());
      for (const s of subscriptions) expect(s).toMatchObject({ Protocol: 'email', TopicArn: { Ref: topicId() } });
    });

    test('every alarm notifies the topic when firing and when recovering', () => {
      expect(alarms()).toHaveLength(22);
      // The topic lives in the data stack; the alarms name it through its export.
      for (const a of alarms()) {
        expect(a.AlarmActions).toHaveLength(1);
        expect(isImportOf(a.AlarmActions[0], topicId())).toBe(true);
        expect(a.OKActions).toEqual(a.AlarmActions);
      }
    });

    test.each([
      ['http-5xx-rate', 'HTTPCode_Target_5XX_Count', 'GreaterThanThreshold', t.http5xxRatePercent],
      ['p99-latency', 'TargetResponseTime', 'GreaterThanThreshold', t.p99LatencySeconds],
      ['gateway-overhead-p99', 'GatewayOverhead', 'GreaterThanThreshold', t.gatewayOverheadP99Ms],
      ['rejected-connections', 'RejectedConnectionCount', 'GreaterThanThreshold', t.rejectedConnectionsPer5Min],
      ['target-connection-errors', 'TargetConnectionErrorCount', 'GreaterThanThreshold', t.targetConnectionErrorsPer5Min],
      ['limiter-fail-open', 'LimiterFailOpen', 'GreaterThanThreshold', t.limiterFailOpenPer5Min],
      ['usage-rows-dropped', 'UsageRowsDropped', 'GreaterThanThreshold', t.usageRowsDroppedPer5Min],
      ['budget-reseed-failures', 'BudgetReseedFailures', 'GreaterThanThreshold', t.budgetReseedFailuresPer5Min],
      ['budget-threshold', 'BudgetThresholdCrossed', 'GreaterThanThreshold', 0],
      ['unhealthy-hosts', 'UnHealthyHostCount', 'GreaterThanThreshold', t.unhealthyHosts],
      ['running-tasks-low', 'RunningTaskCount', 'LessThanThreshold', config.service.minTasks],
      ['service-cpu', 'CPUUtilization', 'GreaterThanThreshold', t.serviceCpuPercent],
      ['service-memory', 'MemoryUtilization', 'GreaterThanThreshold', t.serviceMemoryPercent],
      ['db-cpu', 'CPUUtilization', 'GreaterThanThreshold', t.dbCpuPercent],
      ['db-free-storage', 'FreeStorageSpace', 'LessThanThreshold', t.dbFreeStorageGiB * GIB],
      ['db-freeable-memory', 'FreeableMemory', 'LessThanThreshold', t.dbFreeableMemoryMiB * MIB],
      ['db-connections', 'DatabaseConnections', 'GreaterThanThreshold', t.dbConnections],
      ['cache-engine-cpu', 'EngineCPUUtilization', 'GreaterThanThreshold', t.cacheEngineCpuPercent],
      ['cache-memory', 'DatabaseMemoryUsagePercentage', 'GreaterThanThreshold', t.cacheMemoryPercent],
      ['cache-evictions', 'Evictions', 'GreaterThanThreshold', t.cacheEvictionsPer5Min],
      ['upstream-error-rate', 'UpstreamErrors', 'GreaterThanThreshold', t.upstreamErrorRatePercent],
      ['rate-limited', 'RateLimited', 'GreaterThanThreshold', t.rateLimitedPer5Min],
    ])('alarm %s on %s (%s %d)', (suffix, metricName, operator, threshold) => {
      const a = alarm(suffix);
      expect(metricNames(a)).toContain(metricName);
      expect(a.ComparisonOperator).toBe(operator);
      expect(a.Threshold).toBe(threshold);
    });

    test('5xx is alarmed as a rate of all requests (targets and load balancer), not a count', () => {
      const rate = alarm('http-5xx-rate');
      expect(metricNames(rate).sort()).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
      expect(rate.Metrics.find((m: any) => m.Expression).Expression).toBe(
        `IF(requests >= ${t.http5xxMinRequests}, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)`,
      );
    });

    test('GatewayOverhead p99 and the app fault counters are alarmed from the EMF namespace', () => {
      expect(alarm('gateway-overhead-p99')).toMatchObject({ Namespace: `LlmApi/${name}`, ExtendedStatistic: 'p99' });
      for (const suffix of ['limiter-fail-open', 'usage-rows-dropped', 'budget-reseed-failures']) {
        expect(alarm(suffix)).toMatchObject({
          Namespace: `LlmApi/${name}`,
          Statistic: 'Sum',
          Dimensions: [{ Name: 'Service', Value: 'llm-api' }],
        });
      }
    });

    test('budget_threshold log lines become a metric, alarmed to the topic', () => {
      template().hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: '{ $.event = "budget_threshold" }',
        LogGroupName: { Ref: Match.stringLikeRegexp('^ApiLogs') },
        MetricTransformations: [{ MetricNamespace: `LlmApi/${name}`, MetricName: 'BudgetThresholdCrossed', MetricValue: '1', Unit: 'Count' }],
      });
      expect(alarm('budget-threshold')).toMatchObject({ Namespace: `LlmApi/${name}`, Statistic: 'Sum', Threshold: 0 });
    });

    test('latency alarm uses p99; ECS and RDS alarms read their own namespaces', () => {
      expect(alarm('p99-latency').ExtendedStatistic).toBe('p99');
      expect(alarm('service-cpu').Namespace).toBe('AWS/ECS');
      expect(alarm('db-cpu').Namespace).toBe('AWS/RDS');
      expect(alarm('running-tasks-low').Namespace).toBe('ECS/ContainerInsights');
    });

    test('cache alarms watch every node of the replication group', () => {
      const nodes = 1 + config.cache.replicas;
      for (const suffix of ['cache-engine-cpu', 'cache-memory', 'cache-evictions']) {
        const a = alarm(suffix);
        expect(a.Metrics.filter((m: any) => m.MetricStat)).toHaveLength(nodes);
        expect(a.Metrics.find((m: any) => m.Expression).Expression).toMatch(/^(MAX|SUM)\(\[/);
      }
    });

    test('app alarms read the EMF namespace with the Service dimension', () => {
      const rate = alarm('upstream-error-rate');
      expect(rate.Metrics.find((m: any) => m.Expression).Expression).toBe('IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)');
      for (const m of rate.Metrics.filter((m: any) => m.MetricStat)) {
        expect(m.MetricStat.Metric).toMatchObject({ Namespace: `LlmApi/${name}`, Dimensions: [{ Name: 'Service', Value: 'llm-api' }] });
      }
      expect(alarm('rate-limited')).toMatchObject({ Namespace: `LlmApi/${name}`, Statistic: 'Sum' });
    });

    test('dashboard shows the same signals and every alarm', () => {
      const body = JSON.stringify(only(template(), 'AWS::CloudWatch::Dashboard').props.DashboardBody);
      for (const metric of [
        'HTTPCode_Target_5XX_Count',
        'HTTPCode_ELB_5XX_Count',
        'TargetResponseTime',
        'UnHealthyHostCount',
        'RunningTaskCount',
        'MemoryUtilization',
        'FreeStorageSpace',
        'FreeableMemory',
        'DatabaseConnections',
        'EngineCPUUtilization',
        'DatabaseMemoryUsagePercentage',
        'Evictions',
        'UpstreamErrors',
        'RateLimited',
        'Requests',
        'PromptTokens',
        'CompletionTokens',
        'CacheHits',
        'GatewayOverhead',
        'RejectedConnectionCount',
        'TargetConnectionErrorCount',
        'LimiterFailOpen',
        'UsageRowsDropped',
        'BudgetReseedFailures',
        'BudgetThresholdCrossed',
      ]) {
        expect(body).toContain(metric);
      }
      const alarmRefs = body.match(/\{"Fn::GetAtt":\["Alarms[A-Za-z0-9]+","Arn"\]\}/g) ?? [];
      expect(new Set(alarmRefs).size).toBe(22);
    });
  });
}
