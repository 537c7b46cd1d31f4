// Chooses the route and the decision path for one request: from Envoy's
// per-route context_extensions when it names them, else from the route table,
// then fills in what the route reads from the body or query.
//
// context_extensions (ExtAuthzPerRoute.check_settings.context_extensions):
//   ztauthz_route: NAME         Envoy already knows which route this is. NAME
//                               must exist (else route_unknown: a deployment
//                               error, never a silent fallback) and the
//                               request must fit that route's method and
//                               template, which also yields its parameters
//                               (else route_unmatched: Envoy's routing and
//                               ztauthz's disagree). The table is not searched.
//   ztauthz_entrypoint: PATH    The decision path for this request, overriding
//                               the route's and the default. It must be a
//                               decision path the loaded policy has (else
//                               route_unknown). Routing is unchanged, and so is
//                               routes.unmatched.
// Both may be given. Any other key is left to the policy.
import type { RouteMatch } from '../types/Route.ts';
import { CheckError } from '../types/Reason.ts';
import type { RouteTable } from './RouteTable.ts';
import { readFields, type BodyInput } from './BodyFields.ts';
import { readJsonRpc } from './JsonRpc.ts';
import { ENTRYPOINT } from './RouteSpec.ts';
import { RouteReason } from './RouteReasons.ts';

export const CONTEXT_ROUTE = 'ztauthz_route';
export const CONTEXT_ENTRYPOINT = 'ztauthz_entrypoint';

export interface RouteSelectOptions {
  /** routes.unmatched: "default" hands unmatched requests to the policy with route null; "deny" denies them (route_unmatched). */
  readonly unmatched: 'default' | 'deny';
  /** Decision path when neither context_extensions nor the route names one (policy.decision). */
  readonly defaultEntrypoint: string;
  /** Body bound for body-derived fields (request.max_body_bytes). */
  readonly maxBodyBytes: number;
  /** Whether the loaded policy has an entrypoint; asked for ztauthz_entrypoint. Absent: only the syntax is checked. */
  readonly hasEntrypoint?: ((path: string) => boolean) | undefined;
  /** The most calls one JSON-RPC batch may carry on an agent route (routes.jsonrpc_max_batch). */
  readonly maxJsonRpcBatch?: number | undefined;
}

/** Default for routes.jsonrpc_max_batch: each call is one evaluation, so a batch is bounded like any other work. */
export const DEFAULT_JSONRPC_MAX_BATCH = 64;

export interface RouteRequest {
  readonly method: string;
  /** CanonicalPath.segments. */
  readonly segments: readonly string[];
  /** input.attributes.contextExtensions. */
  readonly contextExtensions: Readonly<Record<string, string>> | undefined;
  readonly body: BodyInput;
  /** Request headers (lower-case names): agent routes read MCP's session headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface RouteSelection {
  /** input.route: null when no route matched and routes.unmatched is "default". */
  readonly route: RouteMatch | null;
  /** The decision path to evaluate. */
  readonly entrypoint: string;
  /**
   * The JSON-RPC calls of an agent route (one, or every call of a batch),
   * each to be decided with input.route set to it; the request is allowed
   * only if all are. `route` is the first of them.
   */
  readonly calls?: readonly RouteMatch[] | undefined;
}

export class RouteSelector {
  readonly #table: RouteTable;
  readonly #opts: RouteSelectOptions;

  constructor(table: RouteTable, opts: RouteSelectOptions) {
    this.#table = table;
    this.#opts = opts;
  }

  get table(): RouteTable {
    return this.#table;
  }

  /** Throws CheckError route_unknown, route_unmatched, or a body reason from BodyFields. */
  select(req: RouteRequest): RouteSelection {
    const ext = req.contextExtensions;
    const named = ext?.[CONTEXT_ROUTE];
    const entrypoint = ext?.[CONTEXT_ENTRYPOINT];
    if (entrypoint !== undefined) this.#checkEntrypoint(entrypoint);

    let route: RouteMatch | null;
    if (named !== undefined) {
      if (!this.#table.has(named)) {
        throw new CheckError(
          RouteReason.routeUnknown,
          `context_extensions ${CONTEXT_ROUTE} names route ${JSON.stringify(named)}, which the route table does not have`,
        );
      }
      route = this.#table.matchNamed(named, req.method, req.segments);
      if (route === null) {
        throw new CheckError(
          RouteReason.routeUnmatched,
          `${req.method} ${describe(req.segments)} does not fit route "${named}" named by context_extensions ${CONTEXT_ROUTE}`,
        );
      }
    } else {
      route = this.#table.match(req.method, req.segments);
      if (route === null && this.#opts.unmatched === 'deny') {
        throw new CheckError(RouteReason.routeUnmatched, `no route matches ${req.method} ${describe(req.segments)} (routes.unmatched: deny)`);
      }
    }
    let calls: readonly RouteMatch[] | undefined;
    if (route !== null) {
      const plan = this.#table.fieldPlan(route.name);
      if (plan !== null) route = readFields(route, plan, req.body, this.#opts.maxBodyBytes);
      if (entrypoint !== undefined && entrypoint !== route.entrypoint) route = { ...route, entrypoint };
      const family = this.#table.jsonrpc(route.name);
      if (family !== undefined) {
        const rpc = readJsonRpc(route, family, req.body, req.headers ?? {}, this.#opts.maxJsonRpcBatch ?? DEFAULT_JSONRPC_MAX_BATCH);
        route = rpc.calls[0] as RouteMatch;
        calls = rpc.calls;
      }
    }
    return { route, entrypoint: entrypoint ?? route?.entrypoint ?? this.#opts.defaultEntrypoint, calls };
  }

  /**
   * Whether the request is a call on an agent route (MCP, A2A: JSON-RPC in a
   * POST body), from its method and path alone, for answering a request that
   * failed before or while its body was read. Never throws.
   */
  isJsonRpc(method: string, segments: readonly string[], contextExtensions: Readonly<Record<string, string>> | undefined): boolean {
    const named = contextExtensions?.[CONTEXT_ROUTE];
    const route = named !== undefined ? (this.#table.has(named) ? this.#table.matchNamed(named, method, segments) : null) : this.#table.match(method, segments);
    // A POST on a named route the path does not fit (route_unmatched) is still a call of the route Envoy meant.
    const name = route?.name ?? (named !== undefined && method === 'POST' && this.#table.has(named) ? named : undefined);
    return name !== undefined && this.#table.jsonrpc(name) !== undefined;
  }

  #checkEntrypoint(path: string): void {
    if (!ENTRYPOINT.test(path)) {
      throw new CheckError(
        RouteReason.routeUnknown,
        `context_extensions ${CONTEXT_ENTRYPOINT} ${JSON.stringify(path)} is not a decision path like envoy/authz/allow`,
      );
    }
    if (this.#opts.hasEntrypoint && !this.#opts.hasEntrypoint(path)) {
      throw new CheckError(RouteReason.routeUnknown, `context_extensions ${CONTEXT_ENTRYPOINT} names ${path}, which the loaded policy does not have`);
    }
  }
}

/** The canonical path for messages, bounded: it can be client-chosen and long. */
function describe(segments: readonly string[]): string {
  const path = segments.length === 0 ? '*' : `/${segments.join('/')}`;
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}
