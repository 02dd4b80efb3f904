import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../../errors';
import { usageQuery } from '../../schemas/requests';
import type { UsageSummary } from '../../stores/types';

export interface UsageReader {
  summary(q: { keyId?: string; since?: Date; until?: Date }): Promise<UsageSummary>;
}

export function adminUsageRoute(app: FastifyInstance, usage: UsageReader) {
  app.get('/admin/usage', async (request) => {
    const parsed = usageQuery.safeParse(request.query ?? {});
    if (!parsed.success) {
      const param = String(parsed.error.issues[0].path[0] ?? '');
      throw new InvalidRequestError(`Invalid value for '${param}': expected ${param === 'key_id' ? 'a key id (uuid)' : 'an ISO 8601 date'}.`, param);
    }
    const q = parsed.data;
    return usage.summary({
      keyId: q.key_id,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
    });
  });
}
