// Runs the real Envoy binary (.tools/bin/envoy, installed by scripts/toolchain.sh)
// for end-to-end tests, from a bootstrap with ${NAME} placeholders such as
// deploy/envoy/ext-authz.yaml.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './servers.ts';

export const ENVOY = join(ROOT, '.tools/bin/envoy');

export type ConfigVars = Readonly<Record<string, string | number>>;

/**
 * The file with every `${NAME}` replaced by vars[NAME]. A placeholder without
 * a value is an error (Envoy would otherwise fail later with a less clear message).
 */
export async function renderEnvoyConfig(file: string, vars: ConfigVars): Promise<string> {
  const text = await readFile(file, 'utf8');
  const missing = new Set<string>();
  const rendered = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    return String(value);
  });
  if (missing.size > 0) throw new Error(`${file}: no value for ${[...missing].map((n) => `\${${n}}`).join(', ')}`);
  return rendered;
}

/**
 * `count` distinct loopback ports that were free a moment ago: each bound to
 * port 0 (all at once, so they differ), read, then closed. Racy by nature:
 * between the close and Envoy's bind another process may take one, so
 * startEnvoy retries with new ports when Envoy fails to bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

export interface EnvoyOptions {
  /** Bootstrap with placeholders, e.g. deploy/envoy/ext-authz.yaml. */
  readonly configFile: string;
  /** Placeholder values. LISTEN_PORT and ADMIN_PORT are picked (free loopback ports) when absent. */
  readonly vars: ConfigVars;
  /** Log level of Envoy's own log (stderr). */
  readonly logLevel?: string;
  readonly timeoutMs?: number;
}

export interface RunningEnvoy {
  readonly listenPort: number;
  readonly adminPort: number;
  /** Envoy's stdout (the access log) and stderr (its own log), interleaved as they arrived. */
  logs(): string;
  /** stdout only: with deploy/envoy/ext-authz.yaml, one JSON access-log line per request. */
  stdout(): string;
  /** Counters and gauges from the admin /stats whose names match the regex `filter`. */
  stats(filter: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const BIND_RETRIES = 3;

/**
 * Renders the config into a fresh temp dir, starts Envoy on it and resolves
 * once the admin /ready says LIVE and the listener accepts connections. When
 * it picked the ports itself and Envoy could not bind one (the freePorts
 * race), it starts again with new ports, up to BIND_RETRIES times.
 */
export async function startEnvoy(opts: EnvoyOptions): Promise<RunningEnvoy> {
  if (!existsSync(ENVOY)) throw new Error(`${ENVOY} is missing: run scripts/toolchain.sh`);
  const portsGiven = opts.vars['LISTEN_PORT'] !== undefined && opts.vars['ADMIN_PORT'] !== undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!(err instanceof BindError) || portsGiven || attempt >= BIND_RETRIES) throw err;
    }
  }
}

class BindError extends Error {}

async function startOnce(opts: EnvoyOptions): Promise<RunningEnvoy> {
  const vars: Record<string, string | number> = { ...opts.vars };
  const [listen, admin] = await freePorts(2);
  vars['LISTEN_PORT'] ??= listen!;
  vars['ADMIN_PORT'] ??= admin!;
  const listenPort = Number(vars['LISTEN_PORT']);
  const adminPort = Number(vars['ADMIN_PORT']);

  const dir = await mkdtemp(join(tmpdir(), 'ztauthz-envoy-'));
  const configPath = join(dir, 'envoy.yaml');
  await writeFile(configPath, await renderEnvoyConfig(opts.configFile, vars));

  // --disable-hot-restart: no shared memory segment and no hot-restart domain
  // socket, which are keyed by --base-id; without it two Envoys on one host
  // (parallel test files) collide unless each gets its own base id.
  // --concurrency 1: one worker thread is plenty for a test and the machine
  // running the tests may have only two cores.
  const child = spawn(
    ENVOY,
    ['-c', configPath, '--disable-hot-restart', '--concurrency', '1', '--file-flush-interval-msec', '50', '--log-level', opts.logLevel ?? 'warn'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let all = '';
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (all += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    await waitReady(adminPort, listenPort, running, opts.timeoutMs ?? 30_000, () => all);
  } catch (err) {
    await stop();
    if (/Address already in use|cannot bind/i.test(all)) throw new BindError(`envoy could not bind: ${all}`);
    throw err;
  }

  return {
    listenPort,
    adminPort,
    logs: () => all,
    stdout: () => out,
    stats: (filter) => readStats(adminPort, filter),
    stop,
  };
}

/** Until the admin /ready answers LIVE and the listener accepts a connection. */
async function waitReady(adminPort: number, listenPort: number, running: () => boolean, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running()) throw new Error(`envoy exited during start:\n${logs()}`);
    if (Date.now() > deadline) throw new Error(`envoy was not ready in ${timeoutMs} ms:\n${logs()}`);
    if ((await adminReady(adminPort)) && (await accepts(listenPort))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function adminReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 && (await res.text()).trim() === 'LIVE';
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function readStats(adminPort: number, filter: string): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats?filter=${encodeURIComponent(filter)}`);
  const stats: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([^:]+): (\d+)$/.exec(line);
    if (m) stats[m[1] as string] = Number(m[2]);
  }
  return stats;
}
