// The cache never lets a decision outlive the policy instance that made it,
// even when a reload keeps the manifest revision.
import { describe, expect, it } from 'vitest';
import { inProcessPipeline } from '../support/servers.ts';
import { DecisionCache } from '../../src/cache/DecisionCache.ts';
import { EvaluatePhase } from '../../src/check/EvaluatePhase.ts';
import type { PolicyEngine } from '../../src/policy/PolicyEngine.ts';

const INPUT = {
  attributes: {
    source: { principal: 'spiffe://cluster.local/ns/web/sa/frontend' },
    request: { http: { method: 'POST', path: '/v2/models/m/infer', headers: {} } },
  },
  parsed_path: ['v2', 'models', 'm', 'infer'],
};

/** A policy without http.send is evaluated synchronously. */
function sync<T>(evaluated: T | Promise<T>): T {
  if (evaluated instanceof Promise) throw new Error('expected a synchronous evaluation');
  return evaluated;
}

describe('EvaluatePhase and policy instances', () => {
  it('keys by loaded instance and stores nothing for a policy that is no longer active', async () => {
    const { load } = await inProcessPipeline();
    const a = await load();
    const b = await load();
    expect(a.revision).toBe(b.revision);
    expect(a.instance).not.toBe(b.instance);

    const cache = new DecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000 });
    let current: PolicyEngine = a;
    const phase = new EvaluatePhase({ cache, ignore: [], timeDependentTtlMs: 0, current: () => current });
    expect(sync(phase.evaluate(a, 'envoy/authz/allow', structuredClone(INPUT), undefined, undefined, undefined)).cache).toBe('miss');
    expect(sync(phase.evaluate(a, 'envoy/authz/allow', structuredClone(INPUT), undefined, undefined, undefined)).cache).toBe('hit');
    // After the swap to b, the same input is a miss (another instance's key) ...
    current = b;
    expect(sync(phase.evaluate(b, 'envoy/authz/allow', structuredClone(INPUT), undefined, undefined, undefined)).cache).toBe('miss');
    // ... and a Check still finishing on a stores nothing.
    const entries = cache.entries;
    const other = { ...structuredClone(INPUT), parsed_path: ['v2', 'models', 'other', 'infer'] };
    expect(sync(phase.evaluate(a, 'envoy/authz/allow', other, undefined, undefined, undefined)).cache).toBe('miss');
    expect(cache.entries).toBe(entries);
  });
});
