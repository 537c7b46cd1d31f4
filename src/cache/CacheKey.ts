// The decision cache key: a SHA-256 over the policy revision, the entrypoint
// and a serialisation of the input minus the fields that differ on every
// request and that policies do not decide on (VOLATILE_FIELDS). A hash of a
// complete serialisation cannot collide by accident, so one input's decision
// is never served to another input.
import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../types/Json.ts';

/**
 * Fields left out of the default key, as paths into the input. Each changes
 * per request (ids, clocks, trace context, the client's ephemeral port) and
 * decides nothing in a sane policy; a policy whose source names one of them
 * keeps it in the key (see keepReferencedFields).
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

export type FieldPath = readonly string[];

export function parseFieldPath(path: string): FieldPath {
  return path.split('.');
}

/**
 * Drops the volatile fields a policy's source mentions by name: a policy that
 * reads `x-request-id` must get a key that includes it. Sources are the Rego
 * files a bundle carries; without them the list is trusted as documented.
 */
export function keepReferencedFields(fields: readonly string[], regoSources: readonly string[]): string[] {
  if (regoSources.length === 0) return [...fields];
  return fields.filter((f) => {
    const last = f.slice(f.lastIndexOf('.') + 1);
    return !regoSources.some((src) => src.includes(last));
  });
}

/** Key over the whole input minus `ignore`. */
export function fullInputKey(revision: string, entrypoint: string, input: JsonObject, ignore: readonly FieldPath[]): string {
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
  return digest(revision, entrypoint, text);
}

/**
 * Key over selected fields only: a route's declaration that its policy reads
 * nothing else. A field that is absent is keyed as absent, not skipped, so
 * {a: absent, b: 1} and {a: 1, b: absent} never share a key.
 */
export function selectedFieldsKey(revision: string, entrypoint: string, input: JsonObject, fields: readonly FieldPath[]): string {
  const values: Array<JsonValue | undefined> = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const path = fields[i]!;
    const parent = walk(input, path, path.length - 1);
    values[i] = parent ? parent[path[path.length - 1] as string] : undefined;
  }
  return digest(revision, entrypoint, JSON.stringify(values, (_k, v: unknown) => (v === undefined ? { '\u0000absent': true } : v)));
}

function walk(input: JsonObject, path: FieldPath, depth: number): JsonObject | undefined {
  let node: JsonValue | undefined = input;
  for (let i = 0; i < depth; i++) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[path[i] as string];
  }
  return node !== null && typeof node === 'object' && !Array.isArray(node) ? node : undefined;
}

function digest(revision: string, entrypoint: string, text: string): string {
  // Length-prefixed parts: no choice of revision/entrypoint text can make two
  // different triples hash the same bytes.
  return createHash('sha256')
    .update(`${revision.length}:${revision}${entrypoint.length}:${entrypoint}`)
    .update(text)
    .digest('base64url');
}
