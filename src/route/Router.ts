// The route phase as the Check pipeline calls it: canonicalise the request
// target and host, then choose the route and decision path and read what the
// route takes from the body, from what the pipeline already has (the decoded
// request and the policy input), so nothing is parsed twice. Order:
//
//   1. view  = readCheckRequest(bytes, limits)
//   2. canon = router.canonicalise(view.http)          path_rejected, host_rejected, request_too_large
//   3. input = buildPolicyInput(view, ...);  input.parsed_path = canon.path.segments
//   4. sel   = router.select(view.http, input, canon)  route_unknown, route_unmatched, body_*
//   5. input.route = sel.route; evaluate sel.entrypoint
//
// Canonicalising before the input is built means an ambiguous path is refused
// as path_rejected before anything else looks at it.
import type { HttpView } from '../types/Request.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { BodyInput } from './BodyFields.ts';
import { canonicalPath, type CanonicalPath } from './CanonicalPath.ts';
import { canonicalHost, type CanonicalHost } from './CanonicalHost.ts';
import { buildRouteTable, type RouteConfig } from './RouteConfig.ts';
import { RouteSelector, type RouteSelection } from './RouteSelect.ts';
import type { RouteSpec } from './RouteSpec.ts';
import { CheckError, Reason } from '../types/Reason.ts';

export interface RouterOptions {
  /** policy.decision. */
  readonly defaultEntrypoint: string;
  /** request.max_path_bytes. */
  readonly maxPathBytes: number;
  /** request.max_body_bytes. */
  readonly maxBodyBytes: number;
  /** Whether the loaded policy has an entrypoint (for context_extensions ztauthz_entrypoint); absent: syntax only. */
  readonly hasEntrypoint?: ((path: string) => boolean) | undefined;
  /** The built-in routes; tests pass their own. */
  readonly catalogue?: readonly RouteSpec[] | undefined;
  /** routes.jsonrpc_max_batch; absent: DEFAULT_JSONRPC_MAX_BATCH. */
  readonly maxJsonRpcBatch?: number | undefined;
}

export interface Canonical {
  readonly path: CanonicalPath;
  readonly host: CanonicalHost;
}

const NO_QUERY: Readonly<Record<string, JsonValue>> = Object.freeze({});

export class Router {
  readonly selector: RouteSelector;
  /** Every decision path a route names, plus the default: the policy must have them all (check at load, not per request). */
  readonly entrypoints: readonly string[];
  readonly #maxPathBytes: number;

  /** Builds the table from the routes config section; throws RouteConfigError naming the route and field. */
  constructor(config: RouteConfig, opts: RouterOptions) {
    const table = buildRouteTable(config, { defaultEntrypoint: opts.defaultEntrypoint, catalogue: opts.catalogue });
    this.selector = new RouteSelector(table, {
      unmatched: config.unmatched,
      defaultEntrypoint: opts.defaultEntrypoint,
      maxBodyBytes: opts.maxBodyBytes,
      hasEntrypoint: opts.hasEntrypoint,
      maxJsonRpcBatch: opts.maxJsonRpcBatch,
    });
    this.entrypoints = [...new Set([opts.defaultEntrypoint, ...table.routes.flatMap((r) => (r.entrypoint ? [r.entrypoint] : []))])];
    this.#maxPathBytes = opts.maxPathBytes;
  }

  canonicalise(http: HttpView): Canonical {
    return {
      path: canonicalPath(http.method, http.path, { maxPathBytes: this.#maxPathBytes }),
      host: canonicalHost(http.host, http.headers),
    };
  }

  /** canonicalise without the path_rejected / host_rejected refusals (compat: opa-envoy); request_too_large still throws. */
  canonicaliseLenient(http: HttpView): Canonical {
    let path: CanonicalPath;
    let host: CanonicalHost;
    try {
      path = canonicalPath(http.method, http.path, { maxPathBytes: this.#maxPathBytes });
    } catch (err) {
      if (!(err instanceof CheckError) || err.reason !== Reason.pathRejected) throw err;
      path = { path: http.path, segments: [], query: '' };
    }
    try {
      host = canonicalHost(http.host, http.headers);
    } catch (err) {
      if (!(err instanceof CheckError) || err.reason !== Reason.hostRejected) throw err;
      host = { host: '', port: null };
    }
    return { path, host };
  }

  select(http: HttpView, input: JsonObject, canon: Canonical): RouteSelection {
    return this.selector.select({
      method: http.method,
      segments: canon.path.segments,
      contextExtensions: contextExtensions(input),
      body: bodyInput(http, input),
      headers: http.headers,
    });
  }
}

/** See RouteSelector.isJsonRpc: whether this request, by method and path, is a call on an MCP or A2A route. */
export function isJsonRpcRequest(router: Router, http: HttpView, attributes: JsonObject, canon: Canonical): boolean {
  return router.selector.isJsonRpc(http.method, canon.path.segments, contextExtensions({ attributes }));
}

/** The body as the route phase reads it: parsed body and query from the input, the bytes from the request. */
export function bodyInput(http: HttpView, input: JsonObject): BodyInput {
  return {
    contentType: http.headers['content-type'],
    parsed: input['parsed_body'],
    // truncated_body is computed for JSON/form bodies only (and absent with request.parse_body off);
    // for a gRPC body, Envoy's own marker is what says it is partial.
    truncated: input['truncated_body'] === true || http.headers['x-envoy-auth-partial-body'] === 'true',
    text: http.body,
    raw: http.rawBody,
    query: (input['parsed_query'] as Record<string, JsonValue> | undefined) ?? NO_QUERY,
  };
}

/** input.attributes.contextExtensions (protojson name), when Envoy sent any. */
export function contextExtensions(input: JsonObject): Readonly<Record<string, string>> | undefined {
  const ext = (input['attributes'] as JsonObject | undefined)?.['contextExtensions'];
  return ext !== null && typeof ext === 'object' && !Array.isArray(ext) ? (ext as Record<string, string>) : undefined;
}
