/**
 * Config variants the three stages do not exercise: HTTPS with a domain, the AWS environment
 * from CDK_DEFAULT_*, and the failures: a bad stage, a bad config, an unacknowledged finding.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildLlmApiApp } from '../../lib/app';
import { CDK_CONTEXT, synthStage, withConfig } from './synth';

const context = { ...CDK_CONTEXT, 'aws:cdk:disable-stack-trace': true };
const CERTIFICATE = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';

describe('HTTPS when a domain and certificate are configured', () => {
  const config = withConfig('prod', (c) => ({
    ...c,
    loadBalancer: {
      ...c.loadBalancer,
      domain: { domainName: 'llm.example.com', certificateArn: CERTIFICATE, hostedZone: { id: 'Z0123456789ABC', name: 'example.com' } },
    },
  }));
  let template: Template;
  beforeAll(() => {
    template = synthStage('prod', config).template;
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
  });
});

describe('AWS environment', () => {
  test('CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION are used when the config names none, without lookups', () => {
    const app = new App({ context });
    const stack = buildLlmApiApp(app, 'dev', {
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
    const stack = buildLlmApiApp(new App({ context }), 'staging', {
      config,
      processEnv: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
    });
    expect([stack.account, stack.region]).toEqual(['210987654321', 'eu-central-1']);
    expect(stack.availabilityZones).toEqual(['eu-central-1a', 'eu-central-1b']);
  });
});

describe('failures', () => {
  test('fails on an unknown stage name', () => {
    expect(() => buildLlmApiApp(new App({ context }), 'qa')).toThrow(/stage "qa" is unknown: pass -c stage=NAME with NAME one of dev, staging, prod/);
  });

  test('fails without a stage', () => {
    expect(() => buildLlmApiApp(new App({ context }), undefined)).toThrow(/stage missing: pass -c stage=NAME/);
  });

  test('fails on a bad config before creating anything', () => {
    const config = withConfig('dev', (c) => ({ ...c, service: { ...c.service, stopTimeoutSeconds: 20 } }));
    const app = new App({ context });
    expect(() => buildLlmApiApp(app, 'dev', { config })).toThrow(/service\.stopTimeoutSeconds \(20\) must exceed shutdownGraceMs/);
    expect(app.node.children).toHaveLength(0);
  });

  test('fails synth on an unacknowledged cdk-nag finding', () => {
    const app = new App({ context });
    const stack = buildLlmApiApp(app, 'dev', { processEnv: {} });
    new s3.Bucket(stack, 'UnloggedBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[\s\S]*LlmApi-dev\/UnloggedBucket/);
  });
});
