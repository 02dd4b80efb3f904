import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { STAGES, StageName } from '../../../lib/config';
import { IMAGE_CONTEXT } from '../../../lib/stacks/service-stack';
import { Synthesized } from '../synth';

/** Every acknowledgement in the tree: construct path, rule id, reason. */
export function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

const LAMBDA_ROLE_POLICIES = ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'].map(
  (policy) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
);
const ALWAYS = [
  'Data/Cache/AuthToken AwsSolutions-SMG4',
  'Data/Database/Instance/MonitoringRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
  ...LAMBDA_ROLE_POLICIES.map((id) => `Data/DatabaseRoles/Function/ServiceRole ${id}`),
  ...LAMBDA_ROLE_POLICIES.map((id) => `Data/DatabaseRoles/Provider/framework-onEvent/ServiceRole ${id}`),
  'Data/DatabaseRoles/Provider AwsSolutions-IAM5[Resource::<DatabaseRolesFunctionB120C4B0.Arn>:*]',
  'Data/DatabaseRoles/Provider AwsSolutions-L1',
  'Data/Secrets/AdminApiKey AwsSolutions-SMG4',
  'Data/Secrets/ProviderKeyOpenaiApiKey AwsSolutions-SMG4',
  'Service/Api/TaskDefinition AwsSolutions-ECS2',
  'Service/Api/TaskDefinition/ExecutionRole AwsSolutions-IAM5[Resource::*]',
  'Service/Api/TaskDefinition/TaskRole AwsSolutions-IAM5[Resource::*]',
  'Service/LoadBalancer/SecurityGroup AwsSolutions-EC23',
  'Service/LoadBalancer/ServerAccessLogBucket AwsSolutions-S1',
  'Service/SecretRefresh/StateMachine/Role AwsSolutions-IAM5[Resource::*]',
];
const EXPECTED_ACKS: Record<StageName, string[]> = {
  dev: [
    ...ALWAYS,
    'Data/Cache/ReplicationGroup AwsSolutions-AEC4',
    'Data/Database/Instance AwsSolutions-RDS10',
    'Data/Database/Instance AwsSolutions-RDS3',
    'Service/LoadBalancer/Alb/Http LlmApi:HttpOnlyListener',
  ],
  staging: [...ALWAYS, 'Data/Database/Instance AwsSolutions-RDS10', 'Data/Database/Instance AwsSolutions-RDS3'],
  prod: ALWAYS,
};

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

/** Issue points 1 and 9: entry, environment, cdk-nag, offline synth. */
export function entryChecks(name: StageName, synthesized: () => Synthesized): void {
  describe('entry and cdk-nag', () => {
    test(`two stacks: LlmApi-${name}-Data, then LlmApi-${name}-Service depending on it`, () => {
      const { data, service } = synthesized();
      expect([data.stackName, service.stackName]).toEqual([`LlmApi-${name}-Data`, `LlmApi-${name}-Service`]);
      expect(service.dependencies).toEqual([data]);
      expect(data.dependencies).toEqual([]);
      for (const stack of [data, service]) {
        expect(stack.region).toBe('us-east-1');
        expect(stack.terminationProtection).toBe(name === 'prod');
      }
      // Prod names its region and zones; the other stages leave the account to deploy time.
      if (name === 'prod') {
        expect(data.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
      } else {
        expect(Token.isUnresolved(data.account)).toBe(true);
      }
    });

    test('stateful resources live in the data stack, the replaceable ones in the service stack', () => {
      const { dataTemplate, serviceTemplate } = synthesized();
      const types = (t: Template) => new Set(Object.values(t.toJSON().Resources).map((r: any) => r.Type as string));
      const dataTypes = types(dataTemplate);
      const serviceTypes = types(serviceTemplate);
      for (const type of ['AWS::EC2::VPC', 'AWS::RDS::DBInstance', 'AWS::ElastiCache::ReplicationGroup', 'AWS::SecretsManager::Secret', 'AWS::KMS::Key', 'AWS::SNS::Topic']) {
        expect(dataTypes).toContain(type);
      }
      for (const type of ['AWS::ECS::Service', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard']) {
        expect(serviceTypes).toContain(type);
        expect(dataTypes).not.toContain(type);
      }
      for (const type of ['AWS::RDS::DBInstance', 'AWS::ElastiCache::ReplicationGroup', 'AWS::SecretsManager::Secret', 'AWS::EC2::VPC', 'AWS::SNS::Topic']) {
        expect(serviceTypes).not.toContain(type);
      }
      if (STAGES[name].loadBalancer.waf) expect(serviceTypes).toContain('AWS::WAFv2::WebACL');
      // The data stack never refers to the service stack (that would make it a cycle).
      expect(JSON.stringify(dataTemplate.toJSON())).not.toContain('Fn::ImportValue');
    });

    test('cdk-nag AwsSolutions: no finding left, warnings included', () => {
      const report = new AwsSolutionsChecks().validateScope(synthesized().app);
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
      expect(report.success).toBe(true);
    });

    test('every acknowledgement sits on one resource and gives a specific reason', () => {
      // CDK itself acknowledges a few CloudFormation-Validate rules on its own constructs.
      const acks = acknowledgements(synthesized().app).filter((a) => !a.id.startsWith('CloudFormation-Validate::'));
      const relative = acks.map((a) => `${a.path.replace(`LlmApi-${name}-`, '')} ${a.id}`).sort();
      expect(relative).toEqual([...EXPECTED_ACKS[name]].sort());
      for (const ack of acks) {
        expect(ack.path.split('/').length).toBeGreaterThan(1);
        expect(ack.reason.length).toBeGreaterThan(60);
      }
    });

    const reason = STAGES[name].loadBalancer.plainHttpAcknowledgement;
    const label = name === 'prod' ? 'HTTPS only (prod refuses to synthesize without a domain)' : reason ? 'acknowledged with a reason' : 'a warning on every synth';
    test(`plain HTTP without a domain: ${label}`, () => {
      const { service: stack } = synthesized();
      const path = `/LlmApi-${name}-Service/LoadBalancer/Alb/Http`;
      const message = Match.stringLikeRegexp('plain HTTP on port 80');
      if (name === 'prod') {
        Annotations.fromStack(stack).hasNoWarning('*', message);
      } else if (reason) {
        Annotations.fromStack(stack).hasNoWarning(path, message);
        expect(acknowledgements(stack).find((a) => a.id === 'LlmApi:HttpOnlyListener')?.reason).toBe(reason);
      } else {
        Annotations.fromStack(stack).hasWarning(path, message);
      }
    });

    test('synth needs no context lookups, no Docker and no credentials; the image context is the sources', () => {
      const assembly = synthesized().app.synth();
      expect(assembly.manifest.missing).toBeUndefined();
      const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, `LlmApi-${name}-Service.assets.json`), 'utf8'));
      const images = Object.values(assets.dockerImages) as any[];
      expect(images).toHaveLength(1);
      expect(images[0].source.dockerFile).toBe('app/Dockerfile');
      // The Dockerfile bundles app/ itself: the context holds the sources, the lockfile and the
      // bundler script, never node_modules, dist, cdk.out, .git or .data.
      const files = listFiles(path.join(assembly.directory, images[0].source.directory));
      expect(files).toEqual(expect.arrayContaining(['app/Dockerfile', 'app/server.ts', 'package.json', 'package-lock.json', 'scripts/build.mjs']));
      const outside = files.filter((f) => !f.startsWith('app/') && !IMAGE_CONTEXT.includes(f) && f !== '.dockerignore');
      expect(outside).toEqual([]);
    });
  });
}
