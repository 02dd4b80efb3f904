/**
 * What the offline mock does with tools and structured output, so agent loops and SDK helpers run
 * offline: with function tools offered (and no tool result yet) it calls the first allowed one with
 * arguments shaped by its schema; with a JSON schema response format it answers a JSON instance.
 */
import { createHash } from 'node:crypto';

export interface MockToolCall {
  id: string;
  name: string;
  arguments: string;
}

type Schema = Record<string, unknown>;

/** A small value that satisfies common JSON schemas: required properties, types, enums, consts. */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  const s = (schema ?? {}) as Schema;
  if (depth > 8) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[key]) && (s[key] as unknown[]).length) return sampleFromSchema((s[key] as unknown[])[0], depth + 1);
  }
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : (s.type as string | undefined);
  switch (type ?? (s.properties ? 'object' : 'string')) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? (s.required as string[]) : Object.keys(props);
      return Object.fromEntries(required.map((k) => [k, sampleFromSchema(props[k], depth + 1)]));
    }
    case 'array':
      return s.minItems ? [sampleFromSchema(s.items, depth + 1)] : [];
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'mock';
  }
}

interface ToolDef {
  type?: string;
  function?: { name?: string; parameters?: unknown };
}

/** The tool call the mock makes for this chat request, if any. */
export function mockToolCall(body: { [key: string]: unknown }): MockToolCall | undefined {
  const tools = (Array.isArray(body.tools) ? body.tools : []) as ToolDef[];
  const functions = tools.filter((t) => t?.type === 'function' && typeof t.function?.name === 'string');
  if (!functions.length || body.tool_choice === 'none') return undefined;
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string }>) : [];
  if (messages.at(-1)?.role === 'tool') return undefined;
  const chosen = (body.tool_choice as { function?: { name?: string } } | undefined)?.function?.name;
  const tool = functions.find((t) => t.function!.name === chosen) ?? functions[0];
  const args = JSON.stringify(sampleFromSchema(tool.function!.parameters ?? { type: 'object' }));
  const id = `call_${createHash('sha256').update(JSON.stringify(messages)).digest('hex').slice(0, 24)}`;
  return { id, name: tool.function!.name!, arguments: args };
}

/** The JSON text answering a `response_format` that asks for JSON, if it does. */
export function mockStructuredAnswer(body: { [key: string]: unknown }): string | undefined {
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_schema') return JSON.stringify(sampleFromSchema(format.json_schema?.schema ?? { type: 'object' }));
  if (format?.type === 'json_object') return '{"answer":"mock"}';
  return undefined;
}
