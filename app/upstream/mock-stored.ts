/**
 * The offline mock's memory of stored responses and chat completions (`store: true`), so clients
 * that retrieve, list input items or messages, update, cancel or delete them (the Agents SDK,
 * `responses.retrieve`, `chat.completions.retrieve`) work offline too. Bounded: the oldest are
 * forgotten first.
 */
import { randomBytes } from 'node:crypto';
import type { ResponseObject, ResponsesRequest } from '../translate/types';

const MAX_STORED = 1000;

interface Stored {
  response: ResponseObject;
  input: unknown[];
}

const stored = new Map<string, Stored>();

interface StoredChat {
  completion: { id: string; metadata?: unknown } & Record<string, unknown>;
  /** The request's messages, as `chat.completions.messages.list` returns them. */
  messages: unknown[];
}

const storedChats = new Map<string, StoredChat>();

function bounded<V>(map: Map<string, V>, id: string, value: V): void {
  if (map.size >= MAX_STORED) map.delete(map.keys().next().value as string);
  map.set(id, value);
}

export function rememberChat(messages: unknown[], completion: StoredChat['completion']): void {
  const listed = messages.map((m, i) => {
    const { content, ...rest } = m as { content?: unknown } & Record<string, unknown>;
    return {
      ...rest,
      id: `${completion.id}-${i}`,
      content: typeof content === 'string' ? content : null,
      refusal: null,
      content_parts: Array.isArray(content) ? content : null,
    };
  });
  bounded(storedChats, completion.id, { completion, messages: listed });
}

export function recallChat(id: string): StoredChat | undefined {
  return storedChats.get(id);
}

export function forgetChat(id: string): boolean {
  return storedChats.delete(id);
}

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
  bounded(stored, response.id, { response, input: inputItems(request) });
}

export function recall(id: string): Stored | undefined {
  return stored.get(id);
}

export function forget(id: string): boolean {
  return stored.delete(id);
}
