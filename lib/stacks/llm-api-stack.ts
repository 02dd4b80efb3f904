import * as path from 'node:path';
import { CfnOutput, Duration, Fn, IgnoreMode, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { StageConfig } from '../config';
import { validateStageConfig } from '../validate-config';
import { Alarms } from '../constructs/alarms';
import { ApiService, CONTAINER_PORT } from '../constructs/api-service';
import { AppSecrets } from '../constructs/app-secrets';
import { Cache } from '../constructs/cache';
import { Dashboard } from '../constructs/dashboard';
import { Database } from '../constructs/database';
import { LoadBalancer } from '../constructs/load-balancer';
import { Network } from '../constructs/network';
import { SecretRefresh } from '../constructs/secret-refresh';
import { ServiceSignals } from '../constructs/signals';
import { WebAcl } from '../constructs/web-acl';

export interface LlmApiStackProps extends StackProps {
  readonly config: StageConfig;
  /**
   * Image of the gateway.
   * @default - built from app/Dockerfile with only dist/server.js in the build context
   */
  readonly image?: ecs.ContainerImage;
}

const REPO_ROOT = path.join(__dirname, '..', '..');

/**
 * The image asset's build context is the repository root, narrowed to the two files the image
 * needs, so synth never copies node_modules, cdk.out or .git.
 */
export function gatewayImage(architecture: ecs.CpuArchitecture): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(REPO_ROOT, {
    file: 'app/Dockerfile',
    ignoreMode: IgnoreMode.DOCKER,
    // Same allow-list as /.dockerignore (which CDK also reads).
    exclude: ['*', '!dist/server.js', '!app/Dockerfile'],
    platform: architecture === ecs.CpuArchitecture.X86_64 ? Platform.LINUX_AMD64 : Platform.LINUX_ARM64,
  });
}

const REMOVAL_POLICIES = {
  destroy: RemovalPolicy.DESTROY,
  snapshot: RemovalPolicy.SNAPSHOT,
  retain: RemovalPolicy.RETAIN,
} as const;

/**
 * One stage of the gateway: network, database, cache, secrets, service, load balancer and
 * monitoring. Composes constructs only; every value comes from the stage config.
 */
export class LlmApiStack extends Stack {
  public readonly loadBalancer: LoadBalancer;
  public readonly apiService: ApiService;
  public readonly alarms: Alarms;
  private readonly explicitAzs?: string[];

  constructor(scope: Construct, id: string, props: LlmApiStackProps) {
    super(scope, id, props);
    const config = validateStageConfig(props.config);
    this.explicitAzs = config.availabilityZones;
    const prefix = `llm-api-${config.stage}`;
    Tags.of(this).add('Project', 'llm-api');
    Tags.of(this).add('Stage', config.stage);

    const network = new Network(this, 'Network', {
      cidr: config.network.cidr,
      natGateways: config.network.natGateways,
      flowLogRetention: config.network.flowLogRetention,
    });
    const vpc = network.vpc;

    const db = config.database;
    const database = new Database(this, 'Database', {
      vpc,
      instanceIdentifier: prefix,
      instanceType: new ec2.InstanceType(db.instanceType),
      port: db.port,
      databaseName: db.databaseName,
      multiAz: db.multiAz,
      deletionProtection: db.deletionProtection,
      backupRetention: Duration.days(db.backupRetentionDays),
      removalPolicy: REMOVAL_POLICIES[db.removalPolicy],
      allocatedStorageGiB: db.allocatedStorageGiB,
      maxAllocatedStorageGiB: db.maxAllocatedStorageGiB,
      credentialRotation: Duration.days(db.credentialRotationDays),
      monitoringInterval: Duration.seconds(db.monitoringIntervalSeconds),
      performanceInsights: db.performanceInsights,
      logRetention: config.service.logRetention,
    });

    const cache = new Cache(this, 'Cache', {
      vpc,
      engine: config.cache.engine,
      engineVersion: config.cache.engineVersion,
      nodeType: config.cache.nodeType,
      replicas: config.cache.replicas,
      port: config.cache.port,
      snapshotRetentionDays: config.cache.snapshotRetentionDays,
      logRetention: config.service.logRetention,
    });

    const secrets = new AppSecrets(this, 'Secrets', { namePrefix: `llm-api/${config.stage}` });

    const lb = config.loadBalancer;
    this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
      vpc,
      targetPort: CONTAINER_PORT,
      idleTimeout: Duration.seconds(lb.idleTimeoutSeconds),
      deletionProtection: lb.deletionProtection,
      accessLogRetentionDays: lb.accessLogRetentionDays,
      plainHttpAcknowledgement: lb.plainHttpAcknowledgement,
      domain: lb.domain && {
        domainName: lb.domain.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', lb.domain.certificateArn),
        hostedZone: lb.domain.hostedZone
          ? route53.HostedZone.fromHostedZoneAttributes(this, 'HostedZone', {
              hostedZoneId: lb.domain.hostedZone.id,
              zoneName: lb.domain.hostedZone.name,
            })
          : undefined,
      },
    });
    if (lb.waf) {
      new WebAcl(this, 'Waf', {
        loadBalancer: this.loadBalancer.loadBalancer,
        rateLimitPer5Minutes: lb.waf.rateLimitPer5Minutes,
        metricPrefix: prefix,
        logRetention: config.service.logRetention,
      });
    }

    const svc = config.service;
    const cpuArchitecture = svc.cpuArchitecture === 'X86_64' ? ecs.CpuArchitecture.X86_64 : ecs.CpuArchitecture.ARM64;
    this.apiService = new ApiService(this, 'Api', {
      vpc,
      image: props.image ?? gatewayImage(cpuArchitecture),
      cpuArchitecture,
      cpu: svc.cpu,
      memoryMiB: svc.memoryMiB,
      minTasks: svc.minTasks,
      maxTasks: svc.maxTasks,
      targetCpuPercent: svc.targetCpuPercent,
      targetRequestsPerTask: svc.targetRequestsPerTask,
      stopTimeout: Duration.seconds(svc.stopTimeoutSeconds),
      logRetention: svc.logRetention,
      targetGroup: this.loadBalancer.targetGroup,
      database,
      cache,
      secrets,
      settings: { ...svc, metricsNamespace: `LlmApi/${config.stage}` },
    });

    new SecretRefresh(this, 'SecretRefresh', {
      service: this.apiService.service,
      secrets: [secrets.upstreamApiKey, secrets.adminApiKey, database.secret, cache.authToken],
      logRetention: svc.logRetention,
    });

    const signals = new ServiceSignals({
      loadBalancer: this.loadBalancer.loadBalancer,
      targetGroup: this.loadBalancer.targetGroup,
      service: this.apiService.service,
      database: database.instance,
      cache,
      appNamespace: `LlmApi/${config.stage}`,
    });
    this.alarms = new Alarms(this, 'Alarms', {
      signals,
      thresholds: config.monitoring.thresholds,
      minTasks: svc.minTasks,
      alarmNamePrefix: prefix,
      emails: config.monitoring.alarmEmails,
    });
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: prefix,
      signals,
      alarms: this.alarms.alarms,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.loadBalancer.url, description: 'Base URL of the API (OpenAI baseURL is this + /v1)' });
    new CfnOutput(this, 'UpstreamApiKeySecretName', {
      value: secrets.upstreamApiKey.secretName,
      description: 'Put the upstream API key here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <key>',
    });
    new CfnOutput(this, 'AdminApiKeySecretName', { value: secrets.adminApiKey.secretName });
    new CfnOutput(this, 'DatabaseSecretArn', { value: database.secret.secretArn });
    new CfnOutput(this, 'CacheAuthTokenSecretArn', { value: cache.authToken.secretArn });
    new CfnOutput(this, 'CacheReplicationGroupId', { value: cache.replicationGroup.ref });
    new CfnOutput(this, 'ClusterName', { value: this.apiService.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.apiService.service.serviceName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });
  }

  /**
   * Explicit zones from the config, else the region's first two resolved at deploy time.
   * Either way synth needs no AZ context lookup, so it works offline and without credentials.
   */
  public get availabilityZones(): string[] {
    return this.explicitAzs ?? [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }
}
