import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface WebAclProps {
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /** Requests one client IP may send in any 5-minute window before WAF blocks it. */
  readonly rateLimitPer5Minutes: number;
  /** Prefix of the CloudWatch metric names WAF publishes. */
  readonly metricPrefix: string;
  /**
   * Retention of the WAF log (blocked and counted requests).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Body rules of the managed rule groups that read prompts as attacks: prompts carry code (XSS),
 * file paths (LFI), URLs (RFI, the metadata address) and are large. On /v1/* they only count (and
 * label); a rule after the groups blocks the same labels on every other path.
 */
export const PROMPT_BODY_RULES: Record<string, string[]> = {
  AWSManagedRulesCommonRuleSet: [
    'SizeRestrictions_BODY',
    'CrossSiteScripting_BODY',
    'GenericLFI_BODY',
    'GenericRFI_BODY',
    'EC2MetaDataSSRF_BODY',
  ],
  AWSManagedRulesKnownBadInputsRuleSet: ['JavaDeserializationRCE_BODY', 'Log4JRCE_BODY'],
};

const LABEL_NAMESPACES: Record<string, string> = {
  AWSManagedRulesCommonRuleSet: 'awswaf:managed:aws:core-rule-set',
  AWSManagedRulesKnownBadInputsRuleSet: 'awswaf:managed:aws:known-bad-inputs',
};

/**
 * Regional AWS WAF web ACL on the ALB: a per-IP rate limit sized for server-to-server traffic and
 * AWS managed rule groups, whose prompt-body rules count rather than block on the API paths.
 */
export class WebAcl extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: WebAclProps) {
    super(scope, id);
    const visibility = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${props.metricPrefix}-${name}`,
      sampledRequestsEnabled: true,
    });
    const managed = (priority: number, name: string, countOnly: string[] = []): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ruleActionOverrides: countOnly.length
            ? countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } }))
            : undefined,
        },
      },
      visibilityConfig: visibility(name),
    });

    const labelled = Object.entries(PROMPT_BODY_RULES).flatMap(([group, rules]) =>
      rules.map((rule) => ({ labelMatchStatement: { scope: 'LABEL', key: `${LABEL_NAMESPACES[group]}:${labelName(rule)}` } })),
    );
    const outsideApi: wafv2.CfnWebACL.StatementProperty = {
      notStatement: {
        statement: {
          byteMatchStatement: {
            fieldToMatch: { uriPath: {} },
            positionalConstraint: 'STARTS_WITH',
            searchString: '/v1/',
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
      },
    };

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('web-acl'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Minutes, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility('rate-limit'),
        },
        managed(1, 'AWSManagedRulesAmazonIpReputationList'),
        managed(2, 'AWSManagedRulesKnownBadInputsRuleSet', PROMPT_BODY_RULES.AWSManagedRulesKnownBadInputsRuleSet),
        managed(3, 'AWSManagedRulesCommonRuleSet', PROMPT_BODY_RULES.AWSManagedRulesCommonRuleSet),
        {
          name: 'BodyRulesOutsideApi',
          priority: 4,
          action: { block: {} },
          statement: { andStatement: { statements: [outsideApi, { orStatement: { statements: labelled } }] } },
          visibilityConfig: visibility('body-rules-outside-api'),
        },
      ],
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancer.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF only writes to log groups whose name starts with aws-waf-logs-.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${props.metricPrefix}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // WAF rejects the `:*` suffix that the log group's Arn attribute carries.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // Authorization headers carry API keys; they never reach the WAF log.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }, { singleHeader: { Name: 'x-api-key' } }],
    });
  }
}

/** WAF labels rules by name with the `_BODY` suffix as `_Body` (e.g. `SizeRestrictions_Body`). */
function labelName(rule: string): string {
  return rule.replace(/_BODY$/, '_Body');
}
