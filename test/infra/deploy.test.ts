import { apiUrlFromOutputs, outputsFile } from '../../scripts/deploy';

describe('deploy script', () => {
  test('reads ApiUrl of the stage service stack from the cdk outputs file', () => {
    const outputs = {
      'LlmApi-dev-Data': { AlarmTopicArn: 'arn' },
      'LlmApi-dev-Service': { ApiUrl: 'http://llm-api-dev.example', ClusterName: 'c' },
    };
    expect(apiUrlFromOutputs(outputs, 'dev')).toBe('http://llm-api-dev.example');
    expect(outputsFile('dev')).toBe('cdk.out/outputs-dev.json');
  });

  test('fails when the service stack has no ApiUrl', () => {
    expect(() => apiUrlFromOutputs({ 'LlmApi-prod-Data': {} }, 'prod')).toThrow(
      /no ApiUrl output for stack LlmApi-prod-Service in cdk\.out\/outputs-prod\.json/,
    );
  });
});
