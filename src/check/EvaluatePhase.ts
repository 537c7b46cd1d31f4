// The evaluate phase: look the decision up in the cache, or evaluate the
// policy and store what it decided. Lookup, evaluation and store run in one
// synchronous stretch, so concurrent misses on the same key cannot both
// evaluate (single flight by construction: nothing can interleave).
import type { DecisionCache } from '../cache/DecisionCache.ts';
import { fullInputKey, parseFieldPath, requestDerivedKey, selectedFieldsKey, type FieldPath } from '../cache/CacheKey.ts';
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { errorText, type PolicyEngine } from '../policy/PolicyEngine.ts';
import type { Decision } from '../types/Decision.ts';
import type { JsonObject } from '../types/Json.ts';
import { CheckError, Reason } from '../types/Reason.ts';

export type CacheOutcome = 'hit' | 'miss' | 'bypass' | 'off';

export interface CachePolicy {
  readonly cache: DecisionCache | undefined;
  /** Fields left out of the default key (cache.ignore). */
  readonly ignore: readonly string[];
  /** The active policy: a decision is stored only while the policy that made it is still the active one. */
  readonly current: () => PolicyEngine | undefined;
  /** Lifetime for decisions of time-dependent policies; 0: they are not cached. */
  readonly timeDependentTtlMs: number;
}

/** What a route says about caching its decisions. */
export interface RouteCaching {
  /** The only input fields the route's policy reads (its author's statement). */
  readonly key?: readonly FieldPath[] | undefined;
  /** Lifetime for this route, which also allows caching a time-dependent policy. */
  readonly ttlMs?: number | undefined;
}

export interface Evaluated {
  readonly decision: Decision;
  readonly cache: CacheOutcome;
  readonly evalNs: number;
  /** The cache key used (for `check --explain`), when the cache was consulted. */
  readonly key: string | undefined;
}

export class EvaluatePhase {
  readonly #policy: CachePolicy;
  readonly #ignore: readonly FieldPath[];

  constructor(policy: CachePolicy) {
    this.#policy = policy;
    this.#ignore = policy.ignore.map(parseFieldPath);
  }

  /** The decision cached under a key an earlier evaluate() used (the request shortcut's way in). */
  cached(key: string): Decision | undefined {
    return this.#policy.cache?.get(key);
  }

  evaluate(
    engine: PolicyEngine,
    entrypoint: string,
    input: JsonObject,
    route: RouteCaching | undefined,
    routeName: string | undefined,
    expiresAtS: number | undefined,
    /** The request's raw key when it covers cache.ignore: keys the input without serialising it. */
    rawKey?: string,
  ): Evaluated {
    const cache = this.#policy.cache;
    if (!cache) return run(engine, entrypoint, input, 'off', undefined);
    let ttlMs = route?.ttlMs ?? Infinity;
    if (engine.timeDependent && route?.ttlMs === undefined) {
      if (this.#policy.timeDependentTtlMs <= 0) return run(engine, entrypoint, input, 'bypass', undefined);
      ttlMs = this.#policy.timeDependentTtlMs;
    }
    const key =
      route?.key && routeName !== undefined
        ? selectedFieldsKey(engine.instance, entrypoint, routeName, input, route.key)
        : rawKey !== undefined
          ? requestDerivedKey(rawKey, entrypoint, input['identity'], input['behavior'])
          : fullInputKey(engine.instance, entrypoint, input, this.#ignore);
    const cached = cache.get(key);
    if (cached) return { decision: cached, cache: 'hit', evalNs: 0, key };
    const evaluated = run(engine, entrypoint, input, 'miss', key);
    // Only what the policy decided is stored; errors threw out of run() above.
    // A Check that started before a reload finishes on the old policy; its
    // decision must not outlive that policy in the cache.
    if (this.#policy.current() !== engine) return evaluated;
    const limit = Math.min(ttlMs, policyTtlMs(evaluated.decision), expiresAtS === undefined ? Infinity : expiresAtS * 1000 - Date.now());
    cache.set(key, evaluated.decision, limit);
    return evaluated;
  }
}

function run(engine: PolicyEngine, entrypoint: string, input: JsonObject, cache: CacheOutcome, key: string | undefined): Evaluated {
  const start = process.hrtime.bigint();
  let resultSet: unknown;
  try {
    resultSet = engine.evaluate(input, entrypoint);
  } catch (err) {
    throw new CheckError(Reason.policyError, `policy evaluation of ${entrypoint} failed: ${errorText(err)}`);
  }
  const evalNs = Number(process.hrtime.bigint() - start);
  return { decision: decisionFromResultSet(resultSet), cache, evalNs, key };
}

/**
 * A policy may shorten its decision's cache life with the optional result
 * field `cache_ttl_seconds` (0: do not cache). opa-envoy-plugin ignores the
 * field, so such policies stay portable.
 */
function policyTtlMs(decision: Decision): number {
  const r = decision.result;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return Infinity;
  const ttl = r['cache_ttl_seconds'];
  return typeof ttl === 'number' && ttl >= 0 ? ttl * 1000 : Infinity;
}
