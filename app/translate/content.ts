/** Small content helpers shared by the translators: text of mixed content, data URLs, JSON args. */
import { InvalidRequestError } from '../errors';
import type { ChatCompletion, ChatContentPart, ChatToolCall } from './types';

/** The text of chat content: a string, or its text parts joined. */
export function chatText(content: string | ChatContentPart[] | null | undefined): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => (p && (p.type === 'text' || p.type === 'input_text' || p.type === 'output_text') ? String(p.text ?? '') : ''))
    .join('');
}

/** The assistant message of a chat completion translated from another API: text parts joined, tool calls if any. */
export function assistantMessage(text: string[], calls: ChatToolCall[]): ChatCompletion['choices'][number]['message'] {
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text.length ? text.join('') : null,
    refusal: null,
    annotations: [],
  };
  if (calls.length) message.tool_calls = calls;
  return message;
}

export interface DataUrl {
  mediaType: string;
  base64: string;
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

/** `data:image/png;base64,…` → its parts; undefined for anything else (an http URL). */
export function parseDataUrl(url: string): DataUrl | undefined {
  const m = DATA_URL.exec(url);
  return m ? { mediaType: m[1].toLowerCase(), base64: m[2] } : undefined;
}

export function toDataUrl(mediaType: string, base64: string): string {
  return `data:${mediaType};base64,${base64}`;
}

/**
 * A tool call's `arguments` text → the object Anthropic and Bedrock want as `input`. Models
 * sometimes send an empty string for no arguments; anything else unparsable is the caller's error.
 */
export function parseToolArguments(text: string | undefined, param: string): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('Tool call arguments must be a JSON object.', param);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidRequestError('Tool call arguments must be a JSON object.', param);
  }
  return parsed as Record<string, unknown>;
}

/** Parses streamed or returned arguments without failing: a model's broken JSON is kept as text. */
export function toolInputFromArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return { _raw_arguments: text };
  }
}

/** A short random id suffix (ids only need to be unique, not secret). */
export function randomId(length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
