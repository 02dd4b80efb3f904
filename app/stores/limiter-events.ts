import type { BudgetThresholdEvent } from './types';

/**
 * The log line a budget crossing writes, the shape CloudWatch's metric filter matches (one pino
 * line: `event: "budget_threshold"`, scope, id, period, percent, spent_usd, budget_usd). Warn level:
 * someone should look, nothing failed.
 */
export function logBudgetThreshold(log: { warn(obj: object, msg: string): void }): (e: BudgetThresholdEvent) => void {
  return (e) =>
    log.warn(
      {
        event: 'budget_threshold',
        scope: e.scope,
        id: e.id,
        period: e.period,
        percent: e.percent,
        spent_usd: e.spent_usd,
        budget_usd: e.budget_usd,
      },
      `${e.scope} ${e.id} spent ${e.percent}% of its ${e.period === 'day' ? 'daily' : 'monthly'} budget`,
    );
}
