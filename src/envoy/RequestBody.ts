// Parses the request body the way opa-envoy-plugin does, by content type:
// JSON, urlencoded form and multipart form become policy data; anything else
// is null. A body that claims a type and does not parse is an input error.
// JSON is parsed within bounds and refused when ambiguous (see JsonBody.ts),
// forms within the same bounds on names and values, so nothing after this
// point meets a body nested deeper, or with more members, than the
// configuration allows.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';
import { FormValues } from './QueryString.ts';
import { goParseQuery, goQuote } from './GoUrl.ts';
import { goUnmarshalJson } from './GoJson.ts';
import { goMediaTypeParams } from './GoMime.ts';
import { DEFAULT_JSON_LIMITS, parseJsonBody, scanned, type JsonBodyLimits } from './JsonBody.ts';
import { WireError, type ProtoDescriptorSet } from './GrpcBody.ts';

export interface ParsedBody {
  readonly parsed: JsonValue;
  readonly truncated: boolean;
  /**
   * The body is of a type ztauthz does not parse (truncated or not): a
   * truncated one is reported (truncated_body, as opa-envoy-plugin) but not
   * denied by request.truncated_body: deny, since nothing was misread.
   */
  readonly unparsedType?: true;
}

const NOT_PARSED: ParsedBody = { parsed: null, truncated: false };
const TRUNCATED: ParsedBody = { parsed: null, truncated: true };
const TRUNCATED_UNPARSED: ParsedBody = { parsed: null, truncated: true, unparsedType: true };

/** For gRPC bodies: the descriptor set (request.proto_descriptor) and the request path's segments. */
export interface GrpcBodyContext {
  readonly descriptors: ProtoDescriptorSet | undefined;
  readonly segments: readonly string[];
}

/**
 * `compat` (compat: opa-envoy): the content type is matched case-sensitively,
 * a multipart type without a boundary is a type not parsed, a JSON body is
 * read as Go's encoding/json reads it where JSON.parse refuses it, and a body
 * that does not parse is answered with opa-envoy-plugin's 400 body,
 * "request_parse_error: <Go's error>".
 */
export function parseBody(
  headers: Readonly<Record<string, string>>,
  body: string,
  rawBody: Buffer,
  limits: JsonBodyLimits = DEFAULT_JSON_LIMITS,
  grpc?: GrpcBodyContext,
  compat = false,
): ParsedBody {
  // opa-envoy-plugin looks at Envoy's mark before anything else: any type, any body, even none.
  const partial = headers['x-envoy-auth-partial-body'] === 'true';
  const contentType = headers['content-type'];
  const kind = contentType ? bodyKind(contentType, compat) : undefined;
  if (kind === undefined || (kind === 'grpc' && !grpc?.descriptors)) return partial ? TRUNCATED_UNPARSED : NOT_PARSED;
  if (partial) return TRUNCATED;
  if (kind === 'grpc') return parseGrpcBody(rawBody, grpc, compat);

  const text = body !== '' ? body : rawBody.length > 0 ? rawBody.toString('utf8') : '';
  if (text === '') return NOT_PARSED;
  if (isTruncated(headers, body !== '' ? Buffer.byteLength(body) : rawBody.length, compat)) return TRUNCATED;

  switch (kind) {
    case 'json':
      return { parsed: compat ? parseJsonBodyAsGo(text, limits) : parseJsonBody(text, limits), truncated: false };
    case 'form':
      return { parsed: parseFormBody(text, limits, compat), truncated: false };
    case 'multipart':
      return multipartBody(contentType!, text, limits, compat);
  }
}

type BodyKind = 'json' | 'grpc' | 'form' | 'multipart';

/**
 * By substring, in opa-envoy-plugin's order. Media types are case-insensitive
 * (RFC 9110), so ztauthz parses "Application/JSON" as JSON: a body the
 * backend reads as JSON is one the policy sees. opa-envoy-plugin matches
 * case-sensitively and leaves such a body null (compat).
 */
function bodyKind(contentType: string, compat: boolean): BodyKind | undefined {
  const ct = compat ? contentType : contentType.toLowerCase();
  if (ct.includes('application/json')) return 'json';
  if (ct.includes('application/grpc')) return 'grpc';
  if (ct.includes('application/x-www-form-urlencoded')) return 'form';
  if (ct.includes('multipart/form-data')) return 'multipart';
  return undefined;
}

/** A body that does not parse: body_invalid, answered under compat with opa-envoy-plugin's 400 body. */
function unparsable(message: string, goError: string, compat: boolean): CheckError {
  if (!compat) return new CheckError(Reason.bodyInvalid, message);
  return new CheckError(Reason.bodyInvalid, message, { httpStatus: 400, headers: [], body: `request_parse_error: ${goError}` });
}

/**
 * compat: JSON.parse first (it agrees with Go on valid JSON); where it
 * refuses, Go's reading (GoJson.ts) gives the error text, or the first value
 * when Go accepts the text after all (a value, then "null", then anything).
 */
function parseJsonBodyAsGo(text: string, limits: JsonBodyLimits): JsonValue {
  try {
    return parseJsonBody(text, limits);
  } catch (err) {
    if (!(err instanceof CheckError) || err.reason !== Reason.bodyInvalid) throw err;
    const bytes = Buffer.from(text, 'utf8');
    const go = goUnmarshalJson(bytes);
    if ('error' in go) throw unparsable(err.message, go.error, true);
    return parseJsonBody(bytes.subarray(0, go.valueEnd).toString('utf8'), limits);
  }
}

/**
 * An urlencoded body, read as Go's url.ParseQuery reads it (as
 * opa-envoy-plugin does), within the form bounds. A pair with ";" or a bad
 * escape fails the whole body (Go's error; opa-envoy-plugin answers 400):
 * dropping the pair instead would let the backend see a field the policy did
 * not. Go's cap of 10,000 pairs applies under compat; otherwise
 * request.max_body_keys and max_body_elements bound the form.
 */
function parseFormBody(text: string, limits: JsonBodyLimits, compat: boolean): Record<string, JsonValue> {
  const form = new FormValues(limits, 'form body');
  const error = goParseQuery(text, (key, value) => form.add(key, value), compat);
  if (error !== undefined) throw unparsable(`form body does not parse: ${error}`, error, compat);
  return form.values;
}

function multipartBody(contentType: string, text: string, limits: JsonBodyLimits, compat: boolean): ParsedBody {
  let boundary: string | undefined;
  if (compat) {
    // Go's mime.ParseMediaType: a content type it refuses is a 400 there.
    const media = goMediaTypeParams(contentType);
    if ('error' in media) throw unparsable(`multipart content type does not parse: ${media.error}`, media.error, true);
    boundary = media.params.get('boundary');
    if (boundary === undefined) return NOT_PARSED;
  } else {
    boundary = multipartBoundary(contentType);
  }
  if (!boundary) {
    // opa-envoy-plugin: no boundary parameter, no parsing (null). ztauthz refuses it: the backend cannot read it either.
    if (compat) return NOT_PARSED;
    throw new CheckError(Reason.bodyInvalid, 'multipart body without a boundary');
  }
  return { parsed: parseMultipart(boundary, text, limits, compat), truncated: false };
}

function multipartBoundary(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/**
 * opa-envoy-plugin's getGRPCBody: only raw_body (Envoy's pack_as_bytes) is
 * read, only its first message, and only with a descriptor set; what it
 * cannot read (compressed, unknown method, client streaming) is null, what
 * does not decode is an input error.
 */
function parseGrpcBody(rawBody: Buffer, grpc: GrpcBodyContext | undefined, compat: boolean): ParsedBody {
  // Without a descriptor set gRPC is a type not parsed, like any other (parseBody), as before the setting existed.
  if (!grpc?.descriptors) return NOT_PARSED;
  if (rawBody.length === 0) return NOT_PARSED;
  if (grpc.segments.length !== 2) throw unparsable('a gRPC request path must be /package.Service/Method', 'invalid parsed path', compat);
  if (rawBody.length < 5) throw unparsable('a gRPC body shorter than its 5-byte frame header', 'less than 5 bytes', compat);
  if (rawBody[0] !== 0) return NOT_PARSED; // compressed
  const size = rawBody.readUInt32BE(1);
  if (size > rawBody.length - 5) return TRUNCATED;
  const schema = grpc.descriptors.inputOf(grpc.segments[0]!, grpc.segments[1]!);
  if (!schema) return NOT_PARSED;
  try {
    return { parsed: grpc.descriptors.decode(schema, rawBody.subarray(5, 5 + size)), truncated: false };
  } catch (err) {
    if (err instanceof WireError) {
      // compat: Go protobuf's one text for data proto.Unmarshal refuses. Go's protobuf writes the space after "proto:" as a plain or a no-break space, chosen per binary so that nobody matches on its texts; the plain one here. What protojson refuses afterwards (Any, Timestamp, Value) has other texts there.
      throw unparsable(
        `the gRPC message does not decode as ${grpc.segments.join('/')}'s input: ${err.message}`,
        'proto: cannot parse invalid wire-format data',
        compat,
      );
    }
    throw err;
  }
}

/**
 * A content-length beyond what arrived: Envoy cut the body (its own mark is
 * read first, in parseBody). compat: Go's strconv.ParseInt, which also takes
 * a sign ("-1" is never truncated) and any int64.
 */
function isTruncated(headers: Readonly<Record<string, string>>, arrivedBytes: number, compat: boolean): boolean {
  const cl = headers['content-length'];
  if (cl === undefined) return false;
  if (compat && /^[+-]?\d+$/.test(cl)) {
    const n = BigInt(cl);
    if (n > 0x7fffffffffffffffn || n < -0x8000000000000000n)
      throw unparsable('content-length is out of range', `strconv.ParseInt: parsing ${goQuote(cl)}: value out of range`, true);
    return n !== -1n && n > BigInt(arrivedBytes);
  }
  if (!/^\d{1,15}$/.test(cl)) {
    throw unparsable('content-length is not a number', `strconv.ParseInt: parsing ${goQuote(cl)}: invalid syntax`, compat);
  }
  return Number(cl) > arrivedBytes;
}

/**
 * multipart/form-data -> {name: [value, ...]}, values as text, within request.max_body_keys (names) and max_body_elements (parts).
 *
 * By hand rather than with busboy (issue #20 asked; measured 2026-12-05, Node 24, 2-core EPYC):
 *  - cost: a 3-field form took 4.9 us here and 76 us through busboy, a field plus a 60 KB file part
 *    70 us here and 645 us through busboy, against 150-250 us of CPU for a whole Check (bench/run.ts);
 *  - busboy reads CRLF line ends only; opa-envoy-plugin (Go's mime/multipart) also reads a body
 *    whose first delimiter line ends in LF as all-LF, which compat: opa-envoy keeps
 *    (test/drop-in multipart-lf, multipart-lf-two);
 *  - busboy is a stream: file parts (any part with a filename) and its errors (an unclosed body)
 *    arrive after the write returns, where body parsing is a synchronous step of the Check path;
 *  - it decodes each value by its part's charset, where Go (and so opa-envoy-plugin) keeps the bytes.
 */
function parseMultipart(boundary: string, text: string, limits: JsonBodyLimits, compat: boolean): Record<string, JsonValue> {
  const delimiter = `--${boundary}`;
  const form = new FormValues(limits, 'multipart body');
  // The parts between delimiters, as text.split(delimiter) would cut them but
  // one at a time, so a bound stops before the rest is cut. What comes before
  // the first delimiter is the preamble; the part after the closing delimiter
  // starts with "--".
  let closed = false;
  let parts = 0;
  let at = text.indexOf(delimiter);
  // Lines end in CRLF. compat: in LF if the first delimiter line does, as Go's mime/multipart decides.
  let nl = '\r\n';
  if (compat && at >= 0) {
    let j = at + delimiter.length;
    while (text[j] === ' ' || text[j] === '\t') j++;
    if (text[j] === '\n') nl = '\n';
  }
  const blank = nl + nl;
  // compat: JSON parts are parsed, within what is left of the body's bounds, two levels down (parsed_body.name[i]).
  const budget = { keys: limits.maxKeys, elements: limits.maxElements };
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
    const headerEnd = part.indexOf(blank);
    if (headerEnd < 0) throw new CheckError(Reason.bodyInvalid, 'multipart part without a header block');
    const head = part.slice(0, headerEnd);
    let value = part.slice(headerEnd + blank.length);
    if (value.endsWith(nl)) value = value.slice(0, -nl.length);
    const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    const type = compat ? /(?:^|\n)content-type:[ \t]*([^\r\n]*)/i.exec(head)?.[1] : undefined;
    if (type?.includes('application/json')) {
      const partLimits: JsonBodyLimits = { ...limits, maxDepth: Math.max(1, limits.maxDepth - 2), maxKeys: budget.keys, maxElements: budget.elements };
      form.add(name, parseJsonBodyAsGo(value, partLimits));
      budget.keys = Math.max(0, budget.keys - scanned.keys);
      budget.elements = Math.max(0, budget.elements - scanned.elements);
      continue;
    }
    form.add(name, value);
  }
  if (!closed) throw unparsable('multipart body has no closing boundary', 'unexpected EOF', compat);
  return form.values;
}
