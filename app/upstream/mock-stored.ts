/**
 * The offline mock's memory of stored responses, so clients that retrieve, list input items, cancel
 * or delete a response (the Agents SDK, `responses.retrieve`) work offline too. Bounded: the oldest
 * are forgotten first.
 */
import { randomBytes } from 'node:crypto';
import type { ResponseObject, ResponsesRequest } from '../translate/types';

const MAX_STORED = 1000;

interface Stored {
  response: ResponseObject;
  input: unknown[];
}

const stored = new Map<string, Stored>();

function inputItems(request: ResponsesRequest): unknown[] {
  const input = (request as { input?: unknown }).input;
  const items = typeof input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] }] : Array.isArray(input) ? input : [];
  return items.map((item) => {
    const i = item as Record<string, unknown>;
    const withType = i.type === undefined && i.role !== undefined ? { type: 'message', ...i } : i;
    const content = typeof withType.content === 'string' ? [{ type: 'input_text', text: withType.content }] : withType.content;
    return { id: `msg_${randomBytes(12).toString('hex')}`, status: 'completed', ...withType, ...(content ? { content } : {}) };
  });
}

export function remember(request: ResponsesRequest, response: ResponseObject): void {
  if ((request as { store?: unknown }).store === false) return;
  if (stored.size >= MAX_STORED) stored.delete(stored.keys().next().value as string);
  stored.set(response.id, { response, input: inputItems(request) });
}

export function recall(id: string): Stored | undefined {
  return stored.get(id);
}

export function forget(id: string): boolean {
  return stored.delete(id);
}
