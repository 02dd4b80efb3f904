import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../control-tower';

export interface LoadBalancerDomain {
  /** Public name of the API, e.g. `llm.example.com`. */
  readonly domainName: string;
  /** ACM certificate covering `domainName`, in the stack's region. */
  readonly certificate: acm.ICertificate;
  /**
   * Zone to create the alias record in.
   * @default - no record; point DNS at the ALB yourself
   */
  readonly hostedZone?: route53.IHostedZone;
}

export interface LoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /** Port the targets listen on. */
  readonly targetPort: number;
  /** Seconds an idle connection stays open; streamed completions need at least 300. */
  readonly idleTimeout: Duration;
  readonly deletionProtection: boolean;
  /**
   * HTTPS on 443 and an HTTP to HTTPS redirect on 80.
   * @default - HTTP only on port 80
   */
  readonly domain?: LoadBalancerDomain;
  /**
   * Days access logs are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
  /**
   * @default '/health'
   */
  readonly healthCheckPath?: string;
  /**
   * How long the ALB keeps serving a deregistered task's open requests before ECS stops it: the
   * longest stream a deploy or scale-in must not cut.
   * @default Duration.seconds(130)
   */
  readonly deregistrationDelay?: Duration;
  /**
   * Source ranges allowed to reach `/admin/*`; every other source is answered 403 by the ALB.
   * @default - none: the admin API is not reachable through the load balancer
   */
  readonly adminAllowedCidrs?: string[];
  /**
   * Why plain HTTP is acceptable when no `domain` is set; recorded as the acknowledgement of
   * the `LlmApi:HttpOnlyListener` warning.
   * @default - the warning stays visible on every synth
   */
  readonly plainHttpAcknowledgement?: string;
}

/** ALB rules allow five condition values; two go to the admin path patterns. */
const ADMIN_CIDRS_PER_RULE = 3;
const ADMIN_PATHS = ['/admin', '/admin/*'];

const errorBody = (message: string, type: string) => JSON.stringify({ error: { message, type, param: null, code: null } });

/**
 * Internet-facing ALB in the public subnets with access logs, a target group checked on
 * `/health`, `/metrics` answered 404 at the edge whatever the targets expose, and `/admin/*`
 * forwarded only from the allowed source ranges.
 */
export class LoadBalancer extends Construct {
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The listener clients use (HTTPS when a domain is configured). */
  public readonly listener: elbv2.ApplicationListener;
  public readonly accessLogBucket: s3.Bucket;
  /** Base URL clients use, without a trailing slash. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    const retentionDays = props.accessLogRetentionDays ?? 90;

    // Server access logs of the access-log bucket end here; this bucket is the end of the chain.
    const serverAccessLogBucket = this.logBucket('ServerAccessLogBucket', retentionDays);
    Validations.of(serverAccessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'terminal bucket receiving the S3 server access logs of the ALB access-log bucket; logging it would loop',
    });
    acknowledgeControl(serverAccessLogBucket, 'CT.S3.PR.2', 'terminal bucket receiving the S3 server access logs of the ALB access-log bucket; logging it would loop');
    this.accessLogBucket = this.logBucket('AccessLogBucket', retentionDays, serverAccessLogBucket);

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Public API load balancer',
      allowAllOutbound: false,
    });
    Validations.of(securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'the internet-facing API load balancer accepts HTTP(S) from any client on 80/443 only; tasks accept only the ALB',
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      internetFacing: true,
      securityGroup,
      idleTimeout: props.idleTimeout,
      dropInvalidHeaderFields: true,
      deletionProtection: props.deletionProtection,
      http2Enabled: true,
      desyncMitigationMode: elbv2.DesyncMitigationMode.DEFENSIVE,
    });
    this.loadBalancer.logAccessLogs(this.accessLogBucket, 'alb');

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc: props.vpc,
      port: props.targetPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: props.deregistrationDelay ?? Duration.seconds(130),
      healthCheck: {
        path: props.healthCheckPath ?? '/health',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });

    if (props.domain) {
      this.listener = this.loadBalancer.addListener('Https', {
        protocol: elbv2.ApplicationProtocol.HTTPS,
        port: 443,
        certificates: [props.domain.certificate],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
      });
      this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
      this.url = `https://${props.domain.domainName}`;
      if (props.domain.hostedZone) {
        new route53.ARecord(this, 'AliasRecord', {
          zone: props.domain.hostedZone,
          recordName: props.domain.domainName,
          target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)),
        });
      }
    } else {
      this.listener = this.loadBalancer.addListener('Http', {
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: 80,
        defaultTargetGroups: [this.targetGroup],
      });
      this.url = `http://${this.loadBalancer.loadBalancerDnsName}`;
      // Surfaced on every synth: plain HTTP is a choice this stage makes until a domain is set.
      Validations.of(this.listener).addWarning(
        'LlmApi:HttpOnlyListener',
        'no loadBalancer.domain configured: the API is served over plain HTTP on port 80; for HTTPS set a domain and ACM certificate in lib/config.ts or pass -c domainName=… -c certificateArn=…',
      );
      if (props.plainHttpAcknowledgement) {
        Validations.of(this.listener).acknowledge({ id: 'LlmApi:HttpOnlyListener', reason: props.plainHttpAcknowledgement });
      }
    }

    // Prometheus metrics live on a separate container port that is never mapped; this rule
    // keeps /metrics unreachable even if the app ever served it on the public port.
    this.listener.addAction('BlockMetrics', {
      priority: 1,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/metrics', '/metrics/*'])],
      action: elbv2.ListenerAction.fixedResponse(404, {
        contentType: 'application/json',
        messageBody: errorBody('not found', 'invalid_request_error'),
      }),
    });

    // The admin API mints keys: only operators' networks reach it through the ALB. From inside
    // the VPC (ECS Exec) it needs no rule.
    const cidrs = props.adminAllowedCidrs ?? [];
    for (let i = 0; i < cidrs.length; i += ADMIN_CIDRS_PER_RULE) {
      this.listener.addAction(`AllowAdmin${i / ADMIN_CIDRS_PER_RULE + 1}`, {
        priority: 10 + i / ADMIN_CIDRS_PER_RULE,
        conditions: [
          elbv2.ListenerCondition.pathPatterns(ADMIN_PATHS),
          elbv2.ListenerCondition.sourceIps(cidrs.slice(i, i + ADMIN_CIDRS_PER_RULE)),
        ],
        action: elbv2.ListenerAction.forward([this.targetGroup]),
      });
    }
    this.listener.addAction('DenyAdmin', {
      priority: 100,
      conditions: [elbv2.ListenerCondition.pathPatterns(ADMIN_PATHS)],
      action: elbv2.ListenerAction.fixedResponse(403, {
        contentType: 'application/json',
        messageBody: errorBody('the admin API is not reachable from this network', 'permission_error'),
      }),
    });
  }

  private logBucket(id: string, retentionDays: number, serverAccessLogsBucket?: s3.IBucket): s3.Bucket {
    const bucket = new s3.Bucket(this, id, {
      // ALB access logs can only be delivered to buckets encrypted with S3-managed keys.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Versioned, so an overwrite or delete of an audit log keeps the original for the retention.
      versioned: true,
      lifecycleRules: [
        {
          expiration: Duration.days(retentionDays),
          noncurrentVersionExpiration: Duration.days(retentionDays),
          expiredObjectDeleteMarker: false,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Audit logs outlive the stack; the lifecycle rule empties them.
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket,
      serverAccessLogsPrefix: serverAccessLogsBucket ? 'access-log-bucket/' : undefined,
    });
    acknowledgeControl(bucket, 'CT.S3.PR.10', 'Elastic Load Balancing delivers access logs only to buckets encrypted with S3-managed keys (SSE-S3), not SSE-KMS');
    acknowledgeControl(bucket, 'CT.S3.PR.4', 'log buckets are read by people when investigating, not by consumers: there is nothing to notify');
    acknowledgeControl(
      bucket,
      'CT.S3.PR.9',
      'Object Lock would stop the lifecycle rule from emptying the bucket after the retention; versioning and TLS-only access protect the logs',
    );
    return bucket;
  }
}
