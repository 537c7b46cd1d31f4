// In-process CPU per Check on the bench's own requests, without gRPC: the
// pipeline as `ztauthz serve` builds it (metrics, decision log to /dev/null,
// behaviour, cache, request shortcut) with the drop-in policy, so the
// transport's share of a served Check is what `npm run bench` measures minus this.
//   node|bun bench/check-cost.ts [hit|miss] [N]      (ROUNDS, default 5)
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { Observer } from '../src/observe/Observer.ts';
import { Metrics } from '../src/observe/Metrics.ts';
import { DecisionLog } from '../src/observe/DecisionLog.ts';
import { BehaviorSignals } from '../src/observe/BehaviorSignals.ts';
import { requests } from './lib/Requests.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import { prng } from '../test/support/prng.ts';

const mode = process.argv[2] === 'hit' ? 'hit' : 'miss';
const N = Number(process.argv[3] ?? 20000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const config = loadConfig({ flags: { policy: 'bench/policies/drop-in', 'decision-log-output': '/dev/null' } });
const policies = new PolicyStore();
const phases = buildPhases(config, policies);
policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
const metrics = new Metrics({ processMetrics: false });
const d = config.decision_log;
const decisionLog = new DecisionLog(
  {
    enabled: d.enabled,
    output: d.output,
    includeInput: d.include_input,
    mask: d.mask,
    sampleAllowed: d.sample_allowed,
    inputSampleAllowed: d.input_sample_allowed,
  } as never,
  metrics,
);
const pipeline = createPipeline(config, policies, phases, { observer: new Observer({ metrics, decisionLog, behavior: new BehaviorSignals() }) });

async function run(reqs: Uint8Array[]): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < reqs.length; i++) {
    let out = pipeline.check(reqs[i]!);
    if (out instanceof Promise) out = await out;
    if (!out.decision.allowed) throw new Error(`denied: ${out.decision.reason}`);
    if ((i & 63) === 63) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / reqs.length;
}
const rounds: number[] = [];
for (let r = 0; r <= ROUNDS; r++) {
  // A fresh set each round on the miss path: a request seen before would be a hit.
  const reqs = requests(mode === 'miss' ? { distinct: true } : {}, N, `cost-${r}`, prng(r + 1)).map((m) => encodeCheckRequestJson(m));
  const us = await run(reqs);
  if (r > 0) rounds.push(us); // round 0 warms up
}
rounds.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    mode,
    runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`,
    us_per_check_median: +rounds[Math.floor(rounds.length / 2)]!.toFixed(1),
    rounds: rounds.map((x) => +x.toFixed(1)),
  }),
);
await decisionLog.close();
