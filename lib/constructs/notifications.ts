import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { CustomerKey } from './encryption';

export interface NotificationsProps {
  /** Shown as the topic's display name, e.g. `llm-api-prod`. */
  readonly name: string;
  /**
   * Addresses subscribed to the topic; each confirms once by e-mail.
   * @default - no subscriptions
   */
  readonly emails?: string[];
  /**
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Services that publish to the topic on their own behalf. */
const PUBLISHERS = ['cloudwatch.amazonaws.com', 'events.rds.amazonaws.com', 'elasticache.amazonaws.com'];

/**
 * The stage's one operator topic (KMS-encrypted, TLS-only): alarms, RDS events and ElastiCache
 * events all end here. It lives with the stateful resources so the database and cache can name it.
 */
export class Notifications extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const key = new CustomerKey(this, 'TopicKey', {
      description: `Operator topic of ${props.name}`,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      servicePrincipals: PUBLISHERS,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.name} alarms and events`,
      masterKey: key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowServicePublishers',
        principals: PUBLISHERS.map((p) => new iam.ServicePrincipal(p)),
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }

  /** RDS events of `instance` that need an operator: failover, failure, storage, maintenance, configuration, recovery. */
  public subscribeDatabaseEvents(id: string, instance: rds.IDatabaseInstance): rds.CfnEventSubscription {
    return new rds.CfnEventSubscription(this, id, {
      snsTopicArn: this.topic.topicArn,
      sourceType: 'db-instance',
      sourceIds: [instance.instanceIdentifier],
      eventCategories: [
        'availability',
        'configuration change',
        'deletion',
        'failover',
        'failure',
        'low storage',
        'maintenance',
        'notification',
        'recovery',
      ],
      enabled: true,
    });
  }
}
