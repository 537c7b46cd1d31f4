// gRPC request bodies decoded into parsed_body, as opa-envoy-plugin does with
// its `proto-descriptor` setting (envoyauth/request.go, getGRPCBody): the
// first message of the body (gRPC framing: a compressed flag, a 4-byte
// length, the message) is decoded with the input type of the method the path
// names (/package.Service/Method), found in a FileDescriptorSet, and turned
// into what Go's protojson.Marshal writes: JSON field names (json_name),
// fields only when populated, 64-bit integers as strings, bytes as base64,
// enums by name, and the well-known types in their JSON forms (Timestamp as
// RFC 3339 text, Duration as "1.5s", Struct as plain JSON, wrappers as their
// value, Any with "@type"; an Any holding a type other than google.protobuf's
// does not resolve there, so it is refused here too).
//
// The decoder is this file's own (protobufjs only reads the descriptor set):
// it keeps 64-bit integers exact, tells proto3 implicit presence from
// explicit presence, and bounds nesting (MAX_DEPTH).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type descriptorModule from 'protobufjs/ext/descriptor/index.js';
import type { JsonObject, JsonValue } from '../types/Json.ts';

/** Deepest nesting of messages (and groups) decoded; deeper is body_invalid. Go's own limit is 10,000; real APIs stay far below 100. */
export const MAX_DEPTH = 100;

/**
 * Most messages (map entries included) one body may hold; more is body_invalid.
 * Each costs far more to hold and write out than its 2 bytes on the wire: a
 * 1 MiB body of empty repeated messages is half a million of them (about
 * 180 MB and a second of work unbounded).
 */
export const MAX_MESSAGES = 100_000;

// FieldDescriptorProto.Type
const T = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  group: 10,
  message: 11,
  bytes: 12,
  uint32: 13,
  enum: 14,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
} as const;
const LABEL_REPEATED = 3;
const IS_64_BIT = new Set<number>([T.int64, T.uint64, T.sint64, T.fixed64, T.sfixed64]);

interface FieldSchema {
  readonly number: number;
  readonly name: string;
  readonly jsonName: string;
  readonly type: number;
  /** Fully qualified, with the leading dot, for messages, groups and enums. */
  readonly typeName: string;
  readonly repeated: boolean;
  /** Present in the JSON only when set (proto2, proto3 optional, oneof members, messages). */
  readonly explicitPresence: boolean;
  readonly oneof: number | undefined;
  /** For map fields: the entry's key and value fields. */
  map?: { key: FieldSchema; value: FieldSchema } | undefined;
}

interface MessageSchema {
  readonly fullName: string;
  readonly fields: FieldSchema[];
  readonly byNumber: Map<number, FieldSchema>;
  readonly mapEntry: boolean;
}

/**
 * Every enum is open, also proto2's: an unknown number is kept and written as
 * a number, as Go's dynamicpb (which opa-envoy-plugin decodes with) does.
 */
interface EnumSchema {
  readonly names: Map<number, string>;
}

interface MethodSchema {
  readonly input: string;
  readonly clientStreaming: boolean;
}

export class ProtoDescriptorError extends Error {
  override name = 'ProtoDescriptorError';
}

/** The messages, enums and services of a FileDescriptorSet (protoc --include_imports --descriptor_set_out). */
export class ProtoDescriptorSet {
  readonly #messages = new Map<string, MessageSchema>();
  readonly #enums = new Map<string, EnumSchema>();
  /** "pkg.Service" -> method name -> method. */
  readonly #services = new Map<string, Map<string, MethodSchema>>();
  /** Messages the decode in progress may still start (decoding is synchronous, so one counter serves every request). */
  #budget = 0;

  static fromFile(path: string): ProtoDescriptorSet {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new ProtoDescriptorError(`request.proto_descriptor: cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      return new ProtoDescriptorSet(bytes);
    } catch (err) {
      throw new ProtoDescriptorError(`request.proto_descriptor: ${path} is not a usable FileDescriptorSet: ${(err as Error).message}`);
    }
  }

  constructor(bytes: Uint8Array) {
    const set = descriptor().FileDescriptorSet.decode(bytes) as unknown as { file?: FileProto[] };
    const files = set.file ?? [];
    if (files.length === 0) throw new Error('it holds no files');
    const pending: FieldSchema[] = [];
    for (const file of files) {
      const prefix = own(file, 'package') && file.package ? `.${file.package}` : '';
      // proto2, or editions (whose default presence is explicit); "proto3" is the only implicit-presence syntax.
      const proto3 = own(file, 'syntax') && file.syntax === 'proto3';
      for (const e of file.enumType ?? []) this.#addEnum(e, prefix);
      for (const m of file.messageType ?? []) this.#addMessage(m, prefix, proto3, pending);
      for (const s of file.service ?? []) {
        const methods = new Map<string, MethodSchema>();
        for (const m of s.method ?? []) {
          methods.set(m.name ?? '', {
            input: resolveName(m.inputType ?? '', prefix, (n) => this.#messages.has(n)),
            clientStreaming: own(m, 'clientStreaming') && !!m.clientStreaming,
          });
        }
        this.#services.set(`${prefix}.${s.name}`.slice(1), methods);
      }
    }
    // Type names resolve once every file's types are known.
    for (const f of pending) {
      const t = f as { -readonly [K in keyof FieldSchema]: FieldSchema[K] };
      const isMessage = f.type === T.message || f.type === T.group;
      t.typeName = resolveName(f.typeName, scopeOf(f), (n) => (isMessage ? this.#messages.has(n) : this.#enums.has(n)));
      if (!(isMessage ? this.#messages.has(t.typeName) : this.#enums.has(t.typeName)))
        throw new Error(`field ${f.name} refers to ${f.typeName}, which the set does not define`);
    }
    for (const m of this.#messages.values()) {
      for (const f of m.fields) {
        const entry = f.type === T.message ? this.#messages.get(f.typeName) : undefined;
        if (f.repeated && entry?.mapEntry) f.map = { key: entry.byNumber.get(1)!, value: entry.byNumber.get(2)! };
      }
    }
    for (const [name, methods] of this.#services) {
      for (const [method, m] of methods) if (!this.#messages.has(m.input)) throw new Error(`${name}/${method} takes ${m.input}, which the set does not define`);
    }
  }

  #addEnum(e: EnumProto, scope: string): void {
    const names = new Map<number, string>();
    for (const v of e.value ?? []) if (!names.has(v.number ?? 0)) names.set(v.number ?? 0, v.name ?? '');
    this.#enums.set(`${scope}.${e.name}`, { names });
  }

  #addMessage(m: MessageProto, scope: string, proto3: boolean, pending: FieldSchema[]): void {
    const fullName = `${scope}.${m.name}`;
    const fields: FieldSchema[] = [];
    for (const f of m.field ?? []) {
      const type = f.type ?? 0;
      const repeated = f.label === LABEL_REPEATED;
      const oneof = own(f, 'oneofIndex') ? f.oneofIndex : undefined;
      const field: FieldSchema = {
        number: f.number ?? 0,
        name: f.name ?? '',
        jsonName: own(f, 'jsonName') && f.jsonName ? f.jsonName : jsonCamelCase(f.name ?? ''),
        type,
        typeName: f.typeName ?? '',
        repeated,
        explicitPresence:
          !repeated && (!proto3 || type === T.message || type === T.group || oneof !== undefined || (own(f, 'proto3Optional') && !!f.proto3Optional)),
        oneof,
        map: undefined,
      };
      SCOPES.set(field, fullName);
      fields.push(field);
      if (type === T.message || type === T.group || type === T.enum) pending.push(field);
    }
    this.#messages.set(fullName, {
      fullName,
      fields,
      byNumber: new Map(fields.map((f) => [f.number, f])),
      mapEntry: !!(own(m, 'options') && m.options?.mapEntry),
    });
    for (const e of m.enumType ?? []) this.#addEnum(e, fullName);
    for (const n of m.nestedType ?? []) this.#addMessage(n, fullName, proto3, pending);
  }

  /** The input message of /service/method; undefined for an unknown one or a client-streaming method (opa-envoy-plugin parses neither). */
  inputOf(service: string, method: string): MessageSchema | undefined {
    const m = this.#services.get(service)?.get(method);
    if (!m || m.clientStreaming) return undefined;
    return this.#messages.get(m.input);
  }

  /** The message's protojson form. Throws WireError for bytes that do not decode or JSON protojson refuses to write. */
  decode(schema: MessageSchema, bytes: Uint8Array): JsonObject {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const state = newState(schema);
    this.#budget = MAX_MESSAGES;
    this.#decodeInto(state, buf, 0, buf.length, 1, undefined);
    return this.#messageJson(state, 1) as JsonObject;
  }

  #message(name: string): MessageSchema {
    return this.#messages.get(name)!;
  }

  /** Decodes fields into state (merging, as protobuf does for repeated occurrences); returns where it stopped. */
  #decodeInto(state: State, buf: Buffer, pos: number, end: number, depth: number, group: number | undefined): number {
    if (depth > MAX_DEPTH) throw new WireError(`the message nests deeper than ${MAX_DEPTH} levels`);
    if (--this.#budget < 0) throw new WireError(`the message holds more than ${MAX_MESSAGES} messages`);
    const r = new WireReader(buf, pos, end);
    while (r.pos < end) {
      const tag = r.varint32();
      const number = tag >>> 3;
      const wire = tag & 7;
      if (number === 0) throw new WireError('field number 0');
      if (wire === 4) {
        if (group === number) return r.pos;
        throw new WireError('an end-group tag without its start');
      }
      const field = state.schema.byNumber.get(number);
      if (!field || !wireFits(field, wire)) {
        r.skip(wire, number, depth);
        continue;
      }
      if (field.map) {
        const len = r.length();
        const entry = newState(this.#message(field.typeName));
        this.#decodeInto(entry, buf, r.pos, r.pos + len, depth + 1, undefined);
        r.pos += len;
        const key = this.#json(fieldState(entry, field.map.key), depth + 1);
        const mapKey = typeof key === 'string' ? key : String(key);
        const values = (state.values.get(number) as Map<string, FieldValue> | undefined) ?? new Map<string, FieldValue>();
        values.set(mapKey, (entry.values.get(2) as FieldValue | undefined) ?? defaultValue(field.map.value, (n) => this.#messages.get(n)));
        state.values.set(number, values);
        continue;
      }
      if (field.type === T.message || field.type === T.group) {
        let target: State;
        if (field.repeated) {
          target = newState(this.#message(field.typeName));
          listOf(state, number).push(target);
        } else {
          const existing = state.values.get(number);
          target = isState(existing) ? existing : newState(this.#message(field.typeName));
          setSingular(state, field, target);
        }
        if (field.type === T.group) {
          r.pos = this.#decodeInto(target, buf, r.pos, end, depth + 1, number);
        } else {
          const len = r.length();
          this.#decodeInto(target, buf, r.pos, r.pos + len, depth + 1, undefined);
          r.pos += len;
        }
        continue;
      }
      if (wire === 2 && field.type !== T.string && field.type !== T.bytes) {
        // Packed repeated scalars (accepted whether or not the field says packed, as every decoder does).
        const len = r.length();
        const stop = r.pos + len;
        while (r.pos < stop) this.#scalar(state, field, r);
        if (r.pos !== stop) throw new WireError('a packed field runs past its length');
        continue;
      }
      this.#scalar(state, field, r);
    }
    if (group !== undefined) throw new WireError('a group without its end tag');
    return r.pos;
  }

  #scalar(state: State, field: FieldSchema, r: WireReader): void {
    const value = readScalar(field.type, r);
    if (field.repeated) listOf(state, field.number).push(value);
    else setSingular(state, field, value);
  }

  /** protojson of a decoded value. */
  #json(v: FieldStateValue, depth: number): JsonValue {
    if (v.kind === 'message') return this.#messageJson(v.state, depth);
    return this.#scalarJson(v.field, v.value);
  }

  #messageJson(state: State, depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw new WireError(`the message nests deeper than ${MAX_DEPTH} levels`);
    const special = this.#wellKnown(state, depth);
    if (special !== NOT_SPECIAL) return special;
    const out: JsonObject = {};
    for (const field of state.schema.fields) {
      const v = state.values.get(field.number);
      if (v === undefined) continue;
      if (field.map) {
        const map = v as Map<string, FieldValue>;
        const obj: JsonObject = {};
        for (const [k, value] of map) obj[k] = this.#valueJson(field.map.value, value, depth);
        out[field.jsonName] = obj;
      } else if (field.repeated) {
        const list = v as FieldValue[];
        if (list.length === 0) continue;
        out[field.jsonName] = list.map((x) => this.#valueJson(field, x, depth));
      } else {
        if (!field.explicitPresence && isZero(field, v)) continue;
        out[field.jsonName] = this.#valueJson(field, v as FieldValue, depth);
      }
    }
    return out;
  }

  #valueJson(field: FieldSchema, v: FieldValue, depth: number): JsonValue {
    if (isState(v)) return this.#messageJson(v, depth + 1);
    return this.#scalarJson(field, v);
  }

  #scalarJson(field: FieldSchema, v: FieldValue): JsonValue {
    switch (field.type) {
      case T.int64:
      case T.uint64:
      case T.sint64:
      case T.fixed64:
      case T.sfixed64:
        return v as string;
      case T.float:
        return floatJson(v as number, 32);
      case T.double:
        return floatJson(v as number, 64);
      case T.bytes:
        return (v as Buffer).toString('base64');
      case T.enum: {
        if (field.typeName === '.google.protobuf.NullValue') return null;
        return this.#enums.get(field.typeName)?.names.get(v as number) ?? (v as number);
      }
      default:
        return v as JsonValue;
    }
  }

  /** The JSON forms protojson gives the well-known types; NOT_SPECIAL for every other message. */
  #wellKnown(state: State, depth: number): JsonValue | typeof NOT_SPECIAL {
    const name = state.schema.fullName;
    if (!name.startsWith('.google.protobuf.')) return NOT_SPECIAL;
    const get = (n: number): FieldValue | undefined => state.values.get(n) as FieldValue | undefined;
    switch (name.slice('.google.protobuf.'.length)) {
      case 'Timestamp':
        return timestampJson(big(get(1)), num(get(2)));
      case 'Duration':
        return durationJson(big(get(1)), num(get(2)));
      case 'Struct': {
        const out: JsonObject = {};
        const fields = get(1) as Map<string, FieldValue> | undefined;
        for (const [k, v] of fields ?? []) out[k] = this.#messageJson(v as State, depth + 1);
        return out;
      }
      case 'ListValue':
        return ((get(1) as FieldValue[] | undefined) ?? []).map((v) => this.#messageJson(v as State, depth + 1));
      case 'Value': {
        const field = state.schema.fields.find((f) => state.values.has(f.number));
        if (!field) throw new WireError('google.protobuf.Value: none of the oneof fields is set');
        const v = state.values.get(field.number) as FieldValue;
        if (field.number === 2 && !Number.isFinite(v as number)) throw new WireError(`google.protobuf.Value: invalid number ${v}`);
        return this.#valueJson(field, v, depth);
      }
      case 'DoubleValue':
      case 'FloatValue':
      case 'Int64Value':
      case 'UInt64Value':
      case 'Int32Value':
      case 'UInt32Value':
      case 'BoolValue':
      case 'StringValue':
      case 'BytesValue': {
        const field = state.schema.byNumber.get(1)!;
        return this.#scalarJson(field, (get(1) as FieldValue | undefined) ?? defaultValue(field));
      }
      case 'FieldMask':
        return ((get(1) as string[] | undefined) ?? []).map((p) => p.split('.').map(jsonCamelCase).join('.')).join(',');
      case 'Empty':
        return {};
      case 'Any':
        return this.#anyJson(state, depth);
      default:
        return NOT_SPECIAL;
    }
  }

  #anyJson(state: State, depth: number): JsonValue {
    const url = (state.values.get(1) as string | undefined) ?? '';
    const value = (state.values.get(2) as Buffer | undefined) ?? Buffer.alloc(0);
    if (url === '') {
      if (value.length === 0) return {};
      throw new WireError('google.protobuf.Any: a value without a type_url');
    }
    // opa-envoy-plugin's protojson resolves Any through Go's global registry, not the descriptor set: only types compiled
    // into it (the google.protobuf ones, for a request's API) resolve, any other makes the request unparseable. Same here.
    const typeName = url.slice(url.lastIndexOf('/') + 1);
    const schema = typeName.startsWith('google.protobuf.') ? this.#messages.get(`.${typeName}`) : undefined;
    if (!schema) throw new WireError(`google.protobuf.Any: unable to resolve ${JSON.stringify(url)} (only google.protobuf types are, as in opa-envoy-plugin)`);
    const inner = newState(schema);
    this.#decodeInto(inner, value, 0, value.length, depth + 1, undefined);
    const json = this.#messageJson(inner, depth + 1);
    if (json !== null && typeof json === 'object' && !Array.isArray(json) && this.#wellKnown(inner, depth + 1) === NOT_SPECIAL) {
      return { '@type': url, ...json };
    }
    return { '@type': url, value: json };
  }
}

// ---- decoded state -----------------------------------------------------------

/** 64-bit integers are decimal strings. */
type FieldValue = number | boolean | string | Buffer | State;

interface State {
  readonly schema: MessageSchema;
  /** Field number -> value (singular), FieldValue[] (repeated) or Map (map fields). */
  readonly values: Map<number, FieldValue | FieldValue[] | Map<string, FieldValue>>;
}

type FieldStateValue = { kind: 'message'; state: State } | { kind: 'scalar'; field: FieldSchema; value: FieldValue };

const NOT_SPECIAL = Symbol('not a well-known type');
const SCOPES = new WeakMap<FieldSchema, string>();

function newState(schema: MessageSchema): State {
  return { schema, values: new Map() };
}

function isState(v: unknown): v is State {
  return typeof v === 'object' && v !== null && 'schema' in v && 'values' in v;
}

function listOf(state: State, number: number): FieldValue[] {
  let list = state.values.get(number) as FieldValue[] | undefined;
  if (!list) state.values.set(number, (list = []));
  return list;
}

/** A oneof member clears its siblings; the last one on the wire wins. */
function setSingular(state: State, field: FieldSchema, value: FieldValue): void {
  if (field.oneof !== undefined) {
    for (const f of state.schema.fields) if (f.oneof === field.oneof && f.number !== field.number) state.values.delete(f.number);
  }
  state.values.set(field.number, value);
}

function fieldState(entry: State, field: FieldSchema): FieldStateValue {
  const v = entry.values.get(field.number) as FieldValue | undefined;
  if (v !== undefined && isState(v)) return { kind: 'message', state: v };
  return { kind: 'scalar', field, value: v ?? defaultValue(field) };
}

function defaultValue(field: FieldSchema, messages?: (name: string) => MessageSchema | undefined): FieldValue {
  switch (field.type) {
    case T.int64:
    case T.uint64:
    case T.sint64:
    case T.fixed64:
    case T.sfixed64:
      return '0';
    case T.bool:
      return false;
    case T.string:
      return '';
    case T.bytes:
      return Buffer.alloc(0);
    case T.message:
    case T.group: {
      // A map entry without its value: the empty message.
      const schema = messages?.(field.typeName);
      if (!schema) throw new WireError(`no schema for ${field.typeName}`);
      return newState(schema);
    }
    default:
      return 0;
  }
}

function isZero(field: FieldSchema, v: unknown): boolean {
  if (typeof v === 'number') return v === 0 && !Object.is(v, -0);
  if (IS_64_BIT.has(field.type)) return v === '0';
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string') return v === '';
  if (Buffer.isBuffer(v)) return v.length === 0;
  return false;
}

function big(v: FieldValue | undefined): bigint {
  return typeof v === 'string' ? BigInt(v) : 0n;
}

function num(v: FieldValue | undefined): number {
  return typeof v === 'number' ? v : 0;
}

// ---- wire format -----------------------------------------------------------

export class WireError extends Error {
  override name = 'WireError';
}

/** Which wire types a field accepts; anything else is kept as an unknown field (dropped), as Go does. */
function wireFits(field: FieldSchema, wire: number): boolean {
  switch (field.type) {
    case T.group:
      return wire === 3;
    case T.message:
    case T.string:
    case T.bytes:
      return wire === 2;
    case T.double:
    case T.fixed64:
    case T.sfixed64:
      return wire === 1 || (wire === 2 && field.repeated);
    case T.float:
    case T.fixed32:
    case T.sfixed32:
      return wire === 5 || (wire === 2 && field.repeated);
    default:
      return wire === 0 || (wire === 2 && field.repeated);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readScalar(type: number, r: WireReader): FieldValue {
  switch (type) {
    case T.double:
      return r.double();
    case T.float:
      return r.float();
    // 64-bit integers are kept as their decimal text, which is also their JSON.
    case T.int64: {
      const v = r.varint64();
      return typeof v === 'number' ? String(v) : BigInt.asIntN(64, v).toString();
    }
    case T.uint64:
      return String(r.varint64());
    case T.sint64: {
      const v = r.varint64();
      if (typeof v === 'number') return String(v % 2 === 1 ? -(v + 1) / 2 : v / 2);
      return ((v >> 1n) ^ -(v & 1n)).toString();
    }
    case T.fixed64:
      return r.fixed64().toString();
    case T.sfixed64:
      return BigInt.asIntN(64, r.fixed64()).toString();
    case T.int32:
    case T.enum:
      return r.varintLow32() | 0;
    case T.uint32:
      return r.varintLow32();
    case T.sint32: {
      const n = r.varintLow32();
      return (n >>> 1) ^ -(n & 1);
    }
    case T.fixed32:
      return r.fixed32();
    case T.sfixed32:
      return r.fixed32() | 0;
    case T.bool: {
      const start = r.pos;
      if (r.varintLow32() !== 0) return true;
      // A bool is true if any bit is set, also past the low 32.
      r.pos = start;
      const v = r.varint64();
      return v !== 0 && v !== 0n;
    }
    case T.string: {
      const b = r.lengthDelimited();
      try {
        return UTF8.decode(b);
      } catch {
        throw new WireError('a string field is not valid UTF-8');
      }
    }
    case T.bytes:
      return Buffer.from(r.lengthDelimited());
    default:
      throw new WireError(`unsupported field type ${type}`);
  }
}

/**
 * The wire reader of parsed_body, by hand rather than protobufjs' Reader (issue #20 asked): Reader
 * misreads what Go's proto.Unmarshal (opa-envoy-plugin) reads, which the differential test in
 * test/grpc-body.test.ts compares: its uint32 takes 10 bytes for any varint longer than 5 (an
 * int32 written in 7 bytes shifts every later field), a varint cut off near the end reads as a
 * value, and fixed64/int64 come back as Long objects rather than exact decimal text.
 */
class WireReader {
  pos: number;
  readonly #buf: Buffer;
  readonly #end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    if (end > buf.length) throw new WireError('a field runs past the end of the message');
    this.#buf = buf;
    this.pos = pos;
    this.#end = end;
  }

  #need(n: number): void {
    if (this.pos + n > this.#end) throw new WireError('a field runs past the end of the message');
  }

  /** An unsigned 64-bit varint; one of up to 7 bytes (49 bits) is read without BigInt arithmetic. */
  varint64(): number | bigint {
    const buf = this.#buf;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      this.#need(1);
      const b = buf[this.pos++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
    let result = BigInt(n);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      this.#need(1);
      const b = buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new WireError('a varint longer than 10 bytes');
  }

  /** The low 32 bits of a varint (int32, uint32, enum, bool, tags), unsigned; the whole varint is consumed. */
  varintLow32(): number {
    const buf = this.#buf;
    let n = 0;
    for (let i = 0; i < 10; i++) {
      this.#need(1);
      const b = buf[this.pos++]!;
      // Bits past 32 are dropped: byte 4 keeps its low 4 bits.
      if (i < 4) n += (b & 0x7f) * 2 ** (7 * i);
      else if (i === 4) n += (b & 0x0f) * 2 ** 28;
      if (b < 0x80) return n;
    }
    throw new WireError('a varint longer than 10 bytes');
  }

  varint32(): number {
    const start = this.pos;
    const low = this.varintLow32();
    if (this.pos - start > 5 || (this.pos - start === 5 && this.#buf[start + 4]! > 0x0f)) throw new WireError('a tag out of range');
    return low;
  }

  length(): number {
    const len = this.varint64();
    if (len > BigInt(this.#end - this.pos)) throw new WireError('a length-delimited field runs past the end of the message');
    return Number(len);
  }

  lengthDelimited(): Buffer {
    const len = this.length();
    const b = this.#buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  fixed32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): bigint {
    this.#need(8);
    const v = this.#buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.#need(4);
    const v = this.#buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.#need(8);
    const v = this.#buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips an unknown field (groups included, to the bounded depth). */
  skip(wire: number, number: number, depth: number): void {
    switch (wire) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.#need(8);
        this.pos += 8;
        return;
      case 2:
        this.pos += this.length();
        return;
      case 5:
        this.#need(4);
        this.pos += 4;
        return;
      case 3: {
        if (depth + 1 > MAX_DEPTH) throw new WireError(`the message nests deeper than ${MAX_DEPTH} levels`);
        for (;;) {
          if (this.pos >= this.#end) throw new WireError('a group without its end tag');
          const tag = this.varint32();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== number) throw new WireError("a group ends with another group's tag");
            return;
          }
          this.skip(tag & 7, tag >>> 3, depth + 1);
        }
      }
      default:
        throw new WireError(`wire type ${wire} is not valid`);
    }
  }
}

// ---- JSON forms ------------------------------------------------------------

/** protojson's float text: NaN and the infinities as strings; a float keeps the shortest digits that give the same 32-bit value. */
function floatJson(v: number, bits: 32 | 64): JsonValue {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (bits === 64 || v === 0 || (Number.isInteger(v) && Math.abs(v) <= 16777216)) return v;
  // The fewest significant digits (1..9) that still read back as this float32; more digits never stop doing so, hence a binary search.
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(v.toPrecision(mid))) === v) hi = mid;
    else lo = mid + 1;
  }
  return Number(v.toPrecision(lo));
}

const MIN_TIMESTAMP = -62135596800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP = 253402300799n; // 9999-12-31T23:59:59Z

function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (nanos % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

function timestampJson(seconds: bigint, nanos: number): string {
  if (seconds < MIN_TIMESTAMP || seconds > MAX_TIMESTAMP) throw new WireError(`google.protobuf.Timestamp: seconds out of range ${seconds}`);
  if (nanos < 0 || nanos >= 1e9) throw new WireError(`google.protobuf.Timestamp: nanos out of range ${nanos}`);
  const d = new Date(Number(seconds) * 1000);
  const iso = d.toISOString();
  // toISOString writes years past 9999 with a sign; the range check keeps them out.
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

const MAX_DURATION_SECONDS = 315576000000n;

function durationJson(seconds: bigint, nanos: number): string {
  if (seconds < -MAX_DURATION_SECONDS || seconds > MAX_DURATION_SECONDS) throw new WireError(`google.protobuf.Duration: seconds out of range ${seconds}`);
  if (nanos <= -1e9 || nanos >= 1e9) throw new WireError(`google.protobuf.Duration: nanos out of range ${nanos}`);
  if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) throw new WireError('google.protobuf.Duration: seconds and nanos have different signs');
  const negative = seconds < 0n || nanos < 0;
  const abs = seconds < 0n ? -seconds : seconds;
  return `${negative ? '-' : ''}${abs}${fraction(Math.abs(nanos))}s`;
}

/** protoc's JSON name: underscores dropped, the letter after one upper-cased. */
export function jsonCamelCase(name: string): string {
  let out = '';
  let afterUnderscore = false;
  for (const c of name) {
    if (c === '_') {
      afterUnderscore = true;
      continue;
    }
    out += afterUnderscore && c >= 'a' && c <= 'z' ? c.toUpperCase() : c;
    afterUnderscore = false;
  }
  return out;
}

// ---- descriptor plumbing ---------------------------------------------------

// Loaded with the first descriptor set (request.proto_descriptor): protobufjs' descriptor types cost about
// 1 MiB of resident memory in a server that has none (Bun 1.4, 2026-12-05).
let descriptorLib: typeof descriptorModule | undefined;
const descriptor = (): typeof descriptorModule =>
  (descriptorLib ??= createRequire(import.meta.url)('protobufjs/ext/descriptor/index.js') as typeof descriptorModule);

interface FieldProto {
  name?: string;
  number?: number;
  label?: number;
  type?: number;
  typeName?: string;
  jsonName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
}
interface EnumProto {
  name?: string;
  value?: { name?: string; number?: number }[];
}
interface MessageProto {
  name?: string;
  field?: FieldProto[];
  nestedType?: MessageProto[];
  enumType?: EnumProto[];
  options?: { mapEntry?: boolean };
}
interface FileProto {
  name?: string;
  package?: string;
  syntax?: string;
  messageType?: MessageProto[];
  enumType?: EnumProto[];
  service?: { name?: string; method?: { name?: string; inputType?: string; clientStreaming?: boolean }[] }[];
}

/** protobufjs puts proto2 defaults on the prototype: only own properties were on the wire. */
function own(o: object, key: string): boolean {
  return Object.hasOwn(o, key);
}

function scopeOf(field: FieldSchema): string {
  return SCOPES.get(field) ?? '';
}

/** A type reference, relative ones resolved C++-style from the innermost scope outwards. */
function resolveName(ref: string, scope: string, exists: (name: string) => boolean): string {
  if (ref.startsWith('.')) return ref;
  for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
    const candidate = `${s}.${ref}`;
    if (exists(candidate)) return candidate;
    if (s === '') return `.${ref}`;
  }
}
