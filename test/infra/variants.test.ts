/**
 * Config variants the three stages do not exercise: HTTPS with a domain and a hosted zone, admin
 * ranges, the AWS environment from CDK_DEFAULT_*, a provider key the app reads itself, a stage
 * without Bedrock, and the failures: a bad stage, a bad config, prod without a domain, an
 * unacknowledged finding.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildLlmApiApp } from '../../lib/app';
import { CDK_CONTEXT, CERTIFICATE_ARN as CERTIFICATE, PROD_DOMAIN_CONTEXT, only, synthStage, withConfig } from './synth';

const context = { ...CDK_CONTEXT, 'aws:cdk:disable-stack-trace': true };

describe('HTTPS when a domain and certificate come from context (-c domainName -c certificateArn -c hostedZone*)', () => {
  let template: Template;
  beforeAll(() => {
    template = synthStage('staging', undefined, {
      ...PROD_DOMAIN_CONTEXT,
      hostedZoneId: 'Z0123456789ABC',
      hostedZoneName: 'example.com',
    }).serviceTemplate;
  }, 120_000);

  test('HTTPS listener on 443 with the ACM certificate and a TLS 1.2+ policy', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE }],
      SslPolicy: Match.stringLikeRegexp('^ELBSecurityPolicy-TLS13-1-2'),
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
  });

  test('HTTP on 80 only redirects to HTTPS', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Port: '443', Protocol: 'HTTPS', StatusCode: 'HTTP_301' } }],
    });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
  });

  test('/metrics stays blocked on the HTTPS listener', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      ListenerArn: { Ref: Match.stringLikeRegexp('^LoadBalancerAlbHttps') },
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
    });
  });

  test('alias record in the hosted zone and an https:// ApiUrl', () => {
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'llm.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABC',
    });
    template.hasOutput('ApiUrl', { Value: 'https://llm.example.com' });
    template.hasOutput('LoadBalancerDnsName', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LoadBalancerAlb'), 'DNSName'] } });
  });
});

describe('AWS environment', () => {
  test('CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION are used when the config names none, without lookups', () => {
    const app = new App({ context });
    const { data: stack } = buildLlmApiApp(app, 'dev', {
      processEnv: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
    });
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('eu-west-1');
    expect(app.synth().manifest.missing).toBeUndefined();
  });

  test('account and region from the config win over CDK_DEFAULT_*', () => {
    const config = withConfig('staging', (c) => ({
      ...c,
      account: '210987654321',
      region: 'eu-central-1',
      availabilityZones: ['eu-central-1a', 'eu-central-1b'],
    }));
    const { data: stack } = buildLlmApiApp(new App({ context }), 'staging', {
      config,
      processEnv: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
    });
    expect([stack.account, stack.region]).toEqual(['210987654321', 'eu-central-1']);
    expect(stack.availabilityZones).toEqual(['eu-central-1a', 'eu-central-1b']);
  });
});

describe('admin ranges', () => {
  test('each allowed range forwards /admin/* (three per rule, the ALB limit with the two paths)', () => {
    const cidrs = ['203.0.113.0/24', '198.51.100.7/32', '192.0.2.0/28', '10.1.0.0/16'];
    const config = withConfig('dev', (c) => ({ ...c, loadBalancer: { ...c.loadBalancer, adminAllowedCidrs: cidrs } }));
    const rules = Object.values(synthStage('dev', config).serviceTemplate.findResources('AWS::ElasticLoadBalancingV2::ListenerRule'))
      .map((r) => r.Properties)
      .filter((r: any) => r.Actions[0].Type === 'forward');
    expect(rules.map((r: any) => r.Conditions.find((c: any) => c.Field === 'source-ip').SourceIpConfig.Values)).toEqual([cidrs.slice(0, 3), cidrs.slice(3)]);
    for (const r of rules) expect(r.Conditions.find((c: any) => c.Field === 'path-pattern').PathPatternConfig.Values).toEqual(['/admin', '/admin/*']);
  }, 120_000);
});

describe('routing variants', () => {
  test('a provider with api_key_secret_id: the task role may read exactly that secret; no Bedrock, no endpoint', () => {
    const config = withConfig('dev', (c) => ({
      ...c,
      routing: {
        providers: {
          claude: { type: 'anthropic', api_key_secret_id: 'llm-api/dev/anthropic-api-key' },
          vllm: { type: 'openai', base_url: 'http://vllm.internal:8000/v1' },
        },
        models: { 'claude-sonnet': { deployments: [{ provider: 'claude', model: 'claude-sonnet-4-5' }] }, '*': { deployments: [{ provider: 'vllm' }] } },
      },
    }));
    const { template } = synthStage('dev', config);
    const secret = Object.entries(template.findResources('AWS::SecretsManager::Secret', { Properties: { Name: 'llm-api/dev/anthropic-api-key' } }));
    expect(secret).toHaveLength(1);
    const taskRolePolicy = Object.values(template.findResources('AWS::IAM::Policy'))
      .map((p: any) => p.Properties)
      .find((p: any) => p.Roles.some((r: any) => JSON.stringify(r).includes('ApiTaskDefinitionTaskRole')));
    const reads = taskRolePolicy.PolicyDocument.Statement.filter((st: any) => [st.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(reads).toHaveLength(1);
    expect(JSON.stringify(reads[0].Resource)).toContain(secret[0][0]);
    const statements = JSON.stringify(taskRolePolicy.PolicyDocument.Statement);
    expect(statements).not.toContain('bedrock:');
    template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.us-east-1.bedrock-runtime' }, 0);
    const names = only(template, 'AWS::ECS::TaskDefinition').props.ContainerDefinitions.find((c: any) => c.Name === 'api').Secrets.map((s: any) => s.Name);
    expect(names.sort()).toEqual(['ADMIN_API_KEY', 'REDIS_PASSWORD']);
  }, 120_000);
});

describe('failures', () => {
  test('fails on an unknown stage name', () => {
    expect(() => buildLlmApiApp(new App({ context }), 'qa')).toThrow(/stage "qa" is unknown: pass -c stage=NAME with NAME one of dev, staging, prod/);
  });

  test('fails without a stage', () => {
    expect(() => buildLlmApiApp(new App({ context }), undefined)).toThrow(/stage missing: pass -c stage=NAME/);
  });

  test('fails on prod without a domain, naming the context values to pass', () => {
    const app = new App({ context });
    expect(() => buildLlmApiApp(app, 'prod', { processEnv: {} })).toThrow(/prod: serves HTTPS only.*-c domainName=api\.example\.com -c certificateArn=/);
    expect(app.node.children).toHaveLength(0);
  });

  test('fails on a bad config before creating anything', () => {
    const config = withConfig('dev', (c) => ({ ...c, service: { ...c.service, stopTimeoutSeconds: 20 } }));
    const app = new App({ context });
    expect(() => buildLlmApiApp(app, 'dev', { config })).toThrow(/service\.stopTimeoutSeconds \(20\) must exceed shutdownGraceMs/);
    expect(app.node.children).toHaveLength(0);
  });

  test('fails synth on an unacknowledged cdk-nag finding', () => {
    const app = new App({ context });
    const { service: stack } = buildLlmApiApp(app, 'dev', { processEnv: {} });
    new s3.Bucket(stack, 'UnloggedBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[\s\S]*LlmApi-dev-Service\/UnloggedBucket/);
  });
});
