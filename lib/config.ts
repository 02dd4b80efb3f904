import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { RoutingDocument } from './routing';

/**
 * Everything that differs between dev, staging and prod lives here, as data.
 * lib/validate-config.ts checks a config before any construct sees it.
 * Constructs never branch on the stage name; they read these values.
 */

export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;

/**
 * Region used when neither the stage config nor `CDK_DEFAULT_REGION` names one, which only
 * happens on a machine without AWS configuration (offline synth). ALB access logging needs a
 * concrete region at synth time, so the stack is never region-agnostic.
 */
export const FALLBACK_REGION = 'us-east-1';
export type StageName = (typeof STAGE_NAMES)[number];

export interface NetworkConfig {
  /** IPv4 range of the VPC, /16 to /20. */
  readonly cidr: string;
  /** NAT gateways: 1 (shared, cheaper) or 2 (one per AZ, no single point of failure). */
  readonly natGateways: number;
  readonly flowLogRetention: RetentionDays;
}

export interface DatabaseConfig {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`. */
  readonly instanceType: string;
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling. */
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  /** Automated backups, 1-35 days. */
  readonly backupRetentionDays: number;
  /** What CloudFormation does with the instance when it leaves the stack. */
  readonly removalPolicy: 'destroy' | 'snapshot' | 'retain';
  /** Listener port; never the default 5432. */
  readonly port: number;
  readonly databaseName: string;
  /** Days between automatic rotations of the generated master credentials. */
  readonly credentialRotationDays: number;
  /** Enhanced monitoring granularity. */
  readonly monitoringIntervalSeconds: 1 | 5 | 10 | 15 | 30 | 60;
  readonly performanceInsights: boolean;
}

export interface CacheConfig {
  readonly engine: 'valkey' | 'redis';
  readonly engineVersion: string;
  /** ElastiCache node type, e.g. `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Read replicas next to the primary; 1 or more turns on Multi-AZ and automatic failover. */
  readonly replicas: number;
  /** Listener port; never the default 6379. */
  readonly port: number;
  /** Daily snapshots kept, 1-35. */
  readonly snapshotRetentionDays: number;
}

export interface ServiceConfig {
  /** Fargate task CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly cpuArchitecture: 'ARM64' | 'X86_64';
  readonly targetCpuPercent: number;
  /** Target for `ALBRequestCountPerTarget` scaling, requests per task per minute. */
  readonly targetRequestsPerTask: number;
  readonly logRetention: RetentionDays;
  readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  readonly workers: number;
  /**
   * The longest stream (seconds) a deploy or scale-in must not cut: the ALB drains a task this long
   * (`loadBalancer.deregistrationDelaySeconds` is at least this) before ECS sends SIGTERM.
   */
  readonly longestStreamSeconds: number;
  /** The app's drain time on SIGTERM (`SHUTDOWN_GRACE_MS`), for requests still open after the ALB drained. */
  readonly shutdownGraceMs: number;
  /** ECS waits this long after SIGTERM before SIGKILL; must exceed the drain time, at most 120 s. */
  readonly stopTimeoutSeconds: number;
  readonly upstreamBaseUrl: string;
  readonly upstreamTimeoutMs: number;
  readonly cacheTtlSeconds: number;
  readonly defaultRpm: number;
  readonly defaultTpm: number;
}

export interface DomainConfig {
  /** Public name of the API, e.g. `llm.example.com`. */
  readonly domainName: string;
  /** ACM certificate in the stack's region covering `domainName`. */
  readonly certificateArn: string;
  /** Route 53 zone to create an alias record in; without it, point DNS at the ALB yourself. */
  readonly hostedZone?: { readonly id: string; readonly name: string };
}

export interface WafConfig {
  /**
   * Requests one client IP may send in any 5-minute window before it is blocked. API clients are
   * servers, often a whole company behind one NAT address: size it for that (at least 50,000).
   */
  readonly rateLimitPer5Minutes: number;
}

export interface LoadBalancerConfig {
  /** Seconds an idle connection stays open; streams need at least 300. */
  readonly idleTimeoutSeconds: number;
  readonly deletionProtection: boolean;
  readonly accessLogRetentionDays: number;
  /** Seconds the ALB keeps serving a deregistered task's open requests (streams) before ECS stops it. */
  readonly deregistrationDelaySeconds: number;
  /**
   * Source ranges the ALB forwards `/admin/*` from; every other source gets 403 at the ALB.
   * Empty: the admin API is reached only from inside the VPC (ECS Exec and the CLI).
   */
  readonly adminAllowedCidrs: string[];
  /**
   * HTTPS with an ACM certificate and an HTTP to HTTPS redirect; HTTP only when absent (prod refuses
   * to synthesize without it). `-c domainName=… -c certificateArn=…` override it.
   */
  readonly domain?: DomainConfig;
  /** AWS WAF in front of the ALB; none when absent. */
  readonly waf?: WafConfig;
  /** Why plain HTTP is acceptable for this stage while no domain is set; without it synth warns. */
  readonly plainHttpAcknowledgement?: string;
}

export interface AlarmThresholds {
  /** 5xx answers (targets' and the load balancer's own) in percent of requests over 5 minutes. */
  readonly http5xxRatePercent: number;
  /** 5xx rate alarms only when at least this many requests arrived in the 5 minutes (no alarm on 1 of 2). */
  readonly http5xxMinRequests: number;
  readonly p99LatencySeconds: number;
  /** The gateway's own time per request (total minus upstream), p99 over 5 minutes, milliseconds. */
  readonly gatewayOverheadP99Ms: number;
  /** Connections the ALB refused because it hit its connection limit, sum over 5 minutes. */
  readonly rejectedConnectionsPer5Min: number;
  /** Connections the ALB could not open to a task, sum over 5 minutes. */
  readonly targetConnectionErrorsPer5Min: number;
  /** Unhealthy targets tolerated (alarm when above). */
  readonly unhealthyHosts: number;
  readonly serviceCpuPercent: number;
  readonly serviceMemoryPercent: number;
  readonly dbCpuPercent: number;
  readonly dbFreeStorageGiB: number;
  readonly dbFreeableMemoryMiB: number;
  readonly dbConnections: number;
  readonly cacheEngineCpuPercent: number;
  readonly cacheMemoryPercent: number;
  /** Keys evicted, sum over 5 minutes. */
  readonly cacheEvictionsPer5Min: number;
  /** `UpstreamErrors / Requests` in percent over 5 minutes. */
  readonly upstreamErrorRatePercent: number;
  /** 429 answers from the gateway's own limiter, sum over 5 minutes. */
  readonly rateLimitedPer5Min: number;
  /** Limit checks served by the in-process fallback because Redis failed (fail open), sum over 5 minutes. */
  readonly limiterFailOpenPer5Min: number;
  /** Usage rows dropped because Postgres stayed away too long, sum over 5 minutes. */
  readonly usageRowsDroppedPer5Min: number;
  /** Budget counters that could not be re-seeded from the usage table, sum over 5 minutes. */
  readonly budgetReseedFailuresPer5Min: number;
}

export interface MonitoringConfig {
  /** Addresses subscribed to the alarm topic; each confirms by e-mail once. */
  readonly alarmEmails: string[];
  readonly thresholds: AlarmThresholds;
}

export interface StageConfig {
  readonly stage: StageName;
  /** AWS account; falls back to `CDK_DEFAULT_ACCOUNT`, else the stack is environment-agnostic. */
  readonly account?: string;
  /** AWS region; falls back to `CDK_DEFAULT_REGION`, then `FALLBACK_REGION`. */
  readonly region?: string;
  /**
   * Exactly two AZ names; without them the stack picks the region's first two at deploy time.
   * Prod names them, so a region gaining a zone never moves the subnets (needs `region`).
   */
  readonly availabilityZones?: string[];
  /** CloudFormation refuses to delete the stack while this is on. */
  readonly terminationProtection: boolean;
  readonly network: NetworkConfig;
  readonly database: DatabaseConfig;
  readonly cache: CacheConfig;
  readonly service: ServiceConfig;
  readonly loadBalancer: LoadBalancerConfig;
  readonly monitoring: MonitoringConfig;
  /**
   * The routing document passed to the container as `MODELS_CONFIG`. Provider keys named by
   * `api_key_env` become Secrets Manager secrets injected under that name; `api_key_secret_id`
   * secrets are read by the app itself; Bedrock models get exactly the IAM permissions they need.
   */
  readonly routing: RoutingDocument;
}

const APP_DEFAULTS = {
  upstreamBaseUrl: 'https://api.openai.com/v1',
  upstreamTimeoutMs: 60_000,
  cacheTtlSeconds: 3600,
  defaultRpm: 60,
  defaultTpm: 100_000,
  // A 2-minute stream survives a deploy: the ALB drains a task for 130 s before SIGTERM; after it,
  // the app still gives stragglers 115 s, and ECS waits the maximum 120 s before SIGKILL.
  longestStreamSeconds: 120,
  shutdownGraceMs: 115_000,
  stopTimeoutSeconds: 120,
  workers: 1,
} as const;

const BASE_THRESHOLDS: AlarmThresholds = {
  http5xxRatePercent: 5,
  http5xxMinRequests: 20,
  p99LatencySeconds: 30,
  gatewayOverheadP99Ms: 50,
  rejectedConnectionsPer5Min: 0,
  targetConnectionErrorsPer5Min: 5,
  unhealthyHosts: 0,
  serviceCpuPercent: 85,
  serviceMemoryPercent: 85,
  dbCpuPercent: 80,
  dbFreeStorageGiB: 5,
  dbFreeableMemoryMiB: 128,
  dbConnections: 80,
  cacheEngineCpuPercent: 80,
  cacheMemoryPercent: 80,
  cacheEvictionsPer5Min: 100,
  upstreamErrorRatePercent: 10,
  rateLimitedPer5Min: 500,
  limiterFailOpenPer5Min: 0,
  usageRowsDroppedPer5Min: 0,
  budgetReseedFailuresPer5Min: 0,
};

const LOAD_BALANCER_DEFAULTS = {
  idleTimeoutSeconds: 300,
  deregistrationDelaySeconds: 130,
  adminAllowedCidrs: [] as string[],
};

/**
 * Every stage routes `gpt-4o-mini` (and any other name) to OpenAI and `claude-sonnet` to Bedrock
 * through the US cross-region inference profile, falling back to OpenAI.
 */
const ROUTING: RoutingDocument = {
  providers: {
    openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY' },
    bedrock: { type: 'bedrock', region: 'us-east-1' },
  },
  models: {
    'gpt-4o-mini': { deployments: [{ provider: 'openai' }] },
    'claude-sonnet': {
      deployments: [{ provider: 'bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' }],
      fallbacks: ['gpt-4o-mini'],
    },
    '*': { deployments: [{ provider: 'openai' }] },
  },
};

/** Requests per client IP per 5 minutes: server-to-server traffic, many callers behind one NAT. */
const WAF = { rateLimitPer5Minutes: 50_000 };

export const STAGES: Record<StageName, StageConfig> = {
  dev: {
    stage: 'dev',
    terminationProtection: false,
    network: { cidr: '10.10.0.0/16', natGateways: 1, flowLogRetention: RetentionDays.ONE_WEEK },
    database: {
      instanceType: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      multiAz: false,
      deletionProtection: false,
      backupRetentionDays: 1,
      removalPolicy: 'destroy',
      port: 5532,
      databaseName: 'llmapi',
      credentialRotationDays: 30,
      monitoringIntervalSeconds: 60,
      performanceInsights: false,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.micro',
      replicas: 0,
      port: 6380,
      snapshotRetentionDays: 1,
    },
    service: {
      ...APP_DEFAULTS,
      cpu: 256,
      memoryMiB: 512,
      minTasks: 1,
      maxTasks: 2,
      cpuArchitecture: 'ARM64',
      targetCpuPercent: 70,
      targetRequestsPerTask: 600,
      logRetention: RetentionDays.ONE_WEEK,
      logLevel: 'debug',
    },
    loadBalancer: {
      ...LOAD_BALANCER_DEFAULTS,
      deletionProtection: false,
      accessLogRetentionDays: 14,
      plainHttpAcknowledgement: 'dev carries test traffic with throwaway keys only; it has no domain or certificate',
    },
    monitoring: {
      alarmEmails: [],
      // Tiny instances: 1 GiB RAM and ~110 connections on db.t4g.micro.
      thresholds: { ...BASE_THRESHOLDS, dbFreeableMemoryMiB: 64, dbConnections: 80 },
    },
    routing: ROUTING,
  },
  staging: {
    stage: 'staging',
    terminationProtection: false,
    network: { cidr: '10.20.0.0/16', natGateways: 1, flowLogRetention: RetentionDays.ONE_MONTH },
    database: {
      instanceType: 't4g.small',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 100,
      multiAz: false,
      deletionProtection: false,
      backupRetentionDays: 7,
      removalPolicy: 'snapshot',
      port: 5532,
      databaseName: 'llmapi',
      credentialRotationDays: 30,
      monitoringIntervalSeconds: 60,
      performanceInsights: false,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.small',
      // Same topology as prod so failover behaviour is exercised before it matters.
      replicas: 1,
      port: 6380,
      snapshotRetentionDays: 3,
    },
    service: {
      ...APP_DEFAULTS,
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 2,
      maxTasks: 4,
      cpuArchitecture: 'ARM64',
      targetCpuPercent: 60,
      targetRequestsPerTask: 600,
      logRetention: RetentionDays.ONE_MONTH,
      logLevel: 'info',
    },
    loadBalancer: {
      ...LOAD_BALANCER_DEFAULTS,
      deletionProtection: false,
      accessLogRetentionDays: 30,
      waf: WAF,
    },
    monitoring: {
      // Replace with the team's address; each subscription is confirmed once by e-mail.
      alarmEmails: ['llm-api-alerts@example.com'],
      // db.t4g.small: 2 GiB RAM, ~225 connections.
      thresholds: { ...BASE_THRESHOLDS, dbFreeableMemoryMiB: 128, dbConnections: 180 },
    },
    routing: ROUTING,
  },
  prod: {
    stage: 'prod',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    terminationProtection: true,
    // Logs are kept a year (Control Tower CT.CLOUDWATCH.PR.2).
    network: { cidr: '10.30.0.0/16', natGateways: 2, flowLogRetention: RetentionDays.ONE_YEAR },
    database: {
      instanceType: 'm7g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 500,
      multiAz: true,
      deletionProtection: true,
      backupRetentionDays: 14,
      removalPolicy: 'snapshot',
      port: 5532,
      databaseName: 'llmapi',
      credentialRotationDays: 30,
      monitoringIntervalSeconds: 15,
      performanceInsights: true,
    },
    cache: {
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.m7g.large',
      replicas: 1,
      port: 6380,
      snapshotRetentionDays: 7,
    },
    service: {
      ...APP_DEFAULTS,
      cpu: 1024,
      memoryMiB: 2048,
      minTasks: 2,
      maxTasks: 10,
      cpuArchitecture: 'ARM64',
      targetCpuPercent: 60,
      targetRequestsPerTask: 1000,
      logRetention: RetentionDays.ONE_YEAR,
      logLevel: 'info',
    },
    loadBalancer: {
      ...LOAD_BALANCER_DEFAULTS,
      deletionProtection: true,
      accessLogRetentionDays: 365,
      waf: WAF,
      // No `domain` here: prod refuses to synthesize until one is set, here or with
      // `-c domainName=… -c certificateArn=…`.
    },
    monitoring: {
      alarmEmails: ['llm-api-alerts@example.com'],
      // db.m7g.large: 8 GiB RAM, ~900 connections; tighter error budgets than the other stages.
      thresholds: {
        ...BASE_THRESHOLDS,
        http5xxRatePercent: 1,
        dbFreeStorageGiB: 20,
        dbFreeableMemoryMiB: 512,
        dbConnections: 700,
        upstreamErrorRatePercent: 5,
      },
    },
    routing: ROUTING,
  },
};

export function isStageName(value: unknown): value is StageName {
  return typeof value === 'string' && (STAGE_NAMES as readonly string[]).includes(value);
}
