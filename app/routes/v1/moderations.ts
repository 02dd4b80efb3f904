import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { moderationsCodec } from '../../surfaces/moderations';
import { serveSurface } from './serve-surface';

/** Moderations: the pipeline with its codec. */
export const moderationsRoute = fp<{ pipeline: Pipeline }>(
  async (app, { pipeline }) => serveSurface(app, pipeline, moderationsCodec as never),
  { name: 'route-moderations', fastify: '5.x', dependencies: ['client-auth'] },
);
