import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { StageConfig } from '../config';
import { bedrockModels, providerKeyEnvs, providerSecretIds } from '../routing';
import { AppSecrets } from '../constructs/app-secrets';
import { Cache } from '../constructs/cache';
import { Database } from '../constructs/database';
import { DatabaseRoles } from '../constructs/database-roles';
import { LogsKey } from '../constructs/encryption';
import { Network } from '../constructs/network';
import { Notifications } from '../constructs/notifications';

export interface LlmApiDataStackProps extends StackProps {
  readonly config: StageConfig;
}

const REMOVAL_POLICIES = {
  destroy: RemovalPolicy.DESTROY,
  snapshot: RemovalPolicy.SNAPSHOT,
  retain: RemovalPolicy.RETAIN,
} as const;

/**
 * What a stage keeps between deploys: network, database (and its roles), cache, KMS keys,
 * secrets and the operator topic. The service stack depends on it, so a failed service deploy
 * rolls back without touching any of this.
 */
export class LlmApiDataStack extends Stack {
  public readonly network: Network;
  public readonly database: Database;
  public readonly databaseRoles: DatabaseRoles;
  public readonly cache: Cache;
  public readonly secrets: AppSecrets;
  public readonly logsKey: LogsKey;
  public readonly notifications: Notifications;
  private readonly explicitAzs?: string[];

  constructor(scope: Construct, id: string, props: LlmApiDataStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.explicitAzs = config.availabilityZones;
    const prefix = `llm-api-${config.stage}`;
    Tags.of(this).add('Project', 'llm-api');
    Tags.of(this).add('Stage', config.stage);
    const logRetention = config.service.logRetention;
    const dataRemoval = REMOVAL_POLICIES[config.database.removalPolicy];
    const keyRemoval = dataRemoval === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: keyRemoval });
    this.notifications = new Notifications(this, 'Notifications', { name: prefix, emails: config.monitoring.alarmEmails });

    this.network = new Network(this, 'Network', {
      cidr: config.network.cidr,
      natGateways: config.network.natGateways,
      flowLogRetention: config.network.flowLogRetention,
      logEncryptionKey: this.logsKey,
      bedrockRuntimeEndpoint: bedrockModels(config.routing).some((m) => m.region === this.region),
    });
    const vpc = this.network.vpc;

    const db = config.database;
    this.database = new Database(this, 'Database', {
      vpc,
      instanceIdentifier: prefix,
      instanceType: new ec2.InstanceType(db.instanceType),
      port: db.port,
      databaseName: db.databaseName,
      multiAz: db.multiAz,
      deletionProtection: db.deletionProtection,
      backupRetention: Duration.days(db.backupRetentionDays),
      removalPolicy: dataRemoval,
      allocatedStorageGiB: db.allocatedStorageGiB,
      maxAllocatedStorageGiB: db.maxAllocatedStorageGiB,
      credentialRotation: Duration.days(db.credentialRotationDays),
      monitoringInterval: Duration.seconds(db.monitoringIntervalSeconds),
      performanceInsights: db.performanceInsights,
      logRetention,
      logEncryptionKey: this.logsKey,
    });
    this.notifications.subscribeDatabaseEvents('DatabaseEvents', this.database.instance);
    this.databaseRoles = new DatabaseRoles(this, 'DatabaseRoles', {
      database: this.database,
      vpc,
      logRetention,
      logEncryptionKey: this.logsKey,
    });

    this.cache = new Cache(this, 'Cache', {
      vpc,
      engine: config.cache.engine,
      engineVersion: config.cache.engineVersion,
      nodeType: config.cache.nodeType,
      replicas: config.cache.replicas,
      port: config.cache.port,
      snapshotRetentionDays: config.cache.snapshotRetentionDays,
      logRetention,
      logEncryptionKey: this.logsKey,
      notificationTopic: this.notifications.topic,
    });

    this.secrets = new AppSecrets(this, 'Secrets', {
      namePrefix: `llm-api/${config.stage}`,
      providerKeyEnvs: providerKeyEnvs(config.routing),
      providerSecretIds: providerSecretIds(config.routing),
    });

    for (const [env, secret] of Object.entries(this.secrets.providerKeys)) {
      new CfnOutput(this, `ProviderKeySecret${env.replace(/[^A-Za-z0-9]/g, '')}`, {
        value: secret.secretName,
        description: `Put the ${env} provider key here: aws secretsmanager put-secret-value --secret-id <this> --secret-string <key>`,
      });
    }
    new CfnOutput(this, 'AdminApiKeySecretName', { value: this.secrets.adminApiKey.secretName });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.secret.secretArn, description: 'Master credentials: used only by the database-roles function' });
    new CfnOutput(this, 'CacheAuthTokenSecretArn', { value: this.cache.authToken.secretArn });
    new CfnOutput(this, 'CacheReplicationGroupId', { value: this.cache.replicationGroup.ref });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.notifications.topic.topicArn });
  }

  /**
   * Explicit zones from the config, else the region's first two resolved at deploy time.
   * Either way synth needs no AZ context lookup, so it works offline and without credentials.
   */
  public get availabilityZones(): string[] {
    return this.explicitAzs ?? [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }
}
