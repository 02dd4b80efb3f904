/**
 * Everything server.ts needs for metrics, EMF and the access log, built from the configuration.
 * One process (WORKERS=1) serves METRICS_PORT itself; with WORKERS > 1 each worker shares its
 * registry with the primary, which serves METRICS_PORT (see serveClusterMetrics).
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { StoreEvents } from '../bootstrap';
import type { Config } from '../config';
import { throttled } from '../lib/throttled-log';
import { startEmfEmitter, withEmfFaults, type EmfEmitter } from './emf';
import { instrumentation } from './instrument';
import { createGatewayMetrics } from './metrics';
import {
  clusterSource,
  registrySource,
  shareWithPrimary,
  startMetricsServer,
  type MetricsServer,
} from './metrics-server';

type ObservabilityConfig = Pick<
  Config,
  'METRICS_PORT' | 'HOST' | 'EMF_ENABLED' | 'EMF_INTERVAL_SECONDS' | 'METRICS_NAMESPACE' | 'SERVICE_NAME'
>;

export interface Observability {
  /** For createServices: Redis fallbacks and dropped usage rows become counters. */
  storeEvents: StoreEvents;
  /** For buildApp's `instrument`. */
  instrument: (app: FastifyInstance) => void;
  watchUsageBuffer(recorder: { depth(): number }): void;
  /** One process: serve METRICS_PORT from here (a cluster worker never does). */
  serveMetrics(): Promise<void>;
  /** After the server has drained: writes the last EMF interval and closes METRICS_PORT. */
  close(): Promise<void>;
}

/**
 * EMF lines go through the logger's own destination, so they never interleave with a log line
 * half-written by the asynchronous destination, and are flushed with it at exit.
 */
function destinationWriter(logger: Logger): (line: string) => void {
  const stream = (logger as unknown as Record<symbol, { write(s: string): unknown } | undefined>)[pino.symbols.streamSym];
  return stream ? (line) => void stream.write(line) : (line) => void process.stdout.write(line);
}

export function createObservability(
  config: ObservabilityConfig,
  logger: Logger,
  opts: { clusterWorker: boolean; write?: (line: string) => void },
): Observability {
  const metrics = createGatewayMetrics();
  if (opts.clusterWorker) shareWithPrimary(metrics.registry);
  let emf: EmfEmitter | undefined;
  if (config.EMF_ENABLED) {
    emf = startEmfEmitter({
      namespace: config.METRICS_NAMESPACE,
      service: config.SERVICE_NAME,
      intervalSeconds: config.EMF_INTERVAL_SECONDS,
      write: opts.write ?? destinationWriter(logger),
      extra: { pid: process.pid },
    });
  }
  let server: MetricsServer | undefined;

  return {
    storeEvents: withEmfFaults(metrics.storeEvents, emf),
    instrument: instrumentation({ metrics, emf }),
    watchUsageBuffer: (recorder) => metrics.watchUsageBuffer(recorder),
    async serveMetrics() {
      if (opts.clusterWorker) return;
      server = await startMetricsServer({
        port: config.METRICS_PORT,
        host: config.HOST,
        source: registrySource(metrics.registry),
        onError: throttled(logger, 'metrics scrape failed'),
      });
      logger.info({ metricsPort: server.port }, 'prometheus metrics on GET /metrics');
    },
    async close() {
      emf?.close();
      await server?.close();
    },
  };
}

/** The cluster primary's METRICS_PORT: one scrape returns the sum over every worker. */
export async function serveClusterMetrics(config: ObservabilityConfig, logger: Logger): Promise<MetricsServer> {
  const server = await startMetricsServer({
    port: config.METRICS_PORT,
    host: config.HOST,
    source: clusterSource(),
    onError: throttled(logger, 'metrics scrape failed'),
  });
  logger.info({ metricsPort: server.port }, 'prometheus metrics on GET /metrics (summed over the workers)');
  return server;
}
