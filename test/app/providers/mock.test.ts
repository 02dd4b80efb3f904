import { createMockProvider } from '../../../app/providers/mock';
import { expectSchema } from '../../support/openapi';
import { eventsOf, jsonOf, payloads, providerRequest } from '../../support/provider-request';
import { expectResponseEvent } from '../../support/responses-events';

describe('mock provider', () => {
  const provider = createMockProvider();
  afterAll(() => provider.close());

  it('is a mock that serves every surface offline', async () => {
    expect(provider.type).toBe('mock');
    await expect(provider.probe()).resolves.toBeUndefined();
    const chat = { model: 'any', messages: [{ role: 'user', content: 'hi' }] };
    expectSchema('CreateChatCompletionResponse', jsonOf(await provider.send(providerRequest('chat', chat))));
    expectSchema('CreateEmbeddingResponse', jsonOf(await provider.send(providerRequest('embeddings', { model: 'e', input: 'x' }))));
    expectSchema('CreateCompletionResponse', jsonOf(await provider.send(providerRequest('completions', { model: 'c', prompt: 'x' }))));
    expectSchema('CreateModerationResponse', jsonOf(await provider.send(providerRequest('moderations', { input: 'x' }))));
    expectSchema('Response', jsonOf(await provider.send(providerRequest('responses', { model: 'r', input: 'x', store: true }))));
    payloads(await eventsOf(await provider.send(providerRequest('responses', { model: 'r', input: 'x', stream: true })))).forEach(expectResponseEvent);
    const msg = jsonOf(await provider.send(providerRequest('messages', { model: 'claude', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })));
    expect(msg).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'This is a mock answer to: hi' }] });
  });

  it('can be closed before it was ever used', async () => {
    await expect(createMockProvider().close()).resolves.toBeUndefined();
  });
});
