/**
 * The image and the local stack: app/Dockerfile, .dockerignore and docker-compose.yml follow the
 * container contract the ECS task definition uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMAGE_CONTEXT } from '../../lib/stacks/service-stack';

const root = path.join(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const instructions = (dockerfile: string) =>
  dockerfile
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/**
 * Names the ECS task gets (plain and secret), minus the AWS-only switches (IAM database auth,
 * AWS_REGION, MODELS_CONFIG); locally the database user has a password instead.
 */
const CONTRACT = [
  'PORT', 'HOST', 'METRICS_PORT', 'LOG_LEVEL', 'WORKERS', 'SHUTDOWN_GRACE_MS',
  'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ADMIN_API_KEY',
  'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE',
  'REDIS_URL', 'REDIS_PASSWORD', 'DATA_DIR', 'EMF_ENABLED', 'METRICS_NAMESPACE', 'SERVICE_NAME',
];

describe('app/Dockerfile', () => {
  const lines = instructions(read('app/Dockerfile'));

  const stages = () => {
    const starts = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0);
    return starts.map((start, k) => lines.slice(start, starts[k + 1]));
  };

  test('two stages on the same pinned Node LTS slim image: build on the build platform, run on the target', () => {
    const from = lines.filter((l) => l.startsWith('FROM '));
    expect(from).toHaveLength(2);
    expect(from[0]).toMatch(/^FROM --platform=\$BUILDPLATFORM node:(22|24)\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})? AS build$/);
    expect(from[1]).toMatch(/^FROM node:(22|24)\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    expect(from[1].split(' ')[1]).toBe(from[0].split(' ')[2]);
  });

  test('the build stage installs from the lockfile and runs the bundler', () => {
    const build = stages()[0].join('\n');
    expect(build).toMatch(/COPY package\.json package-lock\.json/);
    expect(build).toMatch(/RUN (--mount=\S+ )?npm ci --ignore-scripts/);
    expect(build).toMatch(/RUN node scripts\/build\.mjs/);
  });

  test('the runtime stage copies only the esbuild bundle and its tokenizer, and no RUN step (no emulation for arm64)', () => {
    const runtime = stages()[1];
    const copies = runtime.filter((l) => /^(COPY|ADD) /.test(l) && !l.includes('https://'));
    // server.js requires ./tokenizer.js on first need (scripts/build.mjs): both, side by side.
    expect(copies).toEqual([expect.stringMatching(/^COPY --from=build (--chown=\S+ )?\/src\/dist\/server\.js \/src\/dist\/tokenizer\.js dist\/$/)]);
    expect(runtime.filter((l) => l.startsWith('RUN '))).toEqual([]);
  });

  test('trusts the RDS certificate authorities for PGSSLMODE=verify-full', () => {
    const add = lines.find((l) => l.startsWith('ADD ') && l.includes('https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem'));
    expect(add).toBeDefined();
    const target = add!.split(' ').pop();
    expect(lines.join('\n')).toContain(`NODE_EXTRA_CA_CERTS=${target}`);
  });

  test('runs as a non-root user', () => {
    const users = lines.filter((l) => l.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^USER (root|0)(:|$)/);
  });

  test('health check fetches /health with node', () => {
    const healthcheck = lines.find((l) => l.startsWith('HEALTHCHECK '));
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*http:\/\/127\.0\.0\.1:8000\/health/);
  });

  test('starts node dist/server.js', () => {
    expect(lines[lines.length - 1]).toBe('CMD ["node", "dist/server.js"]');
  });
});

describe('.dockerignore', () => {
  test('is an allow-list: everything out except the sources, the lockfile and the bundler script', () => {
    expect(instructions(read('.dockerignore'))).toEqual(['*', ...IMAGE_CONTEXT.map((p) => `!${p}`)]);
  });
});

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');

  test('app from app/Dockerfile, PostgreSQL 16 and Valkey', () => {
    expect(compose).toMatch(/app:\n\s+build:\n\s+context: \.\n\s+dockerfile: app\/Dockerfile/);
    expect(compose).toMatch(/image: postgres:16\b/);
    expect(compose).toMatch(/image: valkey\/valkey:\d/);
  });

  test.each(CONTRACT)('passes %s like the ECS task does', (name) => {
    expect(compose).toMatch(new RegExp(`\\n      ${name}:`));
  });

  test('same read-only root and writable /tmp as the task', () => {
    expect(compose).toMatch(/read_only: true\n\s+tmpfs:\n\s+- \/tmp/);
  });
});
