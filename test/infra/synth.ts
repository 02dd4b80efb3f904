import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildLlmApiApp } from '../../lib/app';
import { STAGES, StageConfig, StageName } from '../../lib/config';
import { LlmApiStack } from '../../lib/stacks/llm-api-stack';

/** The feature flags `npx cdk synth` runs with, so tests synthesize the same templates. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

export interface Synthesized {
  readonly app: App;
  readonly stack: LlmApiStack;
  readonly template: Template;
}

/**
 * Synthesizes one stage the way bin/llm-api.ts does (cdk-nag included), with no AWS
 * environment variables: the machine running the tests has no credentials.
 */
export function synthStage(stage: StageName, config?: StageConfig): Synthesized {
  // The CLI skips construct stack traces too; recording them makes synth 2-3x slower under jest.
  const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:disable-stack-trace': true } });
  const stack = buildLlmApiApp(app, stage, { config, processEnv: {} });
  // Throws if cdk-nag reports an unacknowledged finding.
  const template = Template.fromStack(stack);
  return { app, stack, template };
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

/** The container definition of the gateway. */
export function container(template: Template): any {
  return only(template, 'AWS::ECS::TaskDefinition').props.ContainerDefinitions[0];
}

export const ALL_STAGES: StageName[] = ['dev', 'staging', 'prod'];
