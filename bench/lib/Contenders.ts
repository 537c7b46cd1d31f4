// The servers a run compares, each started fresh, pinned, and checked to
// answer the run's request with the expected decision before it is measured.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CheckClient } from '../../test/support/checkClient.ts';
import { freePorts } from '../../test/support/envoy.ts';
import { startPinned, type Pinned } from './Pinned.ts';
import { RUNTIME, RUNTIME_BIN, type RuntimeName } from '../../test/support/runtime.ts';

export interface Tools {
  readonly root: string;
  readonly ghz: string;
  readonly opa: string;
  readonly envoy: string;
  readonly opaEnvoyPlugin: string;
}

export function tools(root: string): Tools {
  const bin = join(root, '.tools/bin');
  return { root, ghz: join(bin, 'ghz'), opa: join(bin, 'opa'), envoy: join(bin, 'envoy'), opaEnvoyPlugin: join(bin, 'opa-envoy-plugin') };
}

export interface Contender {
  readonly name: string;
  readonly port: number;
  readonly process: Pinned;
  /** ztauthz's /metrics port, for its hit ratio; undefined for the others. */
  readonly metricsPort?: number;
  /** TLS client material when the listener is mTLS. */
  readonly clientTls?: { cacert: string; cert: string; key: string; serverName: string };
}

export interface ZtauthzOptions {
  readonly cores: string;
  /** Config flags without dashes, e.g. { policy: 'bench/policies/drop-in' }. */
  readonly flags?: Record<string, string>;
  readonly configFile?: string;
  readonly clientTls?: Contender['clientTls'];
  /** The runtime, when not the chosen one (package.json config.runtime, ZTAUTHZ_RUNTIME). */
  readonly runtime?: RuntimeName;
}

/** How result rows name a runtime. */
export const RUNTIME_LABEL: Record<RuntimeName, string> = { bun: 'Bun', node: 'Node 24' };

export async function startZtauthz(t: Tools, name: string, o: ZtauthzOptions): Promise<Contender> {
  // The default configuration (decision log on stdout, drained by Pinned) unless a suite says otherwise:
  // targets are judged at the defaults users run.
  const flags = Object.entries({ 'policy-watch': 'false', ...o.flags }).map(([k, v]) => `--${k}=${v}`);
  const p = await startPinned({
    cores: o.cores,
    // Started as `npm start` starts it: scripts/runtime.sh picks the runtime (package.json config.runtime,
    // ZTAUTHZ_RUNTIME), its flags (Node's semi-space) and dist/ for Node; it execs, so the pid is the server's.
    // The harness stays on Node.
    command: 'bash',
    env: { ...process.env, ZTAUTHZ_RUNTIME: o.runtime ?? RUNTIME },
    args: [
      join(t.root, 'scripts/runtime.sh'),
      'src/cli.ts',
      'serve',
      ...(o.configFile ? ['--config', o.configFile] : []),
      '--grpc-addr',
      '127.0.0.1:0',
      '--http-addr',
      '127.0.0.1:0',
      ...flags,
    ],
    cwd: t.root,
    ready: /"msg":"serving","grpc":"[^"]*:(\d+)","http":"[^"]*:(\d+)"/,
  });
  return { name, port: Number(p.ready[0]), metricsPort: Number(p.ready[1]), process: p, ...(o.clientTls ? { clientTls: o.clientTls } : {}) };
}

/**
 * The transport's ceiling: grpc-js with ztauthz's own service definition
 * (raw request bytes in, encoded response bytes out) and the given server
 * options, answering a constant OK, so the gap to ztauthz is ztauthz's own
 * work. Prints "noop serving on PORT". bench/transport.ts's grpc-js rows (ztauthz served on grpc-js before src/server/h2).
 */
export const noopServerSource = (root: string, options: Record<string, unknown>): string => `
import * as grpc from '@grpc/grpc-js';
const { authorizationServiceDefinition } = await import(${JSON.stringify(join(root, 'src/server/AuthorizationService.ts'))});
const { encodeCheckResponse } = await import(${JSON.stringify(join(root, 'src/envoy/CheckResponse.ts'))});
const server = new grpc.Server(${JSON.stringify(options)});
const ok = Buffer.from(encodeCheckResponse({ status: {}, okResponse: {} }));
server.addService(authorizationServiceDefinition, { Check: (_call, done) => done(null, ok) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => console.error(err ? String(err) : 'noop serving on ' + port));
`;

/** The same no-op on ztauthz's node:http2 transport (src/server/h2), as GrpcListener builds it. */
export const noopH2ServerSource = (root: string): string => `
const { H2Transport } = await import(${JSON.stringify(join(root, 'src/server/h2/H2Transport.ts'))});
const { authorizationServiceDefinition } = await import(${JSON.stringify(join(root, 'src/server/AuthorizationService.ts'))});
const { encodeCheckResponse } = await import(${JSON.stringify(join(root, 'src/envoy/CheckResponse.ts'))});
const server = new H2Transport({ maxRecvBytes: 4 * 1024 * 1024, maxSendBytes: 4 * 1024 * 1024, maxConcurrentStreams: 100, maxConnectionAgeMs: 0, maxConnectionAgeGraceMs: 0 });
const ok = Buffer.from(encodeCheckResponse({ status: {}, okResponse: {} }));
server.addService(authorizationServiceDefinition, { Check: (_call, done) => done(null, ok) });
server.listen({ host: '127.0.0.1', port: 0 }).then((port) => console.error('noop serving on ' + port), (err) => console.error(String(err)));
`;

/**
 * The transport's ceiling in the suites: a no-op on the transport ztauthz
 * serves with (node:http2, src/server/h2) and on its runtime, so
 * that ztauthz minus the no-op is ztauthz's own work. The script goes to a
 * file: `bun -e` and `node -e` differ, a file runs the same on both.
 */
export async function startNoop(t: Tools, cores: string): Promise<Contender> {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-noop-'));
  const script = join(dir, 'noop.mjs');
  writeFileSync(script, noopH2ServerSource(t.root));
  const p = await startPinned({ cores, command: RUNTIME_BIN, args: [script], cwd: t.root, ready: /noop serving on (\d+)/ }).finally(() =>
    // The runtime has read the script by the time it serves (or failed).
    rmSync(dir, { recursive: true, force: true }),
  );
  return { name: 'no-op server (ztauthz transport)', port: Number(p.ready[0]), process: p };
}

export function opaEnvoyPluginAvailable(t: Tools): boolean {
  return existsSync(t.opaEnvoyPlugin);
}

/**
 * opa-envoy-plugin with the same Rego directory, one core (GOMAXPROCS=1), no
 * decision logs. Its ports are picked here (it cannot report OS-picked ones),
 * so a port another process took in between fails the start: it is tried
 * again with new ports, up to three times.
 */
export async function startOpaEnvoyPlugin(t: Tools, policyDir: string, cores: string, tmp: string): Promise<Contender> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOpaEnvoyPluginOnce(t, policyDir, cores, tmp);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`  (opa-envoy-plugin did not start, trying again: ${(err as Error).message.split('\n')[0]})`);
    }
  }
}

async function startOpaEnvoyPluginOnce(t: Tools, policyDir: string, cores: string, tmp: string): Promise<Contender> {
  const [port, http, diagnostic] = await freePorts(3);
  const config = join(tmp, 'opa-envoy.yaml');
  writeFileSync(
    config,
    ['plugins:', '  envoy_ext_authz_grpc:', `    addr: 127.0.0.1:${port}`, '    path: envoy/authz/allow', 'decision_logs:', '  console: false', ''].join('\n'),
  );
  const p = await startPinned({
    cores,
    command: t.opaEnvoyPlugin,
    args: [
      'run',
      '--server',
      '--addr',
      `127.0.0.1:${http}`,
      '--diagnostic-addr',
      `127.0.0.1:${diagnostic}`,
      '--log-level',
      'info',
      '--config-file',
      config,
      policyDir,
    ],
    cwd: t.root,
    env: { ...process.env, GOMAXPROCS: '1' },
    ready: /Starting gRPC server|"addr":"127\.0\.0\.1:\d+".*grpc|gRPC server/i,
  });
  try {
    await waitForPort(port!);
  } catch (err) {
    await p.stop();
    throw new Error(`${(err as Error).message}; opa-envoy-plugin said: ${p.output().slice(-1500)}`);
  }
  return { name: 'opa-envoy-plugin', port: port!, process: p };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const client = new CheckClient(port);
    try {
      await client.healthCheck().catch((err: grpc.ServiceError) => {
        // UNIMPLEMENTED still proves the gRPC server answers.
        if (err.code !== grpc.status.UNIMPLEMENTED) throw err;
      });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      client.close();
    }
  }
  throw new Error(`nothing answers gRPC on 127.0.0.1:${port}`);
}

/** Sends one request and says whether it was allowed (ghz cannot tell). */
export async function decide(c: Contender, request: unknown): Promise<'allow' | 'deny'> {
  const creds = c.clientTls
    ? grpc.credentials.createSsl(readFileSync(c.clientTls.cacert), readFileSync(c.clientTls.key), readFileSync(c.clientTls.cert))
    : grpc.credentials.createInsecure();
  const client = new CheckClient(c.port, creds, c.clientTls ? { 'grpc.ssl_target_name_override': c.clientTls.serverName } : {});
  try {
    const res = await client.check(request as object);
    return (res.status?.code ?? 0) === 0 ? 'allow' : 'deny';
  } finally {
    client.close();
  }
}

/** ztauthz's own cache counters, for the hit ratio of a run. */
export async function cacheCounts(c: Contender): Promise<{ hit: number; miss: number } | undefined> {
  if (c.metricsPort === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
  const get = (result: string): number => Number(new RegExp(`^ztauthz_decision_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: get('hit'), miss: get('miss') };
}

/** A ztauthz metric from /metrics, summed over its series (undefined when absent or not ztauthz). */
export async function metricSum(c: Contender, name: string): Promise<number | undefined> {
  if (c.metricsPort === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
  let sum: number | undefined;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}
