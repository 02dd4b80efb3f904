/**
 * Server-sent events as OpenAI frames them, for the offline mock and the test fake: `data: {json}\n\n`,
 * `data: [DONE]\n\n` last. (The gateway reads providers' streams with providers/sse-events.ts and
 * writes its own with pipeline/sse-frame.ts.)
 */
export const DONE_EVENT = 'data: [DONE]\n\n';

export function frameEvent(data: string): string {
  return `data: ${data}\n\n`;
}
