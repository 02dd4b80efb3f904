import * as path from 'node:path';
import { CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { Database } from './database';

export interface DatabaseRolesProps {
  readonly database: Database;
  readonly vpc: ec2.IVpc;
  /**
   * The role the service logs in as: reads and writes rows, nothing more.
   * @default 'llmapi_app'
   */
  readonly appUser?: string;
  /**
   * The role migrations run as: owns the schema.
   * @default 'llmapi_migrator'
   */
  readonly migrationUser?: string;
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
 * Creates the service's two database roles (see lib/functions/database-roles-sql.ts) with a
 * custom resource that runs in the VPC as the master user. After it, nothing that runs the
 * gateway needs the master credentials; the roles log in with IAM authentication tokens.
 */
export class DatabaseRoles extends Construct {
  public readonly appUser: string;
  public readonly migrationUser: string;

  constructor(scope: Construct, id: string, props: DatabaseRolesProps) {
    super(scope, id);
    this.appUser = props.appUser ?? 'llmapi_app';
    this.migrationUser = props.migrationUser ?? 'llmapi_migrator';
    const { database } = props;
    const logGroup = (logId: string) =>
      new logs.LogGroup(this, logId, {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        encryptionKey: props.logEncryptionKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Database roles custom resource: PostgreSQL and the Secrets Manager endpoint',
      allowAllOutbound: true,
    });
    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, '..', 'functions', 'database-roles.ts'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      memorySize: 256,
      vpc: props.vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      logGroup: logGroup('FunctionLogs'),
      environment: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
      bundling: {
        externalModules: ['@aws-sdk/*', 'pg-native'],
        minify: true,
        sourceMap: false,
        target: 'node22',
        // Offline, reproducible synth: esbuild from node_modules, never Docker.
        forceDockerBundling: false,
      },
      description: 'Creates the llm-api database roles as the master user',
    });
    database.secret.grantRead(fn);
    database.connections.allowDefaultPortFrom(securityGroup, 'database roles custom resource');

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      vpc: props.vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      logGroup: logGroup('ProviderLogs'),
    });

    const resource = new CustomResource(this, 'Roles', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::LlmApiDatabaseRoles',
      properties: {
        SecretArn: database.secret.secretArn,
        Host: database.instance.dbInstanceEndpointAddress,
        Port: database.instance.dbInstanceEndpointPort,
        DatabaseName: database.databaseName,
        AppUser: this.appUser,
        MigrationUser: this.migrationUser,
        // Bump to re-run the SQL on an unchanged database (it is idempotent).
        Revision: '1',
      },
    });
    // The ingress rule for the function lives in the database's security group.
    resource.node.addDependency(database.connections.securityGroups[0]);

    for (const role of [fn.role!, provider.node.findChild('framework-onEvent').node.findChild('ServiceRole')]) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'custom resource function: the AWS-maintained policy grants only writing its own CloudWatch log streams',
      });
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'custom resource function in the VPC: the AWS-maintained policy manages only the network interfaces Lambda needs',
      });
    }
    const fnLogicalId = Stack.of(this).resolve(Stack.of(this).getLogicalId(fn.node.defaultChild as CfnResource));
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnLogicalId}.Arn>:*]`,
      reason: 'the custom resource framework invokes every version of its one handler function; nothing else is granted',
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'the custom resource framework function runtime is chosen by aws-cdk-lib, which upgrades it with the library',
    });
  }
}
