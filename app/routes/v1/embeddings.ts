import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { embeddingsCodec } from '../../surfaces/embeddings';
import { serveSurface } from './serve-surface';

/** Embeddings: the pipeline with its codec. */
export const embeddingsRoute = fp<{ pipeline: Pipeline }>(
  async (app, { pipeline }) => serveSurface(app, pipeline, embeddingsCodec as never),
  { name: 'route-embeddings', fastify: '5.x', dependencies: ['client-auth'] },
);
