/**
 * AWS Control Tower proactive controls on prod: the cfn-guard rules that
 * @cdklabs/cdk-validator-cfnguard ships, run on both synthesized templates. A failure passes only
 * where its control is acknowledged on the resource, with a reason (lib/control-tower.ts).
 * Each control the review found failing also has a plain assertion named after it.
 */
import * as path from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { CONTROL_TOWER_METADATA_KEY } from '../../lib/control-tower';
import { Synthesized, synthStage } from './synth';

interface Failure {
  control: string;
  logicalId: string;
  template: string;
}

let prod: Synthesized;
let failures: Failure[];

beforeAll(() => {
  prod = synthStage('prod');
  const assembly = prod.app.synth();
  const templatePaths = assembly.stacks.map((s) => path.join(assembly.directory, s.templateFile));
  const report = new CfnGuardValidator({ controlTowerRulesEnabled: true }).validate({ templatePaths } as never);
  failures = report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      control: /^\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(v.description ?? '')?.[1] ?? v.ruleName,
      logicalId: r.resourceLogicalId,
      template: path.basename(r.templatePath),
    })),
  );
}, 180_000);

const resources = () => ({ ...prod.dataTemplate.toJSON().Resources, ...prod.serviceTemplate.toJSON().Resources });
const acknowledged = (f: Failure): string | undefined => resources()[f.logicalId]?.Metadata?.[CONTROL_TOWER_METADATA_KEY]?.[f.control];
const failing = (control: string) => failures.filter((f) => f.control === control);
const ofType = (type: string) => Object.values(resources()).filter((r: any) => r.Type === type) as any[];

describe('Control Tower proactive controls on prod', () => {
  test('every failing control is acknowledged on its resource with a reason', () => {
    // A violation without a logical id would be a template-level failure: none may pass silently.
    expect(failures.filter((f) => !f.logicalId)).toEqual([]);
    expect(failures.filter((f) => !acknowledged(f))).toEqual([]);
    for (const f of failures) expect(acknowledged(f)!.length).toBeGreaterThan(40);
  });

  test('the acknowledgements are the few AWS services cannot meet', () => {
    const acks = failures.map((f) => `${f.control} ${f.logicalId.replace(/[0-9A-F]{8}$/, '')}`);
    expect([...new Set(acks)].sort()).toEqual([
      'CT.LAMBDA.PR.3 CustomVpcRestrictDefaultSGCustomResourceProviderHandler',
      'CT.S3.PR.10 LoadBalancerAccessLogBucket',
      'CT.S3.PR.10 LoadBalancerServerAccessLogBucket',
      'CT.S3.PR.2 LoadBalancerServerAccessLogBucket',
      'CT.S3.PR.4 LoadBalancerAccessLogBucket',
      'CT.S3.PR.4 LoadBalancerServerAccessLogBucket',
      'CT.S3.PR.9 LoadBalancerAccessLogBucket',
      'CT.S3.PR.9 LoadBalancerServerAccessLogBucket',
    ]);
  });

  test.each([
    'CT.CLOUDWATCH.PR.2',
    'CT.CLOUDWATCH.PR.3',
    'CT.ECS.PR.3',
    'CT.ELASTICLOADBALANCING.PR.1',
    'CT.KMS.PR.3',
    'CT.RDS.PR.7',
    'CT.S3.PR.11',
  ])('%s passes on every resource (cfn-guard)', (control) => {
    expect(failing(control)).toEqual([]);
  });

  test('ct-cloudwatch-pr-2: every log group is kept at least a year', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(8);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBeGreaterThanOrEqual(365);
  });

  test('ct-cloudwatch-pr-3: every log group is encrypted with a customer key of its own stack that CloudWatch Logs may use', () => {
    for (const t of [prod.dataTemplate, prod.serviceTemplate]) {
      const json = t.toJSON().Resources;
      for (const g of Object.values(t.findResources('AWS::Logs::LogGroup')) as any[]) {
        const keyId = g.Properties.KmsKeyId['Fn::GetAtt'][0];
        const statements = json[keyId].Properties.KeyPolicy.Statement;
        expect(statements).toEqual(
          expect.arrayContaining([expect.objectContaining({ Sid: 'AllowCloudWatchLogs', Principal: { Service: 'logs.us-east-1.amazonaws.com' } })]),
        );
      }
    }
  });

  test('ct-ecs-pr-3: the task definition names a non-root user for every container', () => {
    for (const td of ofType('AWS::ECS::TaskDefinition')) {
      for (const c of td.Properties.ContainerDefinitions) expect(c.User).not.toMatch(/^(0|root)(:|$)/);
    }
  });

  test('ct-elasticloadbalancing-pr-1: the HTTP listener only redirects to HTTPS', () => {
    const http = ofType('AWS::ElasticLoadBalancingV2::Listener').filter((l) => l.Properties.Protocol === 'HTTP');
    expect(http).toHaveLength(1);
    expect(http[0].Properties.DefaultActions).toEqual([
      { Type: 'redirect', RedirectConfig: { Port: '443', Protocol: 'HTTPS', StatusCode: 'HTTP_301' } },
    ]);
    const https = ofType('AWS::ElasticLoadBalancingV2::Listener').filter((l) => l.Properties.Protocol === 'HTTPS');
    expect(https[0].Properties.SslPolicy).toMatch(/^ELBSecurityPolicy-TLS13-1-2/);
  });

  test('ct-kms-pr-3: every key policy denies grants that are not for AWS services', () => {
    const keys = ofType('AWS::KMS::Key');
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const key of keys) {
      expect(key.Properties.KeyPolicy.Statement).toEqual(
        expect.arrayContaining([
          {
            Sid: 'DenyGrantsExceptForAwsServices',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'kms:CreateGrant',
            Resource: '*',
            Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
          },
        ]),
      );
    }
  });

  test('ct-rds-pr-7: the database uses IAM authentication', () => {
    for (const db of ofType('AWS::RDS::DBInstance')) expect(db.Properties.EnableIAMDatabaseAuthentication).toBe(true);
  });

  test('ct-s3-pr-11: the log buckets are versioned', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(2);
    for (const b of buckets) expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });
});

