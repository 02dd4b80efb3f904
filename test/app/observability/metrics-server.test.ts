import { Counter, Registry } from 'prom-client';
import { registrySource, startMetricsServer } from '../../../app/observability/metrics-server';

describe('startMetricsServer', () => {
  it('answers GET /metrics with Prometheus text and 404 for anything else', async () => {
    const registry = new Registry();
    new Counter({ name: 'demo_total', help: 'demo', registers: [registry] }).inc(3);
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', source: registrySource(registry) });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const res = await fetch(`${base}/metrics?x=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await res.text()).toContain('demo_total 3');
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('answers 500 and reports when the metrics cannot be read', async () => {
    const errors: unknown[] = [];
    const source = { contentType: 'text/plain', metrics: () => Promise.reject(new Error('worker timed out')) };
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', source, onError: (e) => errors.push(e) });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('worker timed out');
      expect(errors).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('fails to start, naming the port, when the port is taken', async () => {
    const first = await startMetricsServer({ port: 0, host: '127.0.0.1', source: registrySource(new Registry()) });
    try {
      await expect(
        startMetricsServer({ port: first.port, host: '127.0.0.1', source: registrySource(new Registry()) }),
      ).rejects.toThrow(new RegExp(`EADDRINUSE.*:${first.port}`));
    } finally {
      await first.close();
    }
  });
});
