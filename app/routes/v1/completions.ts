import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { completionsCodec } from '../../surfaces/completions';
import { serveSurface } from './serve-surface';

/** Legacy completions: the pipeline with its codec. */
export const completionsRoute = fp<{ pipeline: Pipeline }>(
  async (app, { pipeline }) => serveSurface(app, pipeline, completionsCodec as never),
  { name: 'route-completions', fastify: '5.x', dependencies: ['client-auth'] },
);
