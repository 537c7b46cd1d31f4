// grpc.health.v1.Health (Check, Watch and List): SERVING only while a policy
// is loaded, for the empty service name and for
// envoy.service.auth.v3.Authorization; NOT_SERVING otherwise.
//
// The service is ztauthz's own rather than grpc-health-check's
// HealthImplementation, which loads its proto with @grpc/proto-loader when it
// is imported: the two, with protobufjs' descriptor extension, held about
// 3.7 MiB of the idle server (Bun 1.4, 2026-12-05), and the three methods
// are a few lines. The messages are defined to protobufjs (already loaded
// for the CheckRequest) from grpc-health-check's health.proto; reflection,
// when on, still describes the service from that file (Reflection.ts). Two
// things differ from the library, as they did around it before:
//  - a Watch for a name ztauthz does not serve answers SERVICE_UNKNOWN and
//    stays open without being remembered by name (the library kept an entry
//    per name for the life of the process: names a client makes up would
//    grow its map without bound);
//  - every Watch stream is tracked so that shutdown can end them, letting the
//    server's graceful shutdown finish.
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/** The names Health answers for: the server as a whole, and the one service it serves. */
export const HEALTH_SERVICES: readonly string[] = ['', 'envoy.service.auth.v3.Authorization'];

type Status = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthRequest {
  service: string;
}
interface HealthResponse {
  status: Status;
}
interface HealthList {
  statuses: Record<string, HealthResponse>;
}
type WatchCall = grpc.ServerWritableStream<HealthRequest, HealthResponse>;

// grpc-health-check 2.x proto/health/v1/health.proto, as protobufjs JSON (a map field has keyType, which INamespace's types leave out).
const HEALTH = protobuf.Root.fromJSON({
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                HealthListRequest: { fields: {} },
                HealthListResponse: { fields: { statuses: { keyType: 'string', type: 'HealthCheckResponse', id: 1 } } },
              },
            },
          },
        },
      },
    },
  },
} as protobuf.INamespace).lookup('grpc.health.v1') as protobuf.Namespace;

/** What @grpc/proto-loader would give (keepCase, enums and longs as strings, defaults): what handlers and clients saw before. */
function codec<T>(name: string): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  const type = HEALTH.lookupType(name);
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), { enums: String, longs: String, defaults: true }) as T,
  };
}

function method<Req, Res>(name: string, request: string, response: string, responseStream: boolean): grpc.MethodDefinition<Req, Res> {
  const req = codec<Req>(request);
  const res = codec<Res>(response);
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

const SERVICE: grpc.ServiceDefinition = {
  Check: method<HealthRequest, HealthResponse>('Check', 'HealthCheckRequest', 'HealthCheckResponse', false),
  Watch: method<HealthRequest, HealthResponse>('Watch', 'HealthCheckRequest', 'HealthCheckResponse', true),
  List: method<Record<string, never>, HealthList>('List', 'HealthListRequest', 'HealthListResponse', false),
};

const GRPC_NOT_FOUND = 5;

export class HealthState {
  #serving = false;
  /** Open Watch streams; true for those watching a name ztauthz serves (they get every change). */
  readonly #watches = new Map<WatchCall, boolean>();

  setServing(serving: boolean): void {
    if (serving === this.#serving) return;
    this.#serving = serving;
    for (const [call, known] of this.#watches) if (known) call.write({ status: this.#status() });
  }

  get serving(): boolean {
    return this.#serving;
  }

  /** Ends every Watch stream (shutdown). */
  endWatches(): void {
    for (const w of this.#watches.keys()) w.end();
    this.#watches.clear();
  }

  /** Adds grpc.health.v1.Health to `server`. */
  addToServer(server: Pick<grpc.Server, 'addService'>): void {
    server.addService(SERVICE, {
      check: (call: grpc.ServerUnaryCall<HealthRequest, HealthResponse>, callback: grpc.sendUnaryData<HealthResponse>) => {
        const name = call.request.service;
        if (HEALTH_SERVICES.includes(name)) callback(null, { status: this.#status() });
        else callback({ code: GRPC_NOT_FOUND, details: `Health status unknown for service ${name}` });
      },
      watch: (call: WatchCall) => this.#watch(call),
      list: (_call: grpc.ServerUnaryCall<unknown, HealthList>, callback: grpc.sendUnaryData<HealthList>) => {
        callback(null, { statuses: Object.fromEntries(HEALTH_SERVICES.map((s) => [s, { status: this.#status() }])) });
      },
    });
  }

  #status(): Status {
    return this.#serving ? 'SERVING' : 'NOT_SERVING';
  }

  #watch(call: WatchCall): void {
    // The protocol: Watch on an unknown name answers SERVICE_UNKNOWN and keeps the stream open.
    const known = HEALTH_SERVICES.includes(call.request.service);
    this.#watches.set(call, known);
    const drop = (): void => {
      this.#watches.delete(call);
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    call.write({ status: known ? this.#status() : 'SERVICE_UNKNOWN' });
  }
}
