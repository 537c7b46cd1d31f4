// A real SPIRE deployment for the end-to-end identity test: spire-server and
// spire-agent v1.15.3 (built by scripts/spire.sh into .tools/bin) in a temporary
// folder, the server on a free 127.0.0.1 port with a SQLite datastore, the agent
// attested with a join token and serving the Workload API on a unix socket with
// the unix workload attestor (uid, gid and the binary's path as selectors).
// Everything it starts is stopped by stop(); every wait is bounded.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './servers.ts';

const BIN = join(ROOT, '.tools', 'bin');
export const SPIRE_SERVER = join(BIN, 'spire-server');
export const SPIRE_AGENT = join(BIN, 'spire-agent');

/** The node alias every workload entry hangs off (the join token's agent is given this ID). */
const NODE_SUFFIX = '/node/test-agent';

export interface SpireOptions {
  trustDomain: string;
  /** The server's default_x509_svid_ttl, e.g. "30s": the agent rotates an SVID after about half of it. */
  x509SvidTtl: string;
}

export interface Spire {
  readonly dir: string;
  readonly trustDomain: string;
  /** The agent's Workload API, as SPIFFE_ENDPOINT_SOCKET spells it. */
  readonly endpoint: string;
  /** Registers a workload under the agent: `selectors` like ['unix:uid:0', 'unix:path:/usr/bin/x']. */
  createEntry(spiffeId: string, selectors: string[]): Promise<void>;
  /**
   * Runs `spire-agent api fetch x509 -write dir` with the agent binary at `agentBinary`
   * (its path is the caller's unix:path selector), retrying while the agent has no
   * identity for it yet, up to `limitMs` (default 30 s). Resolves with the last attempt's output.
   */
  fetchX509(dir: string, options?: { agentBinary?: string; limitMs?: number }): Promise<FetchResult>;
  /** The server's and the agent's logs so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

export interface FetchResult {
  ok: boolean;
  output: string;
}

export function requireSpire(): void {
  for (const bin of [SPIRE_SERVER, SPIRE_AGENT]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/spire.sh\` (npm test does)`);
  }
}

/** A free port on 127.0.0.1 (the server needs one before it starts: the agent's config names it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Run {
  code: number | null;
  output: string;
}

function run(bin: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

async function runOk(bin: string, args: string[]): Promise<string> {
  const r = await run(bin, args);
  if (r.code !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.code}): ${r.output}`);
  return r.output;
}

async function retry(what: string, limitMs: number, attempt: () => Promise<Run>, logs: () => string): Promise<Run> {
  const end = Date.now() + limitMs;
  for (;;) {
    const r = await attempt();
    if (r.code === 0) return r;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}: ${r.output}\n${logs()}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

class Daemon {
  private out = '';
  readonly name: string;
  readonly child: ChildProcess;

  constructor(name: string, bin: string, args: string[]) {
    this.name = name;
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Keep the tail only: a long run must not grow the test's memory without bound.
    const keep = (d: Buffer): void => {
      this.out = (this.out + d.toString()).slice(-64 * 1024);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
  }

  log(): string {
    return `--- ${this.name} ---\n${this.out}`;
  }

  exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void> {
    if (this.exited()) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      this.child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
  }
}

export async function startSpire(options: SpireOptions): Promise<Spire> {
  requireSpire();
  const td = options.trustDomain;
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-spire-'));
  const serverSocket = join(dir, 'server.sock');
  const agentSocket = join(dir, 'agent.sock');
  const daemons: Daemon[] = [];
  const logs = (): string => daemons.map((d) => d.log()).join('\n');
  const stop = async (): Promise<void> => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const sub of ['server-data', 'agent-data']) mkdirSync(join(dir, sub));
    const port = await freePort();
    const serverConf = join(dir, 'server.conf');
    writeFileSync(
      serverConf,
      `server {
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  socket_path = "${serverSocket}"
  trust_domain = "${td}"
  data_dir = "${join(dir, 'server-data')}"
  log_level = "INFO"
  default_x509_svid_ttl = "${options.x509SvidTtl}"
  # The agent's own SVID is not what the test rotates: keep it stable.
  agent_ttl = "1h"
  ca_ttl = "24h"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "${join(dir, 'server-data', 'datastore.sqlite3')}"
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
}
`,
    );
    const server = new Daemon('spire-server', SPIRE_SERVER, ['run', '-config', serverConf]);
    daemons.push(server);
    await retry('spire-server to be healthy', 30_000, () => run(SPIRE_SERVER, ['healthcheck', '-socketPath', serverSocket]), logs);

    // The agent trusts the server through the bundle read from it here, not insecure_bootstrap.
    const bundle = join(dir, 'bootstrap-bundle.pem');
    writeFileSync(bundle, await runOk(SPIRE_SERVER, ['bundle', 'show', '-socketPath', serverSocket]));
    const tokenOut = await runOk(SPIRE_SERVER, ['token', 'generate', '-socketPath', serverSocket, '-spiffeID', `spiffe://${td}${NODE_SUFFIX}`]);
    const token = /Token:\s*(\S+)/.exec(tokenOut)?.[1];
    if (!token) throw new Error(`spire-server token generate printed no token: ${tokenOut}`);

    const agentConf = join(dir, 'agent.conf');
    writeFileSync(
      agentConf,
      `agent {
  data_dir = "${join(dir, 'agent-data')}"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "${port}"
  socket_path = "${agentSocket}"
  trust_bundle_path = "${bundle}"
  trust_domain = "${td}"
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    # unix:path selectors: which binary the calling process runs.
    plugin_data {
      discover_workload_path = true
    }
  }
}
`,
    );
    const agent = new Daemon('spire-agent', SPIRE_AGENT, ['run', '-config', agentConf, '-joinToken', token]);
    daemons.push(agent);
    await retry('spire-agent to be healthy', 30_000, () => run(SPIRE_AGENT, ['healthcheck', '-socketPath', agentSocket]), logs);
  } catch (err) {
    const message = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(message);
  }

  return {
    dir,
    trustDomain: td,
    endpoint: `unix://${agentSocket}`,
    async createEntry(spiffeId, selectors) {
      await runOk(SPIRE_SERVER, [
        'entry',
        'create',
        '-socketPath',
        serverSocket,
        '-parentID',
        `spiffe://${td}${NODE_SUFFIX}`,
        '-spiffeID',
        spiffeId,
        ...selectors.flatMap((s) => ['-selector', s]),
      ]);
    },
    async fetchX509(out, opts = {}) {
      mkdirSync(out, { recursive: true });
      const bin = opts.agentBinary ?? SPIRE_AGENT;
      const args = ['api', 'fetch', 'x509', '-socketPath', agentSocket, '-write', out, '-timeout', '5s'];
      const end = Date.now() + (opts.limitMs ?? 30_000);
      for (;;) {
        const r = await run(bin, args);
        if (r.code === 0) return { ok: true, output: r.output };
        // The agent answers PERMISSION_DENIED until it has synced an entry for the caller.
        if (Date.now() > end) return { ok: false, output: r.output };
        await new Promise((res) => setTimeout(res, 250));
      }
    },
    logs,
    stop,
  };
}
