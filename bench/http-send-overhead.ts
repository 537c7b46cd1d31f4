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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';

const { values: args } = parseArgs({
  options: { base: { type: 'string' }, rounds: { type: 'string', default: '7' }, checks: { type: 'string', default: '20000' } },
});
const HERE = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(args.rounds);
const CHECKS = Number(args.checks);

interface Tree {
  readonly name: string;
  readonly check: (bytes: Uint8Array) => unknown;
  readonly requests: readonly Uint8Array[];
}

async function tree(name: string, root: string, flags: Record<string, string>, policy = join(root, 'test/fixtures/policies/cache-bench')): Promise<Tree> {
  const src = (p: string): Promise<any> => import(join(root, 'src', p));
  const { loadConfig } = await src('config/load.ts');
  const { buildPhases, createPipeline } = await src('server/Pipeline.ts');
  const { loadConfiguredPolicy } = await src('server/PolicyLifecycle.ts');
  const { PolicyStore } = await src('policy/PolicyStore.ts');
  const { encodeCheckRequestJson } = await src('envoy/ProtoJson.ts');
  const config = loadConfig({ flags: { 'decision-log-enabled': 'false', policy, ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  const pipeline = createPipeline(config, policies, phases);
  const requests = Array.from({ length: 64 }, (_, i) =>
    encodeCheckRequestJson({
      attributes: {
        source: { address: { socketAddress: { address: '10.8.0.12', portValue: 40000 } }, principal: `spiffe://cluster.local/ns/team-${i % 8}/sa/svc-${i}` },
        destination: { address: { socketAddress: { address: '10.8.1.7', portValue: 8080 } } },
        request: {
          time: '2026-01-01T00:00:00Z',
          http: {
            method: 'POST',
            path: `/v2/models/m${i % 5}/infer`,
            host: 'm.svc',
            scheme: 'http',
            protocol: 'HTTP/2',
            headers: { 'content-type': 'application/json' },
            body: '{"inputs":[]}',
          },
        },
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

// What a Check costs when its policy does call http.send (this checkout only):
// the main-thread attempt, the hand-over to a worker, the request made on the
// main thread (or answered from the inter-query cache) and the answer back.
const upstream = createServer((_q, s) => {
  s.writeHead(200, { 'content-type': 'application/json' });
  s.end('{"ok":true}');
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const port = (upstream.address() as { port: number }).port;
const dir = mkdtempSync(join(tmpdir(), 'ztauthz-bench-httpsend-'));
for (const [label, extra] of [
  ['http.send to loopback, every Check', ''],
  ['http.send, inter-query cache hit', ', "force_cache": true, "force_cache_duration_seconds": 600'],
] as const) {
  writeFileSync(
    join(dir, 'p.rego'),
    `package envoy.authz\nimport rego.v1\ndefault allow := false\nallow if http.send({"method": "GET", "url": "http://127.0.0.1:${port}/"${extra}}).body.ok\n`,
  );
  const t = await tree('this checkout', HERE, { 'cache-enabled': 'false', 'http-send-allowed-hosts': '127.0.0.1' }, dir);
  let best = { ns: Infinity, cpu: Infinity };
  for (let r = 0; r < Math.min(ROUNDS, 3); r++) {
    const m = await round(t);
    best = { ns: Math.min(best.ns, m.ns), cpu: Math.min(best.cpu, m.cpu) };
  }
  rows.push(`| ${label} (cache off) | ${t.name} | ${best.ns.toFixed(0)} | ${best.cpu.toFixed(0)} |`);
}
rmSync(dir, { recursive: true, force: true });
upstream.close();
upstream.closeAllConnections();
console.log(rows.join('\n'));
process.exit(0);
