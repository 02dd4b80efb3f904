import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FALLBACK_REGION, StageConfig } from './config';
import { getStageConfig, validateStageConfig, withContext } from './validate-config';
import { LlmApiDataStack } from './stacks/data-stack';
import { LlmApiServiceStack, LlmApiServiceStackProps } from './stacks/service-stack';

export interface BuildOptions {
  /** Use this config instead of the named stage's (tests use it to try variants). */
  readonly config?: StageConfig;
  /** Where `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION` are read from. */
  readonly processEnv?: NodeJS.ProcessEnv;
  /** Passed to the service stack, e.g. a stand-in image. */
  readonly serviceProps?: Partial<LlmApiServiceStackProps>;
}

export interface LlmApiStacks {
  readonly data: LlmApiDataStack;
  readonly service: LlmApiServiceStack;
}

/** Stack names of a stage: `LlmApi-<stage>-Data` and `LlmApi-<stage>-Service`. */
export function stackNames(stage: string): { data: string; service: string } {
  return { data: `LlmApi-${stage}-Data`, service: `LlmApi-${stage}-Service` };
}

/**
 * Adds one stage's two stacks to `app` and registers cdk-nag's AWS Solutions checks on the whole
 * app: synth fails on any finding that is not acknowledged on its resource. Context values
 * (`-c domainName=… -c certificateArn=…`, optionally `-c hostedZoneId=… -c hostedZoneName=…`)
 * override the stage config.
 */
export function buildLlmApiApp(app: App, stage: unknown, options: BuildOptions = {}): LlmApiStacks {
  const context = {
    domainName: app.node.tryGetContext('domainName'),
    certificateArn: app.node.tryGetContext('certificateArn'),
    hostedZoneId: app.node.tryGetContext('hostedZoneId'),
    hostedZoneName: app.node.tryGetContext('hostedZoneName'),
  };
  const config = options.config ? validateStageConfig(withContext(options.config, context)) : getStageConfig(stage, context);
  const processEnv = options.processEnv ?? process.env;
  const env = {
    account: config.account ?? processEnv.CDK_DEFAULT_ACCOUNT,
    region: config.region ?? processEnv.CDK_DEFAULT_REGION ?? FALLBACK_REGION,
  };
  const names = stackNames(config.stage);
  const data = new LlmApiDataStack(app, names.data, {
    config,
    env,
    terminationProtection: config.terminationProtection,
    description: `llm-api (${config.stage}): network, database, cache, keys and secrets`,
  });
  const service = new LlmApiServiceStack(app, names.service, {
    config,
    data,
    env,
    terminationProtection: config.terminationProtection,
    description: `llm-api (${config.stage}): OpenAI-compatible LLM API gateway on ECS Fargate behind an ALB`,
    ...options.serviceProps,
  });
  // The data stack (and the database roles in it) is in place before the first task starts.
  service.addStackDependency(data, 'the service uses the network, database, cache and secrets');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { data, service };
}
