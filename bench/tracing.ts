// What the Observer costs per Check, tracing off vs on. Timing lives here,
// never in tests. Run: PATH=$PWD/node_modules/.bin:$PATH node bench/tracing.ts
//
// Each row runs the Observer's hot path for one Check the way the pipeline
// does: begin(headers) -> 3 phases -> finish(). "bare" runs the same three
// phase bodies without any Observer, so "tracing off" minus "bare" is what
// tracing costs when it is off. Spans are exported over OTLP/HTTP to a local
// sink that answers 200 (export itself runs off the hot path, batched).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { Observer } from '../src/observe/Observer.ts';
import { Metrics } from '../src/observe/Metrics.ts';
import { BehaviorSignals } from '../src/observe/BehaviorSignals.ts';
import { startTracing, type Tracing } from '../src/observe/Tracing.ts';
import type { ObservedCheck } from '../src/observe/Observer.ts';
import { denial } from '../src/types/Decision.ts';
import { Reason } from '../src/types/Reason.ts';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 200_000);
const RUNS = 5;
const SPIFFE = 'spiffe://cluster.local/ns/fraud-web/sa/frontend';

const decision = { ...denial(Reason.allowed, '', 200, ''), allowed: true, result: true };
const identity = {
  spiffe_id: SPIFFE,
  trust_domain: 'cluster.local',
  path: '/ns/fraud-web/sa/frontend',
  namespace: 'fraud-web',
  service_account: 'frontend',
  source: 'principal' as const,
  peer: null,
  user: null,
};
const route = {
  name: 'kserve-v2-infer',
  api: 'kserve-v2',
  action: 'infer',
  model: 'fraud-detector',
  version: null,
  params: {},
  entrypoint: 'envoy/authz/allow',
};
const headers = (sampled: boolean): Record<string, string> => ({
  ':path': '/v2/models/fraud-detector/infer',
  'content-type': 'application/json',
  'x-request-id': randomUUID(),
  traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-${sampled ? '01' : '00'}`,
});

let sink = 0;
const work = (n: number): number => (sink = (sink + n) | 0);
/** What a phase does without an Observer: call its body (closures and all, as the pipeline would). */
const run = <T>(fn: () => T): T => fn();

function check(now: number): ObservedCheck {
  return {
    decisionId: 'bench',
    timestamp: now,
    identity,
    route,
    decision,
    cache: 'hit',
    revision: 'rev',
    path: 'envoy/authz/allow',
    dryRun: false,
    input: undefined,
    timings: { checkNs: 50_000, evalNs: 0 },
  };
}

/** Median ns per Check over RUNS runs of ITERATIONS. */
function measure(body: (i: number) => void): number {
  for (let i = 0; i < 20_000; i++) body(i);
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) body(i);
    runs.push(Number(process.hrtime.bigint() - t) / ITERATIONS);
  }
  return runs.sort((a, b) => a - b)[Math.floor(RUNS / 2)] as number;
}

/** The pipeline's calls for one Check: begin, `phases` phases, then finish() (or only the span's end). */
/**
 * CPU ns per Check with the event loop turning every 256 Checks, so the batch
 * span processor serializes and sends its spans as it would in a server.
 */
async function measureWithExport(tracing: Tracing, body: (i: number) => void): Promise<number> {
  const n = Math.min(ITERATIONS, 50_000);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    body(i);
    if ((i & 255) === 255) await new Promise((r) => setImmediate(r));
  }
  await tracing.flush();
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) * 1000) / n;
}

function observerPath(observer: Observer, hs: Record<string, string>, phases = 3, finish = true): (i: number) => void {
  return (i) => {
    const trace = observer.begin(hs, performance.now());
    trace.phase('evaluate', () => work(i));
    if (phases > 1) trace.phase('identify', () => work(i));
    if (phases > 2) trace.phase('route', () => work(i));
    if (finish) observer.finish(trace, check(Date.now()));
    else trace.end();
  };
}

async function main(): Promise<void> {
  // The sink runs in its own process, so its CPU is not counted as ours.
  const sinkCode = `const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const sinkProcess = spawn(process.execPath, ['-e', sinkCode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(sinkProcess.stdout, 'data')) as [Buffer];
  const endpoint = `http://127.0.0.1:${port.toString().trim()}`;
  const sampledHeaders = headers(true);
  const unsampledHeaders = headers(false);
  const rows: Array<[string, number]> = [];

  rows.push(['bare: 3 phase bodies, no Observer', measure((i) => (run(() => work(i)), run(() => work(i)), run(() => work(i))))]);
  const off = new Observer();
  rows.push(['tracing off: begin + 3 phases + end', measure(observerPath(off, sampledHeaders, 3, false))]);
  rows.push(['tracing off: begin + 3 phases + finish (record only)', measure(observerPath(off, sampledHeaders))]);

  let tracing: Tracing = await startTracing({ enabled: true, exporter: 'otlp-http', endpoint, samplerRatio: 1 });
  rows.push(['tracing on, sampled: Check span + 1 phase + finish', measure(observerPath(new Observer({ tracing }), sampledHeaders, 1))]);
  rows.push(['tracing on, sampled: Check span + 3 phases + finish', measure(observerPath(new Observer({ tracing }), sampledHeaders))]);
  rows.push(['  same, 1 phase, OTLP export included (CPU time)', await measureWithExport(tracing, observerPath(new Observer({ tracing }), sampledHeaders, 1))]);
  rows.push(['tracing on, parent not sampled, 3 phases + finish', measure(observerPath(new Observer({ tracing }), unsampledHeaders))]);
  await tracing.shutdown();
  tracing = await startTracing({ enabled: true, exporter: 'otlp-http', endpoint, samplerRatio: 0 });
  rows.push(['tracing on, ratio 0, no trace headers, 3 phases + finish', measure(observerPath(new Observer({ tracing }), {}))]);
  await tracing.shutdown();

  const metrics = new Metrics({ processMetrics: false });
  rows.push([
    'tracing off, metrics + behaviour + finish (log off)',
    measure(observerPath(new Observer({ metrics, behavior: new BehaviorSignals() }), sampledHeaders)),
  ]);
  sinkProcess.kill();

  const bare = rows[0]![1];
  console.log(`Observer cost per Check (median of ${RUNS} runs x ${ITERATIONS} Checks, node ${process.version}):`);
  for (const [name, ns] of rows) console.log(`  ${name.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns   (+${(ns - bare).toFixed(0)} ns over bare)`);
  if (sink === 42) console.log('');
}

await main();
