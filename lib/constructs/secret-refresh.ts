import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

export interface SecretRefreshProps {
  /** The service whose tasks read the secrets at start. */
  readonly service: ecs.FargateService;
  /** Secrets injected with `ecs.Secret`; a new current version of any of them redeploys the service. */
  readonly secrets: secretsmanager.ISecret[];
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
 * ECS reads `ecs.Secret` values only when a task starts. When a secret gets a new `AWSCURRENT`
 * version (a `put-secret-value` of a provider key or the admin token),
 * Secrets Manager's native `Secret Label Updated` event starts a forced deployment, so tasks
 * pick the new value up without anyone remembering to redeploy.
 */
export class SecretRefresh extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: SecretRefreshProps) {
    super(scope, id);

    const forceNewDeployment = new tasks.CallAwsService(this, 'ForceNewDeployment', {
      service: 'ecs',
      action: 'updateService',
      parameters: {
        Cluster: props.service.cluster.clusterArn,
        Service: props.service.serviceArn,
        ForceNewDeployment: true,
      },
      iamAction: 'ecs:UpdateService',
      iamResources: [props.service.serviceArn],
    });
    forceNewDeployment.addRetry({ maxAttempts: 3, interval: Duration.seconds(30), backoffRate: 2 });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'Redeploy the API service so its tasks read the new secret version',
      definitionBody: sfn.DefinitionBody.fromChainable(forceNewDeployment),
      timeout: Duration.minutes(10),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'state machine role: X-Ray segment upload and CloudWatch Logs delivery actions have no resource-level permissions; ' +
        'its only other action, ecs:UpdateService, is scoped to the one service',
    });

    this.rule = new events.Rule(this, 'Rule', {
      description: 'A secret used by the API service has a new current version: redeploy the service',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['Secret Label Updated'],
        resources: props.secrets.map((secret) => secret.secretArn),
        detail: { labelUpdated: ['AWSCURRENT'] },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { retryAttempts: 3 })],
    });
  }
}
