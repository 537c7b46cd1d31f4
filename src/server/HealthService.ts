// grpc.health.v1.Health: SERVING only while a policy is loaded. Answers for
// the empty service name and for envoy.service.auth.v3.Authorization.
import * as grpc from '@grpc/grpc-js';
import { HealthCheckRequestType, HealthCheckResponseType } from '../envoy/ProtoCodec.ts';

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
type Status = (typeof ServingStatus)[keyof typeof ServingStatus];

const KNOWN_SERVICES = new Set(['', 'envoy.service.auth.v3.Authorization']);

interface HealthRequest {
  service?: string;
}
interface HealthResponse {
  status: Status;
}

function healthMethod(name: 'Check' | 'Watch', responseStream: boolean): grpc.MethodDefinition<HealthRequest, HealthResponse> {
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (m: HealthRequest) => Buffer.from(HealthCheckRequestType.encode(m).finish()),
    requestDeserialize: (b: Buffer) => HealthCheckRequestType.decode(b) as unknown as HealthRequest,
    responseSerialize: (m: HealthResponse) => Buffer.from(HealthCheckResponseType.encode(m).finish()),
    responseDeserialize: (b: Buffer) => HealthCheckResponseType.decode(b) as unknown as HealthResponse,
  };
}

export const healthServiceDefinition: grpc.ServiceDefinition = {
  Check: healthMethod('Check', false),
  Watch: healthMethod('Watch', true),
};

/** Tracks serving status and pushes changes to Watch streams. */
export class HealthState {
  #serving = false;
  readonly #watchers = new Set<grpc.ServerWritableStream<HealthRequest, HealthResponse>>();

  setServing(serving: boolean): void {
    if (serving === this.#serving) return;
    this.#serving = serving;
    for (const w of this.#watchers) {
      if (KNOWN_SERVICES.has(w.request.service ?? '')) w.write({ status: this.#status() });
    }
  }

  get serving(): boolean {
    return this.#serving;
  }

  #status(): Status {
    return this.#serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** Ends every Watch stream (shutdown). */
  endWatches(): void {
    for (const w of this.#watchers) w.end();
    this.#watchers.clear();
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<HealthRequest, HealthResponse>, cb: grpc.sendUnaryData<HealthResponse>) => {
        if (!KNOWN_SERVICES.has(call.request.service ?? '')) {
          cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
          return;
        }
        cb(null, { status: this.#status() });
      },
      Watch: (call: grpc.ServerWritableStream<HealthRequest, HealthResponse>) => {
        if (!KNOWN_SERVICES.has(call.request.service ?? '')) {
          // The protocol says Watch answers SERVICE_UNKNOWN and keeps the stream open.
          call.write({ status: ServingStatus.SERVICE_UNKNOWN });
        } else {
          call.write({ status: this.#status() });
        }
        this.#watchers.add(call);
        const drop = (): void => {
          this.#watchers.delete(call);
        };
        call.on('cancelled', drop);
        call.on('close', drop);
        call.on('error', drop);
      },
    };
  }
}
