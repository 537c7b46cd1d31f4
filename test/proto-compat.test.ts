// Proves that ztauthz's own proto/ files are wire-compatible with Envoy's
// official ext_authz definitions (shipped with @grpc/grpc-js-xds):
//
//  1. structurally: every message/enum/service we define exists upstream under
//     the same full name, and every field we define has the same number, type,
//     label and oneof; the official fields we leave out are pinned and none of
//     them is one ztauthz reads or writes;
//  2. on the wire, both ways: messages using every field ztauthz reads or
//     writes encode to the same bytes with either definition and decode to the
//     same values with the other one (also through @grpc/proto-loader, the path
//     @grpc/grpc-js takes);
//  3. grpc.health.v1: the well-known numbers, and the same definitions as
//     grpc-health-check's health.proto, the one ztauthz serves (with List).
//
// The last block feeds modified copies of proto/ through the same comparison to
// show that a changed number, type, label, oneof or a dropped field fails it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_PROTO_DIR, loadLocalProto, loadLocalRoot, loadOfficialAuthProto, loadOfficialRoot } from './support/official-protos.ts';

// ---------------------------------------------------------------------------
// What ztauthz reads (CheckRequest) and writes (CheckResponse), as
// "<message full name>.<field name>".
// ---------------------------------------------------------------------------
const AUTH = 'envoy.service.auth.v3';
const CORE = 'envoy.config.core.v3';

const USED_FIELDS: readonly string[] = [
  `${AUTH}.CheckRequest.attributes`,
  ...['source', 'destination', 'request', 'context_extensions', 'metadata_context', 'route_metadata_context', 'tls_session'].map(
    (f) => `${AUTH}.AttributeContext.${f}`,
  ),
  ...['address', 'service', 'labels', 'principal', 'certificate'].map((f) => `${AUTH}.AttributeContext.Peer.${f}`),
  `${CORE}.Address.socket_address`,
  `${CORE}.SocketAddress.address`,
  `${CORE}.SocketAddress.port_value`,
  `${AUTH}.AttributeContext.Request.time`,
  `${AUTH}.AttributeContext.Request.http`,
  ...['id', 'method', 'headers', 'path', 'host', 'scheme', 'query', 'fragment', 'size', 'protocol', 'body', 'raw_body'].map(
    (f) => `${AUTH}.AttributeContext.HttpRequest.${f}`,
  ),
  `${AUTH}.AttributeContext.TLSSession.sni`,
  `${CORE}.Metadata.filter_metadata`,

  ...['status', 'denied_response', 'ok_response', 'dynamic_metadata'].map((f) => `${AUTH}.CheckResponse.${f}`),
  'google.rpc.Status.code',
  'google.rpc.Status.message',
  ...['headers', 'headers_to_remove', 'response_headers_to_add', 'query_parameters_to_set', 'query_parameters_to_remove'].map(
    (f) => `${AUTH}.OkHttpResponse.${f}`,
  ),
  ...['status', 'headers', 'body'].map((f) => `${AUTH}.DeniedHttpResponse.${f}`),
  'envoy.type.v3.HttpStatus.code',
  `${CORE}.HeaderValueOption.header`,
  `${CORE}.HeaderValueOption.append_action`,
  `${CORE}.HeaderValue.key`,
  `${CORE}.HeaderValue.value`,
  `${CORE}.QueryParameter.key`,
  `${CORE}.QueryParameter.value`,
];

/**
 * Official fields of the messages reachable from CheckRequest/CheckResponse that
 * proto/ leaves out. Pinned: dropping or adding a field in proto/ must be a
 * deliberate change to this list.
 */
const EXPECTED_OMITTED: readonly string[] = [
  // Deprecated upstream (since 3.0) in favour of CheckResponse.dynamic_metadata; reserved in proto/.
  `${AUTH}.OkHttpResponse.dynamic_metadata`,
];

/** Roots of the message graph ztauthz exchanges with Envoy. */
const ENTRY_MESSAGES = [`${AUTH}.CheckRequest`, `${AUTH}.CheckResponse`];

// ---------------------------------------------------------------------------
// Structural comparison
// ---------------------------------------------------------------------------
interface Definitions {
  types: protobuf.Type[];
  enums: protobuf.Enum[];
  services: protobuf.Service[];
}

/** "envoy.service.auth.v3.CheckRequest" (protobufjs full names start with a dot). */
function nameOf(obj: protobuf.ReflectionObject): string {
  return obj.fullName.replace(/^\./, '');
}

/** True for protobufjs' bundled google.protobuf well-known types (the same on both sides). */
function isWellKnown(obj: protobuf.ReflectionObject): boolean {
  return nameOf(obj).startsWith('google.protobuf.');
}

function collectDefinitions(ns: protobuf.NamespaceBase, out: Definitions = { types: [], enums: [], services: [] }): Definitions {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type) {
      if (!isWellKnown(obj)) out.types.push(obj);
      collectDefinitions(obj, out);
    } else if (obj instanceof protobuf.Enum) {
      if (!isWellKnown(obj)) out.enums.push(obj);
    } else if (obj instanceof protobuf.Service) {
      out.services.push(obj);
    } else if (obj instanceof protobuf.Namespace) {
      collectDefinitions(obj, out);
    }
  }
  return out;
}

interface FieldShape {
  id: number;
  /** Scalar type name, or the resolved full name of the message/enum. */
  type: string;
  kind: 'scalar' | 'enum' | 'message';
  /** 'map<K>', 'repeated', 'optional' (proto3 explicit presence) or 'singular'. */
  label: string;
  oneof: string | null;
  hasPresence: boolean;
  packed: boolean | null;
}

function shapeOf(field: protobuf.Field): FieldShape {
  const resolved = field.resolvedType;
  let label = 'singular';
  if (field.map) label = `map<${(field as unknown as protobuf.MapField).keyType}>`;
  else if (field.repeated) label = 'repeated';
  else if (field.options?.['proto3_optional'] === true) label = 'optional';
  return {
    id: field.id,
    type: resolved ? nameOf(resolved) : field.type,
    kind: resolved instanceof protobuf.Enum ? 'enum' : resolved ? 'message' : 'scalar',
    label,
    oneof: field.partOf ? field.partOf.name : null,
    hasPresence: Boolean(field.hasPresence), // protobufjs returns the OneOf for oneof members
    packed: field.repeated && !field.map ? field.packed : null,
  };
}

/**
 * Whether `type` reserves field number `id`. (protobufjs' own isReservedId
 * treats the parsed, inclusive range `reserved 3;` = [3, 3] as end-exclusive
 * and so answers false for single numbers.)
 */
function reservesNumber(type: protobuf.Type, id: number): boolean {
  return (type.reserved ?? []).some((range) => typeof range !== 'string' && range[0]! <= id && id <= range[1]!);
}

interface Comparison {
  /** Mismatches: anything here breaks wire compatibility. */
  problems: string[];
  /** Official fields (of messages reachable from CheckRequest/CheckResponse) that ours lacks. */
  omitted: string[];
  /** Omitted official fields whose number ours does not reserve. */
  unreserved: string[];
  /** Number of our fields / enum values / methods that were checked. */
  checked: number;
}

/** Compares every message, enum and service in `ours` with `official`, except `skipPackages`. */
function compareDefinitions(ours: protobuf.Root, official: protobuf.Root, skipPackages: readonly string[] = []): Comparison {
  const problems: string[] = [];
  let checked = 0;
  const defs = collectDefinitions(ours);
  const skipped = (obj: protobuf.ReflectionObject) => skipPackages.some((p) => nameOf(obj).startsWith(`${p}.`));

  for (const type of defs.types.filter((t) => !skipped(t))) {
    const upstream = official.lookup(type.fullName);
    if (!(upstream instanceof protobuf.Type)) {
      problems.push(`message ${nameOf(type)}: no official message of that name`);
      continue;
    }
    for (const field of type.fieldsArray) {
      checked++;
      const where = `${nameOf(type)}.${field.name}`;
      const theirs = upstream.fields[field.name];
      if (!theirs) {
        const sameId = upstream.fieldsById[field.id];
        problems.push(`${where} = ${field.id}: no official field of that name${sameId ? ` (official #${field.id} is ${sameId.name})` : ''}`);
        continue;
      }
      const a = shapeOf(field);
      const b = shapeOf(theirs);
      for (const key of Object.keys(a) as (keyof FieldShape)[]) {
        if (a[key] !== b[key]) problems.push(`${where}: ${key} is ${String(a[key])}, official ${String(b[key])}`);
      }
    }
  }

  for (const en of defs.enums.filter((e) => !skipped(e))) {
    const upstream = official.lookup(en.fullName);
    if (!(upstream instanceof protobuf.Enum)) {
      problems.push(`enum ${nameOf(en)}: no official enum of that name`);
      continue;
    }
    for (const [name, value] of Object.entries(en.values)) {
      checked++;
      const theirs = upstream.values[name];
      if (theirs === undefined) problems.push(`enum ${nameOf(en)}.${name} = ${value}: no official value of that name`);
      else if (theirs !== value) problems.push(`enum ${nameOf(en)}.${name} = ${value}: official number is ${theirs}`);
    }
    // Enums are copied whole: a value we lack would decode as a bare number.
    for (const [name, value] of Object.entries(upstream.values)) {
      if (!(name in en.values)) problems.push(`enum ${nameOf(en)}: lacks official value ${name} = ${value}`);
    }
  }

  for (const service of defs.services.filter((s) => !skipped(s))) {
    const upstream = official.lookup(service.fullName);
    if (!(upstream instanceof protobuf.Service)) {
      problems.push(`service ${nameOf(service)}: no official service of that name`);
      continue;
    }
    for (const method of service.methodsArray) {
      checked++;
      const where = `rpc ${nameOf(service)}.${method.name}`;
      const theirs = upstream.methods[method.name];
      if (!theirs) {
        problems.push(`${where}: no official method of that name`);
        continue;
      }
      const shape = (m: protobuf.Method) => ({
        request: m.resolvedRequestType ? nameOf(m.resolvedRequestType) : m.requestType,
        response: m.resolvedResponseType ? nameOf(m.resolvedResponseType) : m.responseType,
        requestStream: Boolean(m.requestStream),
        responseStream: Boolean(m.responseStream),
      });
      const a = shape(method);
      const b = shape(theirs);
      for (const key of Object.keys(a) as (keyof typeof a)[]) {
        if (a[key] !== b[key]) problems.push(`${where}: ${key} is ${String(a[key])}, official ${String(b[key])}`);
      }
    }
  }

  // Walk the official message graph from CheckRequest/CheckResponse and list
  // every official field we do not define.
  const omitted: string[] = [];
  const unreserved: string[] = [];
  const seen = new Set<string>();
  const queue = ENTRY_MESSAGES.map((n) => official.lookupType(n));
  while (queue.length > 0) {
    const type = queue.shift()!;
    if (seen.has(type.fullName) || isWellKnown(type)) continue;
    seen.add(type.fullName);
    const mine = ours.lookup(type.fullName);
    for (const field of type.fieldsArray) {
      if (field.resolvedType instanceof protobuf.Type) queue.push(field.resolvedType);
      if (mine instanceof protobuf.Type && mine.fields[field.name]) continue;
      const where = `${nameOf(type)}.${field.name}`;
      omitted.push(where);
      if (mine instanceof protobuf.Type && !reservesNumber(mine, field.id)) unreserved.push(`${where} = ${field.id}`);
    }
  }

  return { problems, omitted: omitted.sort(), unreserved, checked };
}

/** Every way `comparison` falls short, in one list (empty when compatible). */
function failuresOf(comparison: Comparison): string[] {
  const failures = [...comparison.problems];
  for (const field of comparison.omitted) {
    if (USED_FIELDS.includes(field)) failures.push(`${field}: ztauthz uses it but proto/ does not define it`);
    else if (!EXPECTED_OMITTED.includes(field)) failures.push(`${field}: newly omitted (update EXPECTED_OMITTED)`);
  }
  for (const field of EXPECTED_OMITTED) {
    if (!comparison.omitted.includes(field)) failures.push(`${field}: no longer omitted (update EXPECTED_OMITTED)`);
  }
  for (const field of comparison.unreserved) failures.push(`${field}: omitted but its number is not reserved`);
  return failures;
}

// ---------------------------------------------------------------------------
// Wire fixtures, in the shape toObject(CONVERSION) produces: snake_case names
// (keepCase), int64 as decimal strings, enums by name, bytes as base64.
// ---------------------------------------------------------------------------
const CONVERSION: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** google.protobuf.Struct in protobufjs object form (its bundled Value uses camelCase names). */
function struct(json: { [key: string]: Json }): Record<string, unknown> {
  const entries = Object.entries(json);
  return entries.length === 0 ? {} : { fields: Object.fromEntries(entries.map(([k, v]) => [k, value(v)])) };
}

function value(json: Json): Record<string, unknown> {
  if (json === null) return { nullValue: 'NULL_VALUE' };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: json.length === 0 ? {} : { values: json.map(value) } };
  return { structValue: struct(json) };
}

/** The inverse of struct(), to check the decoded Struct still says what was sent. */
function fromStruct(obj: unknown): Json {
  const fields = (obj as { fields?: Record<string, unknown> }).fields ?? {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fromValue(v)]));
}

function fromValue(obj: unknown): Json {
  const v = obj as Record<string, unknown>;
  if ('nullValue' in v) return null;
  if ('numberValue' in v) return v['numberValue'] as number;
  if ('stringValue' in v) return v['stringValue'] as string;
  if ('boolValue' in v) return v['boolValue'] as boolean;
  if ('listValue' in v) return ((v['listValue'] as { values?: unknown[] }).values ?? []).map(fromValue);
  if ('structValue' in v) return fromStruct(v['structValue']);
  throw new Error(`not a google.protobuf.Value: ${JSON.stringify(obj)}`);
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

const JWT_METADATA: { [key: string]: Json } = {
  jwt_payload: {
    iss: 'https://issuer.example.com',
    sub: 'user-42',
    aud: ['llm-gateway', 'billing'],
    exp: 1767229200,
    scope: 'inference:invoke models:read',
    admin: false,
    mfa: true,
    quota: { tokens_per_minute: 120000, burst: 1.5, overrides: [] },
    groups: [['ml', 'research'], { nested: { deeper: [null, -0.25, 'x'] } }],
    revoked_at: null,
    empty: {},
  },
};

const ROUTE_METADATA: { [key: string]: Json } = {
  route: 'openai-chat',
  models: ['llama-3-70b', 'mistral-large'],
  max_body_bytes: 1048576,
  streaming: true,
};

const DYNAMIC_METADATA: { [key: string]: Json } = {
  ztauthz: {
    decision_id: '01J9Z8X7W6V5T4S3R2Q1P0',
    reason: 'allowed',
    rule: 'data.ztauthz.allow',
    eval_ms: 0.173,
    cached: false,
    labels: { tenant: 'research', model: 'llama-3-70b' },
    denies: [],
    note: null,
  },
};

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZXhhbXBsZQ==\n-----END CERTIFICATE-----\n';

/** A CheckRequest using every field ztauthz reads. */
const CHECK_REQUEST = {
  attributes: {
    source: {
      address: { socket_address: { address: '10.42.3.17', port_value: 51234 } },
      service: 'notebook-research',
      labels: { app: 'jupyter', 'team.example.com/name': 'ml-research' },
      principal: 'spiffe://ml.example.com/ns/research/sa/notebook',
      certificate: encodeURIComponent(PEM),
    },
    destination: {
      address: { socket_address: { address: 'fd00::1:8443', port_value: 8443 } },
      service: 'llm-gateway',
      labels: { app: 'llm-gateway', version: 'v2' },
      principal: 'spiffe://ml.example.com/ns/serving/sa/llm-gateway',
      certificate: encodeURIComponent(PEM.replace('ZXhhbXBsZQ', 'c2VydmVy')),
    },
    request: {
      time: { seconds: '1767225600', nanos: 123456789 },
      http: {
        id: '8d3c6c1e-7f0a-4b2e-9c51-0f6a2f7d9b11',
        method: 'POST',
        headers: {
          ':method': 'POST',
          ':path': '/v1/chat/completions?stream=true',
          ':authority': 'llm.example.com',
          ':scheme': 'https',
          authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig',
          'content-type': 'application/json',
          'x-request-id': '8d3c6c1e-7f0a-4b2e-9c51-0f6a2f7d9b11',
          'x-unicode': 'naïve ✓',
        },
        path: '/v1/chat/completions?stream=true',
        host: 'llm.example.com',
        scheme: 'https',
        query: 'stream=true',
        fragment: 'section-2',
        size: '6442450944123', // > 2^32: only an int64 keeps it
        protocol: 'HTTP/2',
        body: '{"model":"llama-3-70b","messages":[{"role":"user","content":"héllo wörld 🚀"}]}',
        raw_body: b64(Uint8Array.from([0x00, 0x01, 0x7f, 0x80, 0xc3, 0x28, 0xfe, 0xff, 0xf0, 0x9f, 0x9a, 0x80])),
      },
    },
    context_extensions: { route: 'openai-chat', tenant: 'research', 'virtual-host': 'llm' },
    metadata_context: {
      filter_metadata: {
        'envoy.filters.http.jwt_authn': struct(JWT_METADATA),
        'envoy.filters.http.rbac': struct({ shadow_engine_result: 'allowed' }),
      },
    },
    route_metadata_context: { filter_metadata: { 'envoy.filters.http.ext_authz': struct(ROUTE_METADATA) } },
    tls_session: { sni: 'llm.example.com' },
  },
};

/**
 * The other fields proto/ defines: the other address kinds, header_map and raw
 * header values, typed metadata, and size -1 ("unknown"), a ten-byte varint.
 */
const CHECK_REQUEST_OTHER_FIELDS = {
  attributes: {
    source: { address: { pipe: { path: '/var/run/envoy/ext_authz.sock', mode: 0o660 } } },
    destination: {
      address: { envoy_internal_address: { server_listener_name: 'internal_listener', endpoint_id: 'ep-7' } },
    },
    request: {
      http: {
        method: 'GET',
        header_map: {
          headers: [
            { key: ':path', raw_value: b64('/healthz') },
            { key: 'x-dup', raw_value: b64(Uint8Array.from([0xff, 0x00])) },
            { key: 'x-dup', value: 'second' },
          ],
        },
        size: '-1',
      },
    },
    metadata_context: {
      typed_filter_metadata: {
        'envoy.filters.http.set_metadata': { type_url: 'type.googleapis.com/google.protobuf.Struct', value: b64('\x0a\x00') },
      },
    },
  },
};

const UDP_SOCKET_REQUEST = {
  attributes: {
    source: {
      address: {
        socket_address: { protocol: 'UDP', address: 'resolver.local', named_port: 'https', resolver_name: 'dns', ipv4_compat: true },
      },
    },
  },
};

/** An allow CheckResponse using every field ztauthz writes for an allow. */
const CHECK_RESPONSE_OK = {
  status: { code: 0, message: 'allowed' },
  ok_response: {
    headers: [
      {
        header: { key: 'x-ztauthz-subject', value: 'spiffe://ml.example.com/ns/research/sa/notebook' },
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
      },
      { header: { key: 'x-ztauthz-tenant', value: 'research' }, append_action: 'ADD_IF_ABSENT' },
      { header: { key: 'x-ztauthz-trace', value: 'hop-2' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-ztauthz-only-if-present', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS' },
    ],
    headers_to_remove: ['authorization', 'x-api-key'],
    response_headers_to_add: [{ header: { key: 'x-ztauthz-decision-id', value: '01J9Z8X7W6V5T4S3R2Q1P0' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    query_parameters_to_set: [
      { key: 'api-version', value: '2024-06-01' },
      { key: 'tenant', value: 'research' },
    ],
    query_parameters_to_remove: ['api_key', 'access_token'],
  },
  dynamic_metadata: struct(DYNAMIC_METADATA),
};

/** A deny CheckResponse: 401 with headers and a body. */
const CHECK_RESPONSE_DENIED = {
  status: { code: 16, message: 'policy_denied: no valid credential' },
  denied_response: {
    status: { code: 'Unauthorized' },
    headers: [
      { header: { key: 'www-authenticate', value: 'Bearer realm="ztauthz", error="invalid_token"' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ],
    body: '{"reason":"policy_denied","message":"no valid credential — sign in"}',
  },
  dynamic_metadata: struct({ ztauthz: { reason: 'policy_denied', denies: ['missing_token', 'unknown_model'] } }),
};

/** The other fields proto/ defines on the response side. */
const CHECK_RESPONSE_OTHER_FIELDS = {
  status: {
    code: 7,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: b64('\x0a\x06reason') }],
  },
  denied_response: {
    status: { code: 'TooManyRequests' },
    headers: [
      {
        header: { key: 'retry-after', raw_value: b64('30') },
        append: { value: true },
        keep_empty_value: true,
      },
    ],
  },
};

const REQUESTS = { CHECK_REQUEST, CHECK_REQUEST_OTHER_FIELDS, UDP_SOCKET_REQUEST };
const RESPONSES = { CHECK_RESPONSE_OK, CHECK_RESPONSE_DENIED, CHECK_RESPONSE_OTHER_FIELDS };

/** "<message>.<field>" for every field set anywhere in `obj` (our own message types only). */
function fieldsSetIn(type: protobuf.Type, obj: unknown, out = new Set<string>()): Set<string> {
  if (isWellKnown(type)) return out;
  for (const [key, val] of Object.entries(obj as Record<string, unknown>)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${nameOf(type)} has no field ${key}`);
    out.add(`${nameOf(type)}.${key}`);
    const sub = field.resolvedType;
    if (!(sub instanceof protobuf.Type)) continue;
    const values = field.map ? Object.values(val as object) : field.repeated ? (val as unknown[]) : [val];
    for (const v of values) fieldsSetIn(sub, v, out);
  }
  return out;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Encodes a fixture, first checking that fromObject took all of it (it drops what it does not know). */
function encode(type: protobuf.Type, obj: object): Uint8Array {
  const message = type.fromObject(obj);
  expect(type.toObject(message, CONVERSION), `${nameOf(type)}.fromObject kept the whole fixture`).toEqual(obj);
  return type.encode(message).finish();
}

function decode(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), CONVERSION);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------
let official: protobuf.Root;
let ours: protobuf.Root;

beforeAll(async () => {
  [official, ours] = await Promise.all([loadOfficialRoot(), loadLocalRoot()]);
});

describe('structure: proto/ against Envoy’s official definitions', () => {
  it('loads the official files with their annotation imports (udpa, xds, validate)', () => {
    const files = official.files.map((f) => f.replace(/\\/g, '/'));
    for (const dep of [
      'udpa/annotations/status.proto',
      'udpa/annotations/migrate.proto',
      'validate/validate.proto',
      'xds/core/v3/context_params.proto',
      'google/rpc/status.proto',
    ]) {
      expect(
        files.some((f) => f.endsWith(`/${dep}`)),
        dep,
      ).toBe(true);
    }
    // The definitions really come from grpc-js-xds' deps, not from proto/.
    expect(files.some((f) => f.startsWith(LOCAL_PROTO_DIR))).toBe(false);
    expect(official.lookupType(`${AUTH}.OkHttpResponse`).fields['dynamic_metadata']?.id).toBe(3);
  });

  it('defines every message, enum and service of proto/ exactly as upstream (same numbers, types, labels, oneofs)', () => {
    const result = compareDefinitions(ours, official, ['grpc.health.v1']);
    expect(result.problems).toEqual([]);
    // Guard against a vacuous pass: everything in proto/ was looked at.
    const defs = collectDefinitions(ours);
    expect(defs.types.map(nameOf).sort()).toEqual(
      [
        `${AUTH}.AttributeContext`,
        `${AUTH}.AttributeContext.HttpRequest`,
        `${AUTH}.AttributeContext.Peer`,
        `${AUTH}.AttributeContext.Request`,
        `${AUTH}.AttributeContext.TLSSession`,
        `${AUTH}.CheckRequest`,
        `${AUTH}.CheckResponse`,
        `${AUTH}.DeniedHttpResponse`,
        `${AUTH}.OkHttpResponse`,
        `${CORE}.Address`,
        `${CORE}.EnvoyInternalAddress`,
        `${CORE}.HeaderMap`,
        `${CORE}.HeaderValue`,
        `${CORE}.HeaderValueOption`,
        `${CORE}.Metadata`,
        `${CORE}.Pipe`,
        `${CORE}.QueryParameter`,
        `${CORE}.SocketAddress`,
        'envoy.type.v3.HttpStatus',
        'google.rpc.Status',
        'grpc.health.v1.HealthCheckRequest',
        'grpc.health.v1.HealthCheckResponse',
      ].sort(),
    );
    expect(defs.enums.map(nameOf).sort()).toEqual(
      [
        `${CORE}.HeaderValueOption.HeaderAppendAction`,
        `${CORE}.SocketAddress.Protocol`,
        'envoy.type.v3.StatusCode',
        'grpc.health.v1.HealthCheckResponse.ServingStatus',
      ].sort(),
    );
    expect(result.checked).toBeGreaterThan(120);
  });

  it('spot-checks the numbers ztauthz depends on most', () => {
    const http = ours.lookupType(`${AUTH}.AttributeContext.HttpRequest`);
    expect(shapeOf(http.fields['size']!)).toMatchObject({ id: 9, type: 'int64', label: 'singular' });
    expect(shapeOf(http.fields['headers']!)).toMatchObject({ id: 3, type: 'string', label: 'map<string>' });
    expect(shapeOf(http.fields['raw_body']!)).toMatchObject({ id: 12, type: 'bytes' });
    const ctx = ours.lookupType(`${AUTH}.AttributeContext`);
    expect(shapeOf(ctx.fields['route_metadata_context']!)).toMatchObject({ id: 13, type: `${CORE}.Metadata` });
    expect(shapeOf(ctx.fields['tls_session']!)).toMatchObject({ id: 12, type: `${AUTH}.AttributeContext.TLSSession` });
    const socket = ours.lookupType(`${CORE}.SocketAddress`);
    expect(shapeOf(socket.fields['port_value']!)).toMatchObject({ id: 3, type: 'uint32', oneof: 'port_specifier' });
    const response = ours.lookupType(`${AUTH}.CheckResponse`);
    expect(shapeOf(response.fields['ok_response']!)).toMatchObject({ id: 3, oneof: 'http_response' });
    expect(shapeOf(response.fields['denied_response']!)).toMatchObject({ id: 2, oneof: 'http_response' });
    expect(ours.lookupEnum('envoy.type.v3.StatusCode').values['Unauthorized']).toBe(401);
  });

  it('omits only official fields ztauthz neither reads nor writes, and reserves their numbers', () => {
    const result = compareDefinitions(ours, official, ['grpc.health.v1']);
    expect(result.omitted).toEqual([...EXPECTED_OMITTED].sort());
    expect(result.omitted.filter((f) => USED_FIELDS.includes(f))).toEqual([]);
    expect(result.unreserved).toEqual([]);
    expect(failuresOf(result)).toEqual([]);
  });

  it('defines every field ztauthz uses, identically on both sides', () => {
    for (const full of USED_FIELDS) {
      const dot = full.lastIndexOf('.');
      const [typeName, fieldName] = [full.slice(0, dot), full.slice(dot + 1)];
      const mine = ours.lookupType(typeName).fields[fieldName];
      const theirs = official.lookupType(typeName).fields[fieldName];
      expect(mine, `${full} in proto/`).toBeDefined();
      expect(theirs, `${full} upstream`).toBeDefined();
      expect(shapeOf(mine!), full).toEqual(shapeOf(theirs!));
    }
  });

  it('serves the same Authorization/Check method', () => {
    const mine = ours.lookupService(`${AUTH}.Authorization`);
    const theirs = official.lookupService(`${AUTH}.Authorization`);
    expect(Object.keys(mine.methods)).toEqual(Object.keys(theirs.methods));
    const check = mine.methods['Check']!;
    expect([check.resolvedRequestType?.fullName, check.resolvedResponseType?.fullName]).toEqual([`.${AUTH}.CheckRequest`, `.${AUTH}.CheckResponse`]);
    expect([Boolean(check.requestStream), Boolean(check.responseStream)]).toEqual([false, false]);
  });
});

describe('wire: encode with one definition, decode with the other', () => {
  const cases: [string, string, object][] = [
    ...Object.entries(REQUESTS).map(([name, obj]): [string, string, object] => [name, `${AUTH}.CheckRequest`, obj]),
    ...Object.entries(RESPONSES).map(([name, obj]): [string, string, object] => [name, `${AUTH}.CheckResponse`, obj]),
  ];

  it('the fixtures set every field ztauthz reads or writes, and every field proto/ defines', () => {
    const set = new Set<string>();
    for (const [, typeName, obj] of cases) fieldsSetIn(ours.lookupType(typeName), obj, set);
    expect(USED_FIELDS.filter((f) => !set.has(f))).toEqual([]);
    const defined = collectDefinitions(ours)
      .types.filter((t) => !nameOf(t).startsWith('grpc.health.'))
      .flatMap((t) => t.fieldsArray.map((f) => `${nameOf(t)}.${f.name}`));
    expect(defined.filter((f) => !set.has(f))).toEqual([]);
  });

  it.each(cases)('%s: official → proto/ and proto/ → official, byte for byte', (_name, typeName, obj) => {
    const theirType = official.lookupType(typeName);
    const myType = ours.lookupType(typeName);

    const officialBytes = encode(theirType, obj);
    const ourBytes = encode(myType, obj);
    // protobufjs writes fields in field-number order and map entries in key
    // order, so equal schemas give equal bytes.
    expect(hex(ourBytes)).toBe(hex(officialBytes));

    // official → ours
    expect(decode(myType, officialBytes)).toEqual(obj);
    // ours → official
    expect(decode(theirType, ourBytes)).toEqual(obj);
    // and each re-encodes what it decoded from the other to the same bytes
    expect(hex(myType.encode(myType.decode(officialBytes)).finish())).toBe(hex(officialBytes));
    expect(hex(theirType.encode(theirType.decode(ourBytes)).finish())).toBe(hex(ourBytes));
  });

  it('keeps values that need the exact wire type (int64 > 2^32, -1, bytes, unicode, Struct)', () => {
    const http = (decode(ours.lookupType(`${AUTH}.CheckRequest`), encode(official.lookupType(`${AUTH}.CheckRequest`), CHECK_REQUEST))['attributes'] as any)
      .request.http;
    expect(BigInt(http.size)).toBe(6442450944123n);
    expect(http.headers[':path']).toBe('/v1/chat/completions?stream=true');
    expect(Buffer.from(http.raw_body, 'base64')).toEqual(Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xc3, 0x28, 0xfe, 0xff, 0xf0, 0x9f, 0x9a, 0x80]));
    expect(http.body).toContain('héllo wörld 🚀');

    const unknownSize = decode(ours.lookupType(`${AUTH}.CheckRequest`), encode(official.lookupType(`${AUTH}.CheckRequest`), CHECK_REQUEST_OTHER_FIELDS));
    expect((unknownSize['attributes'] as any).request.http.size).toBe('-1');

    const metadata = (decode(official.lookupType(`${AUTH}.CheckRequest`), encode(ours.lookupType(`${AUTH}.CheckRequest`), CHECK_REQUEST))['attributes'] as any)
      .metadata_context.filter_metadata;
    expect(fromStruct(metadata['envoy.filters.http.jwt_authn'])).toEqual(JWT_METADATA);

    const ok = decode(official.lookupType(`${AUTH}.CheckResponse`), encode(ours.lookupType(`${AUTH}.CheckResponse`), CHECK_RESPONSE_OK));
    expect(fromStruct(ok['dynamic_metadata'])).toEqual(DYNAMIC_METADATA);
    const denied = decode(official.lookupType(`${AUTH}.CheckResponse`), encode(ours.lookupType(`${AUTH}.CheckResponse`), CHECK_RESPONSE_DENIED));
    expect((denied['denied_response'] as any).status).toEqual({ code: 'Unauthorized' });
  });

  it('pins a few encodings by hand (independent of both definitions)', () => {
    const req = ours.lookupType(`${AUTH}.CheckRequest`);
    // attributes(1) { request(4) { http(2) { size(9): -1 as a ten-byte varint } } }
    expect(hex(encode(req, { attributes: { request: { http: { size: '-1' } } } }))).toBe('0a0f' + '220d' + '120b' + '48' + 'ffffffffffffffffff01');
    // attributes(1) { tls_session(12) { sni(1): "a" } }
    expect(hex(encode(req, { attributes: { tls_session: { sni: 'a' } } }))).toBe('0a05' + '6203' + '0a0161');
    const res = ours.lookupType(`${AUTH}.CheckResponse`);
    // denied_response(2) { status(1) { code(1): 401 } }
    expect(hex(encode(res, { denied_response: { status: { code: 'Unauthorized' } } }))).toBe('1205' + '0a03' + '089103');
    // ok_response(3) { headers_to_remove(5): "x" }, dynamic_metadata(4) {}
    expect(hex(encode(res, { ok_response: { headers_to_remove: ['x'] }, dynamic_metadata: {} }))).toBe('1a03' + '2a0178' + '2200');
  });

  it('drops the deprecated OkHttpResponse.dynamic_metadata (#3) that proto/ leaves out, without failing', () => {
    const withDeprecated = { ...CHECK_RESPONSE_OK, ok_response: { ...CHECK_RESPONSE_OK.ok_response, dynamic_metadata: struct({ old: true }) } };
    const bytes = encode(official.lookupType(`${AUTH}.CheckResponse`), withDeprecated);
    expect(decode(ours.lookupType(`${AUTH}.CheckResponse`), bytes)).toEqual(CHECK_RESPONSE_OK);
  });

  it('agrees through @grpc/proto-loader’s Check serializers (the @grpc/grpc-js path)', async () => {
    const options: protoLoader.Options = { keepCase: true, longs: String, enums: String, bytes: String, defaults: false, oneofs: false };
    const [theirs, mine] = await Promise.all([loadOfficialAuthProto(options), loadLocalProto(options)]);
    const theirCheck = (theirs[`${AUTH}.Authorization`] as protoLoader.ServiceDefinition)['Check']!;
    const myCheck = (mine[`${AUTH}.Authorization`] as protoLoader.ServiceDefinition)['Check']!;
    expect(myCheck.path).toBe('/envoy.service.auth.v3.Authorization/Check');
    expect(myCheck.path).toBe(theirCheck.path);
    expect([myCheck.requestStream, myCheck.responseStream]).toEqual([theirCheck.requestStream, theirCheck.responseStream]);

    for (const request of Object.values(REQUESTS)) {
      const envoySends = theirCheck.requestSerialize(request);
      expect(myCheck.requestDeserialize(envoySends)).toEqual(request);
      expect(hex(myCheck.requestSerialize(request))).toBe(hex(envoySends));
    }
    for (const response of Object.values(RESPONSES)) {
      const weSend = myCheck.responseSerialize(response);
      expect(theirCheck.responseDeserialize(weSend)).toEqual(response);
      expect(hex(theirCheck.responseSerialize(response))).toBe(hex(weSend));
    }
  });
});

describe('grpc.health.v1', () => {
  it('has the well-known field numbers, enum values and methods', () => {
    const request = ours.lookupType('grpc.health.v1.HealthCheckRequest');
    const response = ours.lookupType('grpc.health.v1.HealthCheckResponse');
    expect(request.fieldsArray.map(shapeOf)).toEqual([
      { id: 1, type: 'string', kind: 'scalar', label: 'singular', oneof: null, hasPresence: false, packed: null },
    ]);
    expect(request.fieldsArray.map((f) => f.name)).toEqual(['service']);
    expect(response.fieldsArray.map(shapeOf)).toEqual([
      {
        id: 1,
        type: 'grpc.health.v1.HealthCheckResponse.ServingStatus',
        kind: 'enum',
        label: 'singular',
        oneof: null,
        hasPresence: false,
        packed: null,
      },
    ]);
    expect(response.fieldsArray.map((f) => f.name)).toEqual(['status']);
    expect(ours.lookupEnum('grpc.health.v1.HealthCheckResponse.ServingStatus').values).toEqual({
      UNKNOWN: 0,
      SERVING: 1,
      NOT_SERVING: 2,
      SERVICE_UNKNOWN: 3,
    });
    const health = ours.lookupService('grpc.health.v1.Health');
    expect(
      health.methodsArray.map((m) => [
        m.name,
        m.resolvedRequestType?.fullName,
        m.resolvedResponseType?.fullName,
        Boolean(m.requestStream),
        Boolean(m.responseStream),
      ]),
    ).toEqual([
      ['Check', '.grpc.health.v1.HealthCheckRequest', '.grpc.health.v1.HealthCheckResponse', false, false],
      ['Watch', '.grpc.health.v1.HealthCheckRequest', '.grpc.health.v1.HealthCheckResponse', false, true],
    ]);
    // Hand-computed wire bytes.
    expect(hex(encode(request, { service: 'envoy.service.auth.v3.Authorization' }))).toBe(
      `0a23${Buffer.from('envoy.service.auth.v3.Authorization').toString('hex')}`,
    );
    expect(hex(encode(response, { status: 'SERVING' }))).toBe('0801');
    expect(hex(encode(response, { status: 'SERVICE_UNKNOWN' }))).toBe('0803');
    expect(decode(response, Buffer.from('0802', 'hex'))).toEqual({ status: 'NOT_SERVING' });
  });

  it("is grpc-health-check's health.proto, the one served, less its List method", async () => {
    const served = await protobuf.load(healthProtoPath);
    served.resolveAll();
    for (const t of ['grpc.health.v1.HealthCheckRequest', 'grpc.health.v1.HealthCheckResponse']) {
      expect(served.lookupType(t).fieldsArray.map(shapeOf), t).toEqual(ours.lookupType(t).fieldsArray.map(shapeOf));
    }
    const e = 'grpc.health.v1.HealthCheckResponse.ServingStatus';
    expect(served.lookupEnum(e).values).toEqual(ours.lookupEnum(e).values);
    const methods = (root: protobuf.Root) =>
      root
        .lookupService('grpc.health.v1.Health')
        .methodsArray.map((m) => [
          m.name,
          m.resolvedRequestType?.fullName,
          m.resolvedResponseType?.fullName,
          Boolean(m.requestStream),
          Boolean(m.responseStream),
        ]);
    expect(methods(served)).toEqual([...methods(ours), ['List', '.grpc.health.v1.HealthListRequest', '.grpc.health.v1.HealthListResponse', false, false]]);
  });
});

describe('the comparison catches incompatible edits to proto/', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ztauthz-proto-compat-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const mutations: [string, string, string, string, string][] = [
    // [description, file, from, to, expected failure]
    ['field number', 'envoy/service/auth/v3/attribute_context.proto', 'int64 size = 9;', 'int64 size = 19;', 'HttpRequest.size: id is 19, official 9'],
    ['scalar type', 'envoy/service/auth/v3/attribute_context.proto', 'int64 size = 9;', 'uint64 size = 9;', 'HttpRequest.size: type is uint64, official int64'],
    [
      'message type',
      'envoy/service/auth/v3/attribute_context.proto',
      'config.core.v3.Metadata route_metadata_context = 13;',
      'google.protobuf.Struct route_metadata_context = 13;',
      'route_metadata_context: type is google.protobuf.Struct',
    ],
    [
      'map value type',
      'envoy/config/core/v3/base.proto',
      'map<string, google.protobuf.Struct> filter_metadata = 1;',
      'map<string, google.protobuf.Any> filter_metadata = 1;',
      'Metadata.filter_metadata: type is google.protobuf.Any',
    ],
    [
      'map to repeated',
      'envoy/service/auth/v3/attribute_context.proto',
      'map<string, string> context_extensions = 10;',
      'repeated string context_extensions = 10;',
      'context_extensions: label is repeated, official map<string>',
    ],
    [
      'repeated to singular',
      'envoy/service/auth/v3/external_auth.proto',
      'repeated string headers_to_remove = 5;',
      'string headers_to_remove = 5;',
      'headers_to_remove: label is singular, official repeated',
    ],
    [
      'proto3 optional',
      'envoy/service/auth/v3/attribute_context.proto',
      'string sni = 1;',
      'optional string sni = 1;',
      'TLSSession.sni: label is optional, official singular',
    ],
    [
      'oneof membership',
      'envoy/config/core/v3/address.proto',
      'oneof port_specifier {\n    uint32 port_value = 3;',
      'uint32 port_value = 3;\n  oneof port_specifier {',
      'SocketAddress.port_value: oneof is null, official port_specifier',
    ],
    [
      'renamed field',
      'envoy/service/auth/v3/external_auth.proto',
      'string body = 3;',
      'string body_text = 3;',
      'DeniedHttpResponse.body_text = 3: no official field of that name (official #3 is body)',
    ],
    ['enum value', 'envoy/type/v3/http_status.proto', 'Unauthorized = 401;', 'Unauthorized = 499;', 'StatusCode.Unauthorized = 499: official number is 401'],
    ['missing enum value', 'envoy/type/v3/http_status.proto', '  TooManyRequests = 429;\n', '', 'StatusCode: lacks official value TooManyRequests = 429'],
    [
      'used field dropped',
      'envoy/service/auth/v3/attribute_context.proto',
      '    string principal = 4;\n',
      '',
      'AttributeContext.Peer.principal: ztauthz uses it',
    ],
    [
      'unused field dropped, number not reserved',
      'envoy/config/core/v3/base.proto',
      '  bool keep_empty_value = 4;\n',
      '',
      'HeaderValueOption.keep_empty_value = 4: omitted but its number is not reserved',
    ],
    [
      'message renamed',
      'envoy/service/auth/v3/attribute_context.proto',
      'TLSSession',
      'TlsSession',
      'message envoy.service.auth.v3.AttributeContext.TlsSession: no official message',
    ],
    [
      'streaming rpc',
      'envoy/service/auth/v3/external_auth.proto',
      'returns (CheckResponse)',
      'returns (stream CheckResponse)',
      'rpc envoy.service.auth.v3.Authorization.Check: responseStream is true, official false',
    ],
  ];

  it.each(mutations)('%s', async (description, file, from, to, expected) => {
    const dir = path.join(tmp, description.replace(/\W+/g, '-'));
    fs.cpSync(LOCAL_PROTO_DIR, dir, { recursive: true });
    const target = path.join(dir, file);
    const source = fs.readFileSync(target, 'utf8');
    expect(source.includes(from), `"${from}" in ${file}`).toBe(true);
    fs.writeFileSync(target, source.split(from).join(to));

    const mutated = await loadLocalRoot(dir);
    const failures = failuresOf(compareDefinitions(mutated, official, ['grpc.health.v1']));
    expect(
      failures.some((f) => f.includes(expected)),
      `${JSON.stringify(failures)} should mention "${expected}"`,
    ).toBe(true);
  });
});
