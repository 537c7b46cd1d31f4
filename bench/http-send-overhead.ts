// What http.send support costs policies that do not call it: the in-process
// Check pipeline (as `serve` builds it, without gRPC) on the cache-bench
// policy, one Check at a time, for this checkout and for another one given
// as --base (e.g. the commit before http.send, extracted with git archive).
// Rounds alternate between the two trees so that both see the same machine;
// each row is the fastest round (a shared machine only ever slows a round).
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/http-send-overhead.ts --base /tmp/base
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const { values: args } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string', default: '7' }, checks: { type: 'string', default: '20000' } } });
const HERE = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(args.rounds);
const CHECKS = Number(args.checks);

interface Tree {
  readonly name: string;
  readonly check: (bytes: Uint8Array) => unknown;
  readonly requests: readonly Uint8Array[];
}

async function tree(name: string, root: string, flags: Record<string, string>): Promise<Tree> {
  const src = (p: string): Promise<any> => import(join(root, 'src', p));
  const { loadConfig } = await src('config/load.ts');
  const { buildPhases, createPipeline } = await src('server/Pipeline.ts');
  const { loadConfiguredPolicy } = await src('server/PolicyLifecycle.ts');
  const { PolicyStore } = await src('policy/PolicyStore.ts');
  const { encodeCheckRequestJson } = await src('envoy/ProtoJson.ts');
  const config = loadConfig({ flags: { 'decision-log-enabled': 'false', policy: join(root, 'test/fixtures/policies/cache-bench'), ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  const pipeline = createPipeline(config, policies, phases);
  const requests = Array.from({ length: 64 }, (_, i) =>
    encodeCheckRequestJson({
      attributes: {
        source: { address: { socketAddress: { address: '10.8.0.12', portValue: 40000 } }, principal: `spiffe://cluster.local/ns/team-${i % 8}/sa/svc-${i}` },
        destination: { address: { socketAddress: { address: '10.8.1.7', portValue: 8080 } } },
        request: { time: '2026-01-01T00:00:00Z', http: { method: 'POST', path: `/v2/models/m${i % 5}/infer`, host: 'm.svc', scheme: 'http', protocol: 'HTTP/2', headers: { 'content-type': 'application/json' }, body: '{"inputs":[]}' } },
      },
    }),
  );
  return { name, check: (b) => pipeline.check(b), requests };
}

async function round(t: Tree): Promise<{ ns: number; cpu: number }> {
  for (let i = 0; i < 2000; i++) await t.check(t.requests[i % t.requests.length]!);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CHECKS; i++) await t.check(t.requests[i % t.requests.length]!);
  const ns = Number(process.hrtime.bigint() - t0) / CHECKS;
  const c = process.cpuUsage(cpu0);
  return { ns, cpu: ((c.user + c.system) * 1000) / CHECKS };
}

const scenarios: [string, Record<string, string>][] = [
  ['cache off (every Check evaluates)', { 'cache-enabled': 'false' }],
  ['cache on (repeats are hits)', {}],
];
const rows: string[] = ['| scenario | tree | ns/Check (best) | CPU ns/Check (best) |', '|---|---|---|---|'];
for (const [label, flags] of scenarios) {
  const trees = [await tree('this checkout', HERE, flags)];
  if (args.base) trees.push(await tree(`base (${args.base})`, args.base, flags));
  const best = new Map<string, { ns: number; cpu: number }>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 === 0 ? trees : [...trees].reverse()) {
      const m = await round(t);
      const b = best.get(t.name);
      best.set(t.name, { ns: Math.min(b?.ns ?? Infinity, m.ns), cpu: Math.min(b?.cpu ?? Infinity, m.cpu) });
    }
  }
  for (const t of trees) rows.push(`| ${label} | ${t.name} | ${best.get(t.name)!.ns.toFixed(0)} | ${best.get(t.name)!.cpu.toFixed(0)} |`);
}
console.log(rows.join('\n'));
