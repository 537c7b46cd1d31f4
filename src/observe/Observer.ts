// The one thing the Check pipeline talks to about observability. Three calls
// per Check: begin() when the request's headers are known (the span joins
// the request's trace), behavior() before evaluation (input.behavior), and
// finish() once the answer is made: metrics, behaviour bookkeeping and its
// events, the decision record (sampled, masked) and the end of the span.
// Every part is optional; `new Observer()` only builds decision records, which
// is what `ztauthz check` needs.
import type { Decision } from '../types/Decision.ts';
import type { Identity } from '../types/Identity.ts';
import type { JsonObject } from '../types/Json.ts';
import type { RouteMatch } from '../types/Route.ts';
import { type BehaviorSignals, LEARNING_VIEW, type BehaviorView, type ToolUse } from './BehaviorSignals.ts';
import { isoTimestamp, type DecisionLog, type DecisionRecord, type RecordIdentity, type RecordRoute } from './DecisionLog.ts';
import { NO_ROUTE, isErrorReason, type CacheResult, type Metrics } from './Metrics.ts';
import { checkSpanAttributes } from './TraceAttributes.ts';
import { fixedRecordValue } from './UnmaskedLine.ts';
import { NOOP_TRACE, NOOP_TRACING, type CheckTrace, type Tracing } from './Tracing.ts';

export type { BehaviorView } from './BehaviorSignals.ts';
export type { CheckTrace } from './Tracing.ts';

/** Everything known about one answered Check. */
export interface ObservedCheck {
  readonly decisionId: string;
  /** When the answer was made, ms since the epoch (Date.now()). */
  readonly timestamp: number;
  readonly identity: Identity | null;
  readonly route: RouteMatch | null;
  /** The JSON-RPC calls of an agent route (route is the one that decided); undefined elsewhere. */
  readonly calls?: readonly RouteMatch[] | undefined;
  readonly decision: Decision;
  readonly cache: CacheResult;
  /** Revision of the policy that decided ("" when none was loaded). */
  readonly revision: string;
  /** The decision path (entrypoint) evaluated. */
  readonly path: string;
  readonly dryRun: boolean;
  /** The input the policy saw (undefined when the request never became input). */
  readonly input: JsonObject | undefined;
  /** Operator notes for the record's message (e.g. why a token was ignored): appended as " (a; b)". */
  readonly notes?: readonly string[] | undefined;
  /** What behavior() returned for this Check; when absent, finish() counts the request itself. */
  readonly behavior?: BehaviorView | undefined;
  /** Answered by the request shortcut (a hit found by the request's bytes). */
  readonly shortcut?: boolean | undefined;
  /** Whether the record carries the input, when the pipeline already drew it (recordsInput()); absent: finish() asks the log. */
  readonly recordInput?: boolean | undefined;
  readonly timings: { readonly checkNs: number; readonly evalNs: number };
}

export interface ObserverParts {
  readonly metrics?: Metrics | undefined;
  readonly decisionLog?: DecisionLog | undefined;
  /** From startTracing(); absent: tracing off. */
  readonly tracing?: Tracing | undefined;
  /** Behaviour tracking; absent: off (input.behavior is then always the learning view). */
  readonly behavior?: BehaviorSignals | undefined;
}

export class Observer {
  readonly #metrics: Metrics | undefined;
  readonly #log: DecisionLog | undefined;
  readonly #tracing: Tracing;
  readonly #signals: BehaviorSignals | undefined;

  constructor(parts: ObserverParts = {}) {
    this.#metrics = parts.metrics;
    this.#log = parts.decisionLog;
    this.#tracing = parts.tracing ?? NOOP_TRACING;
    this.#signals = parts.behavior;
    if (parts.behavior) parts.metrics?.watchBehavior(parts.behavior);
  }

  /** Whether Checks get spans (and so the request's trace headers are read). */
  get traces(): boolean {
    return this.#tracing.enabled;
  }

  /** Whether every decision record needs the policy input (include_input "all"). */
  get inputOnEveryRecord(): boolean {
    return this.#log?.inputOnEveryRecord ?? false;
  }

  /**
   * Whether the record of this Check, with this decision, carries the input
   * (include_input and input_sample_allowed; a fresh draw per call). A Check
   * that asks passes the answer on as ObservedCheck.recordInput.
   */
  recordsInput(allowed: boolean): boolean {
    return this.#log?.inputFor(allowed) ?? false;
  }

  /**
   * Start of a Check, once the request's headers are known (lower-case names,
   * as in the CheckRequest; undefined when it did not decode). `startTime`
   * (performance.now()) backdates the span to when the bytes arrived. When
   * tracing is off this returns a shared no-op and reads nothing.
   */
  begin(headers: Readonly<Record<string, string>> | undefined, startTime?: number): CheckTrace {
    return this.#tracing.enabled ? this.#tracing.begin(headers, startTime) : NOOP_TRACE;
  }

  /**
   * input.behavior for a Check by `identity` (SPIFFE ID, null: none verified)
   * on `route` (route name, null: none matched). Counts the request. Stable
   * on steady traffic: one of a few shared, frozen objects.
   */
  behavior(identity: string | null, route: string | null, now: number): BehaviorView {
    return this.#signals ? this.#signals.observe(identity, route, now) : LEARNING_VIEW;
  }

  /**
   * After the answer: metrics, behaviour bookkeeping, decision record, span
   * end. The record is only queued here: the log builds and serialises it
   * after the Check (see DecisionLog); the returned facts build it on demand
   * (decisionRecord()).
   */
  finish(trace: CheckTrace, check: ObservedCheck): FinishedCheck {
    const d = check.decision;
    const spiffeId = check.identity?.spiffe_id ?? null;
    const routeName = check.route?.name ?? null;
    const m = this.#metrics;
    let identityLabel: string | undefined;
    if (m) {
      const t = check.timings;
      identityLabel = m.recordCheck(
        d.allowed,
        d.reason,
        routeName ?? NO_ROUTE,
        t.checkNs / 1e9,
        t.evalNs / 1e9,
        check.cache,
        check.shortcut === true,
        spiffeId,
        check.timestamp,
      );
    }

    let behavior = check.behavior;
    const signals = this.#signals;
    if (signals && spiffeId !== null) {
      behavior ??= signals.observe(spiffeId, routeName, check.timestamp);
      for (const event of signals.settle(spiffeId, routeName, d.allowed, check.timestamp, toolUses(check))) {
        if (identityLabel !== undefined) m?.recordSignal(identityLabel, event.signal);
        this.#log?.writeEvent({ type: 'behavior', decision_id: check.decisionId, trace_id: trace.traceId, ...event });
      }
    }

    const finished: FinishedCheck = { check, traceId: trace.traceId, spanId: trace.spanId, behavior };
    const log = this.#log;
    if (log?.enabled) {
      log.write({
        decisionId: check.decisionId,
        allowed: d.allowed,
        reason: d.reason,
        timestamp: check.timestamp,
        withInput: check.input !== undefined && (check.recordInput ?? log.inputFor(d.allowed)),
        build: () => decisionRecord(finished),
      });
    }

    if (trace.recording) {
      trace.setAttributes(
        checkSpanAttributes({
          decisionId: check.decisionId,
          allowed: d.allowed,
          reason: d.reason,
          httpStatus: d.httpStatus,
          dryRun: check.dryRun,
          cache: check.cache,
          path: check.path,
          revision: check.revision,
          identity: check.identity,
          route: check.route,
          behavior,
        }),
      );
      // A policy denial is the service working; only errors mark the span failed.
      if (isErrorReason(d.reason)) trace.setError(d.reason, d.message);
    }
    trace.end();
    return finished;
  }

  /** Exports buffered spans. */
  flush(): Promise<void> {
    return this.#tracing.flush();
  }

  /** Flushes and stops tracing. (The decision log is closed by its owner.) */
  shutdown(): Promise<void> {
    return this.#tracing.shutdown();
  }
}

/**
 * The MCP tool calls a Check decided: every call of an allowed request; of a
 * denied one only the call that was denied (the calls after it were not
 * decided, and none of the batch reached the server); none for an error.
 */
function toolUses(check: ObservedCheck): readonly ToolUse[] {
  // An error (the policy failed, the deadline passed) says nothing about the caller's tools.
  if (!check.calls || isErrorReason(check.decision.reason)) return [];
  const allowed = check.decision.allowed;
  const calls = allowed ? check.calls : check.route ? [check.route] : [];
  const uses: ToolUse[] = [];
  for (const call of calls) {
    const tool = call.params['tool'];
    if (call.action !== 'tools/call' || typeof tool !== 'string') continue;
    const server = call.params['server'];
    uses.push({ server: typeof server === 'string' ? server : null, tool, allowed });
  }
  return uses;
}

/** What finish() knew of a Check: enough to build its decision record. */
export interface FinishedCheck {
  readonly check: ObservedCheck;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly behavior: BehaviorView | undefined;
}

/** The decision record (unmasked) of a finished Check. */
export function decisionRecord(f: FinishedCheck): DecisionRecord {
  const check = f.check;
  const d = check.decision;
  return {
    decision_id: check.decisionId,
    trace_id: f.traceId,
    span_id: f.spanId,
    timestamp: isoTimestamp(check.timestamp),
    path: check.path,
    revision: check.revision,
    allowed: d.allowed,
    reason: d.reason,
    message: check.notes?.length ? `${d.message} (${check.notes.join('; ')})` : d.message,
    dry_run: check.dryRun,
    http_status: d.allowed ? 200 : d.httpStatus,
    result: d.result,
    input: check.input,
    identity: recordIdentity(check.identity),
    route: recordRoute(check.route),
    cache: check.cache,
    behavior: f.behavior,
    metrics: {
      timer_check_ns: check.timings.checkNs,
      timer_eval_ns: check.timings.evalNs,
      timer_server_handler_ns: check.timings.checkNs,
      timer_rego_query_eval_ns: check.timings.evalNs,
    },
  };
}

/**
 * One frozen record identity per Check identity, and one record route per
 * route match (a repeat the request shortcut answers has the same ones): the
 * decision line writes their JSON text once (UnmaskedLine.ts). Identities and
 * route matches are not changed once made.
 */
const RECORD_IDENTITIES = new WeakMap<Identity, RecordIdentity>();
const RECORD_ROUTES = new WeakMap<RouteMatch, RecordRoute>();

function recordIdentity(id: Identity | null): RecordIdentity | null {
  if (!id) return null;
  let r = RECORD_IDENTITIES.get(id);
  if (!r) {
    r = Object.freeze({
      spiffe_id: id.spiffe_id,
      trust_domain: id.trust_domain,
      namespace: id.namespace,
      service_account: id.service_account,
      source: id.source,
      peer: id.peer?.spiffe_id ?? null,
      user: id.user ? Object.freeze({ iss: id.user.iss, sub: id.user.sub }) : null,
    });
    RECORD_IDENTITIES.set(id, fixedRecordValue(r));
  }
  return r;
}

function recordRoute(m: RouteMatch | null): RecordRoute | null {
  if (!m) return null;
  let r = RECORD_ROUTES.get(m);
  if (!r) {
    r = Object.freeze({ name: m.name, api: m.api, action: m.action, model: m.model, version: m.version });
    RECORD_ROUTES.set(m, fixedRecordValue(r));
  }
  return r;
}
