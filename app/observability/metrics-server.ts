/**
 * The METRICS_PORT listener: `GET /metrics` and nothing else, apart from the public port. With
 * WORKERS > 1 the cluster primary serves it and sums what every worker holds at scrape time.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';

export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

/** One process: its own registry. */
export function registrySource(registry: Registry): MetricsSource {
  return { contentType: registry.contentType, metrics: () => registry.metrics() };
}

/**
 * The cluster primary: asks every worker for its registry and sums them (counters and histograms
 * add up; each default metric uses its own aggregator, e.g. the event loop lag is averaged).
 */
export function clusterSource(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
}

/** A worker: answer the primary's scrape requests with this registry. Call early, before booting. */
export function shareWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's listener for the primary's requests
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  port: number;
  host: string;
  source: MetricsSource;
  onError?: (err: unknown) => void;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: try GET /metrics\n');
      return;
    }
    opts.source.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': opts.source.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        opts.onError?.(err);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics are unavailable right now.\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
