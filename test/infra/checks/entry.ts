import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { STAGES, StageName } from '../../../lib/config';
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

const ALWAYS = [
  'Api/TaskDefinition AwsSolutions-ECS2',
  'Api/TaskDefinition/ExecutionRole AwsSolutions-IAM5[Resource::*]',
  'Cache/AuthToken AwsSolutions-SMG4',
  'Database/Instance/MonitoringRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
  'LoadBalancer/SecurityGroup AwsSolutions-EC23',
  'LoadBalancer/ServerAccessLogBucket AwsSolutions-S1',
  'Secrets/AdminApiKey AwsSolutions-SMG4',
  'Secrets/UpstreamApiKey AwsSolutions-SMG4',
  'SecretRefresh/StateMachine/Role AwsSolutions-IAM5[Resource::*]',
];
const EXPECTED_ACKS: Record<StageName, string[]> = {
  dev: [
    ...ALWAYS,
    'Cache/ReplicationGroup AwsSolutions-AEC4',
    'Database/Instance AwsSolutions-RDS10',
    'Database/Instance AwsSolutions-RDS3',
    'LoadBalancer/Alb/Http LlmApi:HttpOnlyListener',
  ],
  staging: [...ALWAYS, 'Database/Instance AwsSolutions-RDS10', 'Database/Instance AwsSolutions-RDS3'],
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
    test(`one stack LlmApi-${name}, region from the fallback, account left to deploy time`, () => {
      const { stack } = synthesized();
      expect(stack.stackName).toBe(`LlmApi-${name}`);
      expect(stack.region).toBe('us-east-1');
      expect(Token.isUnresolved(stack.account)).toBe(true);
      expect(stack.terminationProtection).toBe(name === 'prod');
    });

    test('cdk-nag AwsSolutions: no finding left, warnings included', () => {
      const report = new AwsSolutionsChecks().validateScope(synthesized().app);
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
      expect(report.success).toBe(true);
    });

    test('every acknowledgement sits on one resource and gives a specific reason', () => {
      // CDK itself acknowledges a few CloudFormation-Validate rules on its own constructs.
      const acks = acknowledgements(synthesized().app).filter((a) => !a.id.startsWith('CloudFormation-Validate::'));
      const relative = acks.map((a) => `${a.path.replace(`LlmApi-${name}/`, '')} ${a.id}`).sort();
      expect(relative).toEqual([...EXPECTED_ACKS[name]].sort());
      for (const ack of acks) {
        expect(ack.path.split('/').length).toBeGreaterThan(1);
        expect(ack.reason.length).toBeGreaterThan(60);
      }
    });

    const reason = STAGES[name].loadBalancer.plainHttpAcknowledgement;
    test(`plain HTTP without a domain: ${reason ? 'acknowledged with a reason' : 'a warning on every synth'}`, () => {
      const { stack } = synthesized();
      const path = `/LlmApi-${name}/LoadBalancer/Alb/Http`;
      const message = Match.stringLikeRegexp('plain HTTP on port 80');
      if (reason) {
        Annotations.fromStack(stack).hasNoWarning(path, message);
        expect(acknowledgements(stack).find((a) => a.id === 'LlmApi:HttpOnlyListener')?.reason).toBe(reason);
      } else {
        Annotations.fromStack(stack).hasWarning(path, message);
      }
    });

    test('synth needs no context lookups, no Docker and no credentials', () => {
      const assembly = synthesized().app.synth();
      expect(assembly.manifest.missing).toBeUndefined();
      const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, `LlmApi-${name}.assets.json`), 'utf8'));
      const images = Object.values(assets.dockerImages) as any[];
      expect(images).toHaveLength(1);
      expect(images[0].source.dockerFile).toBe('app/Dockerfile');
      // The image context holds only what the image needs (the bundle exists once `npm run build` ran).
      const files = listFiles(path.join(assembly.directory, images[0].source.directory));
      expect(files.filter((f) => f !== 'dist/server.js').sort()).toEqual(['.dockerignore', 'app/Dockerfile']);
    });
  });
}
