// Decision cache: what a hit saves over a miss, and what hit ratio realistic
// traffic gets. In process (the Check pipeline `serve` builds, without the
// gRPC transport): one Check at a time, so ns/Check is the cost of one Check
// and Checks/s is what one core does. Then over real gRPC with ghz, server
// and load generator pinned to different cores, next to a no-op grpc-js
// server as the transport's own cost. CPU time per Check is printed beside
// wall time: on a shared machine it is the steadier of the two.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/cache.ts            # in-process, then ghz (10 s per run)
//   PATH=$PWD/node_modules/.bin:$PATH node bench/cache.ts --no-grpc  # in-process only
//   BENCH_SCALE=0.2 BENCH_ROUNDS=1 BENCH_GRPC_SECONDS=2 ...          # a quick look
//
// Realistic mix: identity and model each drawn from a Zipf-like law (s=1.1)
// over 10,000 workloads x 50 models, as Envoy sends them: x-request-id,
// traceparent, request time, client port and attributes.request.http.id
// differ on every request. The first half of each run warms the cache and
// is not measured.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import type { CheckPipeline } from '../src/check/CheckPipeline.ts';
import type { DecisionCache } from '../src/cache/DecisionCache.ts';
import * as grpc from '@grpc/grpc-js';
import { prng } from '../test/support/prng.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH_POLICY = fileURLToPath(new URL('../test/fixtures/policies/cache-bench', import.meta.url));
/** The same decisions from helper rules: see the realistic-mix rows. */
const SPLIT_POLICY = fileURLToPath(new URL('../test/fixtures/policies/cache-bench-split', import.meta.url));
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const n = (count: number): number => Math.max(1000, Math.round(count * SCALE));
const IDENTITIES = 10_000;
const MODELS = 50;
const ZIPF_S = 1.1;


const rand = prng(0x5eed);
const hex = (len: number): string => Array.from({ length: len }, () => Math.floor(rand() * 16).toString(16)).join('');

/** Ranks 0..size-1 with P(k) proportional to 1/(k+1)^s, by inverse CDF. */
function zipf(size: number, s: number): () => number {
  const cdf = new Float64Array(size);
  let sum = 0;
  for (let k = 0; k < size; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < size; k++) cdf[k]! /= sum;
  return () => {
    const u = rand();
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

// A fixed permutation, so that the most frequent workload is not also the one with the lowest number.
const identityOf = (rank: number): string => {
  const i = (rank * 7919) % IDENTITIES;
  return `spiffe://cluster.local/ns/team-${i % 200}/sa/svc-${i}`;
};

interface Shape {
  principal: string;
  model: string;
  /** Per-request volatile fields, as Envoy sends them. */
  volatile: boolean;
  /** Envoy's attributes.request.http.id (unique per request) on top of the volatile headers. */
  httpId?: boolean;
  /** A different tensor in every body, as real inference calls carry. */
  tensorBody?: boolean;
  /** Makes the request distinct without touching what the policy reads. */
  distinct?: number;
}

function checkRequest(s: Shape): Uint8Array {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'bench/1' };
  if (s.volatile) {
    headers['x-request-id'] = `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
    headers['traceparent'] = `00-${hex(32)}-${hex(16)}-01`;
  }
  if (s.distinct !== undefined) headers['x-client-seq'] = String(s.distinct);
  const http: Record<string, unknown> = {
    method: 'POST',
    path: `/v2/models/${s.model}/infer`,
    host: `${s.model}.ml-serving.svc.cluster.local`,
    scheme: 'http',
    protocol: 'HTTP/2',
    headers,
    body: s.tensorBody
      ? JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [rand(), rand(), rand(), rand()] }] })
      : '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[0.1,0.2,0.3,0.4]}]}',
  };
  if (s.httpId) http['id'] = String(Math.floor(rand() * 2 ** 52));
  return encodeCheckRequestJson({
    attributes: {
      source: {
        address: { socketAddress: { address: '10.8.0.12', portValue: s.volatile ? 32768 + Math.floor(rand() * 28000) : 40000 } },
        principal: s.principal,
      },
      destination: { address: { socketAddress: { address: '10.8.1.7', portValue: 8080 } } },
      request: { time: s.volatile ? new Date(1_767_225_600_000 + Math.floor(rand() * 86_400_000)).toISOString() : '2026-01-01T00:00:00Z', http },
    },
  });
}

interface Bench {
  readonly pipeline: CheckPipeline;
  readonly cache: DecisionCache | undefined;
}

async function pipeline(flags: Record<string, string>): Promise<Bench> {
  const config = loadConfig({ flags: { 'decision-log-enabled': 'false', ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  return { pipeline: createPipeline(config, policies, phases), cache: phases.cache };
}

interface Row {
  scenario: string;
  checks: number;
  perSecond: number;
  nsPerCheck: number;
  /** Process CPU time per Check (all threads): less sensitive than wall time to other load on the machine. */
  cpuNsPerCheck: number;
  hitRatio: number | null;
}

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '3');

/**
 * Each round: empty cache, `warm` unmeasured, then `measured`, one Check at a
 * time. The row is the fastest round: the machine this runs on is shared, and
 * a round only ever gets slower from losing the core to something else.
 */
async function run(scenario: string, b: Bench, warm: readonly Uint8Array[], measured: readonly Uint8Array[]): Promise<Row> {
  const rounds: Row[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    b.cache?.clear();
    for (const req of warm) await b.pipeline.check(req);
    let hits = 0;
    let looked = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const req of measured) {
      const o = await b.pipeline.check(req);
      if (o.record.cache === 'hit') hits++;
      if (o.record.cache === 'hit' || o.record.cache === 'miss') looked++;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    rounds.push({
      scenario,
      checks: measured.length,
      perSecond: (measured.length * 1e9) / ns,
      nsPerCheck: ns / measured.length,
      cpuNsPerCheck: ((cpu.user + cpu.system) * 1e3) / measured.length,
      hitRatio: looked ? hits / looked : null,
    });
  }
  rounds.sort((x, y) => y.perSecond - x.perSecond);
  const row = rounds[0]!;
  console.error(
    `  ${scenario}: ${Math.round(row.perSecond)} Checks/s, ${Math.round(row.nsPerCheck)} ns/Check, CPU ${Math.round(row.cpuNsPerCheck)} ns/Check, hit ratio ${row.hitRatio === null ? '-' : row.hitRatio.toFixed(3)} (rounds: ${rounds.map((r) => Math.round(r.perSecond)).join(', ')} Checks/s)`,
  );
  return row;
}

function mix(count: number, shape: Omit<Shape, 'principal' | 'model'>): Uint8Array[] {
  const who = zipf(IDENTITIES, ZIPF_S);
  const what = zipf(MODELS, ZIPF_S);
  return Array.from({ length: count }, () => checkRequest({ principal: identityOf(who()), model: `model-${what()}`, ...shape }));
}

async function inProcess(): Promise<Row[]> {
  console.error('in-process pipeline (policy test/fixtures/policies/cache-bench):');
  const on = await pipeline({ 'policy-path': BENCH_POLICY, 'cache-enabled': 'true' });
  const off = await pipeline({ 'policy-path': BENCH_POLICY, 'cache-enabled': 'false' });
  const split = await pipeline({ 'policy-path': SPLIT_POLICY, 'cache-enabled': 'true' });
  const narrow = await pipeline({
    'policy-path': BENCH_POLICY,
    'cache-enabled': 'true',
    'cache-routes': JSON.stringify([{ route: 'kserve-v2-infer', key: ['identity.spiffe_id', 'route.model'] }]),
  });
  const rows: Row[] = [];
  const one = checkRequest({ principal: identityOf(0), model: 'model-7', volatile: false });
  const repeated = (k: number): Uint8Array[] => Array.from({ length: k }, () => one);
  rows.push(await run('no cache: one repeated request', off, repeated(n(2_000)), repeated(n(20_000))));
  rows.push(await run('hit path: one repeated request', on, repeated(n(5_000)), repeated(n(100_000))));
  // Distinct by a header the policy never reads: every lookup misses and stores.
  const distinct = Array.from({ length: n(20_000) }, (_, i) => checkRequest({ principal: identityOf(0), model: 'model-7', volatile: false, distinct: i }));
  rows.push(await run('miss path: every request distinct', on, [], distinct));

  const size = n(60_000);
  const halves = (reqs: Uint8Array[]): [Uint8Array[], Uint8Array[]] => [reqs.slice(0, reqs.length / 2), reqs.slice(reqs.length / 2)];
  const envoyLike = halves(mix(size, { volatile: true, httpId: true }));
  rows.push(await run('realistic mix (Envoy-like: unique http.id), no cache', off, envoyLike[0].slice(0, 2000), envoyLike[1]));
  rows.push(await run('realistic mix (Envoy-like: unique http.id)', on, ...envoyLike));
  // Same decisions, policy written with helper rules: the bundle's Rego now
  // names "identity", the volatile-field filter's substring match on "id"
  // keeps attributes.request.http.id in the key, and every request misses.
  rows.push(await run('realistic mix (Envoy-like), same policy written with helper rules', split, ...envoyLike));
  const noId = halves(mix(size, { volatile: true, httpId: false }));
  rows.push(await run('realistic mix, volatile headers but no http.id', on, ...noId));
  const tensors = halves(mix(size, { volatile: true, httpId: true, tensorBody: true }));
  rows.push(await run('realistic mix + per-request tensor bodies', on, ...tensors));
  rows.push(await run('realistic mix + tensor bodies, cache.routes key [identity.spiffe_id, route.model]', narrow, ...tensors));
  return rows;
}

// --- over gRPC with ghz --------------------------------------------------------

const GHZ = `${ROOT}.tools/bin/ghz`;

interface GrpcRow {
  scenario: string;
  rps: number;
  meanMs: number;
  p99Ms: number;
  hitRatio: number | null;
  errors: number;
  /** Server process CPU time (all threads) per Check: unlike RPS, not inflated by other load on the machine. */
  cpuUsPerCheck: number;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || '100');

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Served {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  /** /metrics; undefined for the no-op server. */
  readonly httpPort: number | undefined;
}

/** Spawns a server pinned to core 0 and waits until it says it serves. */
function startPinned(args: string[], ready: RegExp): Promise<Served> {
  const child = spawn('taskset', ['-c', '0', process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = ready.exec(err);
      if (m) resolve({ child, grpcPort: Number(m[1]), httpPort: m[2] ? Number(m[2]) : undefined });
    });
  });
}

const startServe = (): Promise<Served> =>
  startPinned(
    ['src/cli.ts', 'serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--policy', BENCH_POLICY, '--decision-log-enabled=false', '--policy-watch=false'],
    /"msg":"serving","grpc":"[^"]*:(\d+)","http":"[^"]*:(\d+)"/,
  );

/**
 * The transport alone: grpc-js with ztauthz's own service definition and a
 * constant OK answer, so the difference to the rows above is ztauthz's work.
 */
const NOOP_SERVER = `
const { authorizationServiceDefinition } = await import(${JSON.stringify(`${ROOT}src/server/AuthorizationService.ts`)});
const server = new grpc.Server();
const ok = { status: {}, okResponse: {} };
server.addService(authorizationServiceDefinition, { Check: (_call, done) => done(null, ok) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => console.error(err ? String(err) : 'noop serving on ' + port));
`;
const startNoop = (): Promise<Served> => startPinned(['--input-type=module', '-e', NOOP_SERVER], /noop serving on (\d+)/);

/** Cache lookups and allowed Checks so far, from /metrics: ghz only sees gRPC status, which is OK for denials too. */
async function counts(httpPort: number): Promise<{ hit: number; miss: number; allowed: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const get = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  return {
    hit: get(/^ztauthz_decision_cache_lookups_total\{result="hit"\} (\d+)/m),
    miss: get(/^ztauthz_decision_cache_lookups_total\{result="miss"\} (\d+)/m),
    allowed: get(/^ztauthz_checks_total\{decision="allow",reason="allowed",route="kserve-v2-infer"\} (\d+)/m),
  };
}

/** ghz's argument parser expands a lone "@" as a file of arguments, so the data goes in a file (-D), not stdin (-d @). */
function ghz(port: number, dataFile: string, seconds: number): Record<string, any> {
  const args = ['-c', '1', GHZ, '--insecure', '--proto', 'proto/envoy/service/auth/v3/external_auth.proto', '-i', 'proto', '--call', 'envoy.service.auth.v3.Authorization/Check', '-D', dataFile, '-z', `${seconds}s`, '-c', '32', '--connections', '2', '--cpus', '1', '-O', 'json', `127.0.0.1:${port}`];
  const r = spawnSync('taskset', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ghz failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

function ghzRequest(distinct: string | undefined): string {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': '{{newUUID}}', traceparent: '00-{{randomString 32}}-0000000000000001-01' };
  // {{.RequestNumber}} is rendered per request by ghz, from 0 in every run:
  // the run's own prefix keeps the measured run from hitting the warm-up's entries.
  if (distinct !== undefined) headers['x-client-seq'] = `${distinct}-{{.RequestNumber}}`;
  return JSON.stringify({
    attributes: {
      source: { address: { socketAddress: { address: '10.8.0.12', portValue: 40000 } }, principal: identityOf(0) },
      request: { http: { method: 'POST', path: '/v2/models/model-7/infer', host: 'model-7.ml-serving.svc.cluster.local', scheme: 'http', protocol: 'HTTP/2', headers, body: '{"inputs":[]}' } },
    },
  });
}

type GrpcKind = 'hit' | 'miss' | 'noop';

async function overGrpc(seconds: number): Promise<GrpcRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-bench-'));
  console.error(`gRPC: server on core 0, ghz on core 1, ${seconds} s per run:`);
  const rows: GrpcRow[] = [];
  const runs: Array<[string, GrpcKind]> = [
    ['ztauthz, hit: one repeated request (volatile headers vary)', 'hit'],
    ['ztauthz, miss: every request distinct', 'miss'],
    ['no-op grpc-js server (transport baseline)', 'noop'],
  ];
  for (const [scenario, kind] of runs) {
    // A fresh server per run, so one run's cache does not serve the next.
    const server = kind === 'noop' ? await startNoop() : await startServe();
    try {
      const data = (run: string): string => {
        const file = join(tmp, `${run}.json`);
        writeFileSync(file, ghzRequest(kind === 'miss' ? run : undefined));
        return file;
      };
      ghz(server.grpcPort, data('warm'), 2); // warm-up: JIT, connections
      const before = server.httpPort === undefined ? undefined : await counts(server.httpPort);
      const cpuBefore = cpuSeconds(server.child.pid!);
      const out = ghz(server.grpcPort, data('measured'), seconds);
      const cpu = cpuSeconds(server.child.pid!) - cpuBefore;
      const after = server.httpPort === undefined ? undefined : await counts(server.httpPort);
      const count = out['count'] as number;
      const errors = Object.values((out['errorDistribution'] ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
      let hitRatio: number | null = null;
      if (before && after) {
        // Every request is allowed by the policy: anything else is a broken benchmark, not a result.
        const allowed = after.allowed - before.allowed;
        if (allowed < count - errors || allowed > count) throw new Error(`${scenario}: ${count} Checks (${errors} cancelled) but ${allowed} allowed`);
        const looked = after.hit - before.hit + (after.miss - before.miss);
        hitRatio = looked ? (after.hit - before.hit) / looked : null;
      }
      const p99 = (out['latencyDistribution'] as Array<{ percentage: number; latency: number }> | null)?.find((l) => l.percentage === 99)?.latency ?? NaN;
      const row = { scenario, rps: out['rps'] as number, meanMs: (out['average'] as number) / 1e6, p99Ms: p99 / 1e6, hitRatio, errors, cpuUsPerCheck: (cpu * 1e6) / count };
      console.error(
        `  ${scenario}: ${Math.round(row.rps)} RPS, mean ${row.meanMs.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, hit ratio ${row.hitRatio?.toFixed(3) ?? '-'}, server CPU ${Math.round(row.cpuUsPerCheck)} µs/Check, errors ${errors}`,
      );
      rows.push(row);
    } finally {
      server.child.removeAllListeners('exit');
      server.child.kill('SIGTERM');
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  return rows;
}

// --- report ----------------------------------------------------------------------

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

const loadBefore = loadavg()[0]!;
const rows = await inProcess();
console.log(`\n### In process (Node ${process.version}, one Check at a time, fastest of ${ROUNDS} rounds)\n`);
console.log('| scenario | Checks measured | Checks/s | ns/Check (wall) | ns/Check (CPU) | hit ratio |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.scenario} | ${fmt(r.checks)} | ${fmt(r.perSecond)} | ${fmt(r.nsPerCheck)} | ${fmt(r.cpuNsPerCheck)} | ${r.hitRatio === null ? '—' : `${(r.hitRatio * 100).toFixed(1)} %`} |`);
}

const canGrpc = !process.argv.includes('--no-grpc') && existsSync(GHZ) && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (canGrpc) {
  const grpcRows = await overGrpc(Number(process.env['BENCH_GRPC_SECONDS'] ?? '10'));
  console.log(`\n### Over gRPC (ghz -c 32, 2 connections, ${process.env['BENCH_GRPC_SECONDS'] ?? '10'} s per run; server pinned to core 0, ghz to core 1)\n`);
  console.log('| scenario | RPS | mean latency | p99 latency | server CPU per Check | hit ratio | ghz errors¹ |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of grpcRows) {
    console.log(
      `| ${r.scenario} | ${fmt(r.rps)} | ${r.meanMs.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${fmt(r.cpuUsPerCheck)} µs | ${r.hitRatio === null ? '—' : `${(r.hitRatio * 100).toFixed(1)} %`} | ${r.errors} |`,
    );
  }
  console.log('\n¹ Calls still in flight when -z ends are cancelled by ghz and counted as errors (at most -c of them).');
} else {
  console.log('\n(gRPC runs skipped: --no-grpc, or .tools/bin/ghz or taskset missing)');
}
// Others' work on the same cores shows here: compare runs only at similar load.
console.log(`\nload average (1 min) at start ${loadBefore.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}; ${cpus().length} CPUs`);
