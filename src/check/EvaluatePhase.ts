// The evaluate phase: look the decision up in the cache, or evaluate the
// policy and store what it decided. Lookup, evaluation and store run in one
// synchronous stretch, so concurrent misses on the same key cannot both
// evaluate (single flight by construction: nothing can interleave).
// Policies that call http.send are the exception: an evaluation that reaches
// http.send is finished on a worker (PolicyEngine.evaluateOffThread) and
// awaited, so concurrent misses may each evaluate; by default their decisions
// are not cached at all (they count as time-dependent).
import type { DecisionCache } from '../cache/DecisionCache.ts';
import { JSONRPC_VOLATILE_FIELDS, fullInputKey, requestDerivedKey, selectedFieldsKey, type FieldPath } from '../cache/CacheKey.ts';
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { HTTP_SEND_OFF_THREAD, errorText, type PolicyEngine } from '../policy/PolicyEngine.ts';
import type { Decision } from '../types/Decision.ts';
import type { JsonObject } from '../types/Json.ts';
import type { RouteMatch } from '../types/Route.ts';
import { CheckError, Reason } from '../types/Reason.ts';

export type CacheOutcome = 'hit' | 'miss' | 'bypass' | 'off';

export interface CachePolicy {
  readonly cache: DecisionCache | undefined;
  /**
   * Fields left out of the default key (cache.ignore), for each policy minus
   * the fields it may read (PolicyEngine.cacheIgnore).
   */
  readonly ignore: readonly string[];
  /** The operator set cache.ignore (not the default list): honoured as stated for a policy that cannot be analysed. */
  readonly ignoreExplicit?: boolean | undefined;
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
  readonly #explicit: boolean;
  readonly #jsonRpcPaths = new WeakMap<PolicyEngine, readonly FieldPath[]>();

  constructor(policy: CachePolicy) {
    this.#policy = policy;
    this.#explicit = policy.ignoreExplicit === true;
  }

  /**
   * The calls of a JSON-RPC POST (MCP, A2A; one, or a batch): each decided
   * with input.route set to it, keyed on the input without the per-call id
   * (never on the request bytes, which all calls of a batch share).
   * The first denial decides and stays in input.route; when every call is
   * allowed, the first call's decision answers (its headers, its record).
   */
  async evaluateCalls(
    engine: PolicyEngine,
    entrypoint: string,
    input: JsonObject,
    calls: readonly RouteMatch[],
    route: RouteCaching | undefined,
    routeName: string | undefined,
    expiresAtS: number | undefined,
    deadline: number,
  ): Promise<Evaluated> {
    let first: Evaluated | undefined;
    let evalNs = 0;
    let missed = false;
    for (const call of calls) {
      if (Date.now() > deadline) throw new CheckError(Reason.deadlineExceeded, 'the deadline passed while deciding a JSON-RPC batch');
      input['route'] = call as unknown as JsonObject;
      const evaluated = await this.evaluate(engine, entrypoint, input, route, routeName, expiresAtS, undefined, deadline, true);
      evalNs += evaluated.evalNs;
      missed ||= evaluated.cache !== 'hit';
      if (!evaluated.decision.allowed) return { ...evaluated, evalNs };
      first ??= evaluated;
    }
    input['route'] = calls[0] as unknown as JsonObject;
    const answer = first as Evaluated;
    return { ...answer, evalNs, cache: missed && answer.cache === 'hit' ? 'miss' : answer.cache };
  }

  /** cache.ignore plus the agent routes' fields, each as the policy's analysis allows (kept per policy). */
  #jsonRpcIgnore(engine: PolicyEngine): readonly FieldPath[] {
    let paths = this.#jsonRpcPaths.get(engine);
    if (!paths) {
      paths = [...engine.cacheIgnore(this.#policy.ignore, this.#explicit).paths, ...engine.cacheIgnore(JSONRPC_VOLATILE_FIELDS, false).paths];
      this.#jsonRpcPaths.set(engine, paths);
    }
    return paths;
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
    /** The Check's deadline (ms since the epoch): bounds the http.send calls of the evaluation. */
    deadline: number = Infinity,
    /** A JSON-RPC call on an agent route: JSONRPC_VOLATILE_FIELDS also leave the key. */
    jsonrpc = false,
  ): Evaluated | Promise<Evaluated> {
    const cache = this.#policy.cache;
    if (!cache) return engine.callsOut ? runCallsOut(engine, entrypoint, input, 'off', undefined, deadline) : run(engine, entrypoint, input, 'off', undefined);
    let ttlMs = route?.ttlMs ?? Infinity;
    if (engine.timeDependent && route?.ttlMs === undefined) {
      if (this.#policy.timeDependentTtlMs <= 0) {
        return engine.callsOut ? runCallsOut(engine, entrypoint, input, 'bypass', undefined, deadline) : run(engine, entrypoint, input, 'bypass', undefined);
      }
      ttlMs = this.#policy.timeDependentTtlMs;
    }
    const key =
      route?.key && routeName !== undefined
        ? selectedFieldsKey(engine.instance, entrypoint, routeName, input, route.key)
        : rawKey !== undefined
          ? requestDerivedKey(rawKey, entrypoint, input['identity'], input['behavior'])
          : fullInputKey(
              engine.instance,
              entrypoint,
              input,
              jsonrpc ? this.#jsonRpcIgnore(engine) : engine.cacheIgnore(this.#policy.ignore, this.#explicit).paths,
            );
    const cached = cache.get(key);
    if (cached) return { decision: cached, cache: 'hit', evalNs: 0, key };
    const store = (evaluated: Evaluated): Evaluated => {
      if (this.#policy.current() !== engine) return evaluated;
      cache.set(
        key,
        evaluated.decision,
        Math.min(ttlMs, policyTtlMs(evaluated.decision), expiresAtS === undefined ? Infinity : expiresAtS * 1000 - Date.now()),
      );
      return evaluated;
    };
    if (engine.callsOut) {
      const evaluated = runCallsOut(engine, entrypoint, input, 'miss', key, deadline);
      return evaluated instanceof Promise ? evaluated.then(store) : store(evaluated);
    }
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
 * run() for a policy that calls http.send: it is evaluated on the main thread
 * first, where http.send stops the evaluation (HTTP_SEND_OFF_THREAD); only
 * an evaluation that reaches http.send is done again on a worker. Entrypoints
 * and inputs that never call out stay as fast as any other policy.
 */
function runCallsOut(
  engine: PolicyEngine,
  entrypoint: string,
  input: JsonObject,
  cache: CacheOutcome,
  key: string | undefined,
  deadline: number,
): Evaluated | Promise<Evaluated> {
  const start = process.hrtime.bigint();
  let resultSet: unknown;
  try {
    resultSet = engine.evaluate(input, entrypoint);
  } catch (err) {
    const text = errorText(err);
    if (text.includes(HTTP_SEND_OFF_THREAD)) return runOffThread(engine, entrypoint, input, cache, key, deadline);
    throw new CheckError(Reason.policyError, `policy evaluation of ${entrypoint} failed: ${text}`);
  }
  const evalNs = Number(process.hrtime.bigint() - start);
  return { decision: decisionFromResultSet(resultSet), cache, evalNs, key };
}

async function runOffThread(
  engine: PolicyEngine,
  entrypoint: string,
  input: JsonObject,
  cache: CacheOutcome,
  key: string | undefined,
  deadline: number,
): Promise<Evaluated> {
  const start = process.hrtime.bigint();
  let resultSet: unknown;
  try {
    resultSet = await engine.evaluateOffThread(input, entrypoint, deadline);
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
