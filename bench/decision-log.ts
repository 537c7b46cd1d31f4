// In-process cost of a Check at the default configuration, decision log on
// (to /dev/null unless DL_OUTPUT says otherwise): the real pipeline as
// `ztauthz serve` builds it (metrics, behaviour, cache, request shortcut),
// without gRPC. Three loads, alternated for ROUNDS rounds:
//   repeat-allow  the same allowed request again and again (shortcut/cache hit)
//   repeat-deny   the same denied request again and again (cache hit)
//   distinct      allowed requests that differ in a header (cache miss each)
// CPU (user + system) per Check, flushes of the log included: the loop yields
// to the event loop every 64 Checks.
//   node bench/decision-log.ts [flags as --key=value, e.g. --decision-log-include-input=all]
// (N Checks per round, default 20000; ROUNDS, default 5; DL_OUTPUT: a file, stdout or stderr; ONLY: one load).
// UPLOAD=1 also ships the records per OPA's decision-log protocol
// (decision_log.upload, 1 s rounds) to a collector in a child process that
// reads and discards the bodies; add --decision-log-enabled=false for the
// upload alone.
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { Observer } from '../src/observe/Observer.ts';
import { Metrics } from '../src/observe/Metrics.ts';
import { DecisionLog } from '../src/observe/DecisionLog.ts';
import { BehaviorSignals } from '../src/observe/BehaviorSignals.ts';
import { CheckRequestType } from '../src/envoy/ProtoCodec.ts';
import { spawn } from 'node:child_process';
import { decisionUpload } from '../src/server/DecisionShipping.ts';
import { createLogger } from '../src/observe/Log.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const N = Number(process.env['N'] ?? 20000);

const flags: Record<string, string> = { 'decision-log-output': process.env['DL_OUTPUT'] ?? '/dev/null' };
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (m) flags[m[1]!] = m[2]!;
}
// The collector runs in a child process, so its CPU is not counted as ztauthz's; it prints each body's arrival.
let uploads = 0;
const collector = process.env['UPLOAD']
  ? spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => { r.writeHead(204).end(); process.stdout.write('.'); }); });
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
  : undefined;
if (collector) {
  const port = await new Promise<number>((resolve) => collector.stdout!.once('data', (d: Buffer) => resolve(Number.parseInt(d.toString(), 10))));
  collector.stdout!.on('data', (d: Buffer) => (uploads += d.toString().replace(/[^.]/g, '').length));
  flags['services'] = JSON.stringify({ logs: { url: `http://127.0.0.1:${port}` } });
  flags['decision-log-upload-service'] = 'logs';
  flags['decision-log-upload-min-delay-seconds'] = '1';
  flags['decision-log-upload-max-delay-seconds'] = '1';
}
const config = loadConfig({ flags });
const policies = new PolicyStore();
const phases = buildPhases(config, policies);
policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
const metrics = new Metrics({ processMetrics: false });
const upload = decisionUpload(config, metrics, createLogger('warn'));
const d = config.decision_log as any;
const decisionLog = new DecisionLog(
  {
    enabled: d.enabled,
    output: d.output,
    includeInput: d.include_input,
    mask: d.mask,
    sampleAllowed: d.sample_allowed,
    inputSampleAllowed: d.input_sample_allowed,
    upload,
  } as any,
  metrics,
);
const observer = new Observer({ metrics, decisionLog, behavior: new BehaviorSignals() });
const pipeline = createPipeline(config, policies, phases, { observer });

function request(principal: string, n: number, i: number): Uint8Array {
  const path = '/v2/models/fraud-detector/infer';
  const obj = {
    attributes: {
      source: { address: { socketAddress: { address: '10.0.0.1', portValue: 40000 + (i % 20000) } }, principal },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
      request: {
        time: { seconds: 1700000000, nanos: 0 },
        http: {
          id: String(i),
          method: 'POST',
          path,
          host: 'svc.local',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: {
            ':method': 'POST',
            ':path': path,
            ':authority': 'svc.local',
            'x-request-id': `r-${i}`,
            'user-agent': 'bench/1.0',
            'content-type': 'application/json',
            authorization: 'Bearer abc.def.ghi',
            'x-n': String(n),
          },
        },
      },
    },
  };
  return CheckRequestType.encode(CheckRequestType.fromObject(obj)).finish();
}

const loads: Record<string, (i: number) => Uint8Array> = {
  'repeat-allow': (i) => request(FRONTEND, 0, i),
  'repeat-deny': (i) => request(TRAINER, 0, i),
  distinct: (i) => request(FRONTEND, i + 1, i),
};
const pre: Record<string, Uint8Array[]> = {};
for (const [name, make] of Object.entries(loads)) pre[name] = Array.from({ length: N }, (_, i) => make(i));
const expectAllowed: Record<string, boolean> = { 'repeat-allow': true, 'repeat-deny': false, distinct: true };

async function run(name: string): Promise<number> {
  const reqs = pre[name]!;
  const c0 = process.cpuUsage();
  for (let i = 0; i < reqs.length; i++) {
    let out = pipeline.check(reqs[i]!);
    if (out instanceof Promise) out = await out;
    if (out.decision.allowed !== expectAllowed[name]) throw new Error(`${name}: ${out.decision.reason}`);
    if ((i & 63) === 63) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / reqs.length;
}

// Warm-up.
for (const name of Object.keys(loads)) if (!process.env.ONLY || name === process.env.ONLY) await run(name);
const results: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++)
  for (const name of Object.keys(loads)) if (!process.env.ONLY || name === process.env.ONLY) (results[name] ??= []).push(await run(name));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const shortcuts = (await metrics.registry.metrics())
  .split('\n')
  .filter((l) => /^ztauthz_(request_shortcuts_total|decision_cache_lookups_total|decision_log_upload)/.test(l))
  .join(' | ');
console.log(
  JSON.stringify({
    flags,
    include_input: d.include_input,
    us_per_check_median: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, +median(v).toFixed(1)])),
    rounds: results,
    shortcuts,
    ...(collector ? { upload_bodies: uploads } : {}),
  }),
);
await decisionLog.close();
collector?.kill();
