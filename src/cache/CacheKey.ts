// The decision cache key: a SHA-256 over the policy revision, the entrypoint
// and a serialisation of the input minus the fields that differ on every
// request and that the loaded policy does not read (VOLATILE_FIELDS, or
// cache.ignore, minus what PolicyReads.ts finds the policy may read). A hash of a
// complete serialisation cannot collide by accident, so one input's decision
// is never served to another input.
import { hash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../types/Json.ts';

/**
 * Fields left out of the default key, as paths into the input. Each changes
 * per request (ids, clocks, trace context, the client's ephemeral port). A
 * policy may still decide on one of them (a business-hours rule, a WAF rule
 * over every header), so the list applies per loaded policy only to the
 * fields it provably does not read: PolicyEngine.cacheIgnore, PolicyReads.ts.
 */
export const VOLATILE_FIELDS: readonly string[] = [
  'attributes.request.http.id',
  'attributes.request.time',
  'attributes.source.address.socketAddress.portValue',
  'attributes.request.http.headers.x-request-id',
  'attributes.request.http.headers.traceparent',
  'attributes.request.http.headers.tracestate',
  'attributes.request.http.headers.b3',
  'attributes.request.http.headers.x-b3-traceid',
  'attributes.request.http.headers.x-b3-spanid',
  'attributes.request.http.headers.x-b3-parentspanid',
  'attributes.request.http.headers.x-b3-sampled',
  'attributes.request.http.headers.x-b3-flags',
  'attributes.request.http.headers.x-envoy-expected-rq-timeout-ms',
  'attributes.request.http.headers.x-envoy-attempt-count',
  'attributes.request.http.headers.x-amzn-trace-id',
  'attributes.request.http.headers.x-cloud-trace-context',
  'attributes.request.http.headers.grpc-timeout',
];

/**
 * More fields left out of the key on agent routes (MCP, A2A), with the same
 * per-policy analysis but never "as stated": every JSON-RPC call carries a new
 * id, so the body text, its size and the parsed body differ per call while
 * input.route already holds what the call asks (method, tool, argument
 * names). A policy that reads any of them keeps it in the key.
 */
export const JSONRPC_VOLATILE_FIELDS: readonly string[] = [
  'attributes.request.http.body',
  'attributes.request.http.raw_body',
  'attributes.request.http.size',
  'attributes.request.http.headers.content-length',
  'parsed_body',
  'parsed_body.id',
  'route.params.id',
];

export type FieldPath = readonly string[];

export function parseFieldPath(path: string): FieldPath {
  return path.split('.');
}

/** Key over the whole input minus `ignore`. `policy` names the exact loaded policy instance (see PolicyEngine.instance). */
export function fullInputKey(policy: string, entrypoint: string, input: JsonObject, ignore: readonly FieldPath[]): string {
  const removed: Array<[JsonObject, string, JsonValue]> = [];
  for (const path of ignore) {
    const parent = walk(input, path, path.length - 1);
    const last = path[path.length - 1] as string;
    if (parent && last in parent) {
      removed.push([parent, last, parent[last] as JsonValue]);
      delete parent[last];
    }
  }
  // Serialise with the fields taken out, then put them back: the policy and
  // the decision record see the complete input.
  let text: string;
  try {
    text = JSON.stringify(input);
  } finally {
    for (let i = removed.length - 1; i >= 0; i--) {
      const [parent, key, value] = removed[i]!;
      parent[key] = value;
    }
  }
  return digest(policy, entrypoint, text);
}

/**
 * The same key as fullInputKey would separate, from what the input is built
 * of: the request's raw key (its bytes minus cache.ignore, see
 * envoy/RawRequestKey.ts; it already names the policy instance), the verified
 * identity and input.behavior. Everything else in the input is derived from
 * those bytes and the configuration, so equal parts mean equal inputs outside
 * cache.ignore, without serialising the input.
 */
export function requestDerivedKey(rawKey: string, entrypoint: string, identity: JsonValue | undefined, behavior: JsonValue | undefined): string {
  return digest(rawKey, entrypoint, `${JSON.stringify(identity ?? null)}\n${JSON.stringify(behavior ?? null)}`);
}

/**
 * Key over selected fields only: a route's declaration that its policy reads
 * nothing else. A field that is absent is keyed as absent, not skipped, so
 * {a: absent, b: 1} and {a: 1, b: absent} never share a key.
 */
export function selectedFieldsKey(policy: string, entrypoint: string, route: string, input: JsonObject, fields: readonly FieldPath[]): string {
  // Each field as [] when absent or [value] when present: no value a client
  // sends can look like an absent field. The route is part of the key: the
  // statement "reads nothing else" is only true for its own route.
  const values: JsonValue[] = new Array(fields.length + 1);
  values[0] = route;
  for (let i = 0; i < fields.length; i++) {
    const path = fields[i]!;
    const parent = walk(input, path, path.length - 1);
    const v = parent ? parent[path[path.length - 1] as string] : undefined;
    values[i + 1] = v === undefined ? [] : [v];
  }
  return digest(policy, entrypoint, JSON.stringify(values));
}

function walk(input: JsonObject, path: FieldPath, depth: number): JsonObject | undefined {
  let node: JsonValue | undefined = input;
  for (let i = 0; i < depth; i++) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[path[i] as string];
  }
  return node !== null && typeof node === 'object' && !Array.isArray(node) ? node : undefined;
}

function digest(policy: string, entrypoint: string, text: string): string {
  // Length-prefixed parts: no choice of policy/entrypoint text can make two
  // different triples hash the same bytes.
  return hash('sha256', `${policy.length}:${policy}${entrypoint.length}:${entrypoint}${text}`, 'base64url');
}
