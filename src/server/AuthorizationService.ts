// grpc-js binding of envoy.service.auth.v3.Authorization/Check. The request
// deserializer is the identity: the pipeline decodes, so bad bytes become a
// recorded denial rather than grpc-js's INTERNAL error.
import * as grpc from '@grpc/grpc-js';
import type { CheckOutcome, CheckPipeline } from '../check/CheckPipeline.ts';
import { Reason, type ReasonCode } from '../types/Reason.ts';
import type { PeerAuth } from '../tls/PeerAuth.ts';
import type { SpiffeIdParts } from '../types/Identity.ts';

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

/** gRPC codes for grpc_error mode, chosen so Envoy's stats tell the cases apart. */
const ERROR_CODES: Partial<Record<ReasonCode, grpc.status>> = {
  [Reason.notReady]: grpc.status.UNAVAILABLE,
  [Reason.deadlineExceeded]: grpc.status.DEADLINE_EXCEEDED,
};

export function authorizationHandlers(pipeline: CheckPipeline, peerAuth?: PeerAuth<SpiffeIdParts>): grpc.UntypedServiceImplementation {
  return {
    Check(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      const deadline = call.getDeadline();
      const peer = peerAuth ? peerAuth.peerIdentity(call) : null;
      try {
        const outcome = pipeline.check(call.request, { deadline: deadline instanceof Date ? deadline.getTime() : deadline, peer });
        if (outcome instanceof Promise) outcome.then((o) => answer(callback, o), (err: Error) => fail(callback, err));
        else answer(callback, outcome);
      } catch (err) {
        fail(callback, err as Error);
      }
    },
  };
}

function answer(callback: grpc.sendUnaryData<Buffer>, outcome: CheckOutcome): void {
  if (outcome.error) callback({ code: ERROR_CODES[outcome.error.reason] ?? grpc.status.INTERNAL, details: `${outcome.error.reason}: ${outcome.error.message}` });
  else callback(null, outcome.response);
}

/** The pipeline turns every failure into a denial; reaching this is a bug, and still not an allow. */
function fail(callback: grpc.sendUnaryData<Buffer>, err: Error): void {
  callback({ code: grpc.status.INTERNAL, details: `internal_error: ${err.message}` });
}
