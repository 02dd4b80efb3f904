import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { container, only } from '../synth';

const SECRET_NAMES = ['ADMIN_API_KEY', 'OPENAI_API_KEY', 'PGPASSWORD', 'PGUSER', 'REDIS_PASSWORD'];

/** Issue point 5: ECS cluster, Fargate service, task definition, secrets, autoscaling. */
export function serviceChecks(name: StageName, template: () => Template): void {
  const svc = STAGES[name].service;
  const env = () => Object.fromEntries(container(template()).Environment.map((e: any) => [e.Name, e.Value]));

  describe('service', () => {
    test('cluster has Container Insights', () => {
      template().hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: Match.stringLikeRegexp('^(enabled|enhanced)$') }],
      });
    });

    test('Fargate service in the private subnets of both AZs without a public IP', () => {
      const props = only(template(), 'AWS::ECS::Service').props;
      expect(props.LaunchType).toBe('FARGATE');
      const network = props.NetworkConfiguration.AwsvpcConfiguration;
      expect(network.AssignPublicIp).toBe('DISABLED');
      expect(network.Subnets).toHaveLength(2);
      for (const subnet of network.Subnets) expect(subnet.Ref).toMatch(/PrivateSubnet/);
    });

    test('deployments: circuit breaker with rollback, 100 % minimum healthy', () => {
      template().hasResourceProperties('AWS::ECS::Service', {
        DeploymentConfiguration: Match.objectLike({
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
          MinimumHealthyPercent: 100,
        }),
      });
    });

    test('image built from app/Dockerfile as an asset', () => {
      expect(JSON.stringify(container(template()).Image)).toMatch(/container-assets/);
    });

    test('read-only root filesystem with a writable /tmp volume, memory limits, CPU architecture', () => {
      const props = only(template(), 'AWS::ECS::TaskDefinition').props;
      expect(props).toMatchObject({
        Cpu: String(svc.cpu),
        Memory: String(svc.memoryMiB),
        RuntimePlatform: { CpuArchitecture: svc.cpuArchitecture, OperatingSystemFamily: 'LINUX' },
        Volumes: [{ Name: 'tmp' }],
      });
      expect(container(template())).toMatchObject({
        ReadonlyRootFilesystem: true,
        Memory: svc.memoryMiB,
        MountPoints: [{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }],
      });
    });

    test('only port 8000 is mapped; the Prometheus port is never exposed', () => {
      expect(container(template()).PortMappings).toEqual([{ ContainerPort: 8000, Name: 'http', Protocol: 'tcp' }]);
      expect(env().METRICS_PORT).toBe('9464');
      expect(JSON.stringify(template().toJSON())).not.toMatch(/"(ContainerPort|Port|FromPort)":9464/);
    });

    test('awslogs to a log group with the stage retention', () => {
      const logging = container(template()).LogConfiguration;
      expect(logging.LogDriver).toBe('awslogs');
      const logGroup = template().toJSON().Resources[logging.Options['awslogs-group'].Ref];
      expect(logGroup.Properties.RetentionInDays).toBe(svc.logRetention);
    });

    test('every secret is injected with ecs.Secret from Secrets Manager', () => {
      const secrets = container(template()).Secrets;
      expect(secrets.map((s: any) => s.Name).sort()).toEqual(SECRET_NAMES);
      for (const secret of secrets) expect(JSON.stringify(secret.ValueFrom)).toMatch(/"Ref":"(Secrets|Cache|Database)/);
      const valueFrom = Object.fromEntries(secrets.map((s: any) => [s.Name, JSON.stringify(s.ValueFrom)]));
      expect(valueFrom.PGUSER).toContain(':username::');
      expect(valueFrom.PGPASSWORD).toContain(':password::');
    });

    test('nothing secret in the plain environment', () => {
      const names = Object.keys(env());
      for (const secret of SECRET_NAMES) expect(names).not.toContain(secret);
      expect(names.filter((n) => /PASSWORD|SECRET|TOKEN|_KEY$|DATABASE_URL/.test(n))).toEqual([]);
      expect(JSON.stringify(env())).not.toMatch(/resolve:secretsmanager|@[a-z0-9.-]+:\d+|:\/\/[^/]*:[^/]*@/);
    });

    test('environment follows the container contract', () => {
      expect(env()).toMatchObject({
        PORT: '8000',
        HOST: '0.0.0.0',
        WORKERS: String(svc.workers),
        LOG_LEVEL: svc.logLevel,
        SHUTDOWN_GRACE_MS: String(svc.shutdownGraceMs),
        OPENAI_BASE_URL: svc.upstreamBaseUrl,
        PGHOST: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Address'] },
        PGPORT: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Port'] },
        PGDATABASE: 'llmapi',
        PGSSLMODE: 'verify-full',
        DATA_DIR: '/tmp/data',
        EMF_ENABLED: 'true',
        METRICS_NAMESPACE: `LlmApi/${name}`,
        SERVICE_NAME: 'llm-api',
      });
    });

    test('stop timeout is longer than SHUTDOWN_GRACE_MS and at most 120 s', () => {
      const stopTimeout = container(template()).StopTimeout;
      expect(stopTimeout * 1000).toBeGreaterThan(Number(env().SHUTDOWN_GRACE_MS));
      expect(stopTimeout).toBeLessThanOrEqual(120);
    });

    test('container health check calls /health, with time for migrations before the first answer', () => {
      const check = container(template()).HealthCheck;
      expect(check.Command.join(' ')).toContain('http://127.0.0.1:8000/health');
      // Migrations run under the advisory lock before the server listens.
      expect(check.StartPeriod).toBeGreaterThanOrEqual(60);
      expect(only(template(), 'AWS::ECS::Service').props.HealthCheckGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    });

    test('autoscaling on CPU and on ALBRequestCountPerTarget', () => {
      template().hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: svc.minTasks,
        MaxCapacity: svc.maxTasks,
        ScalableDimension: 'ecs:service:DesiredCount',
      });
      template().hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
          TargetValue: svc.targetCpuPercent,
        }),
      });
      template().hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }),
          TargetValue: svc.targetRequestsPerTask,
        }),
      });
    });

    if (name === 'prod') {
      test('prod: at least 2 tasks, spread over both AZs', () => {
        const target = only(template(), 'AWS::ApplicationAutoScaling::ScalableTarget').props;
        expect(target.MinCapacity).toBeGreaterThanOrEqual(2);
        expect(only(template(), 'AWS::ECS::Service').props.NetworkConfiguration.AwsvpcConfiguration.Subnets).toHaveLength(2);
      });
    }

    test('a new current version of any injected secret redeploys the service', () => {
      const rule = only(template(), 'AWS::Events::Rule').props;
      expect(rule.EventPattern).toEqual({
        source: ['aws.secretsmanager'],
        'detail-type': ['Secret Label Updated'],
        resources: expect.arrayContaining([
          { Ref: expect.stringMatching(/^SecretsUpstreamApiKey/) },
          { Ref: expect.stringMatching(/^SecretsAdminApiKey/) },
          { Ref: expect.stringMatching(/^DatabaseInstanceSecretAttachment/) },
          { Ref: expect.stringMatching(/^CacheAuthToken/) },
        ]),
        detail: { labelUpdated: ['AWSCURRENT'] },
      });
      const machine = only(template(), 'AWS::StepFunctions::StateMachine');
      expect(rule.Targets[0].Arn).toEqual({ Ref: machine.logicalId });
      const definition = JSON.stringify(machine.props.DefinitionString);
      expect(definition).toContain(':states:::aws-sdk:ecs:updateService');
      expect(definition).toContain('\\"ForceNewDeployment\\":true');
      template().hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([{ Action: 'ecs:UpdateService', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^ApiService') } }]),
        }),
      });
    });

    test('desired count is left to autoscaling, so a deploy never resets it', () => {
      expect(only(template(), 'AWS::ECS::Service').props.DesiredCount).toBeUndefined();
    });
  });
}
