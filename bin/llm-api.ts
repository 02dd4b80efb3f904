#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildLlmApiApp } from '../lib/app';

// `npx cdk synth -c stage=dev|staging|prod`; everything else comes from lib/config.ts.
const app = new App();
try {
  buildLlmApiApp(app, app.node.tryGetContext('stage'));
} catch (err) {
  console.error(`llm-api: ${(err as Error).message}`);
  process.exit(1);
}
