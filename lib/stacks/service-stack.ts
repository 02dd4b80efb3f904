import * as path from 'node:path';
import { CfnOutput, Duration, IgnoreMode, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { StageConfig } from '../config';
import { bedrockModels, bedrockResourceArns } from '../routing';
import { Alarms } from '../constructs/alarms';
import { ApiService, CONTAINER_PORT } from '../constructs/api-service';
import { Dashboard } from '../constructs/dashboard';
import { LogsKey } from '../constructs/encryption';
import { LoadBalancer } from '../constructs/load-balancer';
import { LogMetrics } from '../constructs/log-metrics';
import { SecretRefresh } from '../constructs/secret-refresh';
import { ServiceSignals } from '../constructs/signals';
import { WebAcl } from '../constructs/web-acl';
import { LlmApiDataStack } from './data-stack';

export interface LlmApiServiceStackProps extends StackProps {
  readonly config: StageConfig;
  /** The stage's stateful resources. */
  readonly data: LlmApiDataStack;
  /**
   * Image of the gateway.
   * @default - built from app/Dockerfile (a multi-stage build that bundles app/ itself)
   */
  readonly image?: ecs.ContainerImage;
}

const REPO_ROOT = path.join(__dirname, '..', '..');

/**
 * Files the image build reads: the sources, the lockfile and the bundler script. The Dockerfile
 * builds dist/server.js itself, so `cdk deploy` works on a fresh clone; synth copies only these.
 */
export const IMAGE_CONTEXT = ['app/', 'scripts/build.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];

export function gatewayImage(architecture: ecs.CpuArchitecture): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(REPO_ROOT, {
    file: 'app/Dockerfile',
    ignoreMode: IgnoreMode.DOCKER,
    // Same allow-list as /.dockerignore (which CDK also reads).
    exclude: ['*', ...IMAGE_CONTEXT.map((p) => `!${p}`)],
    platform: architecture === ecs.CpuArchitecture.X86_64 ? Platform.LINUX_AMD64 : Platform.LINUX_ARM64,
  });
}

/**
 * What a deploy replaces: load balancer, WAF, the ECS service, alarms and dashboard. Everything
 * stateful comes in as objects from the data stack.
 */
export class LlmApiServiceStack extends Stack {
  public readonly loadBalancer: LoadBalancer;
  public readonly apiService: ApiService;
  public readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: LlmApiServiceStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    const prefix = `llm-api-${config.stage}`;
    const namespace = `LlmApi/${config.stage}`;
    Tags.of(this).add('Project', 'llm-api');
    Tags.of(this).add('Stage', config.stage);
    const vpc = data.network.vpc;
    // The service's log groups come and go with this stack; so does their key (Control Tower's
    // check also wants the key in the same template as the log group).
    const logEncryptionKey = new LogsKey(this, 'ServiceLogsKey', { removalPolicy: RemovalPolicy.DESTROY });
    const svc = config.service;

    const lb = config.loadBalancer;
    this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
      vpc,
      targetPort: CONTAINER_PORT,
      idleTimeout: Duration.seconds(lb.idleTimeoutSeconds),
      deregistrationDelay: Duration.seconds(lb.deregistrationDelaySeconds),
      deletionProtection: lb.deletionProtection,
      accessLogRetentionDays: lb.accessLogRetentionDays,
      adminAllowedCidrs: lb.adminAllowedCidrs,
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
        logRetention: svc.logRetention,
        logEncryptionKey,
      });
    }

    const cpuArchitecture = svc.cpuArchitecture === 'X86_64' ? ecs.CpuArchitecture.X86_64 : ecs.CpuArchitecture.ARM64;
    const secrets = data.secrets;
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
      logEncryptionKey,
      targetGroup: this.loadBalancer.targetGroup,
      database: data.database,
      databaseUsers: data.databaseRoles,
      cache: data.cache,
      adminApiKey: secrets.adminApiKey,
      providerKeys: secrets.providerKeys,
      readAtBoot: Object.values(secrets.readAtBoot),
      bedrockResources: bedrockResourceArns(bedrockModels(config.routing), this.account, this.partition),
      settings: { ...svc, metricsNamespace: namespace, modelsConfig: JSON.stringify(config.routing) },
    });

    new SecretRefresh(this, 'SecretRefresh', {
      service: this.apiService.service,
      secrets: [secrets.adminApiKey, data.cache.authToken, ...Object.values(secrets.providerKeys), ...Object.values(secrets.readAtBoot)],
      logRetention: svc.logRetention,
      logEncryptionKey,
    });

    const logMetrics = new LogMetrics(this, 'LogMetrics', { logGroup: this.apiService.logGroup, namespace });
    const signals = new ServiceSignals({
      loadBalancer: this.loadBalancer.loadBalancer,
      targetGroup: this.loadBalancer.targetGroup,
      service: this.apiService.service,
      database: data.database.instance,
      cache: data.cache,
      appNamespace: namespace,
      http5xxMinRequests: config.monitoring.thresholds.http5xxMinRequests,
      budgetThresholdCrossed: logMetrics.budgetThresholdCrossed,
    });
    this.alarms = new Alarms(this, 'Alarms', {
      signals,
      thresholds: config.monitoring.thresholds,
      minTasks: svc.minTasks,
      alarmNamePrefix: prefix,
      topic: data.notifications.topic,
    });
    const dashboard = new Dashboard(this, 'Dashboard', { dashboardName: prefix, signals, alarms: this.alarms.alarms });

    new CfnOutput(this, 'ApiUrl', { value: this.loadBalancer.url, description: 'Base URL of the API (OpenAI baseURL is this + /v1)' });
    new CfnOutput(this, 'LoadBalancerDnsName', {
      value: this.loadBalancer.loadBalancer.loadBalancerDnsName,
      description: 'Point the domain here (CNAME or alias) when no hosted zone is configured',
    });
    new CfnOutput(this, 'ClusterName', { value: this.apiService.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.apiService.service.serviceName });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });
  }
}
