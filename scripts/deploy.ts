/**
 * `npm run deploy -- STAGE [-c name=value …]`: run the test suite, deploy the stage's two stacks
 * with CDK (extra arguments, e.g. prod's `-c domainName=… -c certificateArn=…`, go to `cdk deploy`),
 * then smoke-check the load balancer URL from the stack outputs. Exits non-zero as soon as a step
 * fails.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stackNames } from '../lib/app';
import { STAGE_NAMES, isStageName } from '../lib/config';
import { smokeCheck } from './smoke-check';

/** `cdk deploy --outputs-file` content: stack name -> output name -> value. */
export type StackOutputs = Record<string, Record<string, string>>;

export function outputsFile(stage: string): string {
  return `cdk.out/outputs-${stage}.json`;
}

/** The `ApiUrl` output of the stage's service stack. */
export function apiUrlFromOutputs(outputs: StackOutputs, stage: string): string {
  const stackName = stackNames(stage).service;
  const url = outputs[stackName]?.ApiUrl;
  if (!url) {
    throw new Error(`no ApiUrl output for stack ${stackName} in ${outputsFile(stage)}; was the stack deployed?`);
  }
  return url;
}

function run(command: string, args: string[]): void {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', shell: false });
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args[0]} failed with exit code ${result.status ?? result.signal}`);
}

async function main(argv: string[]): Promise<void> {
  const [stage, ...cdkArgs] = argv;
  if (!isStageName(stage)) {
    throw new Error(
      `usage: npm run deploy -- STAGE [-c domainName=… -c certificateArn=…]   (STAGE one of ${STAGE_NAMES.join(', ')}; got ${stage ?? 'nothing'})`,
    );
  }

  run('npm', ['test']);
  run('npx', [
    'cdk',
    'deploy',
    '--all',
    '-c',
    `stage=${stage}`,
    '--require-approval',
    'never',
    '--outputs-file',
    outputsFile(stage),
    ...cdkArgs,
  ]);

  const outputs = JSON.parse(readFileSync(outputsFile(stage), 'utf8')) as StackOutputs;
  const baseUrl = apiUrlFromOutputs(outputs, stage);
  console.log(`\nsmoke check of ${baseUrl}`);
  try {
    const result = await smokeCheck({ baseUrl, timeoutMs: 10 * 60_000, intervalMs: 10_000, log: (l) => console.log(l) });
    console.log(`deployed ${stage}: ${baseUrl} is healthy and ready (${Math.round(result.elapsedMs / 1000)} s)`);
  } catch (err) {
    const data = outputs[stackNames(stage).data] ?? {};
    const secrets = Object.entries(data).filter(([name]) => name.startsWith('ProviderKeySecret')).map(([, value]) => value);
    console.error(
      [
        (err as Error).message,
        'On a first deploy /ready fails until the provider keys are set (each new value redeploys the service):',
        ...(secrets.length ? secrets : [`llm-api/${stage}/openai-api-key`]).map(
          (secret) => `  aws secretsmanager put-secret-value --secret-id ${secret} --secret-string "<the provider's key>"`,
        ),
        `  npx tsx scripts/smoke-check.ts ${baseUrl}`,
      ].join('\n'),
    );
    throw new Error('smoke check failed');
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`deploy: ${err.message}`);
    process.exit(1);
  });
}
