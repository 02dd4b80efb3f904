#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildLlmApiApp } from '../lib/app';

// `npx cdk synth -c stage=dev|staging|prod [-c domainName=… -c certificateArn=…]`; everything else
// comes from lib/config.ts. Prod refuses to synthesize without a domain and certificate.
const app = new App();
try {
  buildLlmApiApp(app, app.node.tryGetContext('stage'));
} catch (err) {
  console.error(`llm-api: ${(err as Error).message}`);
  process.exit(1);
}
