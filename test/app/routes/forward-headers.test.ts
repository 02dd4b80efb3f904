import { forwardHeaders, wantsNoCache } from '../../../app/routes/v1/forward-headers';

describe('wantsNoCache', () => {
  it('honours Cache-Control no-cache and no-store, in any case and position', () => {
    expect(wantsNoCache({ 'cache-control': 'no-cache' })).toBe(true);
    expect(wantsNoCache({ 'cache-control': 'max-age=0, No-Store' })).toBe(true);
    expect(wantsNoCache({ 'cache-control': ['public', 'no-cache'] as unknown as string })).toBe(true);
    expect(wantsNoCache({ 'cache-control': 'max-age=60' })).toBe(false);
    expect(wantsNoCache({})).toBe(false);
  });
});

describe('forwardHeaders', () => {
  const incoming = {
    authorization: 'Bearer sk-llm-caller',
    'x-api-key': 'sk-llm-caller',
    'openai-organization': 'org-x',
    'openai-project': 'proj-x',
    'idempotency-key': 'i-1',
    'openai-beta': 'assistants=v2',
    'x-client-request-id': 'c-1',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'tools-2024',
  };

  it('passes the OpenAI headers that may travel, never the key, organization or project', () => {
    expect(forwardHeaders(incoming, 'chat')).toEqual({ 'idempotency-key': 'i-1', 'openai-beta': 'assistants=v2', 'x-client-request-id': 'c-1' });
  });

  it("passes Anthropic's version headers on /v1/messages only", () => {
    expect(forwardHeaders(incoming, 'messages')).toEqual({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024' });
  });
});
