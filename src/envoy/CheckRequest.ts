// Turns a decoded CheckRequest into the protojson-shaped `attributes` document
// opa-envoy-plugin policies read (lowerCamelCase names, enums by name, int64 as
// numbers, bytes as base64, Timestamp as RFC 3339, Struct as plain JSON).
import { isUtf8 } from 'node:buffer';
import { CheckRequestType, PROTOJSON_OBJECT, decodeCheckRequest } from './ProtoCodec.ts';
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { CheckRequestView, HttpView } from '../types/Request.ts';

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

const EMPTY_BUFFER = Buffer.alloc(0);

/** Decodes and converts; throws CheckError for anything that cannot become policy input. */
export function readCheckRequest(bytes: Uint8Array, limits: RequestLimits): CheckRequestView {
  const decoded = decodeCheckRequest(bytes);
  const attrsMsg = decoded['attributes'] as Record<string, any> | null | undefined;
  const httpMsg = attrsMsg?.['request']?.['http'] as Record<string, any> | undefined;
  if (!attrsMsg || !httpMsg) {
    throw new CheckError(Reason.requestEmpty, 'the CheckRequest has no attributes.request.http');
  }
  // Size checks on the decoded message, before the (more expensive) conversion.
  const rawBody: Buffer = httpMsg['rawBody'] && httpMsg['rawBody'].length ? Buffer.from(httpMsg['rawBody']) : EMPTY_BUFFER;
  const body: string = httpMsg['body'] ?? '';
  const path: string = httpMsg['path'] ?? '';
  if (Buffer.byteLength(path) > limits.maxPathBytes) {
    throw new CheckError(Reason.requestTooLarge, `path is longer than ${limits.maxPathBytes} bytes`);
  }
  if (Math.max(Buffer.byteLength(body), rawBody.length) > limits.maxBodyBytes) {
    throw new CheckError(Reason.requestTooLarge, `body is larger than ${limits.maxBodyBytes} bytes`);
  }

  const attributes = toProtoJsonObject(decoded)['attributes'] as JsonObject;
  const request = attributes['request'] as JsonObject;
  const http = request['http'] as JsonObject;
  fixTimestamp(request);
  fixMetadata(attributes, 'metadataContext');
  fixMetadata(attributes, 'routeMetadataContext');
  const headers = foldHeaderMap(http);
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
    return CheckRequestType.toObject(decoded, PROTOJSON_OBJECT);
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

/**
 * Envoy sends headers either as `headers` (map) or, with encode_raw_headers, as
 * `headerMap` (list of raw values). Policies written for opa-envoy-plugin read
 * `headers`, so the raw form is folded into the map the way Envoy folds
 * repeated headers (joined with ",").
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
  }
  http['headers'] = map;
  return map;
}

/** google.protobuf.Timestamp -> RFC 3339 with 0, 3, 6 or 9 fractional digits, as protojson writes it. */
function fixTimestamp(request: JsonObject): void {
  const t = request['time'] as { seconds?: number; nanos?: number } | undefined;
  if (!t || typeof t !== 'object') return;
  request['time'] = timestampToRfc3339(t.seconds ?? 0, t.nanos ?? 0);
}

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. */
const TIMESTAMP_MIN_SECONDS = -62_135_596_800;
const TIMESTAMP_MAX_SECONDS = 253_402_300_799;

/** Whether seconds and nanos make a Timestamp inside its documented range (the request shortcut holds skipped times to this too). */
export function timestampInRange(seconds: number, nanos: number): boolean {
  return Number.isInteger(seconds) && seconds >= TIMESTAMP_MIN_SECONDS && seconds <= TIMESTAMP_MAX_SECONDS && Number.isInteger(nanos) && nanos >= 0 && nanos <= 999_999_999;
}

/** Throws request_malformed for a Timestamp outside its range (protojson refuses to write one, and Date cannot). */
export function timestampToRfc3339(seconds: number, nanos: number): string {
  if (!timestampInRange(seconds, nanos)) {
    throw new CheckError(Reason.requestMalformed, `attributes.request.time is outside the Timestamp range (seconds ${seconds}, nanos ${nanos})`);
  }
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  let frac = String(nanos).padStart(9, '0');
  if (frac.endsWith('000000')) frac = frac.slice(0, 3);
  else if (frac.endsWith('000')) frac = frac.slice(0, 6);
  return `${base}.${frac}Z`;
}

function fixMetadata(attributes: JsonObject, key: string): void {
  const md = attributes[key] as JsonObject | undefined;
  if (!md) return;
  const filter = md['filterMetadata'] as Record<string, JsonValue> | undefined;
  if (filter) {
    for (const ns of Object.keys(filter)) filter[ns] = structToJson(filter[ns]);
  }
  // typed_filter_metadata holds Any messages of types ztauthz does not know;
  // they are passed on as {"@type", "value"(base64)} rather than dropped.
  const typed = md['typedFilterMetadata'] as Record<string, { typeUrl?: string; value?: string }> | undefined;
  if (typed) {
    const out: JsonObject = {};
    for (const ns of Object.keys(typed)) out[ns] = { '@type': typed[ns]?.typeUrl ?? '', value: typed[ns]?.value ?? '' };
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
