import { Annotations, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Cache } from './cache';
import { Database } from './database';

/** The port the gateway listens on; the only port mapped out of the container. */
export const CONTAINER_PORT = 8000;

/** The image's unprivileged `node` user (uid:gid); never root (Control Tower CT.ECS.PR.3). */
export const CONTAINER_USER = '1000:1000';

/** Hard memory limit of the short-lived migrate container. */
const MIGRATE_MEMORY_MIB = 256;

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
  /** The routing document, passed as `MODELS_CONFIG` (inline JSON). */
  readonly modelsConfig: string;
}

/** The database identities the containers log in as, with IAM authentication tokens. */
export interface DatabaseUsers {
  /** The role the gateway serves requests as (rows only). */
  readonly appUser: string;
  /** The role the `migrate` container applies migrations as (owns the schema). */
  readonly migrationUser: string;
}

export interface ApiServiceProps {
  readonly vpc: ec2.IVpc;
  readonly image: ecs.ContainerImage;
  readonly settings: ApiSettings;
  readonly database: Database;
  readonly databaseUsers: DatabaseUsers;
  readonly cache: Cache;
  /** Bearer token of the admin routes, injected as `ADMIN_API_KEY`. */
  readonly adminApiKey: secretsmanager.ISecret;
  /**
   * Provider keys injected under their environment names (`OPENAI_API_KEY`, …).
   * @default - none
   */
  readonly providerKeys?: Record<string, secretsmanager.ISecret>;
  /**
   * Secrets the app reads itself at boot (`api_key_secret_id`); the task role may read exactly these.
   * @default - none
   */
  readonly readAtBoot?: secretsmanager.ISecret[];
  /**
   * Bedrock foundation-model and inference-profile ARNs the task role may invoke.
   * @default - no Bedrock permissions
   */
  readonly bedrockResources?: string[];
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
  /**
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * ECS cluster and the Fargate service running the gateway image in the private subnets.
 * Every credential reaches the container through `ecs.Secret`; the plain environment holds only
 * settings and hostnames. Each task first runs migrations in a short-lived `migrate` container as
 * the schema-owning role, then starts the gateway as the row-only role; both log in with IAM
 * authentication tokens, so no database password exists in the task.
 */
export class ApiService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly service: ecs.FargateService;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiServiceProps) {
    super(scope, id);
    const { database, cache, settings, databaseUsers } = props;

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
      // The root filesystem is read-only; /tmp is the task's scratch space and the SSM agent of
      // ECS Exec writes its state and logs to the other two.
      volumes: [{ name: 'tmp' }, { name: 'ssm-state' }, { name: 'ssm-logs' }],
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const logging = (streamPrefix: string) =>
      ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      });

    const databaseEnv = {
      PGHOST: database.instance.dbInstanceEndpointAddress,
      PGPORT: database.instance.dbInstanceEndpointPort,
      PGDATABASE: database.databaseName,
      PGSSLMODE: 'verify-full',
      // Each new connection gets a fresh 15-minute IAM token as its password.
      DATABASE_IAM_AUTH: 'true',
      AWS_REGION: Stack.of(this).region,
    };

    // Applies pending migrations and exits; the gateway starts only after it succeeded.
    const migrate = this.taskDefinition.addContainer('migrate', {
      image: props.image,
      essential: false,
      user: CONTAINER_USER,
      // Runs before the gateway starts, so the two never need the task's memory at the same time;
      // the reservations add up to at most the task size.
      memoryLimitMiB: MIGRATE_MEMORY_MIB,
      memoryReservationMiB: 64,
      readonlyRootFilesystem: true,
      command: ['node', 'dist/server.js', 'migrate'],
      logging: logging('migrate'),
      environment: {
        NODE_ENV: 'production',
        LOG_LEVEL: settings.logLevel,
        DATA_DIR: '/tmp/data',
        ...databaseEnv,
        PGUSER: databaseUsers.migrationUser,
      },
    });

    const container = this.taskDefinition.addContainer('api', {
      image: props.image,
      essential: true,
      user: CONTAINER_USER,
      readonlyRootFilesystem: true,
      memoryLimitMiB: props.memoryMiB ?? 512,
      memoryReservationMiB: (props.memoryMiB ?? 512) - 64,
      portMappings: [{ containerPort: CONTAINER_PORT, name: 'http', protocol: ecs.Protocol.TCP }],
      stopTimeout: props.stopTimeout,
      logging: logging('api'),
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
        // The ALB appends the caller's address to X-Forwarded-For: the failed-auth throttle reads it there.
        TRUST_PROXY_HOPS: '1',
        OPENAI_BASE_URL: settings.upstreamBaseUrl,
        UPSTREAM_TIMEOUT_MS: String(settings.upstreamTimeoutMs),
        CACHE_TTL_SECONDS: String(settings.cacheTtlSeconds),
        DEFAULT_RPM: String(settings.defaultRpm),
        DEFAULT_TPM: String(settings.defaultTpm),
        ...databaseEnv,
        PGUSER: databaseUsers.appUser,
        REDIS_URL: cache.url,
        DATA_DIR: '/tmp/data',
        EMF_ENABLED: 'true',
        METRICS_NAMESPACE: settings.metricsNamespace,
        SERVICE_NAME: 'llm-api',
        MODELS_CONFIG: settings.modelsConfig,
      },
      secrets: {
        ADMIN_API_KEY: ecs.Secret.fromSecretsManager(props.adminApiKey),
        REDIS_PASSWORD: ecs.Secret.fromSecretsManager(cache.authToken),
        ...Object.fromEntries(
          Object.entries(props.providerKeys ?? {}).map(([env, secret]) => [env, ecs.Secret.fromSecretsManager(secret)]),
        ),
      },
    });
    container.addContainerDependencies({ container: migrate, condition: ecs.ContainerDependencyCondition.SUCCESS });
    container.addMountPoints(
      { sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false },
      { sourceVolume: 'ssm-state', containerPath: '/var/lib/amazon/ssm', readOnly: false },
      { sourceVolume: 'ssm-logs', containerPath: '/var/log/amazon/ssm', readOnly: false },
    );
    migrate.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });

    const taskRole = this.taskDefinition.taskRole;
    database.instance.grantConnect(taskRole, databaseUsers.appUser);
    database.instance.grantConnect(taskRole, databaseUsers.migrationUser);
    for (const secret of props.readAtBoot ?? []) secret.grantRead(taskRole);
    if (props.bedrockResources?.length) {
      taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'InvokeRoutedBedrockModels',
          actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
          resources: props.bedrockResources,
        }),
      );
    }
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'the plain environment holds ports, limits, hostnames, role names and the routing document only; every credential is an ecs.Secret',
    });
    Validations.of(taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'task role: the ssmmessages channel actions of ECS Exec have no resource-level permissions; database, secret and model access is scoped',
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
      // Operators reach the admin CLI and API from inside the task (README: "Creating client keys").
      enableExecuteCommand: true,
    });

    // allowTo places the database's and cache's ingress rules with the service (in its stack), so
    // the stateful stack never refers to the service stack.
    this.service.connections.allowToDefaultPort(database.instance, 'llm-api tasks');
    this.service.connections.allowToDefaultPort(cache, 'llm-api tasks');
    // The tasks call providers on the internet: their egress is open, so the egress half of the
    // rules above has nothing to add.
    for (const sg of this.service.connections.securityGroups) {
      Annotations.of(sg).acknowledgeWarning('@aws-cdk/aws-ec2:ipv4IgnoreEgressRule', 'task egress is open on purpose');
    }
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
