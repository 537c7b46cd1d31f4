// The Check path, one phase per step: decode -> input -> evaluate -> respond
// -> observe. Every failure anywhere becomes a denial with a stable reason;
// nothing in here can turn an error into an allow.
import { randomUUID } from 'node:crypto';
import { readCheckRequest, type RequestLimits } from '../envoy/CheckRequest.ts';
import { buildPolicyInput, type InputOptions } from '../envoy/PolicyInput.ts';
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { toCheckResponse, type CheckResponseObject } from '../envoy/CheckResponse.ts';
import { errorText } from '../policy/PolicyEngine.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import type { Metrics } from '../observe/Metrics.ts';
import type { DecisionLog, DecisionRecord } from '../observe/DecisionLog.ts';
import type { ShadowPolicy } from './ShadowPolicy.ts';
import { denial, type Decision } from '../types/Decision.ts';
import { CheckError, Reason, isRequestReason, type ReasonCode } from '../types/Reason.ts';
import type { JsonObject } from '../types/Json.ts';

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
}

/** What one Check produced: either a CheckResponse or, in grpc_error mode, an error for the transport. */
export interface CheckOutcome {
  readonly response: CheckResponseObject | undefined;
  readonly error: { readonly reason: ReasonCode; readonly message: string } | undefined;
  readonly decision: Decision;
  readonly record: DecisionRecord;
  /** The exact input the policy saw (undefined when the request never became input). */
  readonly input: JsonObject | undefined;
}

export interface PipelineDeps {
  readonly policies: PolicyStore;
  readonly metrics?: Metrics | undefined;
  readonly decisionLog?: DecisionLog | undefined;
  readonly shadow?: ShadowPolicy | undefined;
}

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
    const decisionId = randomUUID();
    const engine = this.#deps.policies.current;
    let input: JsonObject | undefined;
    let decision: Decision;
    let evalNs = 0;
    try {
      if (!engine) throw new CheckError(Reason.notReady, 'no policy is loaded');
      const request = readCheckRequest(bytes, this.#opts.limits);
      input = buildPolicyInput(request, this.#opts.input);
      if (Date.now() > ctx.deadline) throw new CheckError(Reason.deadlineExceeded, 'the deadline passed before evaluation');
      const evalStart = process.hrtime.bigint();
      let resultSet: unknown;
      try {
        resultSet = engine.evaluate(input, this.#opts.decisionPath);
      } catch (err) {
        throw new CheckError(Reason.policyError, `policy evaluation failed: ${errorText(err)}`);
      } finally {
        evalNs = Number(process.hrtime.bigint() - evalStart);
      }
      decision = decisionFromResultSet(resultSet);
    } catch (err) {
      decision = errorDecision(err);
    }

    const failed = !decision.allowed && decision.reason !== Reason.policyDenied;
    const asGrpcError = failed && this.#opts.onError === 'grpc_error' && !isRequestReason(decision.reason);
    const response = asGrpcError ? undefined : toCheckResponse(decision, decisionId, { dryRun: this.#opts.dryRun });
    const checkNs = Number(process.hrtime.bigint() - started);
    const record: DecisionRecord = {
      decision_id: decisionId,
      timestamp: new Date().toISOString(),
      path: this.#opts.decisionPath,
      revision: engine?.revision ?? '',
      allowed: decision.allowed,
      reason: decision.reason,
      message: decision.message,
      dry_run: this.#opts.dryRun,
      http_status: decision.allowed ? 200 : decision.httpStatus,
      result: decision.result,
      input,
      metrics: { timer_check_ns: checkNs, timer_eval_ns: evalNs },
    };
    this.#deps.metrics?.recordCheck(decision.allowed, decision.reason, checkNs / 1e9);
    if (evalNs > 0) this.#deps.metrics?.evalDuration.observe(evalNs / 1e9);
    this.#deps.decisionLog?.write(record);
    if (input && this.#deps.shadow) this.#deps.shadow.observe(input, this.#opts.decisionPath, decision, 'none', decisionId);
    return {
      response,
      error: asGrpcError ? { reason: decision.reason, message: decision.message } : undefined,
      decision,
      record,
      input,
    };
  }
}

/**
 * Input errors are 400s with the reason as body (as opa-envoy-plugin); a
 * request too large to authorize is a 413. Policy and internal errors are 403s
 * whose body names only the reason code, so a client learns nothing about the
 * policy. Operator advice stays in the decision record's message.
 */
function errorDecision(err: unknown): Decision {
  if (err instanceof CheckError) {
    if (err.reason === Reason.bodyTruncated || err.reason === Reason.requestTooLarge) {
      return denial(err.reason, err.message, 413, `${err.reason}: request too large to authorize`);
    }
    if (isRequestReason(err.reason)) return denial(err.reason, err.message, 400, `${err.reason}: ${err.message}`);
    return denial(err.reason, err.message, 403, err.reason);
  }
  return denial(Reason.internalError, `unexpected error: ${errorText(err)}`, 403, Reason.internalError);
}
