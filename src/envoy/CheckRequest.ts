// Turns a decoded CheckRequest into the `attributes` document opa-envoy-plugin
// policies read, as opa-envoy-plugin builds it (envoyauth/protomap.go walks the
// message with protoreflect): lowerCamelCase names, only populated fields
// (proto3 zero scalars are left out even when sent explicitly), enums and
// int64 as numbers, bytes as base64, a Timestamp as {seconds, nanos}, a Struct
// as plain JSON, an Any as {typeUrl, value}.
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { CheckRequestType, decodeCheckRequest } from './ProtoCodec.ts';
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { CheckRequestView } from '../types/Request.ts';

export type { CheckRequestView, HttpView } from '../types/Request.ts';

export interface RequestLimits {
  /** Most headers one request may carry. */
  readonly maxHeaders: number;
  /** Most bytes of header names and values together. */
  readonly maxHeaderBytes: number;
  /** Most bytes of the request path (with query). */
  readonly maxPathBytes: number;
  /** Most bytes of body (body or raw_body). */
  readonly maxBodyBytes: number;
}

export interface RequestOptions {
  /**
   * compat: opa-envoy: a CheckRequest without attributes.request.http is
   * evaluated (as Envoy's network filter sends them), and headerMap is not
   * folded into headers (opa-envoy-plugin v1.19.1-envoy leaves it as sent).
   */
  readonly compat?: boolean | undefined;
}

const EMPTY_BUFFER = Buffer.alloc(0);
const NO_HTTP: Record<string, any> = Object.freeze({});

/** Decodes and converts; throws CheckError for anything that cannot become policy input. */
export function readCheckRequest(bytes: Uint8Array, limits: RequestLimits, opts: RequestOptions = {}): CheckRequestView {
  const decoded = decodeCheckRequest(bytes);
  const attrsMsg = decoded['attributes'] as Record<string, any> | null | undefined;
  let httpMsg = attrsMsg?.['request']?.['http'] as Record<string, any> | undefined;
  if (!attrsMsg || !httpMsg) {
    if (!opts.compat) throw new CheckError(Reason.requestEmpty, 'the CheckRequest has no attributes.request.http');
    httpMsg = NO_HTTP;
  }
  // Size checks on the decoded message, before the (more expensive) conversion.
  const rawBody: Buffer = httpMsg['rawBody']?.length ? Buffer.from(httpMsg['rawBody']) : EMPTY_BUFFER;
  const body: string = httpMsg['body'] ?? '';
  const path: string = httpMsg['path'] ?? '';
  if (Buffer.byteLength(path) > limits.maxPathBytes) {
    throw new CheckError(Reason.requestTooLarge, `path is longer than ${limits.maxPathBytes} bytes`);
  }
  if (Math.max(Buffer.byteLength(body), rawBody.length) > limits.maxBodyBytes) {
    throw new CheckError(Reason.requestTooLarge, `body is larger than ${limits.maxBodyBytes} bytes`);
  }

  const object = toProtoJsonObject(decoded);
  dropZeroScalars(object, zeroPlan(CheckRequestType));
  const attributes = (object['attributes'] as JsonObject | undefined) ?? {};
  const http = ((attributes['request'] as JsonObject | undefined)?.['http'] as JsonObject | undefined) ?? {};
  checkTimestamp(attributes['request'] as JsonObject | undefined);
  fixMetadata(attributes, 'metadataContext', attrsMsg?.['metadataContext']);
  fixMetadata(attributes, 'routeMetadataContext', attrsMsg?.['routeMetadataContext']);
  const headers = opts.compat ? ((http['headers'] as Record<string, string> | undefined) ?? {}) : foldHeaderMap(http);
  checkHeaderLimits(headers, limits);

  return {
    attributes,
    http: {
      method: (http['method'] as string | undefined) ?? '',
      path,
      host: (http['host'] as string | undefined) ?? '',
      headers,
      body,
      rawBody,
    },
  };
}

/**
 * protobufjs' conversion trusts what its decoder let through, and some of that
 * it cannot convert (a Struct map entry without its value decodes to null,
 * which toObject then reads): such a request is malformed, not a bug.
 */
function toProtoJsonObject(decoded: ReturnType<typeof decodeCheckRequest>): Record<string, unknown> {
  try {
    return CheckRequestType.toObject(decoded, INPUT_OBJECT);
  } catch (err) {
    throw new CheckError(Reason.requestMalformed, `the CheckRequest does not convert: ${(err as Error).message}`);
  }
}

function checkHeaderLimits(headers: Readonly<Record<string, string>>, limits: RequestLimits): void {
  let count = 0;
  let bytes = 0;
  for (const name in headers) {
    count++;
    bytes += name.length + (headers[name] as string).length;
  }
  if (count > limits.maxHeaders) {
    throw new CheckError(Reason.requestTooLarge, `request has ${count} headers, more than ${limits.maxHeaders}`);
  }
  // String length counts UTF-16 units; header bytes beyond ASCII are rare and
  // this bound only needs to be an upper bound on memory, not exact.
  if (bytes > limits.maxHeaderBytes) {
    throw new CheckError(Reason.requestTooLarge, `request headers exceed ${limits.maxHeaderBytes} bytes`);
  }
}

/** toObject options for the input: protoreflect's value forms (enums as numbers, int64 as numbers, bytes as base64). */
const INPUT_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  json: true,
};

/** Messages whose toObject form is not a field-per-key object of their own fields (converted elsewhere). */
const OPAQUE = new Set(['.google.protobuf.Struct', '.google.protobuf.Value', '.google.protobuf.ListValue']);

/** What dropZeroScalars does with a field: drop it when zero, walk its message, walk each message of its map or list. */
type Step = { readonly kind: 'zero' } | { readonly kind: 'message' | 'each'; readonly child: ZeroPlan };
type ZeroPlan = Readonly<Record<string, Step | undefined>>;
const PLANS = new Map<protobuf.Type, ZeroPlan>();

/** Built once per message type (protobufjs' reflection getters, fullName among them, are too slow per Check). */
function zeroPlan(type: protobuf.Type): ZeroPlan {
  const plan = PLANS.get(type);
  if (plan) return plan;
  const steps: Record<string, Step | undefined> = Object.create(null);
  PLANS.set(type, steps);
  for (const field of type.fieldsArray) {
    field.resolve();
    const message = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (message) {
      if (!OPAQUE.has(message.fullName)) steps[field.name] = { kind: field.map || field.repeated ? 'each' : 'message', child: zeroPlan(message) };
    } else if (!field.map && !field.repeated && !field.partOf) {
      steps[field.name] = { kind: 'zero' };
    }
  }
  return steps;
}

/**
 * Leaves out the singular scalar fields holding their proto3 zero value ("",
 * 0, false, the enum's 0, empty bytes): protobufjs keeps every field present
 * on the wire, protoreflect (opa-envoy-plugin) only populated ones. A oneof
 * member (or proto3 optional) that is set is populated whatever its value,
 * and map entries and list elements are kept as they are.
 */
function dropZeroScalars(obj: Record<string, unknown>, plan: ZeroPlan): void {
  for (const key in obj) {
    const step = plan[key];
    if (step === undefined) continue;
    const value = obj[key];
    if (step.kind === 'zero') {
      if (value === '' || value === false || (value === 0 && !Object.is(value, -0))) delete obj[key];
    } else if (value !== null && typeof value === 'object') {
      if (step.kind === 'message') dropZeroScalars(value as Record<string, unknown>, step.child);
      else
        for (const k in value) {
          const v = (value as Record<string, unknown>)[k];
          if (v !== null && typeof v === 'object') dropZeroScalars(v as Record<string, unknown>, step.child);
        }
    }
  }
}

/**
 * Envoy sends headers either as `headers` (map) or, with encode_raw_headers, as
 * `headerMap` (list of raw values). ztauthz reads `headers` (and so do most
 * policies), so the raw form is folded into the map the way Envoy folds
 * repeated headers (joined with ","). The input has `headers` only when there
 * are some, as in opa-envoy-plugin.
 */
function foldHeaderMap(http: JsonObject): Record<string, string> {
  const map = (http['headers'] as Record<string, string> | undefined) ?? {};
  const headerMap = http['headerMap'] as { headers?: Array<{ key?: string; value?: string; rawValue?: string }> } | undefined;
  if (headerMap?.headers && Object.keys(map).length === 0) {
    for (const h of headerMap.headers) {
      const key = (h.key ?? '').toLowerCase();
      const raw = h.rawValue !== undefined ? Buffer.from(h.rawValue, 'base64') : Buffer.from(h.value ?? '');
      if (!isUtf8(raw)) {
        throw new CheckError(Reason.requestInvalidUtf8, `header ${key} is not valid UTF-8`);
      }
      const value = raw.toString('utf8');
      map[key] = key in map ? `${map[key]},${value}` : value;
    }
    if (Object.keys(map).length > 0) http['headers'] = map;
  }
  return map;
}

/**
 * request.time stays the Timestamp message, {seconds, nanos} (zero fields
 * left out, so the epoch is {}), as opa-envoy-plugin gives it; one outside
 * the Timestamp's documented range (which Envoy never sends, and whose
 * seconds may be past what a JSON number holds exactly) is refused.
 */
function checkTimestamp(request: JsonObject | undefined): void {
  const t = request?.['time'] as { seconds?: number; nanos?: number } | undefined;
  if (!t || typeof t !== 'object') return;
  const seconds = t.seconds ?? 0;
  const nanos = t.nanos ?? 0;
  if (!timestampInRange(seconds, nanos)) {
    throw new CheckError(Reason.requestMalformed, `attributes.request.time is outside the Timestamp range (seconds ${seconds}, nanos ${nanos})`);
  }
}

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. */
const TIMESTAMP_MIN_SECONDS = -62_135_596_800;
const TIMESTAMP_MAX_SECONDS = 253_402_300_799;

/** Whether seconds and nanos make a Timestamp inside its documented range (the request shortcut holds skipped times to this too). */
export function timestampInRange(seconds: number, nanos: number): boolean {
  return (
    Number.isInteger(seconds) &&
    seconds >= TIMESTAMP_MIN_SECONDS &&
    seconds <= TIMESTAMP_MAX_SECONDS &&
    Number.isInteger(nanos) &&
    nanos >= 0 &&
    nanos <= 999_999_999
  );
}

function fixMetadata(attributes: JsonObject, key: string, decoded: Record<string, any> | undefined): void {
  const md = attributes[key] as JsonObject | undefined;
  if (!md) return;
  const filter = md['filterMetadata'] as Record<string, JsonValue> | undefined;
  if (filter) {
    for (const ns of Object.keys(filter)) filter[ns] = structToJson(filter[ns]);
  }
  // typed_filter_metadata holds Any messages, passed on as {typeUrl, value (base64)}, as protoreflect gives them
  // (zero fields left out). From the decoded message: toObject unpacks an Any of a type it knows into "@type" form.
  const typed = decoded?.['typedFilterMetadata'] as Record<string, { type_url?: string; value?: Uint8Array }> | undefined;
  if (typed && md['typedFilterMetadata']) {
    const out: JsonObject = {};
    for (const ns of Object.keys(typed)) {
      const any: JsonObject = {};
      const url = typed[ns]?.type_url;
      const value = typed[ns]?.value;
      if (url) any['typeUrl'] = url;
      if (value && value.length > 0) any['value'] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      out[ns] = any;
    }
    md['typedFilterMetadata'] = out;
  }
}

/**
 * Struct levels structToJson follows. Metadata Structs come from the request
 * (jwt_authn payloads carry client-chosen claims), but decoding already bounds
 * them: protobufjs, like protoc, refuses messages nested deeper than 100
 * (decodeCheckRequest: request_malformed), and each JSON level is two messages,
 * so a decoded Struct nests at most about 48 levels. This bound only keeps the
 * recursion below safe should the decoder ever allow more.
 */
const MAX_STRUCT_DEPTH = 100;

/** google.protobuf.Struct (toObject form) -> plain JSON. */
export function structToJson(struct: any, depth = 1): JsonObject {
  if (depth > MAX_STRUCT_DEPTH) throw new CheckError(Reason.requestMalformed, `a google.protobuf.Struct nests deeper than ${MAX_STRUCT_DEPTH} levels`);
  const out: JsonObject = {};
  const fields = struct?.fields ?? {};
  for (const k of Object.keys(fields)) out[k] = valueToJson(fields[k], depth);
  return out;
}

function valueToJson(v: any, depth: number): JsonValue {
  if (v == null) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('structValue' in v) return structToJson(v.structValue, depth + 1);
  if ('listValue' in v) {
    if (depth + 1 > MAX_STRUCT_DEPTH) throw new CheckError(Reason.requestMalformed, `a google.protobuf.Struct nests deeper than ${MAX_STRUCT_DEPTH} levels`);
    return ((v.listValue?.values ?? []) as any[]).map((x) => valueToJson(x, depth + 1));
  }
  return null;
}
