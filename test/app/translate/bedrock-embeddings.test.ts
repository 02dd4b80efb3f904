import { cohereBody, embeddingFamily, embeddingTexts, embeddingsResponse, parseCohere, titanBody } from '../../../app/translate/bedrock-embeddings';
import { decodeEmbeddingBase64 } from '../../../app/upstream/mock-responses';

describe('bedrock embeddings translation', () => {
  it('recognises the families by model id', () => {
    expect(['amazon.titan-embed-text-v2:0', 'cohere.embed-multilingual-v3', 'us.amazon.nova-pro-v1:0'].map(embeddingFamily)).toEqual(['titan', 'cohere', undefined]);
  });

  it('Titan v2: dimensions limited to 256/512/1024, normalised vectors asked for', () => {
    expect(titanBody('x', { model: 'amazon.titan-embed-text-v2:0', input: 'x', dimensions: 512 })).toEqual({ inputText: 'x', dimensions: 512, normalize: true });
    expect(() => titanBody('x', { model: 'amazon.titan-embed-text-v2:0', input: 'x', dimensions: 300 })).toThrow(expect.objectContaining({ param: 'dimensions' }));
    expect(titanBody('x', { model: 'amazon.titan-embed-text-v1', input: 'x' })).toEqual({ inputText: 'x' });
    expect(() => titanBody('x', { model: 'amazon.titan-embed-text-v1', input: 'x', dimensions: 256 })).toThrow(expect.objectContaining({ param: 'dimensions' }));
  });

  it('Cohere: input_type defaults to search_document; dimensions only on v4', () => {
    expect(cohereBody(['a'], { model: 'cohere.embed-english-v3', input: 'a' })).toEqual({ texts: ['a'], input_type: 'search_document', embedding_types: ['float'] });
    expect(cohereBody(['a'], { model: 'cohere.embed-v4:0', input: 'a', dimensions: 256 })).toMatchObject({ output_dimension: 256 });
    expect(() => cohereBody(['a'], { model: 'cohere.embed-english-v3', input: 'a', dimensions: 256 })).toThrow(expect.objectContaining({ param: 'dimensions' }));
    expect(parseCohere({ embeddings: [[1, 2]] })).toEqual([[1, 2]]);
    expect(parseCohere({ embeddings: { float: [[3]] } })).toEqual([[3]]);
  });

  it('refuses token ids and empty input', () => {
    expect(() => embeddingTexts([1, 2])).toThrow(expect.objectContaining({ param: 'input' }));
    expect(() => embeddingTexts([])).toThrow(expect.objectContaining({ param: 'input' }));
  });

  it('base64 is float32 little-endian, as OpenAI encodes it', () => {
    const v = [Math.fround(0.25), Math.fround(-0.5)];
    const r = embeddingsResponse([v], 'm', 3, 'base64');
    expect(decodeEmbeddingBase64(r.data[0].embedding as string)).toEqual(v);
    expect(r.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});
