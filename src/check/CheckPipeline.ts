// The Check path, one phase per step:
//   decode -> identify -> input -> route -> evaluate (cache) -> respond -> observe
// Every failure anywhere becomes a denial with a stable reason; nothing in
// here can turn an error into an allow.
import { randomUUID } from 'node:crypto';
import { readCheckRequest, type RequestLimits } from '../envoy/CheckRequest.ts';
import { buildPolicyInput, type InputOptions } from '../envoy/PolicyInput.ts';
import { ResponseEncoder } from '../envoy/CheckResponse.ts';
import { errorText, type PolicyEngine } from '../policy/PolicyEngine.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import type { DecisionRecord } from '../observe/DecisionLog.ts';
import { Observer, decisionRecord, type CheckTrace, type FinishedCheck, type ObservedCheck } from '../observe/Observer.ts';
import { NOOP_TRACE } from '../observe/Tracing.ts';
import type { BehaviorView } from '../observe/BehaviorSignals.ts';
import { denial, type Decision } from '../types/Decision.ts';
import type { Identity, SpiffeIdParts } from '../types/Identity.ts';
import type { RouteMatch } from '../types/Route.ts';
import { ownJsonRpcDenial, policyJsonRpcDenial } from '../route/JsonRpcDenial.ts';
import type { CheckRequestView } from '../types/Request.ts';
import type { Canonical } from '../route/Router.ts';
import { CheckError, Reason, isRequestReason, type ReasonCode } from '../types/Reason.ts';
import type { JsonObject } from '../types/Json.ts';
import type { ShadowPolicy } from './ShadowPolicy.ts';
import type { IdentifyPhase } from './IdentifyPhase.ts';
import type { CacheOutcome, EvaluatePhase, Evaluated } from './EvaluatePhase.ts';
import type { RoutePhase, Routed } from './RoutePhase.ts';
import type { RawRequestKeyer, RawKey } from '../envoy/RawRequestKey.ts';
import type { RequestShortcut } from '../cache/RequestShortcut.ts';

export interface PipelineOptions {
  readonly limits: RequestLimits;
  readonly input: InputOptions;
  readonly decisionPath: string;
  readonly dryRun: boolean;
  readonly onError: 'deny' | 'grpc_error';
  /**
   * compat: opa-envoy (see docs/compatibility.md): a request without http is
   * evaluated, headerMap left unfolded, no path/host refusals, parsed_path and
   * parsed_query as opa-envoy-plugin parses them, no ztauthz input keys
   * (identity, route, canonical, behavior), no reason in status.message, and
   * dry-run does not cover a request that cannot become input.
   */
  readonly compat?: boolean | undefined;
  /** grpc.max_send_msg_bytes: a larger CheckResponse is an internal_error instead (gRPC would refuse to send it). */
  readonly maxResponseBytes?: number | undefined;
}

export interface CheckContext {
  /** Absolute deadline in ms since the epoch (Infinity: none). */
  readonly deadline: number;
  /** The verified caller of ztauthz itself (mTLS listener), if any. */
  readonly peer?: SpiffeIdParts | null | undefined;
}

/** What one Check produced: either a CheckResponse or, in grpc_error mode, an error for the transport. */
export interface CheckOutcome {
  /** The encoded CheckResponse. */
  readonly response: Buffer | undefined;
  readonly error: { readonly reason: ReasonCode; readonly message: string } | undefined;
  readonly decision: Decision;
  /** Built on first read: most Checks never need it. */
  readonly record: DecisionRecord;
  /** The exact input the policy saw (undefined when the request never became input). */
  readonly input: JsonObject | undefined;
  /** The cache key used, when the cache was consulted. */
  readonly cacheKey: string | undefined;
}

export interface PipelineDeps {
  readonly policies: PolicyStore;
  readonly identify: IdentifyPhase;
  readonly route: RoutePhase;
  readonly evaluate: EvaluatePhase;
  /** Metrics, decision log, tracing, behaviour signals; a bare Observer only builds records. */
  readonly observer?: Observer | undefined;
  readonly shadow?: ShadowPolicy | undefined;
  /** Repeated requests answered from the decision cache without decoding (present only with the cache). */
  readonly shortcut?: { readonly keyer: (engine: PolicyEngine) => RawRequestKeyer; readonly table: RequestShortcut } | undefined;
}

const RECORDS_ONLY = new Observer();

/** What check() worked out before handing a request to the full path. */
interface Started {
  readonly t0: number;
  readonly decisionId: string;
  readonly obs: Observer;
  readonly engine: PolicyEngine | undefined;
  readonly raw: RawKey | undefined;
  /** Where the full path remembers the request for the shortcut (when the shortcut is on). */
  readonly remember: RequestShortcut | undefined;
  /** Set when the shortcut already counted this request for input.behavior. */
  readonly counted: BehaviorView | undefined;
  /** Set when the shortcut found the cached decision's record must carry the input (drawn once per Check). */
  readonly recordInput?: true | undefined;
}

/** What #fromShortcut says when the remembered decision's record needs the input: the full path builds it. */
const WANTS_INPUT = Symbol('wants input');

const NO_DEADLINE: CheckContext = { deadline: Infinity };

export class CheckPipeline {
  readonly #opts: PipelineOptions;
  readonly #deps: PipelineDeps;
  readonly #responses: ResponseEncoder;
  /** compat: opa-envoy in dry-run: a request that cannot become input is answered as without dry-run (opa-envoy-plugin's 400). */
  readonly #undryResponses: ResponseEncoder | undefined;

  constructor(opts: PipelineOptions, deps: PipelineDeps) {
    this.#opts = opts;
    this.#deps = deps;
    this.#responses = new ResponseEncoder({ dryRun: opts.dryRun, compat: opts.compat });
    this.#undryResponses = opts.compat && opts.dryRun ? new ResponseEncoder({ dryRun: false, compat: true }) : undefined;
  }

  /**
   * One Check. A repeat the request shortcut answers comes back as it is,
   * without a promise and its turn of the microtask queue; everything else
   * as a promise from the full path.
   */
  check(bytes: Uint8Array, ctx: CheckContext = NO_DEADLINE): CheckOutcome | Promise<CheckOutcome> {
    // One clock for the span's start and the Check's timer.
    const t0 = performance.now();
    const decisionId = randomUUID();
    const obs = this.#deps.observer ?? RECORDS_ONLY;
    let engine: PolicyEngine | undefined;
    try {
      // Taken once: a policy swapped while this Check awaits does not change its answer midway.
      engine = this.#deps.policies.current;
      // The shortcut answers without an input, so not when every record or the shadow policy needs one
      // (with include_input "denied" it answers the allows whose records go without; #fromShortcut asks).
      const answersWithoutInput = !this.#deps.shadow && !obs.inputOnEveryRecord;
      const keyer = engine ? this.#deps.shortcut?.keyer(engine) : undefined;
      // The raw key serves the shortcut and, when it covers cache.ignore, the decision key.
      const raw = keyer && (answersWithoutInput || keyer.coversIgnore) ? keyer.key(bytes, engine!.instance, ctx.peer?.spiffe_id ?? '', obs.traces) : undefined;
      const shortcut = raw && answersWithoutInput ? this.#deps.shortcut : undefined;
      // Set when the shortcut already counted this request for input.behavior.
      let counted: BehaviorView | undefined;
      let recordInput: true | undefined;
      if (shortcut) {
        const fast = this.#fromShortcut(raw!, engine!, shortcut.table, obs, ctx, t0, decisionId);
        if (fast === WANTS_INPUT) recordInput = true;
        else if (fast && 'response' in fast) return fast;
        else counted = fast;
      }
      return this.#full(bytes, ctx, { t0, decisionId, obs, engine, raw, remember: shortcut?.table, counted, recordInput });
    } catch (err) {
      return this.#failClosed({ t0, decisionId, obs, engine }, err, 'check');
    }
  }

  /**
   * The last line of the fail-closed guarantee, for a caller that caught
   * something the pipeline itself did not (a bug in the transport glue): a
   * denial (or, in grpc_error mode, an error), encoded without touching any
   * observer, since one of them may be what failed.
   */
  lastResort(err: unknown): CheckOutcome {
    return this.#failClosed({ t0: performance.now(), decisionId: randomUUID(), obs: RECORDS_ONLY, engine: undefined }, err, 'the Check handler');
  }

  /** The CheckResponse, or in grpc_error mode the transport error, for a decision. */
  #encode(decision: Decision, decisionId: string, reused: boolean): Pick<CheckOutcome, 'response' | 'error'> {
    const failed = !decision.allowed && decision.reason !== Reason.policyDenied;
    if (failed && this.#opts.onError === 'grpc_error' && !isRequestReason(decision.reason)) {
      return { response: undefined, error: { reason: decision.reason, message: decision.message } };
    }
    const encoder = this.#undryResponses && failed && isRequestReason(decision.reason) ? this.#undryResponses : this.#responses;
    const response = encoder.encode(decision, decisionId, reused);
    const max = this.#opts.maxResponseBytes;
    if (max !== undefined && response.length > max) {
      throw new Error(`the CheckResponse is ${response.length} bytes, more than grpc.max_send_msg_bytes (${max})`);
    }
    return { response, error: undefined };
  }

  /**
   * Something threw outside the phases' own error handling (while answering,
   * observing, or in the pipeline itself): the answer is an internal_error
   * denial, and it is recorded as such without the input, since serialising
   * or masking the input may be what failed. If recording fails again the
   * denial still stands; nothing here can throw.
   */
  #failClosed(start: Pick<Started, 't0' | 'decisionId' | 'obs' | 'engine'>, err: unknown, stage: string, known?: ObservedCheck): CheckOutcome {
    const decision = internalError(err, stage);
    let encoded: Pick<CheckOutcome, 'response' | 'error'>;
    try {
      encoded = this.#encode(decision, start.decisionId, false);
    } catch {
      encoded = this.#encode(decision, '', false);
    }
    const facts: ObservedCheck = {
      decisionId: start.decisionId,
      timestamp: Date.now(),
      identity: known?.identity ?? null,
      route: known?.route ?? null,
      decision,
      cache: known?.cache === 'hit' ? 'hit' : 'off',
      revision: start.engine?.revision ?? '',
      path: known?.path ?? this.#opts.decisionPath,
      dryRun: this.#opts.dryRun,
      input: undefined,
      timings: { checkNs: elapsedNs(start.t0), evalNs: known?.timings.evalNs ?? 0 },
    };
    let finished: FinishedCheck | undefined;
    try {
      finished = start.obs.finish(NOOP_TRACE, facts);
    } catch {
      // The observer itself is broken: the denial is answered all the same.
    }
    return new Outcome(
      encoded.response,
      encoded.error,
      decision,
      undefined,
      undefined,
      finished ?? { check: facts, traceId: undefined, spanId: undefined, behavior: undefined },
    );
  }

  async #full(bytes: Uint8Array, ctx: CheckContext, start: Started): Promise<CheckOutcome> {
    const { t0, decisionId, obs, engine, raw, remember, counted, recordInput } = start;
    let trace: CheckTrace | undefined;
    let identity: Identity | null = null;
    let behavior: BehaviorView | undefined;
    let input: JsonObject | undefined;
    let routed: Routed | undefined;
    let routeMatch: RouteMatch | null = null;
    let entrypoint = this.#opts.decisionPath;
    let cache: CacheOutcome = 'off';
    let cacheKey: string | undefined;
    let evalNs = 0;
    let notes: readonly string[] = [];
    let decision: Decision;
    const compat = this.#opts.compat === true;
    // Kept for the answer to a failure: whether it was a JSON-RPC call (see ownJsonRpcDenial).
    let view: CheckRequestView | undefined;
    let canonical: Canonical | undefined;
    try {
      const request = readCheckRequest(bytes, this.#opts.limits, { compat });
      view = request;
      // The span joins the request's own trace as soon as its headers are known.
      trace = obs.begin(request.http.headers, t0);
      if (!engine) throw new CheckError(Reason.notReady, 'no policy is loaded');
      const canon = this.#deps.route.canonicalise(request, compat);
      canonical = canon;
      const identified = await trace.phase('identify', () => this.#deps.identify.identify(request.attributes, request.http.headers, ctx.peer ?? null));
      notes = identified.notes;
      identity = identified.identity;
      input = buildPolicyInput(request, canon.path, this.#opts.input);
      if (!compat) {
        input['canonical'] = { path: canon.path.path, host: canon.host.host, port: canon.host.port };
        input['identity'] = identified.identity as unknown as JsonObject | null;
      }
      const selected = this.#deps.route.select(request, input, canon);
      routeMatch = (input['route'] as unknown as RouteMatch | null) ?? null;
      // compat: the input is opa-envoy-plugin's alone (the route still chose the decision path and is recorded).
      if (compat) delete input['route'];
      routed = selected;
      entrypoint = selected.entrypoint;
      // Before the cache key: signals are a few shared values, so steady traffic keeps hitting.
      behavior = counted ?? obs.behavior(identity?.spiffe_id ?? null, selected.name ?? null, Date.now());
      if (!compat) input['behavior'] = behavior as unknown as JsonObject;
      if (Date.now() > ctx.deadline) throw new CheckError(Reason.deadlineExceeded, 'the deadline passed before evaluation');
      let evaluated: Evaluated | Promise<Evaluated>;
      if (selected.calls) {
        evaluated = await trace.phase('evaluate', () =>
          this.#deps.evaluate.evaluateCalls(engine, entrypoint, input!, selected.calls!, selected.caching, selected.name, identified.expiresAt, ctx.deadline),
        );
        routeMatch = (input['route'] as unknown as RouteMatch | null) ?? null;
      } else {
        evaluated = trace.phase('evaluate', () =>
          this.#deps.evaluate.evaluate(
            engine,
            entrypoint,
            input!,
            selected.caching,
            selected.name,
            identified.expiresAt,
            raw && this.#deps.shortcut?.keyer(engine).coversIgnore ? raw.key : undefined,
            ctx.deadline,
          ),
        );
      }
      // Only a policy that calls http.send is evaluated asynchronously (on a worker); the others stay without an extra await.
      if (evaluated instanceof Promise) evaluated = await evaluated;
      ({ decision, cache, evalNs } = evaluated);
      cacheKey = evaluated.key;
      // A denied agent call: a JSON-RPC error MCP and A2A clients report for that call (compat: the policy's answer as it is).
      if (selected.calls && !decision.allowed && !compat) decision = policyJsonRpcDenial(decision, input['parsed_body'], selected.calls, routeMatch);
      // JSON-RPC request bytes carry a per-call id (and a batch several decisions): no shortcut entry.
      if (remember && !selected.calls && cacheKey !== undefined && identified.fromBytesAlone && evaluated.cache !== 'bypass') {
        remember.remember(raw!.key, { cacheKey, identity, route: routeMatch, entrypoint, behavior });
      }
    } catch (err) {
      decision = errorDecision(err);
      // ztauthz's own denial of an MCP or A2A call: a JSON-RPC error too, when the calls were read or the method and path are an agent route's.
      if (!compat) {
        const [request, canon] = [view, canonical];
        decision = ownJsonRpcDenial(
          decision,
          input,
          routed?.calls,
          () => request !== undefined && canon !== undefined && this.#deps.route.isJsonRpc(request, canon),
        );
      }
    }

    const facts: ObservedCheck = {
      decisionId,
      timestamp: Date.now(),
      identity,
      route: routeMatch,
      calls: routed?.calls,
      decision,
      cache,
      revision: engine?.revision ?? '',
      path: entrypoint,
      dryRun: this.#opts.dryRun,
      input,
      behavior,
      notes,
      recordInput,
      timings: { checkNs: elapsedNs(t0), evalNs },
    };
    let outcome: CheckOutcome;
    try {
      const { response, error } = this.#encode(decision, decisionId, cache === 'hit');
      const finished = obs.finish(trace ?? obs.begin(undefined, t0), facts);
      outcome = new Outcome(response, error, decision, input, cacheKey, finished);
    } catch (err) {
      // Encoding, metrics, queueing the decision record, tracing or behaviour
      // failed: the answer becomes a denial, recorded as one. (The record
      // itself is built and serialised after the answer; see DecisionLog.)
      return this.#failClosed(start, err, 'answering', facts);
    }
    // The shadow policy is never enforced, so not even its failure changes the answer (it counts its own errors).
    if (input && this.#deps.shadow) {
      try {
        this.#deps.shadow.observe(input, entrypoint, decision, routed?.name ?? 'none', decisionId);
      } catch {
        // See ShadowPolicy: a throw here is a bug in it, and this Check's answer is already made.
      }
    }
    return outcome;
  }

  /**
   * A repeat of remembered request bytes: answered from the decision cache
   * entry the full path stored, if it is still there, its decision's record
   * goes without the input (include_input "denied": an allow not picked by
   * input_sample_allowed) and input.behavior is what it was then. Otherwise
   * the full path runs, with the behaviour view when this already counted
   * the request (the same identity and route, as they come from the same
   * bytes), or WANTS_INPUT when the record needs the input.
   */
  #fromShortcut(
    raw: RawKey,
    engine: PolicyEngine,
    table: RequestShortcut,
    obs: Observer,
    ctx: CheckContext,
    t0: number,
    decisionId: string,
  ): CheckOutcome | BehaviorView | typeof WANTS_INPUT | undefined {
    const known = table.get(raw.key);
    if (!known) return undefined;
    const decision = this.#deps.evaluate.cached(known.cacheKey);
    if (!decision) {
      table.forget(raw.key);
      return undefined;
    }
    const now = Date.now();
    if (now > ctx.deadline) return undefined;
    // Before counting the request: the full path counts it itself.
    if (obs.recordsInput(decision.allowed)) return WANTS_INPUT;
    // Counts the request, as the full path would; a changed signal means a different input.
    const behavior = obs.behavior(known.identity?.spiffe_id ?? null, known.route?.name ?? null, now);
    if (behavior !== known.behavior) return behavior;
    const trace = obs.begin(raw.traceHeaders, t0);
    const finished = obs.finish(trace, {
      decisionId,
      timestamp: now,
      identity: known.identity,
      route: known.route,
      decision,
      cache: 'hit',
      revision: engine.revision,
      path: known.entrypoint,
      dryRun: this.#opts.dryRun,
      input: undefined,
      behavior,
      notes: undefined,
      shortcut: true,
      recordInput: false,
      timings: { checkNs: elapsedNs(t0), evalNs: 0 },
    });
    return new Outcome(this.#responses.encode(decision, decisionId, true), undefined, decision, undefined, known.cacheKey, finished);
  }
}

class Outcome implements CheckOutcome {
  readonly response: Buffer | undefined;
  readonly error: CheckOutcome['error'];
  readonly decision: Decision;
  readonly input: JsonObject | undefined;
  readonly cacheKey: string | undefined;
  readonly #finished: FinishedCheck;
  #record: DecisionRecord | undefined;

  constructor(
    response: Buffer | undefined,
    error: CheckOutcome['error'],
    decision: Decision,
    input: JsonObject | undefined,
    cacheKey: string | undefined,
    finished: FinishedCheck,
  ) {
    this.response = response;
    this.error = error;
    this.decision = decision;
    this.input = input;
    this.cacheKey = cacheKey;
    this.#finished = finished;
  }

  get record(): DecisionRecord {
    return (this.#record ??= decisionRecord(this.#finished));
  }
}

function elapsedNs(since: number): number {
  return Math.round((performance.now() - since) * 1e6);
}

/**
 * Input errors are 400s with the reason as body (as opa-envoy-plugin); a
 * request too large to authorize is a 413; a phase may say better (a 401
 * challenge). Policy and internal errors are 403s whose body names only the
 * reason code, so a client learns nothing about the policy. Operator advice
 * stays in the decision record's message.
 */
function errorDecision(err: unknown): Decision {
  if (err instanceof CheckError) {
    if (err.response) {
      return { ...denial(err.reason, err.message, err.response.httpStatus, err.response.body ?? err.reason), headers: err.response.headers };
    }
    if (err.reason === Reason.bodyTruncated || err.reason === Reason.requestTooLarge) {
      return denial(err.reason, err.message, 413, `${err.reason}: request too large to authorize`);
    }
    if (isRequestReason(err.reason)) return denial(err.reason, err.message, 400, `${err.reason}: ${err.message}`);
    return denial(err.reason, err.message, 403, err.reason);
  }
  return internalError(err, 'a phase');
}

/** An error nobody anticipated, in `stage`: a denial whose body names only the reason. Never throws, whatever was thrown. */
function internalError(err: unknown, stage: string): Decision {
  let text: string;
  try {
    text = errorText(err);
  } catch {
    text = 'an unprintable value was thrown';
  }
  return denial(Reason.internalError, `unexpected error in ${stage}: ${text}`, 403, Reason.internalError);
}
