// Parses the request body the way opa-envoy-plugin does, by content type:
// JSON, urlencoded form and multipart form become policy data; anything else
// is null. A body that claims a type and does not parse is an input error.
// JSON is parsed within bounds and refused when ambiguous (see JsonBody.ts),
// forms within the same bounds on names and values, so nothing after this
// point meets a body nested deeper, or with more members, than the
// configuration allows.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';
import { FormValues, parseQueryString } from './QueryString.ts';
import { DEFAULT_JSON_LIMITS, parseJsonBody, type JsonBodyLimits } from './JsonBody.ts';
import { WireError, type ProtoDescriptorSet } from './GrpcBody.ts';

export interface ParsedBody {
  readonly parsed: JsonValue;
  readonly truncated: boolean;
}

const NOT_PARSED: ParsedBody = { parsed: null, truncated: false };
const TRUNCATED: ParsedBody = { parsed: null, truncated: true };

/** For gRPC bodies: the descriptor set (request.proto_descriptor) and the request path's segments. */
export interface GrpcBodyContext {
  readonly descriptors: ProtoDescriptorSet | undefined;
  readonly segments: readonly string[];
}

export function parseBody(headers: Readonly<Record<string, string>>, body: string, rawBody: Buffer, limits: JsonBodyLimits = DEFAULT_JSON_LIMITS, grpc?: GrpcBodyContext): ParsedBody {
  const contentType = headers['content-type'];
  if (!contentType) return NOT_PARSED;
  const kind = bodyKind(contentType);
  if (kind === undefined) return NOT_PARSED;
  if (kind === 'grpc') return parseGrpcBody(headers, rawBody, grpc);

  const text = body !== '' ? body : rawBody.length > 0 ? rawBody.toString('utf8') : '';
  if (text === '') return NOT_PARSED;
  if (isTruncated(headers, body !== '' ? Buffer.byteLength(body) : rawBody.length)) return TRUNCATED;

  switch (kind) {
    case 'json':
      return { parsed: parseJsonBody(text, limits), truncated: false };
    case 'form':
      return { parsed: parseQueryString(text, limits), truncated: false };
    case 'multipart':
      return { parsed: parseMultipart(contentType, text, limits), truncated: false };
  }
}

type BodyKind = 'json' | 'grpc' | 'form' | 'multipart';

function bodyKind(contentType: string): BodyKind | undefined {
  const ct = contentType.toLowerCase();
  if (ct.includes('application/json')) return 'json';
  if (ct.includes('application/grpc')) return 'grpc';
  if (ct.includes('application/x-www-form-urlencoded')) return 'form';
  if (ct.includes('multipart/form-data')) return 'multipart';
  return undefined;
}

/**
 * opa-envoy-plugin's getGRPCBody: only raw_body (Envoy's pack_as_bytes) is
 * read, only its first message, and only with a descriptor set; what it
 * cannot read (compressed, unknown method, client streaming) is null, what
 * does not decode is an input error.
 */
function parseGrpcBody(headers: Readonly<Record<string, string>>, rawBody: Buffer, grpc: GrpcBodyContext | undefined): ParsedBody {
  // Without a descriptor set gRPC is a type not parsed, like any other (partial or not), as before the setting existed.
  if (!grpc?.descriptors) return NOT_PARSED;
  if (headers['x-envoy-auth-partial-body'] === 'true') return TRUNCATED;
  if (rawBody.length === 0) return NOT_PARSED;
  if (grpc.segments.length !== 2) throw new CheckError(Reason.bodyInvalid, 'a gRPC request path must be /package.Service/Method');
  if (rawBody.length < 5) throw new CheckError(Reason.bodyInvalid, 'a gRPC body shorter than its 5-byte frame header');
  if (rawBody[0] !== 0) return NOT_PARSED; // compressed
  const size = rawBody.readUInt32BE(1);
  if (size > rawBody.length - 5) return TRUNCATED;
  const schema = grpc.descriptors.inputOf(grpc.segments[0]!, grpc.segments[1]!);
  if (!schema) return NOT_PARSED;
  try {
    return { parsed: grpc.descriptors.decode(schema, rawBody.subarray(5, 5 + size)), truncated: false };
  } catch (err) {
    if (err instanceof WireError) throw new CheckError(Reason.bodyInvalid, `the gRPC message does not decode as ${grpc.segments.join('/')}'s input: ${err.message}`);
    throw err;
  }
}

/** Envoy marks partial bodies; a content-length beyond what arrived says the same. */
function isTruncated(headers: Readonly<Record<string, string>>, arrivedBytes: number): boolean {
  if (headers['x-envoy-auth-partial-body'] === 'true') return true;
  const cl = headers['content-length'];
  if (cl === undefined) return false;
  if (!/^\d{1,15}$/.test(cl)) {
    throw new CheckError(Reason.bodyInvalid, 'content-length is not a number');
  }
  return Number(cl) > arrivedBytes;
}

/** multipart/form-data -> {name: [value, ...]}, values as text, within request.max_body_keys (names) and max_body_elements (parts). */
function parseMultipart(contentType: string, text: string, limits: JsonBodyLimits): Record<string, JsonValue> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new CheckError(Reason.bodyInvalid, 'multipart body without a boundary');
  const delimiter = `--${boundary}`;
  const form = new FormValues(limits, 'multipart body');
  // The parts between delimiters, as text.split(delimiter) would cut them but
  // one at a time, so a bound stops before the rest is cut. What comes before
  // the first delimiter is the preamble; the part after the closing delimiter
  // starts with "--".
  let closed = false;
  let parts = 0;
  let at = text.indexOf(delimiter);
  while (at >= 0) {
    // Every part counts, named or not: each costs a header parse.
    if (++parts > limits.maxElements + 1) {
      throw new CheckError(Reason.bodyTooManyElements, `multipart body has more than ${limits.maxElements} parts (request.max_body_elements)`);
    }
    const from = at + delimiter.length;
    const next = text.indexOf(delimiter, from);
    const part = text.slice(from, next < 0 ? text.length : next);
    at = next;
    if (part.startsWith('--')) {
      closed = true;
      break;
    }
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) throw new CheckError(Reason.bodyInvalid, 'multipart part without a header block');
    const head = part.slice(0, headerEnd);
    let value = part.slice(headerEnd + 4);
    if (value.endsWith('\r\n')) value = value.slice(0, -2);
    const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    form.add(name, value);
  }
  if (!closed) throw new CheckError(Reason.bodyInvalid, 'multipart body has no closing boundary');
  return form.values;
}
