// A route as written in the built-in catalogue or in a user's configuration:
// plain data, validated by RouteConfig and compiled by RouteTable.

/** Where a body- or query-derived value comes from. */
export type FieldSource =
  /** A field of the JSON body (parsed_body), as a dotted path: "model", "request.model". */
  | { readonly json_body: string }
  /** A string field of the unary gRPC message in raw_body (needs with_request_body.pack_as_bytes). */
  | { readonly grpc_body: GrpcBodyField }
  /** A query parameter (parsed_query); given more than once, the request is refused as ambiguous. */
  | { readonly query: string };

export interface RouteSpec {
  /** Unique name; policies see it as input.route.name, context_extensions select by it. */
  readonly name: string;
  /** HTTP methods in upper case, or ["*"] for any method. */
  readonly methods: readonly string[];
  /**
   * Path template over canonical segments: literals, "{name}" (one whole
   * segment), "pre{name}suf" (one parameter with a literal prefix and/or
   * suffix inside a segment, as KServe's "{model}:predict"), and "{name*}"
   * (last only: one or more remaining segments joined with "/").
   */
  readonly path: string;
  /** API family, e.g. "kserve-v2". */
  readonly api: string;
  /** What the request does, e.g. "infer". */
  readonly action: string;
  /** Decision path for this route; absent: the default (policy.decision). */
  readonly entrypoint?: string | undefined;
  /** Where the model name comes from when not from a "{model}" path parameter. */
  readonly model_from?: FieldSource | undefined;
  /** Where the model version comes from when not from a "{version}" path parameter. */
  readonly version_from?: FieldSource | undefined;
  /** More named values from the body or query, e.g. Feast's feature service. */
  readonly params_from?: Readonly<Record<string, FieldSource>> | undefined;
  /**
   * The body is JSON-RPC 2.0 of this agent protocol (MCP Streamable HTTP,
   * A2A): the action is each call's method and a batch is decided call by
   * call (see JsonRpc.ts). `action` is then only the fallback's name.
   */
  readonly jsonrpc?: 'mcp' | 'a2a' | undefined;
}

/**
 * The gRPC request fields a route may read, with their protobuf field numbers
 * (KServe v2 grpc_predict_v2.proto; Triton's model repository extension).
 * Only top-level string fields are read.
 */
export const GRPC_BODY_FIELDS = {
  'ModelInferRequest.model_name': 1,
  'ModelInferRequest.model_version': 2,
  'ModelReadyRequest.name': 1,
  'ModelReadyRequest.version': 2,
  'ModelMetadataRequest.name': 1,
  'ModelMetadataRequest.version': 2,
  'ModelStatisticsRequest.name': 1,
  'ModelStatisticsRequest.version': 2,
  'RepositoryModelLoadRequest.model_name': 2,
  'RepositoryModelUnloadRequest.model_name': 2,
} as const;

export type GrpcBodyField = keyof typeof GRPC_BODY_FIELDS;

/** Route names: also used in Envoy config (ztauthz_route) and metric labels. */
export const ROUTE_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
/** api and action names: policies compare them as strings. */
export const LABEL = /^[a-z][a-z0-9_-]{0,63}$/;
/** Parameter names: lower-case identifiers (which also keeps "__proto__" out of params objects). */
export const PARAM_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** HTTP method tokens as routes name them. */
export const METHOD = /^[A-Z]{1,20}$/;
/** Decision paths, as config's policy.decision. */
export const ENTRYPOINT = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/;

/** A route or route configuration that cannot be used; the message names the route and the field. */
export class RouteConfigError extends Error {
  override name = 'RouteConfigError';
}
