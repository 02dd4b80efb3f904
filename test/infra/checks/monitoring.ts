import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { only } from '../synth';

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
    test('SNS topic is KMS-encrypted with a key CloudWatch may use', () => {
      const topic = only(template(), 'AWS::SNS::Topic').props;
      const key = template().toJSON().Resources[topic.KmsMasterKeyId['Fn::GetAtt'][0]].Properties;
      expect(key.EnableKeyRotation).toBe(true);
      expect(key.KeyPolicy.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
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
      expect(alarms()).toHaveLength(16);
      for (const a of alarms()) {
        expect(a.AlarmActions).toEqual([{ Ref: topicId() }]);
        expect(a.OKActions).toEqual([{ Ref: topicId() }]);
      }
    });

    test.each([
      ['target-5xx', 'HTTPCode_Target_5XX_Count', 'GreaterThanThreshold', t.target5xxPer5Min],
      ['elb-5xx', 'HTTPCode_ELB_5XX_Count', 'GreaterThanThreshold', t.elb5xxPer5Min],
      ['p99-latency', 'TargetResponseTime', 'GreaterThanThreshold', t.p99LatencySeconds],
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
      ]) {
        expect(body).toContain(metric);
      }
      const alarmRefs = body.match(/\{"Fn::GetAtt":\["Alarms[A-Za-z0-9]+","Arn"\]\}/g) ?? [];
      expect(new Set(alarmRefs).size).toBe(16);
    });
  });
}
