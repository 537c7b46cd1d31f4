// MCP tool calls through the Check pipeline `serve` builds (no gRPC
// transport), with the policy library as deploy/config/library.yaml runs it:
// what one tools/call costs as a cache hit (new JSON-RPC id and argument
// values every time, so the request bytes never repeat), as an evaluation
// (cache off), and as a batch of 10 calls. One Check at a time: µs/Check is
// the cost of one Check on one core. CPU time is printed beside wall time,
// the steadier of the two on a shared machine.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/agents.ts
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import type { CheckPipeline } from '../src/check/CheckPipeline.ts';

const N = Number(process.env['BENCH_N'] ?? 20_000);
const PLANNER = 'spiffe://cluster.local/ns/fraud-agents/sa/planner';
const DOCS = 'spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp';

async function pipelineWith(flags: Record<string, string>): Promise<CheckPipeline> {
  const config = loadConfig({ file: 'deploy/config/library.yaml', flags: { 'decision-log-enabled': 'false', 'behavior-enabled': 'false', ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  return createPipeline(config, policies, phases);
}

const call = (i: number) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'search_docs', arguments: { q: `query ${i}`, limit: i % 10 } } });

function request(body: unknown): Buffer {
  return Buffer.from(
    encodeCheckRequestJson({
      attributes: {
        source: { principal: PLANNER },
        destination: { principal: DOCS },
        request: {
          http: {
            method: 'POST',
            host: 'docs.fraud-agents.svc',
            path: '/docs/mcp',
            headers: { 'content-type': 'application/json', 'mcp-session-id': 's-1' },
            body: JSON.stringify(body),
          },
        },
      },
    }),
  );
}

async function measure(name: string, pipeline: CheckPipeline, make: (i: number) => Buffer, expectCache: string): Promise<void> {
  const bodies = Array.from({ length: N }, (_, i) => make(i + 1));
  // Warm up (and fill the cache with the one decision the hits reuse).
  for (let i = 0; i < 2000; i++) await pipeline.check(make(-i - 1));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let cache: string | undefined = '';
  for (const b of bodies) {
    const out = await pipeline.check(b);
    if (!out.decision.allowed) throw new Error(`${name}: denied (${out.decision.reason})`);
    cache = out.record.cache;
  }
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / N;
  const cpu = process.cpuUsage(cpu0);
  if (cache !== expectCache) throw new Error(`${name}: cache ${cache}, expected ${expectCache}`);
  console.log(`${name.padEnd(34)} ${wallUs.toFixed(1).padStart(7)} µs/Check wall  ${((cpu.user + cpu.system) / N).toFixed(1).padStart(7)} µs/Check CPU`);
}

console.log(
  `node ${process.version}, ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${N} Checks per row`,
);
const cached = await pipelineWith({});
const uncached = await pipelineWith({ 'cache-enabled': 'false' });
await measure('tools/call, cache hit', cached, (i) => request(call(i)), 'hit');
await measure('tools/call, evaluated (cache off)', uncached, (i) => request(call(i)), 'off');
await measure('batch of 10 tools/call, cache hits', cached, (i) => request(Array.from({ length: 10 }, (_, j) => call(i * 10 + j))), 'hit');
