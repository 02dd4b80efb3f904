import { modelAllowed } from '../../../app/services/model-access';
import { keyRecord } from '../../support/fixtures';

const team = (models: string[] | null) => ({
  id: 't',
  name: 't',
  rpm: null,
  tpm: null,
  monthlyBudgetUsd: null,
  dailyBudgetUsd: null,
  models,
  createdAt: new Date(),
});

describe('modelAllowed: the intersection of the key and team allow-lists', () => {
  it.each([
    [null, null, 'gpt-4o', true],
    [['gpt-4o'], null, 'gpt-4o', true],
    [['gpt-4o'], null, 'o3', false],
    [null, ['o3'], 'o3', true],
    [null, ['o3'], 'gpt-4o', false],
    [['gpt-4o', 'o3'], ['o3'], 'o3', true],
    [['gpt-4o', 'o3'], ['o3'], 'gpt-4o', false],
    [['gpt-4o'], ['o3'], 'o3', false],
  ])('key %p, team %p, model %s → %p', (keyModels, teamModels, model, allowed) => {
    expect(modelAllowed(keyRecord({ models: keyModels, team: team(teamModels) }), model)).toBe(allowed);
  });

  it('a key without a team answers by its own list', () => {
    expect(modelAllowed(keyRecord({ models: ['a'] }), 'a')).toBe(true);
    expect(modelAllowed(keyRecord({ models: ['a'] }), 'b')).toBe(false);
  });
});
