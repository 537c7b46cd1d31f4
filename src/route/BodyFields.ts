// Values a route takes from the request body or query rather than the path:
// the model of an OpenAI request ({"model": ...}), of a KServe v2 gRPC
// ModelInfer (protobuf field 1), Feast's feature service, MLflow's ?name=.
// The JSON body is the one the input phase already parsed (parsed_body) and
// the query the one it parsed (parsed_query): nothing is parsed twice, and the
// policy and the router read the very same values.
//
// A route that reads the body needs it: no body, a body that is not JSON (or,
// for gRPC, not a readable frame), a partial body or one over the size limit
// is a denial with its own reason, never a route with a silently null model.
// A field that is simply absent is null: the policy decides (OpenAI servers
// such as vLLM default the model when it is missing).
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';
import type { RouteMatch, RouteParams } from '../types/Route.ts';
import { GRPC_BODY_FIELDS, type FieldSource, type RouteSpec } from './RouteSpec.ts';
import { RouteReason } from './RouteReasons.ts';
import { grpcMessageEnd, readStringFields } from './ProtobufFields.ts';

/** What the body phase has for one request. */
export interface BodyInput {
  /** The content-type header. */
  readonly contentType: string | undefined;
  /** input.parsed_body; undefined when request.parse_body is off. */
  readonly parsed: JsonValue | undefined;
  /** input.truncated_body, or x-envoy-auth-partial-body: true when the body was not parsed. */
  readonly truncated: boolean;
  /** request.http.body (text). */
  readonly text: string;
  /** request.http.raw_body (bytes, with pack_as_bytes). */
  readonly raw: Uint8Array;
  /** input.parsed_query. */
  readonly query: Readonly<Record<string, JsonValue>>;
}

type Compiled =
  | { readonly kind: 'json'; readonly keys: readonly string[]; readonly label: string }
  | { readonly kind: 'grpc'; readonly field: number; readonly label: string }
  | { readonly kind: 'query'; readonly name: string; readonly label: string };

/** A route's field sources, compiled once when the table is built. */
export interface FieldPlan {
  readonly route: string;
  /** Output names in order: "model", "version", then params_from names. */
  readonly names: readonly string[];
  readonly sources: readonly Compiled[];
  /** gRPC field numbers to read, and for each source its index in them (-1: not gRPC). */
  readonly grpcFields: readonly number[];
  readonly grpcIndex: readonly number[];
  readonly needsJson: boolean;
}

/** null when the route reads nothing from body or query. Sources were validated by RouteConfig. */
export function compileFields(spec: RouteSpec): FieldPlan | null {
  const entries: Array<[string, FieldSource]> = [];
  if (spec.model_from) entries.push(['model', spec.model_from]);
  if (spec.version_from) entries.push(['version', spec.version_from]);
  for (const [name, src] of Object.entries(spec.params_from ?? {})) entries.push([name, src]);
  if (entries.length === 0) return null;
  const sources: Compiled[] = [];
  const grpcFields: number[] = [];
  const grpcIndex: number[] = [];
  for (const [, src] of entries) {
    if ('json_body' in src) {
      sources.push({ kind: 'json', keys: src.json_body.split('.'), label: `JSON body field "${src.json_body}"` });
      grpcIndex.push(-1);
    } else if ('grpc_body' in src) {
      sources.push({ kind: 'grpc', field: GRPC_BODY_FIELDS[src.grpc_body], label: `gRPC field ${src.grpc_body}` });
      grpcIndex.push(grpcFields.length);
      grpcFields.push(GRPC_BODY_FIELDS[src.grpc_body]);
    } else {
      sources.push({ kind: 'query', name: src.query, label: `query parameter "${src.query}"` });
      grpcIndex.push(-1);
    }
  }
  return {
    route: spec.name,
    names: entries.map(([n]) => n),
    sources,
    grpcFields,
    grpcIndex,
    needsJson: sources.some((s) => s.kind === 'json'),
  };
}

/** The match with body/query-derived model, version and params filled in. */
export function readFields(match: RouteMatch, plan: FieldPlan, body: BodyInput, maxBodyBytes: number): RouteMatch {
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only count bytes when that bound could be exceeded.
  const textBytes = body.text.length * 3 <= maxBodyBytes ? 0 : Buffer.byteLength(body.text);
  if (body.raw.length > maxBodyBytes || textBytes > maxBodyBytes) {
    throw new CheckError(Reason.requestTooLarge, `body is larger than ${maxBodyBytes} bytes`);
  }
  const grpcValues = plan.grpcFields.length > 0 ? readGrpc(plan, body) : null;
  const json = plan.needsJson ? jsonObject(plan, body) : null;

  const params: RouteParams = { ...match.params };
  let model = match.model;
  let version = match.version;
  for (let k = 0; k < plan.sources.length; k++) {
    const src = plan.sources[k] as Compiled;
    const value =
      src.kind === 'grpc'
        ? (grpcValues?.[plan.grpcIndex[k] as number] ?? null)
        : src.kind === 'json'
          ? jsonString(json, src, plan.route)
          : queryString(body.query, src.name);
    if (value === null) continue;
    const name = plan.names[k] as string;
    params[name] = value;
    if (name === 'model') model = value;
    else if (name === 'version') version = value;
  }
  return { name: match.name, api: match.api, action: match.action, model, version, params, entrypoint: match.entrypoint };
}

function readGrpc(plan: FieldPlan, body: BodyInput): (string | null)[] {
  if (body.raw.length === 0) {
    if (body.text !== '') {
      invalid(`route "${plan.route}" reads the gRPC message, but Envoy sent it as text, which mangles bytes: set with_request_body.pack_as_bytes: true`);
    }
    missing(plan, 'the gRPC message');
  }
  const end = grpcMessageEnd(body.raw, body.truncated);
  const out: (string | null)[] = new Array(plan.grpcFields.length);
  readStringFields(body.raw, 5, end, plan.grpcFields, out);
  return out;
}

function jsonObject(plan: FieldPlan, body: BodyInput): { [key: string]: JsonValue } {
  if (body.parsed === undefined) {
    throw new CheckError(RouteReason.bodyMissing, `route "${plan.route}" reads the JSON body, but request.parse_body is off`);
  }
  if (body.truncated) {
    throw new CheckError(
      Reason.bodyTruncated,
      `route "${plan.route}" reads the JSON body, which Envoy sent only in part (raise with_request_body.max_request_bytes)`,
    );
  }
  if (body.text === '' && body.raw.length === 0) missing(plan, 'the JSON body');
  // The input phase's own test (RequestBody.bodyKind), so "JSON" means the same thing to both.
  if (!(body.contentType ?? '').toLowerCase().includes('application/json')) {
    invalid(`route "${plan.route}" reads the JSON body, but its content-type is ${JSON.stringify(body.contentType ?? '')}, not application/json`);
  }
  const parsed = body.parsed;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    invalid(`route "${plan.route}" reads fields of the JSON body, which is not a JSON object`);
  }
  return parsed;
}

function jsonString(root: { [key: string]: JsonValue } | null, src: Compiled & { kind: 'json' }, route: string): string | null {
  let v: JsonValue | undefined = root;
  for (const key of src.keys) {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'object' || Array.isArray(v)) invalid(`route "${route}": ${src.label} is not inside a JSON object`);
    v = Object.hasOwn(v, key) ? v[key] : undefined;
  }
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string') invalid(`route "${route}": ${src.label} must be a string, got ${Array.isArray(v) ? 'array' : typeof v}`);
  return v;
}

function queryString(query: Readonly<Record<string, JsonValue>>, name: string): string | null {
  const values = Object.hasOwn(query, name) ? query[name] : undefined;
  if (!Array.isArray(values) || values.length === 0) return null;
  if (values.length > 1) {
    throw new CheckError(RouteReason.pathRejected, `path rejected: query parameter "${name}" is given ${values.length} times; servers pick different ones`);
  }
  const v = values[0];
  return typeof v === 'string' && v !== '' ? v : null;
}

function missing(plan: FieldPlan, what: string): never {
  throw new CheckError(RouteReason.bodyMissing, `route "${plan.route}" reads ${what}, but Envoy sent no body (set with_request_body on the ext_authz filter)`);
}

function invalid(why: string): never {
  throw new CheckError(Reason.bodyInvalid, why);
}
