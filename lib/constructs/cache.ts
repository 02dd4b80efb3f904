import { Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface CacheProps {
  readonly vpc: ec2.IVpc;
  /** Node type, e.g. `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Listener port; anything but 6379. */
  readonly port: number;
  /**
   * @default 'valkey'
   */
  readonly engine?: 'valkey' | 'redis';
  /**
   * @default '8.0'
   */
  readonly engineVersion?: string;
  /**
   * Read replicas next to the primary. One or more turns on Multi-AZ and automatic failover.
   * @default 0
   */
  readonly replicas?: number;
  /**
   * Daily snapshots kept.
   * @default 1
   */
  readonly snapshotRetentionDays?: number;
  /**
   * Subnets for the nodes.
   * @default - the private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Retention of the slow log in CloudWatch Logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * Topic ElastiCache publishes its events to (failover, node replacement, maintenance).
   * @default - no event notifications
   */
  readonly notificationTopic?: sns.ITopic;
}

/**
 * ElastiCache (Valkey or Redis OSS) replication group, cluster mode disabled: TLS required in
 * transit, encrypted at rest, AUTH token generated into Secrets Manager. Clients connect with
 * `rediss://<primaryEndpoint>:<port>` and the token as the password.
 */
export class Cache extends Construct implements ec2.IConnectable {
  public readonly connections: ec2.Connections;
  public readonly replicationGroup: elasticache.CfnReplicationGroup;
  /** The AUTH token; the only credential the cache accepts. */
  public readonly authToken: secretsmanager.Secret;
  public readonly primaryEndpointAddress: string;
  public readonly port: number;
  /** Number of nodes (primary and replicas). */
  public readonly nodeCount: number;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    const replicas = props.replicas ?? 0;
    this.nodeCount = 1 + replicas;
    this.port = props.port;

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'ElastiCache replication group: clients are added explicitly',
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({
      securityGroups: [securityGroup],
      defaultPort: ec2.Port.tcp(props.port),
    });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
      description: `Subnets of ${this.node.path}`,
      subnetIds: props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
    });

    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: `AUTH token of ${this.node.path}`,
      // ElastiCache accepts 16-128 printable characters without / " @; letters and digits are always safe.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.authToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'ElastiCache AUTH tokens rotate through ModifyReplicationGroup (ROTATE, then SET) while clients move over; ' +
        'there is no Secrets Manager rotation function for it, the runbook in docs/infrastructure.md does it',
    });

    const slowLog = new logs.LogGroup(this, 'SlowLog', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: `llm-api cache (${this.node.path})`,
      engine: props.engine ?? 'valkey',
      engineVersion: props.engineVersion ?? '8.0',
      cacheNodeType: props.nodeType,
      numCacheClusters: this.nodeCount,
      automaticFailoverEnabled: replicas > 0,
      multiAzEnabled: replicas > 0,
      port: props.port,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 1,
      snapshotWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'sun:05:00-sun:06:00',
      autoMinorVersionUpgrade: true,
      notificationTopicArn: props.notificationTopic?.topicArn,
      logDeliveryConfigurations: [
        {
          destinationType: 'cloudwatch-logs',
          destinationDetails: { cloudWatchLogsDetails: { logGroup: slowLog.logGroupName } },
          logFormat: 'json',
          logType: 'slow-log',
        },
      ],
    });
    this.replicationGroup.addResourceDependency(subnetGroup);
    if (replicas === 0) {
      Validations.of(this.replicationGroup).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason: 'replicas=0 was chosen for this stage: a single node cannot be Multi-AZ; losing it only resets limiter and cache state',
      });
    }
    this.primaryEndpointAddress = this.replicationGroup.attrPrimaryEndPointAddress;
  }

  /** `rediss://host:port`, without credentials. */
  public get url(): string {
    return `rediss://${this.primaryEndpointAddress}:${this.port}`;
  }

  /** Highest engine-thread CPU across the nodes, in percent. */
  public metricEngineCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.acrossNodes('EngineCPUUtilization', 'MAX', 'Engine CPU (max over nodes)', props);
  }

  /** Highest share of `maxmemory` in use across the nodes, in percent. */
  public metricMemoryUsagePercentage(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.acrossNodes('DatabaseMemoryUsagePercentage', 'MAX', 'Memory used % (max over nodes)', props);
  }

  /** Keys evicted for lack of memory, summed over the nodes. */
  public metricEvictions(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.acrossNodes('Evictions', 'SUM', 'Evictions (all nodes)', { statistic: 'Sum', ...props });
  }

  // Node metrics are published per member cluster `<group id>-001`, `-002`, ...; the primary
  // moves on failover, so every node is watched.
  private acrossNodes(metricName: string, fn: 'MAX' | 'SUM', label: string, props?: cloudwatch.MetricOptions) {
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (let i = 1; i <= this.nodeCount; i++) {
      // Ids must be unique within a graph that shows several of these expressions.
      usingMetrics[`${metricName.toLowerCase()}${i}`] = new cloudwatch.Metric({
        namespace: 'AWS/ElastiCache',
        metricName,
        dimensionsMap: { CacheClusterId: Fn.join('-', [this.replicationGroup.ref, String(i).padStart(3, '0')]) },
        statistic: 'Average',
        period: Duration.minutes(5),
        ...props,
      });
    }
    return new cloudwatch.MathExpression({
      expression: `${fn}([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label,
      period: props?.period ?? Duration.minutes(5),
    });
  }
}
