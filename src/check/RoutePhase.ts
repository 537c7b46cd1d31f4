// The route phase: canonicalise the target (before anything else reads it),
// then choose the route and decision path. Caching statements for routes come
// from the cache configuration, keyed by route name.
import type { CheckRequestView } from '../envoy/CheckRequest.ts';
import { isJsonRpcRequest, type Canonical, type Router } from '../route/Router.ts';
import type { JsonObject } from '../types/Json.ts';
import type { RouteMatch } from '../types/Route.ts';
import type { RouteCaching } from './EvaluatePhase.ts';

export interface Routed {
  /** The matched route's name; undefined when none matched. */
  readonly name: string | undefined;
  readonly entrypoint: string;
  readonly caching: RouteCaching | undefined;
  /** The JSON-RPC calls of an agent route (one, or a batch): each is decided on its own, and all must allow. */
  readonly calls: readonly RouteMatch[] | undefined;
}

export class RoutePhase {
  readonly #router: Router;
  readonly #caching: ReadonlyMap<string, RouteCaching>;

  constructor(router: Router, caching: ReadonlyMap<string, RouteCaching>) {
    this.#router = router;
    this.#caching = caching;
  }

  /**
   * Throws path_rejected / host_rejected / request_too_large. `lenient`
   * (compat: opa-envoy) refuses neither path nor host: a target or host that
   * does not canonicalise matches no route (no segments) and has an empty
   * canonical host.
   */
  canonicalise(request: CheckRequestView, lenient = false): Canonical {
    return lenient ? this.#router.canonicaliseLenient(request.http) : this.#router.canonicalise(request.http);
  }

  /** Whether the request is a JSON-RPC call on an MCP or A2A route, by its method and path (for answering its denial). */
  isJsonRpc(request: CheckRequestView, canon: Canonical): boolean {
    return isJsonRpcRequest(this.#router, request.http, request.attributes, canon);
  }

  /** Sets input.route (null when unmatched) and says which decision path decides. */
  select(request: CheckRequestView, input: JsonObject, canon: Canonical): Routed {
    const sel = this.#router.select(request.http, input, canon);
    input['route'] = sel.route as unknown as JsonObject | null;
    return { name: sel.route?.name, entrypoint: sel.entrypoint, caching: sel.route ? this.#caching.get(sel.route.name) : undefined, calls: sel.calls };
  }
}
