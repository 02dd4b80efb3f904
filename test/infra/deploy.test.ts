import { apiUrlFromOutputs, outputsFile } from '../../scripts/deploy';

describe('deploy script', () => {
  test('reads ApiUrl of the stage stack from the cdk outputs file', () => {
    const outputs = { 'LlmApi-dev': { ApiUrl: 'http://llm-api-dev.example', ClusterName: 'c' } };
    expect(apiUrlFromOutputs(outputs, 'dev')).toBe('http://llm-api-dev.example');
    expect(outputsFile('dev')).toBe('cdk.out/outputs-dev.json');
  });

  test('fails when the stage stack has no ApiUrl', () => {
    expect(() => apiUrlFromOutputs({ 'LlmApi-dev': {} }, 'prod')).toThrow(/no ApiUrl output for stack LlmApi-prod in cdk\.out\/outputs-prod\.json/);
  });
});
