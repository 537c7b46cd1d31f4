// The differential suite's machinery: lays a set of cases out as one policy
// directory, starts the real opa-envoy-plugin and ztauthz on it (ztauthz with
// `compat: opa-envoy` and no other setting that changes answers), sends each
// case's requests to both over real gRPC and reduces each answer to a
// comparable form.
//
// One directory serves many cases: case `foo` is the package `cases.foo`
// (its Rego says `package PKG` and reads its data as `data.PKG.…`), and a
// generated dispatcher at the decision path envoy/authz/allow hands each
// request to the case whose id is in attributes.request.http.id (Envoy's
// stream id, which no case reads):
//
//   allow := data.cases.foo.allow if input.attributes.request.http.id == "foo"
//
// Both servers therefore evaluate exactly the case's rule (its value, its
// undefinedness, its errors) through one static reference.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { stringify as toYaml } from 'yaml';
import { CheckClient, type CheckResult } from '../support/checkClient.ts';
import { freePorts } from '../support/envoy.ts';
import { spawnServe, ROOT, type ServeProcess } from '../support/servers.ts';
import type { DropInCase, ServerConfig } from './cases/types.ts';

export const OPA_ENVOY_PLUGIN = join(ROOT, '.tools/bin/opa-envoy-plugin');
export const DECISION_PATH = 'envoy/authz/allow';

/** Writes the cases as one policy directory (a dispatcher, one package per case, one data.json). */
export function writePolicyDir(dir: string, cases: readonly DropInCase[]): void {
  mkdirSync(join(dir, 'cases'), { recursive: true });
  const data: Record<string, unknown> = {};
  const dispatch = ['package envoy.authz', ''];
  for (const c of cases) {
    if (!/^[a-z][a-z0-9_]*$/.test(c.id)) throw new Error(`case id ${c.id} is not a Rego identifier`);
    const pkg = `cases.${c.id}`;
    const rego = c.rego.replace(/\bPKG\b/g, pkg);
    if (!rego.includes(`package ${pkg}`)) throw new Error(`case ${c.id}: its Rego must start with "package PKG"`);
    writeFileSync(join(dir, 'cases', `${c.id}.rego`), rego);
    if (c.data !== undefined) data[c.id] = c.data;
    dispatch.push(`allow := data.${pkg}.${c.decision ?? 'allow'} if input.attributes.request.http.id == ${JSON.stringify(c.id)}`);
  }
  writeFileSync(join(dir, 'dispatch.rego'), `${dispatch.join('\n')}\n`);
  if (Object.keys(data).length > 0) writeFileSync(join(dir, 'data.json'), JSON.stringify({ cases: data }));
}

export interface Peer {
  readonly name: string;
  readonly port: number;
  /** ztauthz only: decision-cache hits so far, from its /metrics. */
  cacheHits?(): Promise<number>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The real opa-envoy-plugin on 127.0.0.1 ports picked here (it cannot report
 * OS-picked ones), decision logs off. Ready once /health?plugins says every
 * plugin is up and its gRPC port answers. A port taken in between fails the
 * start, which is tried again with new ports.
 */
export async function startOpaEnvoyPlugin(policyDir: string, config: ServerConfig, tmp: string): Promise<Peer> {
  if (!existsSync(OPA_ENVOY_PLUGIN)) {
    throw new Error(`${OPA_ENVOY_PLUGIN} is missing: run \`bash scripts/peers.sh --required\` (npm test does)`);
  }
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOpaEnvoyPluginOnce(policyDir, config, tmp);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function startOpaEnvoyPluginOnce(policyDir: string, config: ServerConfig, tmp: string): Promise<Peer> {
  const [grpcPort, httpPort, diagPort] = (await freePorts(3)) as [number, number, number];
  const file = join(tmp, `opa-envoy-${grpcPort}.yaml`);
  const descriptor = config.protoDescriptor ? join(tmp, `descriptor-${grpcPort}.pb`) : undefined;
  if (descriptor) writeFileSync(descriptor, config.protoDescriptor!);
  writeFileSync(
    file,
    toYaml({
      plugins: {
        envoy_ext_authz_grpc: {
          addr: `127.0.0.1:${grpcPort}`,
          path: DECISION_PATH,
          'dry-run': config.dryRun ?? false,
          'skip-request-body-parse': config.skipBodyParse ?? false,
          'enable-reflection': false,
          ...(descriptor ? { 'proto-descriptor': descriptor } : {}),
        },
      },
      decision_logs: { console: false },
    }),
  );
  const child = spawn(
    OPA_ENVOY_PLUGIN,
    [
      'run',
      '--server',
      '--addr',
      `127.0.0.1:${httpPort}`,
      '--diagnostic-addr',
      `127.0.0.1:${diagPort}`,
      '--log-level',
      'error',
      '--config-file',
      file,
      policyDir,
    ],
    { cwd: tmp, env: { ...process.env, GOMAXPROCS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = () => stopChild(child);
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`opa-envoy-plugin exited with ${child.exitCode}: ${out.slice(-2000)}`);
      const res = await fetch(`http://127.0.0.1:${httpPort}/health?plugins`).catch(() => undefined);
      return res?.status === 200;
    }, 30_000);
    await waitFor(() => grpcAnswers(grpcPort), 10_000);
  } catch (err) {
    await stop();
    throw new Error(`opa-envoy-plugin did not get ready: ${(err as Error).message}; it said: ${out.slice(-2000)}`);
  }
  return { name: 'opa-envoy-plugin', port: grpcPort, output: () => out, stop };
}

/**
 * ztauthz on the same directory with `compat: opa-envoy` and nothing else
 * that changes answers: the preset is what makes it a drop-in (errors as
 * gRPC errors, no route catalogue, partial bodies handed to the policy,
 * request limits at gRPC's message size, an empty cache.ignore, ...). Besides
 * it only the case's own opa-envoy-plugin settings (dry-run,
 * skip-request-body-parse), the decision cache on or off (opa-envoy-plugin
 * has none), no decision log and no watch.
 */
/**
 * `cacheIgnore`: a cache.ignore instead of compat's empty one (the volatile
 * group runs once more with ztauthz's default list, see differential.test.ts).
 */
export async function startZtauthz(
  policyDir: string,
  config: ServerConfig,
  tmp: string,
  cache: boolean,
  cacheIgnore?: readonly string[],
): Promise<Peer | { refused: string }> {
  const file = join(tmp, `ztauthz-${Math.random().toString(36).slice(2)}.yaml`);
  const descriptor = config.protoDescriptor ? `${file}.pb` : undefined;
  if (descriptor) writeFileSync(descriptor, config.protoDescriptor!);
  writeFileSync(
    file,
    toYaml({
      compat: 'opa-envoy',
      policy: { path: policyDir, decision: DECISION_PATH, watch: false },
      decision: { dry_run: config.dryRun ?? false },
      request: { parse_body: !(config.skipBodyParse ?? false), ...(descriptor ? { proto_descriptor: descriptor } : {}) },
      cache: { enabled: cache, ...(cacheIgnore ? { ignore: [...cacheIgnore] } : {}) },
      decision_log: { enabled: false },
      // opa-envoy-plugin lets policies reach any host; the cases only reach loopback.
      http_send: { allowed_hosts: ['127.0.0.1'] },
      log: { level: 'info' },
    }),
  );
  let serve: ServeProcess;
  try {
    serve = await spawnServe(['--config', file]);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  await waitFor(() => grpcAnswers(serve.grpcPort), 10_000);
  return {
    name: cacheIgnore ? 'ztauthz (cache on, default cache.ignore)' : cache ? 'ztauthz (cache on)' : 'ztauthz',
    port: serve.grpcPort,
    cacheHits: async () => {
      const text = await (await fetch(`http://127.0.0.1:${serve.httpPort}/metrics`)).text();
      return Number(/^ztauthz_decision_cache_lookups_total\{result="hit"\} (\d+)/m.exec(text)?.[1] ?? 0);
    },
    output: () => serve.stderr(),
    stop: async () => {
      await serve.stop();
    },
  };
}

async function grpcAnswers(port: number): Promise<boolean> {
  const client = new CheckClient(port);
  try {
    await client.healthCheck().catch((err: grpc.ServiceError) => {
      if (err.code !== grpc.status.UNIMPLEMENTED && err.code !== grpc.status.NOT_FOUND) throw err;
    });
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function waitFor(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (Date.now() > until) throw new Error(`not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** An answer reduced to what must match: the decoded CheckResponse, or a gRPC error's code. */
export type Answer = { response: Record<string, unknown> } | { grpcError: string; message: string } | { refused: string };

const sortHeaders = (list: unknown): unknown =>
  Array.isArray(list) ? [...list].sort((a, b) => String(a?.header?.key ?? a?.key).localeCompare(String(b?.header?.key ?? b?.key))) : list;

/**
 * The comparable form of a CheckResponse: the decision id the servers put in
 * dynamic metadata is dropped (each makes its own), and header lists are
 * sorted by name (opa-envoy-plugin walks Go maps, whose order is random;
 * values of one name keep their order).
 */
export function normalise(res: CheckResult): Record<string, unknown> {
  const out = structuredClone(res) as Record<string, any>;
  const fields = out['dynamicMetadata']?.fields;
  if (fields) {
    delete fields['decision_id'];
    if (Object.keys(fields).length === 0) delete out['dynamicMetadata'];
  }
  for (const part of ['okResponse', 'deniedResponse', 'errorResponse']) {
    const p = out[part];
    if (!p) continue;
    for (const k of ['headers', 'responseHeadersToAdd', 'queryParametersToSet']) if (p[k]) p[k] = sortHeaders(p[k]);
    for (const k of ['headersToRemove', 'queryParametersToRemove']) if (p[k]) p[k] = [...p[k]].sort();
  }
  return out;
}

export async function ask(client: CheckClient, request: object): Promise<Answer> {
  try {
    return { response: normalise(await client.check(request, 10_000)) };
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { grpcError: grpc.status[e.code] ?? String(e.code), message: e.details ?? '' };
  }
}

/** Equality for the suite: gRPC errors by code only; responses field by field. */
export function sameAnswer(a: Answer, b: Answer): boolean {
  if ('grpcError' in a && 'grpcError' in b) return a.grpcError === b.grpcError;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  // Go's protobuf writes the space in its error texts ("proto: ...") as a plain
  // or a no-break space, chosen per binary build: both count as one.
  if (typeof v === 'string') return v.replaceAll('\u00a0', ' ');
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
