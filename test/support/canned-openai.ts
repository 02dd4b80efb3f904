/**
 * An OpenAI-compatible chat server that answers with a tool call whenever the request offers
 * tools (and plain text otherwise), streamed or not: the offline mock never calls tools, and the
 * translated Messages and Responses surfaces must be seen carrying them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../../app/translate/types';

export interface CannedOpenAI {
  url: string;
  requests: ChatRequest[];
  close(): Promise<void>;
}

const ARGS = '{"path":"README.md"}';

function completion(body: ChatRequest): ChatCompletion {
  const tool = body.tools?.[0]?.function.name;
  return {
    id: 'chatcmpl-canned',
    object: 'chat.completion',
    created: 1700000000,
    model: body.model,
    choices: [
      {
        index: 0,
        message: tool
          ? { role: 'assistant', content: 'Reading it.', refusal: null, tool_calls: [{ id: 'call_canned', type: 'function', function: { name: tool, arguments: ARGS } }] }
          : { role: 'assistant', content: 'Plain answer.', refusal: null },
        logprobs: null,
        finish_reason: tool ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 20 } },
  };
}

function chunks(body: ChatRequest): ChatChunk[] {
  const c = completion(body);
  const base = { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model: c.model };
  const choice = (delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null as null, finish_reason: finish }],
  });
  const msg = c.choices[0].message;
  const out: ChatChunk[] = [choice({ role: 'assistant', content: '' })];
  for (const word of (msg.content ?? '').split(/(?<= )/)) out.push(choice({ content: word }));
  for (const call of msg.tool_calls ?? []) {
    out.push(choice({ tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
    for (let i = 0; i < ARGS.length; i += 6) out.push(choice({ tool_calls: [{ index: 0, function: { arguments: ARGS.slice(i, i + 6) } }] }));
  }
  out.push(choice({}, c.choices[0].finish_reason));
  out.push({ ...base, choices: [], usage: c.usage });
  return out;
}

export async function startCannedOpenAI(): Promise<CannedOpenAI> {
  const requests: ChatRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as ChatRequest;
      requests.push(body);
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion(body)));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(chunks(body).map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
