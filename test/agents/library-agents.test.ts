// The policy library's agents family (policies/library/agents.rego) as
// deploy/config/library.yaml runs it, through the real Check pipeline: tool
// calls decided per workload, tool and server, and the decision cache keyed
// on what the family reads (identity, server, method, tool, callee), so
// repeated tool calls are hits whatever their JSON-RPC ids and argument
// values. The library reads the clock (batch windows), so without the
// routes' declared keys and lifetimes its decisions would not be cached.
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.ts';
import { buildPhases, createPipeline } from '../../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import { analysePlan } from '../../src/cache/PolicyReads.ts';
import { readArchiveFiles } from '../../src/policy/Bundle.ts';
import { compileRegoPlan } from '../../src/policy/OpaCompiler.ts';
import { CATALOGUE } from '../../src/route/Catalogue.ts';
import type { JsonObject } from '../../src/types/Json.ts';

const LIBRARY = 'deploy/config/library.yaml';
const config = loadConfig({ file: LIBRARY, flags: { 'decision-log-enabled': 'false' } });
const policies = new PolicyStore();
const phases = buildPhases(config, policies);
policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
const pipeline = createPipeline(config, policies, phases);

const PLANNER = 'spiffe://cluster.local/ns/fraud-agents/sa/planner';
const REVIEWER = 'spiffe://cluster.local/ns/fraud-agents/sa/reviewer';
const DOCS = 'spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp';
const REVIEWER_AGENT = 'spiffe://cluster.local/ns/fraud-agents/sa/reviewer';

async function check(caller: string, callee: string, path: string, body: unknown) {
  const request = {
    attributes: {
      source: { principal: caller },
      destination: { principal: callee },
      request: {
        http: {
          method: 'POST',
          host: 'docs.fraud-agents.svc',
          path,
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify(body),
        },
      },
    },
  };
  const outcome = await pipeline.check(Buffer.from(encodeCheckRequestJson(request)));
  const d = outcome.decision;
  return { allowed: d.allowed, status: d.httpStatus, body: d.body, cache: outcome.record.cache, route: outcome.input?.['route'] as JsonObject | undefined };
}

/** The library's denial of a JSON-RPC call: the family's reason as the call's JSON-RPC error, with its id. */
const rpcDenial = (id: number | string, reason: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32003, message: `ztauthz agents: ${reason}` } });

const tool = (name: string, args: Record<string, unknown>, id: number | string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('the agents family through deploy/config/library.yaml', () => {
  it("a granted tool is allowed; an ungranted one is denied with the family's reason", async () => {
    expect(await check(PLANNER, DOCS, '/docs/mcp', tool('search_docs', { q: 'fraud' }, 1))).toMatchObject({ allowed: true });
    expect(await check(PLANNER, DOCS, '/docs/mcp', tool('purge_index', {}, 2))).toMatchObject({
      allowed: false,
      status: 403,
      body: rpcDenial(2, 'tool not granted to caller'),
    });
    expect(await check(REVIEWER, DOCS, '/docs/mcp', tool('fetch_doc', { id: 'd1' }, 3))).toMatchObject({
      allowed: false,
      body: rpcDenial(3, 'tool not granted to caller'),
    });
    // A bare /mcp: the server is the callee's SVID.
    expect(await check(PLANNER, DOCS, '/mcp', { jsonrpc: '2.0', id: 4, method: 'tools/list' })).toMatchObject({ allowed: true });
    expect(
      await check(PLANNER, REVIEWER_AGENT, '/reviewer/a2a', {
        jsonrpc: '2.0',
        id: 5,
        method: 'message/send',
        params: { message: { role: 'user', messageId: 'm1', parts: [{ kind: 'text', text: 'review d1' }] } },
      }),
    ).toMatchObject({ allowed: true });
  });

  it('repeated tool calls are cache hits whatever their ids and argument values; identity, tool and server are in the key', async () => {
    expect(await check(PLANNER, DOCS, '/docs/mcp', tool('search_docs', { q: 'a' }, 'first'))).toMatchObject({ allowed: true });
    for (const [i, q] of ['b', 'c', 'd'].entries()) {
      expect(await check(PLANNER, DOCS, '/docs/mcp', tool('search_docs', { q, limit: i }, 100 + i))).toMatchObject({ allowed: true, cache: 'hit' });
    }
    // A batch of known calls: every call a hit.
    expect(await check(PLANNER, DOCS, '/docs/mcp', [tool('search_docs', { q: 'x' }, 200), tool('search_docs', { q: 'y' }, 201)])).toMatchObject({
      allowed: true,
      cache: 'hit',
    });
    // Denials are cached too, per tool.
    await check(PLANNER, DOCS, '/docs/mcp', tool('purge_index', {}, 300));
    // The cached denial answers with this call's own id.
    expect(await check(PLANNER, DOCS, '/docs/mcp', tool('purge_index', { all: true }, 301))).toMatchObject({
      allowed: false,
      cache: 'hit',
      body: rpcDenial(301, 'tool not granted to caller'),
    });
    // Another identity, tool or callee is another entry, decided on its own.
    expect(await check(REVIEWER, DOCS, '/docs/mcp', tool('search_docs', { q: 'a' }, 400))).toMatchObject({ allowed: true, cache: 'miss' });
    expect(await check(REVIEWER, DOCS, '/docs/mcp', tool('delete_doc', { q: 'a' }, 401))).toMatchObject({ allowed: false, cache: 'miss' });
    expect(await check(PLANNER, REVIEWER_AGENT, '/docs/mcp', tool('search_docs', { q: 'a' }, 402))).toMatchObject({
      allowed: false,
      cache: 'miss',
      body: rpcDenial(402, 'request reached another workload'),
    });
  });

  it('the declared cache key covers every input field the agents entrypoint reads (OPA plan analysis)', async () => {
    const yaml = parseYaml(readFileSync(LIBRARY, 'utf8')) as { cache: { routes: Array<{ route: string; key: string[]; ttl_ms: number }> } };
    const agentRoutes = CATALOGUE.filter((r) => r.api === 'mcp' || r.api === 'a2a')
      .map((r) => r.name)
      .sort();
    expect(yaml.cache.routes.map((r) => r.route).sort()).toEqual(agentRoutes);
    const key = yaml.cache.routes[0]!.key;
    for (const r of yaml.cache.routes) expect(r.key, r.route).toEqual(key);

    const files = await readArchiveFiles(compileRegoPlan('policies/library', ['ztauthz/agents/allow']));
    const reads = analysePlan(JSON.parse(Buffer.from(files.get('/plan.json')!).toString('utf8')));
    if (reads.kind !== 'plan') throw new Error(`plan analysis failed: ${JSON.stringify(reads)}`);
    const declared = key.map((k) => k.split('.'));
    const under = (p: readonly string[], d: readonly string[]) => d.length <= p.length && d.every((s, i) => p[i] === s);
    // A field read as a whole must sit under a declared field; a field only
    // passed through on the way down must lead to one.
    expect(reads.whole.filter((p) => !declared.some((d) => under(p, d))).map((p) => p.join('.'))).toEqual([]);
    expect(reads.reads.filter((p) => !declared.some((d) => under(p, d) || under(d, p))).map((p) => p.join('.'))).toEqual([]);
  });
});
