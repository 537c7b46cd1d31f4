// Prometheus metrics. One registry per server instance (not prom-client's
// global one) so that several servers in one process, as in tests, never
// share counters. Label values come from closed or bounded sets: reason codes,
// decisions, route names from the route table, and identities through
// IdentityLabels (at most `max` of them, the rest under "__overflow__").
//
// The per-Check series (recordCheck) cost a few Map lookups and number
// increments per Check and allocate nothing once a combination has been seen:
// counts wait in cells (CheckSeries.ts) until a scrape flushes them into
// prom-client, and latencies go to BucketHistogram, which builds its buckets
// only when scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from './PromClient.ts';
import { ALL_REASONS, Reason, type ReasonCode } from '../types/Reason.ts';
import { BucketHistogram, type HistogramSeries } from './BucketHistogram.ts';
import { ALLOW, Cell, DECISIONS, DENY, DecisionCells } from './CheckSeries.ts';
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
  readonly behaviorSignals: Counter<'signal' | 'identity'>;
  readonly policyInfo: Gauge<'revision'>;
  readonly policyLoads: Counter<'policy' | 'result'>;
  readonly shadowEvaluations: Counter<'route' | 'result'>;
  readonly peersRefused: Counter<'reason'>;
  readonly decisionLogDropped: Counter;
  readonly decisionLogSampledOut: Counter;
  readonly decisionLogErrors: Counter;
  readonly identities: IdentityLabels;
  /** route -> reason -> [deny, allow] of ztauthz_checks_total. */
  readonly #checks: DecisionCells;
  /** identity label -> route -> [deny, allow] of ztauthz_identity_checks_total. */
  readonly #identityChecks: DecisionCells;
  /** ztauthz_check_errors_total by reason, for error reasons only. */
  readonly #checkErrors = new Map<ReasonCode, Cell>();
  readonly #cacheLookups: Record<Exclude<CacheResult, 'off'>, Cell>;
  readonly #shortcuts: Cell;
  /** Every Cell outside #checks and #identityChecks, for #flush. */
  readonly #singleCells: Cell[];
  readonly #checkDuration: BucketHistogram;
  /** ztauthz_check_duration_seconds by DENY/ALLOW; made on first use, as prom-client shows a label set only once observed. */
  readonly #durations: [HistogramSeries | undefined, HistogramSeries | undefined] = [undefined, undefined];
  readonly #evalDuration: HistogramSeries;
  /** Something was counted since the last flush; saves walking every cell once per affected metric per scrape. */
  #unflushed = false;
  /** identity label -> the signals it has series under, so eviction can remove them. */
  readonly #identitySignals = new Map<string, Set<string>>();
  #behaviorSize: (() => number) | undefined;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'ztauthz_' });
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(`ztauthz_${name}`);
    }
    this.identities = new IdentityLabels({
      max: opts.maxIdentities ?? 1000,
      idleMs: (opts.identityIdleSeconds ?? 3600) * 1000,
      onEvict: (identity) => this.#removeIdentitySeries(identity),
    });
    // Every metric fed from cells brings them up to date before it is read.
    const collect = (): void => this.#flush();
    const checks = new Counter({
      name: 'ztauthz_checks_total',
      help: 'Check calls answered, by decision (allow, deny), stable reason code and route ("none": no route matched).',
      labelNames: ['decision', 'reason', 'route'],
      registers,
      collect,
    });
    this.#checks = new DecisionCells(checks, (route, reason, decision) => ({ decision, reason, route }));
    const checkErrors = new Counter({
      name: 'ztauthz_check_errors_total',
      help: 'Checks that ended in an error (every reason but allowed and policy_denied), by stable reason code. Always denials.',
      labelNames: ['reason'],
      registers,
      collect,
    });
    for (const reason of ALL_REASONS) {
      if (!isErrorReason(reason)) continue;
      const cell = new Cell(checkErrors, { reason });
      this.#checkErrors.set(reason, cell);
      // Zero series for every error reason, so rate() and alerts see 0 rather than nothing.
      checkErrors.inc(cell.labels, 0);
    }
    this.#checkDuration = new BucketHistogram({
      name: 'ztauthz_check_duration_seconds',
      help: 'Time to answer one Check, from the bytes arriving to the response being built.',
      buckets: LATENCY_BUCKETS,
      registry: this.registry,
    });
    this.#evalDuration = new BucketHistogram({
      name: 'ztauthz_policy_evaluation_duration_seconds',
      help: 'Time spent in policy evaluation (wasm) for one Check.',
      buckets: LATENCY_BUCKETS,
      registry: this.registry,
    }).series();
    const cacheLookups = new Counter({
      name: 'ztauthz_decision_cache_lookups_total',
      help: 'Decision cache lookups by result: hit, miss, bypass (the Check was not cacheable).',
      labelNames: ['result'],
      registers,
      collect,
    });
    const lookups = (result: string): Cell => new Cell(cacheLookups, { result });
    this.#cacheLookups = { hit: lookups('hit'), miss: lookups('miss'), bypass: lookups('bypass') };
    this.#shortcuts = new Cell(
      new Counter({
        name: 'ztauthz_request_shortcuts_total',
        help: 'Cache hits answered by the request shortcut: repeated request bytes, answered without decoding or building the input.',
        registers,
        collect,
      }),
      {},
    );
    this.#singleCells = [...this.#checkErrors.values(), ...Object.values(this.#cacheLookups), this.#shortcuts];
    const identityChecks = new Counter({
      name: 'ztauthz_identity_checks_total',
      help: 'Checks per calling workload (SPIFFE ID; "none": no verified identity; "__overflow__": past metrics.max_identities), route and decision.',
      labelNames: ['identity', 'route', 'decision'],
      registers,
      collect,
    });
    this.#identityChecks = new DecisionCells(identityChecks, (identity, route, decision) => ({ identity, route, decision }));
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
      help: 'Behaviour signals raised, by signal (first_seen_route, deny_spike, rate_jump, first_seen_tool, tool_deny_spike) and identity.',
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
      help: "Decision records (and events) not written because the log could not keep up: its queue (records waiting to be serialised) or the output's buffer was full.",
      registers,
    });
    this.decisionLogErrors = new Counter({
      name: 'ztauthz_decision_log_errors_total',
      help: 'Decision records that could not be built or serialised after the Check was answered (each written as a minimal record with log_error instead), and writes the output refused.',
      registers,
    });
    this.decisionLogSampledOut = new Counter({
      name: 'ztauthz_decision_log_sampled_out_total',
      help: 'Allowed decisions not logged because of decision_log.sample_allowed (denials are never sampled out).',
      registers,
    });
  }

  /** Exposes http.send's calls (counted by its client) as ztauthz_http_send_calls_total{result}. */
  watchHttpSend(counts: { readonly response: number; readonly cache_hit: number; readonly error: number }): void {
    const seen = { response: 0, cache_hit: 0, error: 0 };
    new Counter({
      name: 'ztauthz_http_send_calls_total',
      help: 'http.send calls of policies by result: response (answered by the server, any status), cache_hit (inter-query cache), error (network, timeout, refused host, size bound, invalid request).',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        for (const k of ['response', 'cache_hit', 'error'] as const) {
          this.inc({ result: k }, counts[k] - seen[k]);
          seen[k] = counts[k];
        }
      },
    });
  }

  /**
   * Every per-Check series of one answered Check. `route` is the route name
   * (NO_ROUTE when none matched); `evalSeconds` 0: no evaluation ran (not
   * observed); cache 'off' is not counted. `spiffeId` (null: none verified)
   * at `now` (ms) picks the identity label. Returns the identity label value
   * used ("none", "__overflow__" or the SPIFFE ID).
   */
  recordCheck(
    allowed: boolean,
    reason: ReasonCode,
    route: string,
    seconds: number,
    evalSeconds: number,
    cache: CacheResult,
    shortcut: boolean,
    spiffeId: string | null,
    now: number,
  ): string {
    const d = allowed ? ALLOW : DENY;
    this.#unflushed = true;
    this.#checks.pair(route, reason)[d].pending++;
    if (isErrorReason(reason)) this.#checkErrors.get(reason)!.pending++;
    (this.#durations[d] ??= this.#checkDuration.series({ decision: DECISIONS[d] })).observe(seconds);
    if (evalSeconds > 0) this.#evalDuration.observe(evalSeconds);
    if (cache !== 'off') this.#cacheLookups[cache].pending++;
    if (shortcut) this.#shortcuts.pending++;
    return this.recordIdentity(spiffeId, route, allowed, now);
  }

  /** Counts a Check for its caller; returns the identity label value used (possibly "none" or "__overflow__"). */
  recordIdentity(spiffeId: string | null, route: string, allowed: boolean, now: number): string {
    // label() may evict an idle identity, which drops that identity's cells: take the pair after it.
    const identity = this.identities.label(spiffeId, now);
    this.#identityChecks.pair(identity, route)[allowed ? ALLOW : DENY].pending++;
    this.#unflushed = true;
    return identity;
  }

  /** A behaviour signal raised for an identity label value (from recordIdentity). Rare, so straight to prom-client. */
  recordSignal(identity: string, signal: string): void {
    this.behaviorSignals.inc({ signal, identity });
    let signals = this.#identitySignals.get(identity);
    if (!signals) this.#identitySignals.set(identity, (signals = new Set()));
    signals.add(signal);
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

  /** Moves pending counts into prom-client. Idempotent: every cell-fed metric calls it when read. */
  #flush(): void {
    if (!this.#unflushed) return;
    this.#unflushed = false;
    this.#checks.flush();
    this.#identityChecks.flush();
    for (const cell of this.#singleCells) cell.flush();
  }

  /** An evicted identity's series go; if it comes back they restart from zero. */
  #removeIdentitySeries(identity: string): void {
    this.#identityChecks.drop(identity);
    for (const signal of this.#identitySignals.get(identity) ?? []) this.behaviorSignals.remove({ signal, identity });
    this.#identitySignals.delete(identity);
  }
}

/** Reasons that are errors rather than decisions the policy made. */
export function isErrorReason(reason: ReasonCode): boolean {
  return reason !== Reason.allowed && reason !== Reason.policyDenied;
}
