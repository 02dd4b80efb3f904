import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildLlmApiApp } from '../../lib/app';
import { STAGES, StageConfig, StageName } from '../../lib/config';
import { LlmApiDataStack } from '../../lib/stacks/data-stack';
import { LlmApiServiceStack } from '../../lib/stacks/service-stack';

/** The feature flags `npx cdk synth` runs with, so tests synthesize the same templates. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

export const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
/** What an operator passes to synthesize prod: `-c domainName=… -c certificateArn=…`. */
export const PROD_DOMAIN_CONTEXT = { domainName: 'llm.example.com', certificateArn: CERTIFICATE_ARN };

export interface Synthesized {
  readonly app: App;
  readonly data: LlmApiDataStack;
  readonly service: LlmApiServiceStack;
  readonly dataTemplate: Template;
  readonly serviceTemplate: Template;
  /** Both stacks' resources and outputs in one template, for checks that do not care where. */
  readonly template: Template;
}

/**
 * Synthesizes one stage the way bin/llm-api.ts does (cdk-nag included), with no AWS
 * environment variables: the machine running the tests has no credentials. Prod gets the domain
 * context it refuses to synthesize without.
 */
export function synthStage(stage: StageName, config?: StageConfig, context: Record<string, unknown> = {}): Synthesized {
  // The CLI skips construct stack traces too; recording them makes synth 2-3x slower under jest.
  const app = new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:disable-stack-trace': true, ...(stage === 'prod' ? PROD_DOMAIN_CONTEXT : {}), ...context },
  });
  const { data, service } = buildLlmApiApp(app, stage, { config, processEnv: {} });
  // Throws if cdk-nag reports an unacknowledged finding.
  const dataTemplate = Template.fromStack(data);
  const serviceTemplate = Template.fromStack(service);
  return { app, data, service, dataTemplate, serviceTemplate, template: merged(dataTemplate, serviceTemplate) };
}

function merged(...templates: Template[]): Template {
  const out: { Resources: Record<string, unknown>; Outputs: Record<string, unknown> } = { Resources: {}, Outputs: {} };
  for (const t of templates) {
    const json = t.toJSON();
    for (const section of ['Resources', 'Outputs'] as const) {
      for (const [id, value] of Object.entries(json[section] ?? {})) {
        if (id === 'CDKMetadata') continue;
        if (id in out[section]) throw new Error(`logical id ${id} exists in both stacks`);
        out[section][id] = value;
      }
    }
  }
  return Template.fromJSON(out);
}

const cache = new Map<StageName, Synthesized>();

/** `synthStage(stage)`, once per stage per test file. */
export function stage(name: StageName): Synthesized {
  let hit = cache.get(name);
  if (!hit) {
    hit = synthStage(name);
    cache.set(name, hit);
  }
  return hit;
}

/** A stage config with some fields replaced (one level deep per section). */
export function withConfig(name: StageName, patch: (base: StageConfig) => StageConfig): StageConfig {
  return patch(structuredClone(STAGES[name]));
}

/** The only resource of `type` in the template; fails when there are none or several. */
export function only(template: Template, type: string): { logicalId: string; props: any; resource: any } {
  const found = Object.entries(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  const [logicalId, resource] = found[0];
  return { logicalId, props: resource.Properties, resource };
}

/** A container definition of the gateway's task: `api` (default) or `migrate`. */
export function container(template: Template, name: 'api' | 'migrate' = 'api'): any {
  const found = only(template, 'AWS::ECS::TaskDefinition').props.ContainerDefinitions.find((c: any) => c.Name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/**
 * What a cross-stack value looks like in the consuming template: `Fn::ImportValue` of an export
 * whose name mentions `logicalIdPrefix` (e.g. `DatabaseInstance`).
 */
export function isImportOf(value: unknown, logicalIdPrefix: string): boolean {
  const name = (value as any)?.['Fn::ImportValue'];
  return typeof name === 'string' && name.includes(logicalIdPrefix);
}

export const ALL_STAGES: StageName[] = ['dev', 'staging', 'prod'];
