// Loads the project's proto/ definitions once and exposes the message types the
// Check path needs. The gRPC layer hands the pipeline raw bytes (see
// server/AuthorizationService.ts) so that a request which does not decode is a
// recorded denial with a reason instead of a transport error.
import { fileURLToPath } from 'node:url';
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { CheckError, Reason } from '../types/Reason.ts';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

const PROTO_FILES = ['envoy/service/auth/v3/external_auth.proto'];

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    // google/protobuf/* are protobufjs' bundled well-known types.
    if (target.startsWith('google/protobuf/')) return target;
    return PROTO_DIR + target;
  };
  root.loadSync(PROTO_FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

export const protoRoot = loadRoot();
export const CheckRequestType = protoRoot.lookupType('envoy.service.auth.v3.CheckRequest');
export const CheckResponseType = protoRoot.lookupType('envoy.service.auth.v3.CheckResponse');
export const StructType = protoRoot.lookupType('google.protobuf.Struct');
export const StatusCodeEnum = protoRoot.lookupEnum('envoy.type.v3.StatusCode');

/**
 * Reads strings strictly: protobufjs replaces or truncates bad UTF-8 silently,
 * which would let two different byte strings reach the policy as one value.
 */
class StrictReader extends protobuf.BufferReader {
  override string(): string {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.len) throw new RangeError('string field runs past the end of the message');
    // BufferReader is only ever built on a Buffer (decodeCheckRequest ensures it).
    const buf = this.buf as Buffer;
    const start = this.pos;
    this.pos = end;
    const text = buf.toString('utf8', start, end);
    // Decoding turns every invalid sequence into U+FFFD, so text without one
    // came from valid UTF-8; only text with one (which valid bytes may also
    // spell) pays for the exact check.
    if (text.includes('\uFFFD') && !isUtf8(buf.subarray(start, end))) throw new InvalidUtf8Error();
    return text;
  }
}

class InvalidUtf8Error extends Error {}

/** The decoded message object (protobufjs Message; camelCase field names). */
export type DecodedCheckRequest = protobuf.Message & Record<string, unknown>;

/** Decodes a CheckRequest, throwing a CheckError with a stable reason on bad bytes. */
export function decodeCheckRequest(bytes: Uint8Array): DecodedCheckRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    checkWire(buf, 0, buf.length, CHECK_REQUEST_RULE, 0);
  } catch (err) {
    if (err instanceof WireError) throw new CheckError(Reason.requestMalformed, `the CheckRequest is refused: ${err.message}`);
    // A stack overflow on absurd nesting, say: still the request's fault.
    throw new CheckError(Reason.requestMalformed, `the CheckRequest does not decode: ${(err as Error).message}`);
  }
  try {
    return CheckRequestType.decode(new StrictReader(buf)) as DecodedCheckRequest;
  } catch (err) {
    if (err instanceof InvalidUtf8Error) {
      throw new CheckError(Reason.requestInvalidUtf8, 'a string field of the CheckRequest is not valid UTF-8');
    }
    if ((err as Error).message === 'maximum nesting depth exceeded') {
      // protobufjs' Reader.recursionLimit (100, protoc's default): the only
      // client-influenced nesting in a CheckRequest is a metadata Struct, two
      // messages per JSON level.
      throw new CheckError(Reason.requestMalformed, 'the CheckRequest nests messages deeper than 100 levels (a metadata Struct about 48 levels deep)');
    }
    throw new CheckError(Reason.requestMalformed, `the CheckRequest does not decode: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// The strict wire pass, before protobufjs decodes.
//
// protobufjs departs from the protobuf encoding spec in ways that let one
// request mean different things to ztauthz and to a spec-conforming reader:
//  - an embedded (non-repeated) message field seen twice replaces the first
//    instead of merging with it;
//  - two members of one oneof both stay set (the spec: the last one wins);
//  - a known field is read by its declared type whatever wire type the tag
//    says, and a 32-bit varint of 6 to 9 bytes is misread (it always takes 10).
// Each of these is refused as request_malformed rather than fixed up: Envoy
// never writes a field twice, two oneof members, a wrong wire type or a
// non-minimal varint, so only a crafted request is affected, and refusing
// keeps one meaning per accepted request at no risk of merging wrong.
// (Merging as the spec says would mean re-decoding every repeated occurrence
// into the first, for nothing Envoy sends.) Refused as well, for the same
// reason: group wire types (proto3 has none) and nesting past protobufjs'
// own recursion limit (100, protoc's). Everything else (unknown fields,
// scalars repeated, where the last one wins in both readings) is left to the
// decode.
// ---------------------------------------------------------------------------

class WireError extends Error {}

interface FieldRule {
  /** The wire type its declared type is written with. */
  readonly wire: number;
  /** A repeated scalar of a packable type: also accepted length-delimited (packed). */
  readonly packed: boolean;
  /** Read with protobufjs' 32-bit varint reader (int32, uint32, sint32, bool, enums). */
  readonly varint32: boolean;
  /** The message (or map entry) the field holds. */
  readonly child: MessageRule | undefined;
  /** This field's bit among the singular message fields of its message; 0 for others. */
  readonly once: number;
  /** Its oneof's index in the message, -1 if none. */
  readonly oneof: number;
}

interface MessageRule {
  readonly name: string;
  /** Known fields by number (a sparse array: faster than a Map here). */
  readonly fields: Array<FieldRule | undefined>;
  readonly oneofs: number;
  /** A map entry: protobufjs reads it inline, so it adds no level of nesting. */
  readonly entry?: boolean;
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const VARINT32_TYPES = new Set(['int32', 'uint32', 'sint32', 'bool']);

function scalarRule(type: string, resolved: protobuf.ReflectionObject | null, repeated: boolean, oneof: number): FieldRule {
  if (resolved instanceof protobuf.Enum) return { wire: WIRE_VARINT, packed: repeated, varint32: true, child: undefined, once: 0, oneof };
  const wire = (protobuf.types.basic as Record<string, number | undefined>)[type];
  if (wire === undefined) throw new Error(`strict wire pass: no wire type for ${type}`);
  const packable = (protobuf.types.packed as Record<string, number | undefined>)[type] !== undefined;
  return { wire, packed: repeated && packable, varint32: VARINT32_TYPES.has(type), child: undefined, once: 0, oneof };
}

function messageRule(type: protobuf.Type, memo: Map<protobuf.Type, MessageRule>): MessageRule {
  const known = memo.get(type);
  if (known) return known;
  const fields: Array<FieldRule | undefined> = [];
  const rule: MessageRule = { name: type.fullName.replace(/^\./, ''), fields, oneofs: type.oneofsArray.length };
  memo.set(type, rule);
  let bit = 1;
  for (const f of type.fieldsArray) {
    f.resolve();
    const oneof = f.partOf ? type.oneofsArray.indexOf(f.partOf) : -1;
    if (f instanceof protobuf.MapField) {
      const value =
        f.resolvedType instanceof protobuf.Type
          ? { wire: WIRE_LEN, packed: false, varint32: false, child: messageRule(f.resolvedType, memo), once: 1, oneof: -1 }
          : scalarRule(f.type, f.resolvedType, false, -1);
      const entry: MessageRule = {
        name: `${rule.name}.${f.name} entry`,
        fields: [undefined, scalarRule(f.keyType, null, false, -1), value],
        oneofs: 0,
        entry: true,
      };
      fields[f.id] = { wire: WIRE_LEN, packed: false, varint32: false, child: entry, once: 0, oneof: -1 };
    } else if (f.resolvedType instanceof protobuf.Type) {
      const once = f.repeated ? 0 : bit;
      if (once) bit *= 2;
      if (bit > 2 ** 30) throw new Error(`strict wire pass: ${rule.name} has too many message fields`);
      fields[f.id] = { wire: WIRE_LEN, packed: false, varint32: false, child: messageRule(f.resolvedType, memo), once, oneof };
    } else {
      fields[f.id] = scalarRule(f.type, f.resolvedType, f.repeated, oneof);
    }
  }
  return rule;
}

const CHECK_REQUEST_RULE = messageRule(CheckRequestType, new Map());

/** Where the last varint read ended (module state: the pass is synchronous). */
let at = 0;

/** A varint of at most `max` bytes at p, as a number (exact below 2^53); throws if longer or cut off. */
function varint(b: Buffer, p: number, end: number, max: number): number {
  // Most varints here (tags, short lengths) are one byte.
  if (p < end && b[p]! < 0x80) {
    at = p + 1;
    return b[p]!;
  }
  let value = 0;
  let scale = 1;
  for (let i = 0; i < max; i++) {
    if (p >= end) throw new WireError('a varint runs past the end of its message');
    const x = b[p++]!;
    value += (x & 0x7f) * scale;
    if (x < 0x80) {
      at = p;
      return value;
    }
    scale *= 128;
  }
  throw new WireError(`a varint is longer than ${max} bytes`);
}

/** A value read as a 32-bit varint: at most 5 bytes, or exactly 10 (a negative int32), which is what protobufjs reads. */
function skipVarint32(b: Buffer, p: number, end: number): void {
  varint(b, p, end, 10);
  const n = at - p;
  if (n > 5 && n < 10) throw new WireError('a 32-bit varint is 6 to 9 bytes long');
}

function checkWire(b: Buffer, start: number, end: number, rule: MessageRule, depth: number): void {
  if (depth > protobuf.Reader.recursionLimit)
    throw new WireError(`it nests messages deeper than ${protobuf.Reader.recursionLimit} levels (a metadata Struct about 48 levels deep)`);
  let seen = 0;
  const oneofs = rule.oneofs > 0 ? new Array<number>(rule.oneofs).fill(0) : undefined;
  let p = start;
  while (p < end) {
    const tag = varint(b, p, end, 5);
    p = at;
    if (tag > 0xffffffff) throw new WireError('a field tag is out of range');
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new WireError(`${rule.name} has a field numbered 0`);
    const f = field < rule.fields.length ? rule.fields[field] : undefined;
    if (f === undefined) {
      // Unknown to proto/ (a newer Envoy's field, say): skipped, as the decode does.
      p = skipValue(b, p, end, wire, rule, field);
      continue;
    }
    if (f.oneof >= 0) {
      const other = oneofs![f.oneof]!;
      if (other !== 0 && other !== field) throw new WireError(`${rule.name} sets fields ${other} and ${field} of one oneof`);
      oneofs![f.oneof] = field;
    }
    if (f.once !== 0) {
      if ((seen & f.once) !== 0) throw new WireError(`${rule.name} has message field ${field} twice (a decode would drop the first)`);
      seen |= f.once;
    }
    if (wire !== f.wire && !(f.packed && wire === WIRE_LEN)) throw new WireError(`${rule.name} field ${field} has wire type ${wire}, not ${f.wire}`);
    if (wire === WIRE_LEN) {
      const n = varint(b, p, end, 5);
      const valueEnd = at + n;
      if (valueEnd > end) throw new WireError(`${rule.name} field ${field} runs past the end of its message`);
      if (f.child) checkWire(b, at, valueEnd, f.child, f.child.entry ? depth : depth + 1);
      else if (f.wire !== WIRE_LEN) checkPacked(b, at, valueEnd, f, rule, field);
      p = valueEnd;
    } else p = skipScalar(b, p, end, f, rule, field);
  }
}

function skipScalar(b: Buffer, p: number, end: number, f: FieldRule, rule: MessageRule, field: number): number {
  if (f.wire === WIRE_VARINT) {
    if (f.varint32) skipVarint32(b, p, end);
    else varint(b, p, end, 10);
    return at;
  }
  const n = f.wire === 1 ? 8 : 4;
  if (p + n > end) throw new WireError(`${rule.name} field ${field} runs past the end of its message`);
  return p + n;
}

/** A packed run must hold whole values only (protobufjs would read the last one on past its end). */
function checkPacked(b: Buffer, p: number, end: number, f: FieldRule, rule: MessageRule, field: number): void {
  while (p < end) p = skipScalar(b, p, end, f, rule, field);
}

function skipValue(b: Buffer, p: number, end: number, wire: number, rule: MessageRule, field: number): number {
  let valueEnd: number;
  if (wire === 0) {
    varint(b, p, end, 10);
    valueEnd = at;
  } else if (wire === 1) valueEnd = p + 8;
  else if (wire === 5) valueEnd = p + 4;
  else if (wire === 2) valueEnd = varint(b, p, end, 5) + at;
  else throw new WireError(`${rule.name} field ${field} has wire type ${wire} (groups and invalid types are refused)`);
  if (valueEnd > end) throw new WireError(`${rule.name} field ${field} runs past the end of its message`);
  return valueEnd;
}

/** toObject options that give protojson-shaped values (enums by name, int64 as numbers, bytes as base64). */
export const PROTOJSON_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  json: true,
};

/** HTTP statuses Envoy's StatusCode enum knows; a policy's http_status must be one of them. */
export const ENVOY_HTTP_STATUSES: ReadonlySet<number> = new Set(Object.values(StatusCodeEnum.values).filter((n) => n >= 100));
