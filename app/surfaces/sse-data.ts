/** Small readers shared by the codecs: they look into an event only when it can matter. */

export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function field(v: unknown, key: string): unknown {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
}

/** True when a JSON payload might hold a non-null `usage` object (cheap test before a parse). */
export function mayHoldUsage(data: string): boolean {
  return data.includes('"usage"') && !data.includes('"usage":null');
}

/** OpenAI's in-stream error: a `data:` payload of `{"error": …}`. */
export function isErrorPayload(data: string): boolean {
  return data.startsWith('{"error"');
}
