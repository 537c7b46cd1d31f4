// Turns a Decision into CheckResponse bytes, and those back into protojson
// for humans (`ztauthz check`).
//
// Everything in a response but its decision_id depends on the Decision
// alone, and cache hits hand out the same Decision object again and again;
// so the bytes without the id are built once per Decision (protobufjs) and
// each Check only appends its id. dynamic_metadata is the response's last
// field (4) and protobufjs writes fields by number and map entries in
// insertion order, so the result is the very bytes protobufjs would write
// for the whole response.
import type { Decision, HeaderPair } from '../types/Decision.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import { CheckResponseType, PROTOJSON_OBJECT, StructType } from './ProtoCodec.ts';
import { structToJson } from './CheckRequest.ts';
import { isSharedDecision } from './PolicyResult.ts';
import { isRequestReason } from '../types/Reason.ts';

/** google.rpc.Code values Envoy looks at: OK allows, anything else denies. */
export const GrpcCode = { OK: 0, PERMISSION_DENIED: 7 } as const;

export interface ResponseOptions {
  /** Answer OK whatever the decision (dry run): the real decision goes to the decision record only. */
  readonly dryRun: boolean;
  /** compat: opa-envoy: no reason code in status.message (see statusMessage). */
  readonly compat?: boolean | undefined;
}

/** A CheckResponse in protobufjs' object form (camelCase, enums as numbers). */
export type CheckResponseObject = Record<string, unknown>;

const DECISION_ID = 'decision_id';
/** Struct.fields entry {1: "decision_id", 2: Value} up to the Value's length: the constant part of every id entry. */
const ID_KEY = Buffer.from([0x0a, DECISION_ID.length, ...Buffer.from(DECISION_ID, 'latin1')]);
/** Tag of CheckResponse.dynamic_metadata (field 4, length-delimited). */
const DYNAMIC_METADATA_TAG = 0x22;

interface ResponseTemplate {
  /** Fields 1-3. */
  readonly head: Uint8Array;
  /** The policy's dynamic metadata as Struct.fields entries, decision_id left out (the Check's own id replaces it). */
  readonly metadata: Uint8Array;
}

/** Encodes CheckResponses for one configuration (dry run or not). */
export class ResponseEncoder {
  readonly #opts: ResponseOptions;
  /**
   * Keyed by the Decision object, so a template lives as long as its
   * decision: in the decision cache, or one of the two boolean decisions
   * (see PolicyResult.ts).
   */
  readonly #templates = new WeakMap<Decision, ResponseTemplate>();

  constructor(opts: ResponseOptions) {
    this.#opts = opts;
  }

  /** `reused`: the decision came from the cache (a decision made for this Check alone is encoded whole, unless it is a shared one). */
  encode(decision: Decision, decisionId: string, reused: boolean): Buffer {
    let t = this.#templates.get(decision);
    if (!t) {
      if (!reused && !isSharedDecision(decision)) return asBuffer(encodeCheckResponse(toCheckResponse(decision, decisionId, this.#opts)));
      // Copies: under Node protobufjs's finish() returns a view into a
      // shared 8-64 KiB allocation pool, and a template lives as long as its
      // cached decision, so a view would keep a whole pool chunk resident per
      // cache entry (measured: 64 KiB each, ~75 MiB after 300,000 distinct
      // denials, none of it counted by cache.max_bytes).
      t = {
        head: new Uint8Array(CheckResponseType.encode(responseBody(decision, this.#opts)).finish()),
        metadata: new Uint8Array(StructType.encode(jsonToStruct(decision.dynamicMetadata ?? {}, DECISION_ID)).finish()),
      };
      this.#templates.set(decision, t);
    }
    return withDecisionId(t, decisionId);
  }
}

/** protobufjs hands out Buffers under Node; a view, not a copy, otherwise. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function withDecisionId(t: ResponseTemplate, id: string): Buffer {
  const idBytes = Buffer.byteLength(id, 'utf8');
  const value = 1 + varintSize(idBytes) + idBytes; // Value{3: string_value}
  const entry = ID_KEY.length + 1 + varintSize(value) + value; // {1: key, 2: Value}
  const struct = t.metadata.length + 1 + varintSize(entry) + entry;
  const out = Buffer.allocUnsafe(t.head.length + 1 + varintSize(struct) + struct);
  out.set(t.head, 0);
  let p = t.head.length;
  out[p++] = DYNAMIC_METADATA_TAG;
  p = writeVarint(out, p, struct);
  out.set(t.metadata, p);
  p += t.metadata.length;
  out[p++] = 0x0a;
  p = writeVarint(out, p, entry);
  out.set(ID_KEY, p);
  p += ID_KEY.length;
  out[p++] = 0x12;
  p = writeVarint(out, p, value);
  out[p++] = 0x1a;
  p = writeVarint(out, p, idBytes);
  out.write(id, p, 'utf8');
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    out[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[p++] = n;
  return p;
}

/** The whole response in protobufjs' object form (the reference the encoder's bytes are tested against). */
export function toCheckResponse(decision: Decision, decisionId: string, opts: ResponseOptions): CheckResponseObject {
  return { ...responseBody(decision, opts), dynamicMetadata: jsonToStruct({ ...(decision.dynamicMetadata ?? {}), decision_id: decisionId }) };
}

/**
 * Every field but dynamic_metadata, shaped as opa-envoy-plugin shapes it
 * (internal/internal.go check()): a boolean result carries only the status;
 * a result object an ok_response (present even when it changes nothing) or a
 * denied_response with its status, headers and body; a dry-run denial an
 * empty ok_response. Proto3 zero values (an empty body or header value) are
 * left unset, as Go leaves them off the wire.
 */
function responseBody(decision: Decision, opts: ResponseOptions): CheckResponseObject {
  if (decision.allowed || opts.dryRun) {
    // code 0 (OK) is proto3's default: left unset, as protojson and Envoy's own encoder do.
    // In dry-run a denial's headers/body are not applied: an empty ok_response,
    // so a dry-run rollout changes nothing for traffic.
    if (!decision.allowed) return { status: {}, okResponse: {} };
    if (decision.result === true) return { status: {} };
    return {
      status: {},
      okResponse: {
        headers: headerOptions(decision.headers),
        headersToRemove: decision.requestHeadersToRemove,
        responseHeadersToAdd: headerOptions(decision.responseHeadersToAdd),
        queryParametersToSet: decision.queryParametersToSet.map(pair),
        queryParametersToRemove: decision.queryParametersToRemove,
      },
    };
  }
  const status = statusMessage(decision, opts)
    ? { code: GrpcCode.PERMISSION_DENIED, message: statusMessage(decision, opts) }
    : { code: GrpcCode.PERMISSION_DENIED };
  if (decision.result === false) return { status };
  const denied: Record<string, unknown> = { status: { code: decision.httpStatus }, headers: headerOptions(decision.headers) };
  if (decision.body !== '') denied['body'] = decision.body;
  return { status, deniedResponse: denied };
}

/**
 * status.message of a denial: ztauthz's reason code (policy_denied,
 * path_rejected, ...), for Envoy's logs; with compat: opa-envoy only what
 * opa-envoy-plugin sends: for a request that cannot become input, the body
 * (its "request_parse_error: ..."), otherwise nothing.
 */
function statusMessage(decision: Decision, opts: ResponseOptions): string {
  if (!opts.compat) return decision.reason;
  return isRequestReason(decision.reason) ? decision.body : '';
}

/** A key/value pair as a HeaderValue / QueryParameter, empty strings left unset. */
function pair(p: HeaderPair): Record<string, string> {
  const out: Record<string, string> = {};
  if (p.key !== '') out['key'] = p.key;
  if (p.value !== '') out['value'] = p.value;
  return out;
}

export function encodeCheckResponse(resp: CheckResponseObject): Uint8Array {
  return CheckResponseType.encode(resp).finish();
}

/** CheckResponse bytes as protojson (lowerCamelCase, Struct as JSON), as grpcurl prints them. */
export function checkResponseToJson(bytes: Uint8Array): JsonObject {
  const msg = CheckResponseType.decode(bytes);
  const obj = CheckResponseType.toObject(msg, PROTOJSON_OBJECT) as JsonObject;
  if (obj['dynamicMetadata']) obj['dynamicMetadata'] = structToJson(obj['dynamicMetadata']);
  return obj;
}

function headerOptions(headers: readonly HeaderPair[]): unknown[] {
  if (headers.length === 0) return [];
  // No append fields: Envoy then overrides an existing header, so a client
  // cannot smuggle its own value next to one the policy sets.
  return headers.map((h) => ({ header: pair(h) }));
}

/** Plain JSON -> google.protobuf.Struct object form, without the key `leaveOut` if given. */
export function jsonToStruct(obj: JsonObject, leaveOut?: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) if (k !== leaveOut) fields[k] = jsonToValue(obj[k] as JsonValue);
  return { fields };
}

function jsonToValue(v: JsonValue): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'number':
      return { numberValue: v };
    case 'boolean':
      return { boolValue: v };
  }
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v) };
}
