import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface CustomerKeyProps {
  readonly description: string;
  /**
   * A retained key keeps retained snapshots and logs readable after the stack is gone.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * AWS service principals that encrypt with the key on their own behalf (e.g. publishing to an
   * encrypted SNS topic).
   * @default - none
   */
  readonly servicePrincipals?: string[];
}

/**
 * A customer-managed key that rotates yearly and whose grants can only be created for AWS
 * services acting on AWS resources (Control Tower CT.KMS.PR.3): RDS, Secrets Manager and
 * CloudWatch Logs create their grants themselves; no person or role can hand the key on.
 */
export class CustomerKey extends kms.Key {
  constructor(scope: Construct, id: string, props: CustomerKeyProps) {
    super(scope, id, {
      description: props.description,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyGrantsExceptForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );
    if (props.servicePrincipals?.length) {
      this.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowServicesToPublishEncrypted',
          principals: props.servicePrincipals.map((p) => new iam.ServicePrincipal(p)),
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
  }
}

export interface LogsKeyProps {
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The key every log group of a stage is encrypted with (Control Tower CT.CLOUDWATCH.PR.3).
 * CloudWatch Logs may use it only for log groups of this account and region.
 */
export class LogsKey extends CustomerKey {
  constructor(scope: Construct, id: string, props: LogsKeyProps = {}) {
    super(scope, id, { description: 'CloudWatch Logs of llm-api', removalPolicy: props.removalPolicy });
    const stack = Stack.of(this);
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
  }
}
