// The Check path, one phase per step:
//   decode -> identify -> input -> route -> evaluate (cache) -> respond -> observe
// Every failure anywhere becomes a denial with a stable reason; nothing in
// here can turn an error into an allow.
import { randomUUID } from 'node:crypto';
import { readCheckRequest, type RequestLimits } from '../envoy/CheckRequest.ts';
import { buildPolicyInput, type InputOptions } from '../envoy/PolicyInput.ts';
import { toCheckResponse, type CheckResponseObject } from '../envoy/CheckResponse.ts';
import { errorText } from '../policy/PolicyEngine.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import type { DecisionRecord } from '../observe/DecisionLog.ts';
import { Observer, type CheckTrace } from '../observe/Observer.ts';
import type { BehaviorView } from '../observe/BehaviorSignals.ts';
import { denial, type Decision } from '../types/Decision.ts';
import type { Identity, SpiffeIdParts } from '../types/Identity.ts';
import type { RouteMatch } from '../types/Route.ts';
import { CheckError, Reason, isRequestReason, type ReasonCode } from '../types/Reason.ts';
import type { JsonObject } from '../types/Json.ts';
import type { ShadowPolicy } from './ShadowPolicy.ts';
import type { IdentifyPhase } from './IdentifyPhase.ts';
import type { CacheOutcome, EvaluatePhase } from './EvaluatePhase.ts';
import type { RoutePhase, Routed } from './RoutePhase.ts';

export interface PipelineOptions {
  readonly limits: RequestLimits;
  readonly input: InputOptions;
  readonly decisionPath: string;
  readonly dryRun: boolean;
  readonly onError: 'deny' | 'grpc_error';
}

export interface CheckContext {
  /** Absolute deadline in ms since the epoch (Infinity: none). */
  readonly deadline: number;
  /** The verified caller of ztauthz itself (mTLS listener), if any. */
  readonly peer?: SpiffeIdParts | null | undefined;
}

/** What one Check produced: either a CheckResponse or, in grpc_error mode, an error for the transport. */
export interface CheckOutcome {
  readonly response: CheckResponseObject | undefined;
  readonly error: { readonly reason: ReasonCode; readonly message: string } | undefined;
  readonly decision: Decision;
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
}

const RECORDS_ONLY = new Observer();

const NO_DEADLINE: CheckContext = { deadline: Infinity };

export class CheckPipeline {
  readonly #opts: PipelineOptions;
  readonly #deps: PipelineDeps;

  constructor(opts: PipelineOptions, deps: PipelineDeps) {
    this.#opts = opts;
    this.#deps = deps;
  }

  async check(bytes: Uint8Array, ctx: CheckContext = NO_DEADLINE): Promise<CheckOutcome> {
    const started = process.hrtime.bigint();
    const t0 = performance.now();
    const decisionId = randomUUID();
    const obs = this.#deps.observer ?? RECORDS_ONLY;
    let trace: CheckTrace | undefined;
    let identity: Identity | null = null;
    let behavior: BehaviorView | undefined;
    // Taken once: a policy swapped while this Check awaits does not change its answer midway.
    const engine = this.#deps.policies.current;
    let input: JsonObject | undefined;
    let routed: Routed | undefined;
    let entrypoint = this.#opts.decisionPath;
    let cache: CacheOutcome = 'off';
    let cacheKey: string | undefined;
    let evalNs = 0;
    let notes: readonly string[] = [];
    let decision: Decision;
    try {
      const request = readCheckRequest(bytes, this.#opts.limits);
      // The span joins the request's own trace as soon as its headers are known.
      trace = obs.begin(request.http.headers, t0);
      if (!engine) throw new CheckError(Reason.notReady, 'no policy is loaded');
      const canon = this.#deps.route.canonicalise(request);
      const identified = await trace.phase('identify', () => this.#deps.identify.identify(request.attributes, request.http.headers, ctx.peer ?? null));
      notes = identified.notes;
      identity = identified.identity;
      input = buildPolicyInput(request, canon.path, this.#opts.input);
      input['canonical'] = { path: canon.path.path, host: canon.host.host, port: canon.host.port };
      input['identity'] = identified.identity as unknown as JsonObject | null;
      const selected = this.#deps.route.select(request, input, canon);
      routed = selected;
      entrypoint = selected.entrypoint;
      // Before the cache key: signals are a few shared values, so steady traffic keeps hitting.
      behavior = obs.behavior(identity?.spiffe_id ?? null, selected.name ?? null, Date.now());
      input['behavior'] = behavior as unknown as JsonObject;
      if (Date.now() > ctx.deadline) throw new CheckError(Reason.deadlineExceeded, 'the deadline passed before evaluation');
      const evaluated = trace.phase('evaluate', () => this.#deps.evaluate.evaluate(engine, entrypoint, input!, selected.caching, selected.name, identified.expiresAt));
      ({ decision, cache, evalNs } = evaluated);
      cacheKey = evaluated.key;
    } catch (err) {
      decision = errorDecision(err);
    }

    const failed = !decision.allowed && decision.reason !== Reason.policyDenied;
    const asGrpcError = failed && this.#opts.onError === 'grpc_error' && !isRequestReason(decision.reason);
    const response = asGrpcError ? undefined : toCheckResponse(decision, decisionId, { dryRun: this.#opts.dryRun });
    trace ??= obs.begin(undefined, t0);
    const record = obs.finish(trace, {
      decisionId,
      timestamp: Date.now(),
      identity,
      route: (input?.['route'] as unknown as RouteMatch | null | undefined) ?? null,
      decision,
      cache,
      revision: engine?.revision ?? '',
      path: entrypoint,
      dryRun: this.#opts.dryRun,
      input,
      behavior,
      notes,
      timings: { checkNs: Number(process.hrtime.bigint() - started), evalNs },
    });
    if (input && this.#deps.shadow) this.#deps.shadow.observe(input, entrypoint, decision, routed?.name ?? 'none', decisionId);
    return {
      response,
      error: asGrpcError ? { reason: decision.reason, message: decision.message } : undefined,
      decision,
      record,
      input,
      cacheKey,
    };
  }
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
      return { ...denial(err.reason, err.message, err.response.httpStatus, err.reason), headers: err.response.headers };
    }
    if (err.reason === Reason.bodyTruncated || err.reason === Reason.requestTooLarge) {
      return denial(err.reason, err.message, 413, `${err.reason}: request too large to authorize`);
    }
    if (isRequestReason(err.reason)) return denial(err.reason, err.message, 400, `${err.reason}: ${err.message}`);
    return denial(err.reason, err.message, 403, err.reason);
  }
  return denial(Reason.internalError, `unexpected error: ${errorText(err)}`, 403, Reason.internalError);
}
