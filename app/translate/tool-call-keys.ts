/**
 * Which tool call a streamed chat delta belongs to. OpenAI numbers them (`index`); some
 * compatible servers leave the index out and send each call whole with its own id, so the id
 * (or, for a bare continuation, the call before) decides.
 */
import type { ChatToolCallDelta } from './types';

/** Keys for calls without an index, far above any index a server sends. */
const UNINDEXED_BASE = 1_000_000;

export class ToolCallKeys {
  private readonly byId = new Map<string, number>();
  private last: number | undefined;

  keyOf(call: Partial<ChatToolCallDelta>): number {
    if (typeof call.index === 'number') return (this.last = call.index);
    if (call.id) {
      let key = this.byId.get(call.id);
      if (key === undefined) {
        key = UNINDEXED_BASE + this.byId.size;
        this.byId.set(call.id, key);
      }
      return (this.last = key);
    }
    return this.last ?? 0;
  }
}
