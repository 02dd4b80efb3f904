import type { StreamEvent } from '../providers/types';

/** One event as server-sent-event text: `event:` when named, every data line prefixed. */
export function frameEvent(e: StreamEvent): string {
  const data = e.data.includes('\n') ? e.data.split(/\r?\n/).join('\ndata: ') : e.data;
  return e.event === undefined ? `data: ${data}\n\n` : `event: ${e.event}\ndata: ${data}\n\n`;
}
