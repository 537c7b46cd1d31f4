// envoy.service.auth.v3.Authorization/Check as a grpc-js style service
// (definition and handler), which h2/H2Transport.ts serves. The request
// deserializer is the identity: the pipeline decodes, so bad bytes become a
// recorded denial rather than a transport's INTERNAL error. The pipeline never
// throws or rejects; should the glue here throw anyway, the pipeline's
// lastResort answer (a denial) goes out, never a transport error that an
// Envoy with failure_mode_allow would let through.
import type * as grpc from '@grpc/grpc-js';
import type { CheckOutcome, CheckPipeline } from '../check/CheckPipeline.ts';
import { Reason, type ReasonCode } from '../types/Reason.ts';
import type { PeerAuth } from '../tls/PeerAuth.ts';
import type { SpiffeIdParts } from '../types/Identity.ts';
import { Status } from './h2/Framing.ts';

const identity = (b: Buffer): Buffer => b;

export const authorizationServiceDefinition: grpc.ServiceDefinition = {
  Check: {
    path: '/envoy.service.auth.v3.Authorization/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    // The pipeline answers with encoded bytes (see envoy/CheckResponse.ts).
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/**
 * gRPC codes for grpc_error mode. Policy errors (an evaluation error, an
 * undefined decision, an invalid result) are UNKNOWN, as opa-envoy-plugin
 * answers them (a plain Go error); a passed deadline is DEADLINE_EXCEEDED, as
 * grpc-go makes of opa-envoy-plugin's context error; a bug of ztauthz's own is
 * INTERNAL; no policy loaded yet is UNAVAILABLE, so Envoy's stats tell it
 * apart (opa-envoy-plugin evaluates without a policy: with compat: opa-envoy,
 * UNKNOWN).
 */
const ERROR_CODES: Partial<Record<ReasonCode, number>> = {
  [Reason.notReady]: Status.UNAVAILABLE,
  [Reason.deadlineExceeded]: Status.DEADLINE_EXCEEDED,
  [Reason.internalError]: Status.INTERNAL,
};
const COMPAT_ERROR_CODES: Partial<Record<ReasonCode, number>> = { ...ERROR_CODES, [Reason.notReady]: Status.UNKNOWN };

export interface AuthorizationOptions {
  /** compat: opa-envoy: not_ready is UNKNOWN too. */
  readonly compat?: boolean | undefined;
  /**
   * grpc.max_send_msg_bytes: grpc-js would refuse a larger response with a
   * RESOURCE_EXHAUSTED status, which an Envoy with failure_mode_allow lets
   * through. The pipeline already answers such a decision as internal_error
   * (and records it so); this is the backstop for any path that did not,
   * replacing the response with the fail-closed answer.
   */
  readonly maxSendBytes?: number | undefined;
}

export function authorizationHandlers(
  pipeline: CheckPipeline,
  peerAuth?: PeerAuth<SpiffeIdParts>,
  opts: AuthorizationOptions = {},
): grpc.UntypedServiceImplementation {
  const codes = opts.compat ? COMPAT_ERROR_CODES : ERROR_CODES;
  const maxSendBytes = opts.maxSendBytes ?? Infinity;
  const answer = (callback: grpc.sendUnaryData<Buffer>, outcome: CheckOutcome): void => {
    if (outcome.response !== undefined && outcome.response.length > maxSendBytes) {
      outcome = pipeline.lastResort(new Error(`the CheckResponse is ${outcome.response.length} bytes, more than grpc.max_send_msg_bytes (${maxSendBytes})`));
    }
    if (outcome.error) callback({ code: codes[outcome.error.reason] ?? Status.UNKNOWN, details: `${outcome.error.reason}: ${outcome.error.message}` });
    else callback(null, outcome.response);
  };
  return {
    Check(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      try {
        const deadline = call.getDeadline();
        const peer = peerAuth ? peerAuth.peerIdentity(call) : null;
        const outcome = pipeline.check(call.request, { deadline: deadline instanceof Date ? deadline.getTime() : deadline, peer });
        if (outcome instanceof Promise)
          outcome.then(
            (o) => answer(callback, o),
            (err: unknown) => answer(callback, pipeline.lastResort(err)),
          );
        else answer(callback, outcome);
      } catch (err) {
        answer(callback, pipeline.lastResort(err));
      }
    },
  };
}
