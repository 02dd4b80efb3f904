import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { chatCodec } from '../../surfaces/chat';
import { serveSurface } from './serve-surface';

/** Chat completions: the pipeline with its codec. */
export const chatRoute = fp<{ pipeline: Pipeline }>(
  async (app, { pipeline }) => serveSurface(app, pipeline, chatCodec as never),
  { name: 'route-chat-completions', fastify: '5.x', dependencies: ['client-auth'] },
);
