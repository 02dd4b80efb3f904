import type { ApiKeyRecord } from '../stores/types';

/**
 * A key may use a model when its own allow-list and its team's both allow it (null allows all):
 * the intersection, so a team narrows its keys and a key can only narrow further.
 */
export function modelAllowed(key: Pick<ApiKeyRecord, 'models' | 'team'>, model: string): boolean {
  return (key.models === null || key.models.includes(model)) && (!key.team?.models || key.team.models.includes(model));
}
