import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { bedrockModels, bedrockResourceArns } from '../../../lib/routing';
import { container, isImportOf, only } from '../synth';

const SECRET_NAMES = ['ADMIN_API_KEY', 'OPENAI_API_KEY', 'REDIS_PASSWORD'];

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
      for (const subnet of network.Subnets) expect(isImportOf(subnet, 'PrivateSubnet')).toBe(true);
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
        Volumes: [{ Name: 'tmp' }, { Name: 'ssm-state' }, { Name: 'ssm-logs' }],
      });
      expect(container(template())).toMatchObject({
        ReadonlyRootFilesystem: true,
        Memory: svc.memoryMiB,
        MountPoints: expect.arrayContaining([{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }]),
      });
    });

    test('ct-ecs-pr-3: every container runs as the non-root node user', () => {
      const containers = only(template(), 'AWS::ECS::TaskDefinition').props.ContainerDefinitions;
      expect(containers.map((c: any) => c.Name).sort()).toEqual(['api', 'migrate']);
      for (const c of containers) expect(c.User).toBe('1000:1000');
    });

    test('ct-ecs-pr-7: every container has a hard memory limit; reservations fit the task', () => {
      const containers = only(template(), 'AWS::ECS::TaskDefinition').props.ContainerDefinitions;
      for (const c of containers) expect(c.Memory).toBeGreaterThan(0);
      const reserved = containers.reduce((sum: number, c: any) => sum + (c.MemoryReservation ?? c.Memory), 0);
      expect(reserved).toBeLessThanOrEqual(svc.memoryMiB);
    });

    test('migrations run first, in their own container, as the schema-owning role', () => {
      const migrate = container(template(), 'migrate');
      expect(migrate).toMatchObject({ Essential: false, Command: ['node', 'dist/server.js', 'migrate'], ReadonlyRootFilesystem: true });
      const migrateEnv = Object.fromEntries(migrate.Environment.map((e: any) => [e.Name, e.Value]));
      expect(migrateEnv).toMatchObject({ PGUSER: 'llmapi_migrator', DATABASE_IAM_AUTH: 'true', PGSSLMODE: 'verify-full' });
      expect(migrate.Secrets).toBeUndefined();
      expect(container(template()).DependsOn).toEqual([{ ContainerName: 'migrate', Condition: 'SUCCESS' }]);
      expect(env()).toMatchObject({ PGUSER: 'llmapi_app', DATABASE_IAM_AUTH: 'true' });
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
      for (const secret of secrets) expect(JSON.stringify(secret.ValueFrom)).toMatch(/ImportValue.*(RefSecrets|RefCache)/);
      const valueFrom = Object.fromEntries(secrets.map((s: any) => [s.Name, JSON.stringify(s.ValueFrom)]));
      expect(valueFrom.OPENAI_API_KEY).toMatch(/SecretsProviderKeyOpenaiApiKey/);
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
        PGDATABASE: 'llmapi',
        AWS_REGION: 'us-east-1',
        PGSSLMODE: 'verify-full',
        DATA_DIR: '/tmp/data',
        EMF_ENABLED: 'true',
        METRICS_NAMESPACE: `LlmApi/${name}`,
        SERVICE_NAME: 'llm-api',
      });
      expect(isImportOf(env().PGHOST, 'DatabaseInstance')).toBe(true);
      expect(isImportOf(env().PGPORT, 'DatabaseInstance')).toBe(true);
    });

    test('MODELS_CONFIG carries the stage routing document as inline JSON', () => {
      expect(JSON.parse(env().MODELS_CONFIG)).toEqual(STAGES[name].routing);
    });

    test('provider keys named by api_key_env are secrets injected under that name', () => {
      const names = container(template()).Secrets.map((s: any) => s.Name);
      for (const env of ['OPENAI_API_KEY']) expect(names).toContain(env);
      template().hasResourceProperties('AWS::SecretsManager::Secret', { Name: `llm-api/${name}/openai-api-key` });
    });

    test('the task role may invoke exactly the Bedrock models the routing document names', () => {
      const statement = Object.values(template().findResources('AWS::IAM::Policy'))
        .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
        .find((st: any) => st.Sid === 'InvokeRoutedBedrockModels');
      expect(statement.Action).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
      const resolve = (arn: any) => (typeof arn === 'string' ? arn : arn['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : p.Ref)).join(''));
      const expected = bedrockResourceArns(bedrockModels(STAGES[name].routing), 'AWS::AccountId', 'AWS::Partition');
      expect(statement.Resource.map(resolve).sort()).toEqual(expected.sort());
      template().hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.us-east-1.bedrock-runtime', PrivateDnsEnabled: true });
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
        resources: expect.any(Array),
        detail: { labelUpdated: ['AWSCURRENT'] },
      });
      const watched = JSON.stringify(rule.EventPattern.resources);
      for (const secret of ['SecretsProviderKeyOpenaiApiKey', 'SecretsAdminApiKey', 'CacheAuthToken']) expect(watched).toContain(secret);
      expect(rule.EventPattern.resources).toHaveLength(3);
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
