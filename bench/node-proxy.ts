/**
 * The floor for any Node.js gateway: node:http in, undici out, nothing in between (no auth,
 * limits, parsing or metrics). Run as its own process by the bench, on the proxy's CPU; prints its
 * URL. PORT and UPSTREAM (origin of the fake upstream) come from the environment.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstream = new Pool(process.env.UPSTREAM!, { connections: 1024, pipelining: 1 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    upstream
      .request({
        method: 'POST',
        path: req.url!,
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: Buffer.concat(chunks),
      })
      .then(async (up) => {
        const body = Buffer.from(await up.body.arrayBuffer());
        res.writeHead(up.statusCode, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${process.env.PORT}\n`);
});
