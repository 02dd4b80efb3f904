import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FALLBACK_REGION, StageConfig } from './config';
import { getStageConfig, validateStageConfig } from './validate-config';
import { LlmApiStack, LlmApiStackProps } from './stacks/llm-api-stack';

export interface BuildOptions {
  /** Use this config instead of the named stage's (tests use it to try variants). */
  readonly config?: StageConfig;
  /** Where `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION` are read from. */
  readonly processEnv?: NodeJS.ProcessEnv;
  /** Passed to the stack, e.g. a stand-in image. */
  readonly stackProps?: Partial<LlmApiStackProps>;
}

/**
 * Adds one stage's stacks to `app` and registers cdk-nag's AWS Solutions checks on the whole
 * app: synth fails on any finding that is not acknowledged on its resource.
 */
export function buildLlmApiApp(app: App, stage: unknown, options: BuildOptions = {}): LlmApiStack {
  const config = options.config ? validateStageConfig(options.config) : getStageConfig(stage);
  const env = options.processEnv ?? process.env;
  const stack = new LlmApiStack(app, `LlmApi-${config.stage}`, {
    config,
    env: {
      account: config.account ?? env.CDK_DEFAULT_ACCOUNT,
      region: config.region ?? env.CDK_DEFAULT_REGION ?? FALLBACK_REGION,
    },
    terminationProtection: config.terminationProtection,
    description: `llm-api (${config.stage}): OpenAI-compatible LLM API gateway on ECS Fargate`,
    ...options.stackProps,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
