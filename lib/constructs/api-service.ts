import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AppSecrets } from './app-secrets';
import { Cache } from './cache';
import { Database } from './database';

/** The port the gateway listens on; the only port mapped out of the container. */
export const CONTAINER_PORT = 8000;

/** Application settings passed to the container as plain (non-secret) environment. */
export interface ApiSettings {
  readonly logLevel: string;
  readonly workers: number;
  /** The app's drain time on SIGTERM; `stopTimeout` must be longer. */
  readonly shutdownGraceMs: number;
  readonly upstreamBaseUrl: string;
  readonly upstreamTimeoutMs: number;
  readonly cacheTtlSeconds: number;
  readonly defaultRpm: number;
  readonly defaultTpm: number;
  /** CloudWatch namespace of the app's Embedded Metric Format metrics, e.g. `LlmApi/prod`. */
  readonly metricsNamespace: string;
}

export interface ApiServiceProps {
  readonly vpc: ec2.IVpc;
  readonly image: ecs.ContainerImage;
  readonly settings: ApiSettings;
  readonly database: Database;
  readonly cache: Cache;
  readonly secrets: AppSecrets;
  /** The ALB target group the tasks register in; request-count scaling tracks it too. */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Seconds between SIGTERM and SIGKILL; at most 120. */
  readonly stopTimeout: Duration;
  /**
   * @default 256
   */
  readonly cpu?: number;
  /**
   * @default 512
   */
  readonly memoryMiB?: number;
  /**
   * @default ecs.CpuArchitecture.ARM64
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * @default 60
   */
  readonly targetCpuPercent?: number;
  /**
   * `ALBRequestCountPerTarget` the service scales to hold, per minute.
   * @default 1000
   */
  readonly targetRequestsPerTask?: number;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * ECS cluster and the Fargate service running the gateway image in the private subnets.
 * Every credential reaches the container through `ecs.Secret`; the plain environment holds only
 * settings and hostnames.
 */
export class ApiService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly service: ecs.FargateService;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiServiceProps) {
    super(scope, id);
    const { database, cache, secrets, settings } = props;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 256,
      memoryLimitMiB: props.memoryMiB ?? 512,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      // The root filesystem is read-only; /tmp is the task's scratch space.
      volumes: [{ name: 'tmp' }],
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const container = this.taskDefinition.addContainer('api', {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      memoryLimitMiB: props.memoryMiB ?? 512,
      portMappings: [{ containerPort: CONTAINER_PORT, name: 'http', protocol: ecs.Protocol.TCP }],
      stopTimeout: props.stopTimeout,
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'api',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${CONTAINER_PORT}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        // Migrations run before the server listens.
        startPeriod: Duration.seconds(90),
      },
      environment: {
        NODE_ENV: 'production',
        PORT: String(CONTAINER_PORT),
        HOST: '0.0.0.0',
        METRICS_PORT: '9464',
        LOG_LEVEL: settings.logLevel,
        WORKERS: String(settings.workers),
        SHUTDOWN_GRACE_MS: String(settings.shutdownGraceMs),
        OPENAI_BASE_URL: settings.upstreamBaseUrl,
        UPSTREAM_TIMEOUT_MS: String(settings.upstreamTimeoutMs),
        CACHE_TTL_SECONDS: String(settings.cacheTtlSeconds),
        DEFAULT_RPM: String(settings.defaultRpm),
        DEFAULT_TPM: String(settings.defaultTpm),
        PGHOST: database.instance.dbInstanceEndpointAddress,
        PGPORT: database.instance.dbInstanceEndpointPort,
        PGDATABASE: database.databaseName,
        PGSSLMODE: 'verify-full',
        REDIS_URL: cache.url,
        DATA_DIR: '/tmp/data',
        EMF_ENABLED: 'true',
        METRICS_NAMESPACE: settings.metricsNamespace,
        SERVICE_NAME: 'llm-api',
      },
      secrets: {
        OPENAI_API_KEY: ecs.Secret.fromSecretsManager(secrets.upstreamApiKey),
        ADMIN_API_KEY: ecs.Secret.fromSecretsManager(secrets.adminApiKey),
        PGUSER: ecs.Secret.fromSecretsManager(database.secret, 'username'),
        PGPASSWORD: ecs.Secret.fromSecretsManager(database.secret, 'password'),
        REDIS_PASSWORD: ecs.Secret.fromSecretsManager(cache.authToken),
      },
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'the plain environment holds ports, limits, hostnames and the upstream URL only; every credential is an ecs.Secret',
    });
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'execution role: ecr:GetAuthorizationToken has no resource-level permissions; image, log and secret actions are scoped',
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      // Desired count is left to autoscaling so a deploy never resets a scaled-out service.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(120),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableExecuteCommand: false,
    });

    database.connections.allowDefaultPortFrom(this.service, 'llm-api tasks');
    cache.connections.allowDefaultPortFrom(this.service, 'llm-api tasks');
    props.targetGroup.addTarget(this.service);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
    scaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: props.targetCpuPercent ?? 60,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    scaling.scaleOnRequestCount('RequestScaling', {
      targetGroup: props.targetGroup,
      requestsPerTarget: props.targetRequestsPerTask ?? 1000,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
  }
}
