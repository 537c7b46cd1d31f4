// The decision cache never serves one workload's decision to another. Two
// workloads call the same route with different rights, interleaved, through
// a cache-on pipeline (full-input key and a route-declared narrow key) and
// over real gRPC; every answer names the caller it was made for. And
// concurrent identical misses are evaluated once.
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from '../../src/server/Server.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import type { CheckOutcome } from '../../src/check/CheckPipeline.ts';
import { CheckClient, checkRequest, headerValue, type CheckResult } from '../support/checkClient.ts';
import { inProcessPipeline, startInProcess } from '../support/servers.ts';

const POLICY = fileURLToPath(new URL('../fixtures/policies/cache-identities', import.meta.url));
const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const SCORER = 'spiffe://cluster.local/ns/batch/sa/scorer';
const MODELS = ['fraud-detector', 'churn'];
/** The policy's data: who may infer on which model. */
const RIGHTS: Record<string, readonly string[]> = { [FRONTEND]: ['fraud-detector', 'churn'], [SCORER]: ['churn'] };

// The route author's statement that the kserve-v2-infer policy reads only the
// caller's SPIFFE ID and the model. It is true of cache-identities/policy.rego.
// ztauthz cannot check it: had the policy also read, say, the x-tenant header
// or input.identity.user, this key would hand one tenant's (or user's) answer
// to the next request from the same workload for the same model. Keeping the
// list complete is the route author's responsibility, as cache.routes says.
const NARROW_KEY = JSON.stringify([{ route: 'kserve-v2-infer', key: ['identity.spiffe_id', 'route.model'] }]);

/** Deterministic interleaving (no Math.random): a fixed walk over callers and models. */
function schedule(n: number): Array<{ caller: string; model: string; i: number }> {
  return Array.from({ length: n }, (_, i) => {
    // Runs of one caller of varying length, then the other: AB, AABB, ABAB... patterns all occur.
    const caller = ((i * 7919) >> (i % 3)) % 2 === 0 ? FRONTEND : SCORER;
    return { caller, model: MODELS[(i * 31) % 5 < 3 ? 0 : 1] as string, i };
  });
}

/** Protojson for the in-process pipeline: volatile headers differ per request, so hits cross them. */
function protojson(caller: string, model: string, i: number): unknown {
  return {
    attributes: {
      source: { principal: caller, address: { socketAddress: { address: '10.0.0.1', portValue: 40000 + (i % 20000) } } },
      request: {
        time: new Date(1_750_000_000_000 + i).toISOString(),
        http: {
          method: 'POST',
          path: `/v2/models/${model}/infer`,
          host: 'models.svc',
          headers: {
            'content-type': 'application/json',
            traceparent: `00-${i.toString(16).padStart(32, '0')}-${'1'.repeat(16)}-01`,
            'x-b3-traceid': i.toString(16),
          },
          body: '{"inputs":[]}',
        },
      },
    },
  };
}

function expectOwnDecision(caller: string, model: string, allowed: boolean, callerHeader: string | undefined, where: string): void {
  expect({ where, allowed, callerHeader }).toEqual({ where, allowed: RIGHTS[caller]!.includes(model), callerHeader: caller });
}

function outcomeCallerHeader(o: CheckOutcome): string | undefined {
  return o.decision.headers.find((h) => h.key === 'x-cid-caller')?.value;
}

describe('the decision cache never crosses identities', () => {
  for (const [label, flags] of [
    ['full-input key', {}],
    ['route-declared key [identity.spiffe_id, route.model]', { 'cache-routes': NARROW_KEY }],
  ] as const) {
    it(`in-process, ${label}: 6,000 interleaved Checks, each answered for its own caller`, async () => {
      const p = await inProcessPipeline({ 'policy-path': POLICY, 'cache-enabled': 'true', ...flags });
      p.policies.activate(await p.load());
      const outcomes: Record<string, number> = {};
      for (const { caller, model, i } of schedule(6_000)) {
        const o = await p.pipeline.check(encodeCheckRequestJson(protojson(caller, model, i)));
        outcomes[o.record.cache!] = (outcomes[o.record.cache!] ?? 0) + 1;
        expectOwnDecision(caller, model, o.decision.allowed, outcomeCallerHeader(o), `request ${i} (${label})`);
      }
      // Two callers x two models: four decisions, everything else served from the cache.
      expect(outcomes).toEqual({ miss: 4, hit: 5_996 });
    });
  }

  describe('over real gRPC', () => {
    const servers: RunningServer[] = [];
    const clients: CheckClient[] = [];
    afterAll(async () => {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.stop(1000)));
    });

    async function start(flags: Record<string, string> = {}): Promise<{ server: RunningServer; client: CheckClient }> {
      const server = await startInProcess({ 'policy-path': POLICY, 'cache-enabled': 'true', ...flags });
      servers.push(server);
      const client = new CheckClient(server.grpcPort);
      clients.push(client);
      return { server, client };
    }

    for (const [label, flags] of [
      ['full-input key', {}],
      ['route-declared key', { 'cache-routes': NARROW_KEY }],
    ] as const) {
      it(`${label}: 400 interleaved Checks, 20 in flight at a time, each answered for its own caller`, async () => {
        const { client } = await start(flags);
        const plan = schedule(400);
        for (let b = 0; b < plan.length; b += 20) {
          const batch = plan.slice(b, b + 20);
          const results: CheckResult[] = await Promise.all(
            batch.map(({ caller, model, i }) =>
              client.check(
                checkRequest({
                  method: 'POST',
                  path: `/v2/models/${model}/infer`,
                  principal: caller,
                  headers: { traceparent: `00-${i.toString(16).padStart(32, '0')}-${'2'.repeat(16)}-01` },
                }),
              ),
            ),
          );
          batch.forEach(({ caller, model, i }, k) => {
            const r = results[k]!;
            expectOwnDecision(caller, model, (r.status?.code ?? 0) === 0, headerValue(r, 'x-cid-caller'), `gRPC request ${i} (${label})`);
          });
        }
      });
    }

    it('200 identical Checks in flight at once are evaluated once: one miss, 199 hits', async () => {
      const { server, client } = await start();
      const req = checkRequest({ method: 'POST', path: '/v2/models/churn/infer', principal: SCORER });
      const results = await Promise.all(Array.from({ length: 200 }, () => client.check(req)));
      for (const r of results) expect(headerValue(r, 'x-cid-caller')).toBe(SCORER);
      const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
      const count = (result: string): number => {
        const m = new RegExp(`^ztauthz_decision_cache_lookups_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(metrics);
        return m ? Number(m[1]) : 0;
      };
      expect({ miss: count('miss'), hit: count('hit') }).toEqual({ miss: 1, hit: 199 });
    });
  });
});
