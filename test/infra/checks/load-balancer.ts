import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGES, StageName } from '../../../lib/config';
import { PROMPT_BODY_RULES } from '../../../lib/constructs/web-acl';
import { isImportOf, only } from '../synth';

/** Issue point 6: ALB, access logs, target group, /metrics, WAF. HTTPS is covered in variants.test.ts. */
export function loadBalancerChecks(name: StageName, template: () => Template): void {
  const lb = STAGES[name].loadBalancer;
  const attributes = () =>
    Object.fromEntries(
      only(template(), 'AWS::ElasticLoadBalancingV2::LoadBalancer').props.LoadBalancerAttributes.map((a: any) => [a.Key, a.Value]),
    );

  describe('load balancer', () => {
    test('internet-facing ALB in the public subnets', () => {
      const props = only(template(), 'AWS::ElasticLoadBalancingV2::LoadBalancer').props;
      expect(props.Scheme).toBe('internet-facing');
      for (const subnet of props.Subnets) expect(isImportOf(subnet, 'PublicSubnet')).toBe(true);
    });

    test('drops invalid header fields; idle timeout >= 300 s for long streams', () => {
      expect(attributes()['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
      expect(Number(attributes()['idle_timeout.timeout_seconds'])).toBeGreaterThanOrEqual(300);
    });

    test(`deletion protection ${lb.deletionProtection}`, () => {
      expect(attributes()['deletion_protection.enabled']).toBe(String(lb.deletionProtection));
      if (name === 'prod') expect(attributes()['deletion_protection.enabled']).toBe('true');
    });

    test('access logs go to a bucket that enforces TLS and has its own server access logging', () => {
      expect(attributes()['access_logs.s3.enabled']).toBe('true');
      const bucketId = attributes()['access_logs.s3.bucket'].Ref;
      const resources = template().toJSON().Resources;
      const bucket = resources[bucketId].Properties;
      expect(bucket.LoggingConfiguration.DestinationBucketName.Ref).toMatch(/^LoadBalancerServerAccessLogBucket/);
      expect(bucket.BucketEncryption).toBeDefined();
      expect(bucket.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(lb.accessLogRetentionDays);
      template().hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId },
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        }),
      });
    });

    test('target group checks /health with tight thresholds and drains long enough for a 2-minute stream', () => {
      template().hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: 8000,
        Protocol: 'HTTP',
        TargetType: 'ip',
        HealthCheckPath: '/health',
        Matcher: { HttpCode: '200' },
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(lb.deregistrationDelaySeconds) }]),
      });
      expect(lb.deregistrationDelaySeconds).toBeGreaterThanOrEqual(120);
    });

    test('/admin/* is answered 403 at the ALB unless the source is an allowed range', () => {
      const rules = Object.values(template().findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties);
      const admin = rules.filter((r: any) => JSON.stringify(r.Conditions).includes('/admin/*'));
      const deny = admin.find((r: any) => r.Actions[0].Type === 'fixed-response');
      expect(deny).toMatchObject({
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/admin', '/admin/*'] } }],
        Actions: [{ Type: 'fixed-response', FixedResponseConfig: expect.objectContaining({ StatusCode: '403', ContentType: 'application/json' }) }],
      });
      const allowed = admin.filter((r: any) => r.Actions[0].Type === 'forward');
      const cidrs = allowed.flatMap((r: any) => r.Conditions.find((c: any) => c.Field === 'source-ip').SourceIpConfig.Values);
      expect(cidrs).toEqual(lb.adminAllowedCidrs);
      for (const rule of allowed) expect(rule.Priority).toBeLessThan(deny.Priority);
    });

    test('access-log buckets: ct-s3-pr-11 versioning on, old versions expire with the retention', () => {
      for (const { props } of Object.values(template().findResources('AWS::S3::Bucket')).map((r: any) => ({ props: r.Properties }))) {
        expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
        expect(props.LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration).toEqual({ NoncurrentDays: lb.accessLogRetentionDays });
      }
    });

    test('/metrics is answered 404 at the listener and never forwarded', () => {
      template().hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Priority: 1,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
        Actions: [Match.objectLike({ Type: 'fixed-response', FixedResponseConfig: Match.objectLike({ StatusCode: '404' }) })],
      });
      const groups = Object.values(template().findResources('AWS::ElasticLoadBalancingV2::TargetGroup'));
      expect(groups.map((g) => g.Properties.Port)).toEqual([8000]);
    });

    test(`${lb.domain || name === 'prod' ? 'HTTPS' : 'without a domain: plain HTTP on 80 forwarding to the service'}`, () => {
      if (name === 'prod') {
        // ct-elasticloadbalancing-pr-1: HTTP only redirects.
        template().hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
          Port: 80,
          Protocol: 'HTTP',
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Port: '443', Protocol: 'HTTPS', StatusCode: 'HTTP_301' } }],
        });
        return;
      }
      template().resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
      template().hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [Match.objectLike({ Type: 'forward' })],
      });
    });

    if (lb.waf) {
      test('WAF: AWS managed rule groups and a per-IP rate-based rule, associated with the ALB', () => {
        const acl = only(template(), 'AWS::WAFv2::WebACL').props;
        expect(acl.Scope).toBe('REGIONAL');
        const managed = acl.Rules.filter((r: any) => r.Statement.ManagedRuleGroupStatement).map(
          (r: any) => r.Statement.ManagedRuleGroupStatement.Name,
        );
        expect(managed).toEqual(
          expect.arrayContaining(['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesAmazonIpReputationList']),
        );
        const rate = acl.Rules.find((r: any) => r.Statement.RateBasedStatement);
        expect(rate).toMatchObject({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: lb.waf!.rateLimitPer5Minutes, AggregateKeyType: 'IP' } } });
        template().hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
          ResourceArn: { Ref: Match.stringLikeRegexp('^LoadBalancerAlb') },
        });
        template().hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
          RedactedFields: Match.arrayWith([{ SingleHeader: { Name: 'authorization' } }]),
        });
      });
      test('WAF: per-IP limit sized for server-to-server traffic (at least 50,000 per 5 minutes)', () => {
        expect(lb.waf!.rateLimitPer5Minutes).toBeGreaterThanOrEqual(50_000);
      });

      test('WAF: body rules that read prompts as attacks count on /v1/* and block everywhere else', () => {
        const acl = only(template(), 'AWS::WAFv2::WebACL').props;
        const group = (n: string) => acl.Rules.find((r: any) => r.Statement.ManagedRuleGroupStatement?.Name === n);
        for (const [name, rules] of Object.entries(PROMPT_BODY_RULES)) {
          const overrides = group(name).Statement.ManagedRuleGroupStatement.RuleActionOverrides;
          expect(overrides.map((o: any) => o.Name).sort()).toEqual([...rules].sort());
          for (const o of overrides) expect(o.ActionToUse).toEqual({ Count: {} });
        }
        const block = acl.Rules.find((r: any) => r.Name === 'BodyRulesOutsideApi');
        expect(block.Action).toEqual({ Block: {} });
        expect(block.Priority).toBeGreaterThan(group('AWSManagedRulesCommonRuleSet').Priority);
        const [outside, labels] = block.Statement.AndStatement.Statements;
        expect(outside.NotStatement.Statement.ByteMatchStatement).toMatchObject({ SearchString: '/v1/', PositionalConstraint: 'STARTS_WITH' });
        const keys = labels.OrStatement.Statements.map((st: any) => st.LabelMatchStatement.Key);
        expect(keys).toContain('awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body');
        expect(keys).toContain('awswaf:managed:aws:core-rule-set:SizeRestrictions_Body');
        expect(keys).toHaveLength(Object.values(PROMPT_BODY_RULES).flat().length);
      });
    } else {
      test('no WAF on this stage', () => {
        template().resourceCountIs('AWS::WAFv2::WebACL', 0);
      });
    }
  });
}
