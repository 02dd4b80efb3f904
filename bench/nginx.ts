/**
 * The nginx baseline: a bare `proxy_pass` with a keep-alive upstream pool, one worker, run as a
 * foreground child with its whole configuration, pid and logs in a temporary directory.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NginxProxy {
  url: string;
  pid: number;
  close(): Promise<void>;
}

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

function which(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return CANDIDATES.find((p) => existsSync(p));
  }
}

/**
 * The nginx binary, installed from Debian's packages when missing and running as root; otherwise
 * undefined with the reason, so the bench can skip the baseline and say why.
 */
export function findOrInstallNginx(log: (line: string) => void): { path?: string; reason?: string } {
  const found = which();
  if (found) return { path: found };
  if (process.getuid?.() !== 0) {
    return { reason: 'nginx is not installed and the bench is not running as root (apt-get install -y nginx)' };
  }
  if (!existsSync('/usr/bin/apt-get')) return { reason: 'nginx is not installed and apt-get is not available' };
  log('nginx not found: installing it from the Debian packages (apt-get install -y nginx)');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'nginx'], { stdio: 'ignore', env });
  } catch (err) {
    return { reason: `apt-get install nginx failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const installed = which();
  return installed ? { path: installed } : { reason: 'nginx was installed but its binary was not found' };
}

export function nginxConfig(dir: string, listenPort: number, upstreamPort: number): string {
  return `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream model {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`nginx exited with ${child.exitCode}`));
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error('nginx did not start listening'));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts nginx in the foreground (`daemon off`), optionally wrapped (e.g. in `taskset`). */
export async function startNginx(
  binary: string,
  listenPort: number,
  upstreamPort: number,
  wrap: string[] = [],
): Promise<NginxProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'llmapi-bench-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, listenPort, upstreamPort));
  const argv = [...wrap, binary, '-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await waitForPort(listenPort, child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}: ${stderr}${log}`.trim());
  }
  return {
    url: `http://127.0.0.1:${listenPort}`,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT'); // graceful: the master stops its worker and exits
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
