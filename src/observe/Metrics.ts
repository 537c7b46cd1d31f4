// Prometheus metrics. One registry per server instance (not prom-client's
// global one) so that several servers in one process, as in tests, never
// share counters. Label values come from closed or bounded sets: reason codes,
// decisions, route names from the route table, and identities through
// IdentityLabels (at most `max` of them, the rest under "__overflow__").
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALL_REASONS, Reason, type ReasonCode } from '../types/Reason.ts';
import { IdentityLabels } from './IdentityLabels.ts';

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Route label of Checks that matched no route (or happened before routing). */
export const NO_ROUTE = 'none';

/** prom-client's default metrics that are gauges named `_total`, which Prometheus naming (and promtool) rejects; the unsuffixed gauges carry the same numbers. */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface MetricsOptions {
  /** Process and Node.js runtime metrics (prom-client's defaults). Default true. */
  readonly processMetrics?: boolean;
  /** Identities with their own series (metrics.max_identities). Default 1000. */
  readonly maxIdentities?: number;
  /** An identity idle this long may give its series' slot to a new one (metrics.identity_idle_seconds). 0: never. Default 3600. */
  readonly identityIdleSeconds?: number;
}

/** What the decision cache exposes (src/cache/DecisionCache.ts has this shape). */
export interface CacheSource {
  readonly stats: { readonly evictions: number };
  readonly entries: number;
  readonly bytes: number;
}

export type CacheResult = 'hit' | 'miss' | 'bypass' | 'off';

export class Metrics {
  readonly registry = new Registry();
  readonly checks: Counter<'decision' | 'reason' | 'route'>;
  readonly checkErrors: Counter<'reason'>;
  readonly checkDuration: Histogram<'decision'>;
  readonly evalDuration: Histogram;
  readonly cacheLookups: Counter<'result'>;
  readonly shortcuts: Counter;
  readonly identityChecks: Counter<'identity' | 'route' | 'decision'>;
  readonly behaviorSignals: Counter<'signal' | 'identity'>;
  readonly policyInfo: Gauge<'revision'>;
  readonly policyLoads: Counter<'policy' | 'result'>;
  readonly shadowEvaluations: Counter<'route' | 'result'>;
  readonly peersRefused: Counter<'reason'>;
  readonly decisionLogDropped: Counter;
  readonly decisionLogSampledOut: Counter;
  readonly identities: IdentityLabels;
  /** identity -> the label sets it has series under; kept only when slots can be given back, so eviction can remove them. */
  readonly #identitySeries = new Map<string, Set<string>>();
  readonly #trackSeries: boolean;
  #behaviorSize: (() => number) | undefined;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'ztauthz_' });
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(`ztauthz_${name}`);
    }
    const idleSeconds = opts.identityIdleSeconds ?? 3600;
    this.#trackSeries = idleSeconds > 0;
    this.identities = new IdentityLabels({
      max: opts.maxIdentities ?? 1000,
      idleMs: idleSeconds * 1000,
      onEvict: (identity) => this.#removeIdentitySeries(identity),
    });
    this.checks = new Counter({
      name: 'ztauthz_checks_total',
      help: 'Check calls answered, by decision (allow, deny), stable reason code and route ("none": no route matched).',
      labelNames: ['decision', 'reason', 'route'],
      registers,
    });
    this.checkErrors = new Counter({
      name: 'ztauthz_check_errors_total',
      help: 'Checks that ended in an error (every reason but allowed and policy_denied), by stable reason code. Always denials.',
      labelNames: ['reason'],
      registers,
    });
    // Zero series for every error reason, so rate() and alerts see 0 rather than nothing.
    for (const reason of ALL_REASONS) if (isErrorReason(reason)) this.checkErrors.inc({ reason }, 0);
    this.checkDuration = new Histogram({
      name: 'ztauthz_check_duration_seconds',
      help: 'Time to answer one Check, from the bytes arriving to the response being built.',
      labelNames: ['decision'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.evalDuration = new Histogram({
      name: 'ztauthz_policy_evaluation_duration_seconds',
      help: 'Time spent in policy evaluation (wasm) for one Check.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'ztauthz_decision_cache_lookups_total',
      help: 'Decision cache lookups by result: hit, miss, bypass (the Check was not cacheable).',
      labelNames: ['result'],
      registers,
    });
    this.shortcuts = new Counter({
      name: 'ztauthz_request_shortcuts_total',
      help: 'Cache hits answered by the request shortcut: repeated request bytes, answered without decoding or building the input.',
      registers,
    });
    this.identityChecks = new Counter({
      name: 'ztauthz_identity_checks_total',
      help: 'Checks per calling workload (SPIFFE ID; "none": no verified identity; "__overflow__": past metrics.max_identities), route and decision.',
      labelNames: ['identity', 'route', 'decision'],
      registers,
    });
    const identities = this.identities;
    new Gauge({
      name: 'ztauthz_identity_labels',
      help: 'Identities that currently have their own identity label value.',
      registers,
      collect() {
        this.set(identities.size);
      },
    });
    new Gauge({
      name: 'ztauthz_identity_labels_max',
      help: 'The configured limit on identity label values (metrics.max_identities).',
      registers,
    }).set(this.identities.max);
    this.behaviorSignals = new Counter({
      name: 'ztauthz_behavior_signals_total',
      help: 'Behaviour signals raised, by signal (first_seen_route, deny_spike, rate_jump) and identity.',
      labelNames: ['signal', 'identity'],
      registers,
    });
    const behaviorSize = (): number => this.#behaviorSize?.() ?? 0;
    new Gauge({
      name: 'ztauthz_behavior_tracked_identities',
      help: 'Identities whose recent behaviour is tracked (bounded by behavior.max_identities).',
      registers,
      collect() {
        this.set(behaviorSize());
      },
    });
    this.policyInfo = new Gauge({
      name: 'ztauthz_policy_info',
      help: 'The active policy revision (value 1).',
      labelNames: ['revision'],
      registers,
    });
    this.policyLoads = new Counter({
      name: 'ztauthz_policy_loads_total',
      help: 'Policy loads and reloads by policy (active, shadow) and result (success, failure: the previous policy kept serving).',
      labelNames: ['policy', 'result'],
      registers,
    });
    this.peersRefused = new Counter({
      name: 'ztauthz_grpc_peers_refused_total',
      help: 'Callers of the mTLS gRPC listener refused before any Check: not_allowed (identified, not on grpc.tls.allowed_peers) or unidentified (no usable SPIFFE ID).',
      labelNames: ['reason'],
      registers,
    });
    this.shadowEvaluations = new Counter({
      name: 'ztauthz_shadow_evaluations_total',
      help: 'Shadow policy evaluations by route and result (agree, disagree, error) against the active decision.',
      labelNames: ['route', 'result'],
      registers,
    });
    this.decisionLogDropped = new Counter({
      name: 'ztauthz_decision_log_dropped_total',
      help: 'Decision records not written because the log output could not keep up.',
      registers,
    });
    this.decisionLogSampledOut = new Counter({
      name: 'ztauthz_decision_log_sampled_out_total',
      help: 'Allowed decisions not logged because of decision_log.sample_allowed (denials are never sampled out).',
      registers,
    });
  }

  /** One answered Check. `route` is the route name (NO_ROUTE when none matched). */
  recordCheck(allowed: boolean, reason: ReasonCode, seconds: number, route: string = NO_ROUTE): void {
    const decision = allowed ? 'allow' : 'deny';
    this.checks.inc({ decision, reason, route });
    this.checkDuration.observe({ decision }, seconds);
    if (isErrorReason(reason)) this.checkErrors.inc({ reason });
  }

  /** Counts a Check for its caller; returns the identity label value used (possibly "none" or "__overflow__"). */
  recordIdentity(spiffeId: string | null, route: string, allowed: boolean, now: number): string {
    const identity = this.identities.label(spiffeId, now);
    const decision = allowed ? 'allow' : 'deny';
    this.identityChecks.inc({ identity, route, decision });
    if (this.#trackSeries) this.#noteSeries(identity, `c\u0000${route}\u0000${decision}`);
    return identity;
  }

  /** A behaviour signal raised for an identity label value (from recordIdentity). */
  recordSignal(identity: string, signal: string): void {
    this.behaviorSignals.inc({ signal, identity });
    if (this.#trackSeries) this.#noteSeries(identity, `s\u0000${signal}`);
  }

  /** Exposes the decision cache's size and evictions (read at scrape time). */
  watchCache(cache: CacheSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'ztauthz_decision_cache_entries',
      help: 'Decisions held in the cache.',
      registers,
      collect() {
        this.set(cache.entries);
      },
    });
    new Gauge({
      name: 'ztauthz_decision_cache_bytes',
      help: 'Estimated bytes held by the decision cache.',
      registers,
      collect() {
        this.set(cache.bytes);
      },
    });
    let seen = 0;
    new Counter({
      name: 'ztauthz_decision_cache_evictions_total',
      help: 'Decisions evicted from the cache to stay within its bounds.',
      registers,
      collect() {
        // The cache counts; the counter follows it by the difference since the last scrape.
        const now = cache.stats.evictions;
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  }

  /** Exposes how many identities behaviour tracking holds (read at scrape time). */
  watchBehavior(source: { readonly size: number }): void {
    this.#behaviorSize = () => source.size;
  }

  setPolicyRevision(revision: string): void {
    this.policyInfo.reset();
    this.policyInfo.set({ revision }, 1);
  }

  #noteSeries(identity: string, key: string): void {
    let keys = this.#identitySeries.get(identity);
    if (!keys) this.#identitySeries.set(identity, (keys = new Set()));
    keys.add(key);
  }

  #removeIdentitySeries(identity: string): void {
    const keys = this.#identitySeries.get(identity);
    this.#identitySeries.delete(identity);
    for (const key of keys ?? []) {
      const [kind, a = '', b = ''] = key.split('\u0000');
      if (kind === 'c') this.identityChecks.remove({ identity, route: a, decision: b });
      else this.behaviorSignals.remove({ signal: a, identity });
    }
  }
}

/** Reasons that are errors rather than decisions the policy made. */
export function isErrorReason(reason: ReasonCode): boolean {
  return reason !== Reason.allowed && reason !== Reason.policyDenied;
}
