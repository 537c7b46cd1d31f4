// Parses the request body the way opa-envoy-plugin does, by content type:
// JSON, urlencoded form and multipart form become policy data; anything else
// is null. A body that claims a type and does not parse is an input error.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';
import { parseQueryString } from './QueryString.ts';
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

export function parseBody(headers: Readonly<Record<string, string>>, body: string, rawBody: Buffer, grpc?: GrpcBodyContext): ParsedBody {
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
      try {
        return { parsed: JSON.parse(text) as JsonValue, truncated: false };
      } catch (err) {
        throw new CheckError(Reason.bodyInvalid, `body is labelled JSON but does not parse: ${(err as Error).message}`);
      }
    case 'form':
      return { parsed: parseQueryString(text), truncated: false };
    case 'multipart':
      return { parsed: parseMultipart(contentType, text), truncated: false };
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

/** multipart/form-data -> {name: [value, ...]}, values as text. */
function parseMultipart(contentType: string, text: string): Record<string, JsonValue> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new CheckError(Reason.bodyInvalid, 'multipart body without a boundary');
  const delimiter = `--${boundary}`;
  const out: Record<string, string[]> = {};
  const parts = text.split(delimiter);
  // parts[0] is the preamble; the part after the closing delimiter starts with "--".
  let closed = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
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
    (out[name] ??= []).push(value);
  }
  if (!closed) throw new CheckError(Reason.bodyInvalid, 'multipart body has no closing boundary');
  return out;
}
