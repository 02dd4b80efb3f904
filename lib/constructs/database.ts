import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CustomerKey } from './encryption';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  /**
   * DB instance identifier, unique in the account and region. Fixed on purpose: a change that
   * would replace the instance fails instead of silently creating a new, empty database.
   */
  readonly instanceIdentifier: string;
  /** Instance class, e.g. `ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO)`. */
  readonly instanceType: ec2.InstanceType;
  /** Listener port; anything but 5432 keeps default-port scanners away. */
  readonly port: number;
  readonly databaseName: string;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly backupRetention: Duration;
  /** RemovalPolicy.SNAPSHOT keeps a final snapshot, DESTROY drops everything (dev only). */
  readonly removalPolicy: RemovalPolicy;
  /**
   * @default 20
   */
  readonly allocatedStorageGiB?: number;
  /**
   * Storage autoscaling ceiling.
   * @default - twice `allocatedStorageGiB`
   */
  readonly maxAllocatedStorageGiB?: number;
  /**
   * Days between automatic rotations of the generated master credentials.
   * @default Duration.days(30)
   */
  readonly credentialRotation?: Duration;
  /**
   * Enhanced monitoring granularity.
   * @default Duration.seconds(60)
   */
  readonly monitoringInterval?: Duration;
  /**
   * @default false
   */
  readonly performanceInsights?: boolean;
  /**
   * Retention of the PostgreSQL logs exported to CloudWatch Logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Key the exported PostgreSQL logs are encrypted with.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * RDS for PostgreSQL 16 in the isolated subnets. Storage, Performance Insights and the generated
 * credentials are encrypted with a customer-managed key; TLS is required on every connection.
 * IAM database authentication is on: the service logs in as its own roles with IAM tokens (see
 * DatabaseRoles); only the roles' setup ever uses the master credentials.
 */
export class Database extends Construct {
  public readonly instance: rds.DatabaseInstance;
  /** Generated credentials (`username`, `password`, `host`, `port`, `dbname`), rotated on a schedule. */
  public readonly secret: secretsmanager.ISecret;
  public readonly encryptionKey: kms.Key;
  /** Endpoint host and port, for clients and IAM auth tokens. */
  public readonly endpointAddress: string;
  public readonly databaseName: string;
  public readonly port: number;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.databaseName = props.databaseName;
    this.port = props.port;

    this.encryptionKey = new CustomerKey(this, 'Key', {
      description: `PostgreSQL storage and credentials for ${this.node.path}`,
      // Retained snapshots stay restorable only while their key exists.
      removalPolicy: props.removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of('16', '16') });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'llm-api: TLS only, slow statements logged',
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000',
      },
    });

    // Created here rather than by RDS so they have a retention without a log-retention Lambda.
    const logExports = ['postgresql', 'upgrade'];
    const logGroups = logExports.map(
      (type) =>
        new logs.LogGroup(this, `${type[0].toUpperCase()}${type.slice(1)}Logs`, {
          logGroupName: `/aws/rds/instance/${props.instanceIdentifier}/${type}`,
          retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
          encryptionKey: props.logEncryptionKey,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
    );

    const allocatedStorage = props.allocatedStorageGiB ?? 20;
    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      instanceIdentifier: props.instanceIdentifier,
      engine,
      instanceType: props.instanceType,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      publiclyAccessible: false,
      port: props.port,
      databaseName: props.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret('llmapi', { encryptionKey: this.encryptionKey }),
      parameterGroup,
      storageType: rds.StorageType.GP3,
      allocatedStorage,
      maxAllocatedStorage: props.maxAllocatedStorageGiB ?? allocatedStorage * 2,
      storageEncrypted: true,
      storageEncryptionKey: this.encryptionKey,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      iamAuthentication: true,
      multiAz: props.multiAz,
      deletionProtection: props.deletionProtection,
      backupRetention: props.backupRetention,
      deleteAutomatedBackups: props.removalPolicy === RemovalPolicy.DESTROY,
      copyTagsToSnapshot: true,
      removalPolicy: props.removalPolicy,
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      cloudwatchLogsExports: logExports,
      monitoringInterval: props.monitoringInterval ?? Duration.seconds(60),
      enablePerformanceInsights: props.performanceInsights ?? false,
      performanceInsightEncryptionKey: props.performanceInsights ? this.encryptionKey : undefined,
    });
    logGroups.forEach((logGroup) => this.instance.node.addDependency(logGroup));
    this.secret = this.instance.secret!;
    this.endpointAddress = this.instance.dbInstanceEndpointAddress;

    // Single-user rotation changes the master password in place. Only the DatabaseRoles function
    // uses it, reading the secret at each run; the service's tasks never hold it, so a rotation
    // never touches them.
    this.instance.addRotationSingleUser({
      automaticallyAfter: props.credentialRotation ?? Duration.days(30),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      rotateImmediatelyOnUpdate: false,
    });

    Validations.of(this.instance.node.findChild('MonitoringRole')).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      reason: 'enhanced monitoring role: the AWS-maintained policy limited to the RDSOSMetrics log group is what the RDS agent needs',
    });
    if (!props.multiAz) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason: 'multiAz=false was chosen for this stage to halve cost; an AZ outage means downtime and a restore, accepted outside prod',
      });
    }
    if (!props.deletionProtection) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: 'deletionProtection=false was chosen for this disposable stage so the stack can be torn down; prod config requires it',
      });
    }
  }

  /** Security group rules for the database listener. */
  public get connections(): ec2.Connections {
    return this.instance.connections;
  }
}
