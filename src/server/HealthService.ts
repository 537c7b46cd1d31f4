// grpc.health.v1.Health through grpc-health-check (Check, Watch and List):
// SERVING only while a policy is loaded, for the empty service name and for
// envoy.service.auth.v3.Authorization; NOT_SERVING otherwise. Two things are
// ztauthz's own, around the library's Watch handler:
//  - a Watch for a name ztauthz does not serve answers SERVICE_UNKNOWN and
//    stays open without reaching the library, which would keep an entry per
//    name for as long as the process lives (names a client makes up would
//    grow its map without bound);
//  - every Watch stream is tracked so that shutdown can end them (the library
//    has no way to), letting the server's graceful shutdown finish.
import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

/** The names Health answers for: the server as a whole, and the one service it serves. */
export const HEALTH_SERVICES: readonly string[] = ['', 'envoy.service.auth.v3.Authorization'];

interface HealthRequest {
  service?: string;
}
type WatchCall = grpc.ServerWritableStream<HealthRequest, { status: string }>;

export class HealthState {
  readonly #health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING'])));
  #serving = false;
  readonly #watches = new Set<WatchCall>();

  setServing(serving: boolean): void {
    if (serving === this.#serving) return;
    this.#serving = serving;
    for (const s of HEALTH_SERVICES) this.#health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
  }

  get serving(): boolean {
    return this.#serving;
  }

  /** Ends every Watch stream (shutdown). */
  endWatches(): void {
    for (const w of this.#watches) w.end();
    this.#watches.clear();
  }

  /** Adds grpc.health.v1.Health to `server`. */
  addToServer(server: Pick<grpc.Server, 'addService'>): void {
    this.#health.addToServer({
      addService: (service, handlers) => {
        const watch = handlers['watch'] as (call: WatchCall) => void;
        server.addService(service, { ...handlers, watch: (call: WatchCall) => this.#watch(call, watch) });
      },
    });
  }

  #watch(call: WatchCall, watch: (call: WatchCall) => void): void {
    this.#watches.add(call);
    const drop = (): void => {
      this.#watches.delete(call);
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    // The protocol: Watch on an unknown name answers SERVICE_UNKNOWN and keeps the stream open.
    if (!HEALTH_SERVICES.includes(call.request.service ?? '')) call.write({ status: 'SERVICE_UNKNOWN' });
    else watch(call);
  }
}
