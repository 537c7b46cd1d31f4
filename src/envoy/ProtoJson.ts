// Reads a CheckRequest written as protojson (what grpcurl sends: either
// lowerCamelCase or original snake_case names, Timestamps as RFC 3339, Structs
// as JSON, int64 as number or string, bytes as base64) into protobuf bytes.
import protobuf from 'protobufjs';
import { CheckRequestType } from './ProtoCodec.ts';
import { jsonToStruct } from './CheckResponse.ts';

export class ProtoJsonError extends Error {
  override name = 'ProtoJsonError';
}

export function encodeCheckRequestJson(json: unknown): Uint8Array {
  const obj = fromProtoJson(CheckRequestType, json, 'CheckRequest');
  return CheckRequestType.encode(CheckRequestType.fromObject(obj)).finish();
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fromProtoJson(type: protobuf.Type, json: unknown, where: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ProtoJsonError(`${where} must be an object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[camel(key)];
    if (!field) throw new ProtoJsonError(`${where}: unknown field ${key}`);
    field.resolve();
    const path = `${where}.${key}`;
    if (value === null) continue;
    if (field.map) {
      if (typeof value !== 'object' || Array.isArray(value)) throw new ProtoJsonError(`${path} must be an object`);
      const m: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) m[k] = convert(field, v, `${path}.${k}`);
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new ProtoJsonError(`${path} must be an array`);
      out[field.name] = value.map((v, i) => convert(field, v, `${path}[${i}]`));
    } else {
      out[field.name] = convert(field, value, path);
    }
  }
  return out;
}

function convert(field: protobuf.Field, value: unknown, path: string): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    switch (rt.fullName) {
      case '.google.protobuf.Timestamp':
        return parseTimestamp(value, path);
      case '.google.protobuf.Struct':
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtoJsonError(`${path} must be an object`);
        return jsonToStruct(value as Record<string, never>);
      case '.google.protobuf.BoolValue':
        return { value: Boolean(value) };
      case '.google.protobuf.Any':
        throw new ProtoJsonError(`${path}: google.protobuf.Any is not supported in request files`);
      default:
        return fromProtoJson(rt, value, path);
    }
  }
  if (rt instanceof protobuf.Enum) {
    if (typeof value === 'number') return value;
    const n = typeof value === 'string' ? rt.values[value] : undefined;
    if (n === undefined) throw new ProtoJsonError(`${path}: unknown enum value ${JSON.stringify(value)}`);
    return n;
  }
  switch (field.type) {
    case 'bytes':
      if (typeof value !== 'string') throw new ProtoJsonError(`${path} must be base64 text`);
      return Buffer.from(value, 'base64');
    case 'int64':
    case 'uint64':
    case 'int32':
    case 'uint32':
    case 'sint32':
    case 'sint64':
    case 'fixed32':
    case 'fixed64': {
      const n = typeof value === 'string' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new ProtoJsonError(`${path} must be an integer`);
      return n;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtoJsonError(`${path} must be a boolean`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new ProtoJsonError(`${path} must be a string`);
      return value;
    default:
      return value;
  }
}

function parseTimestamp(value: unknown, path: string): { seconds: number; nanos: number } {
  if (typeof value !== 'string') throw new ProtoJsonError(`${path} must be an RFC 3339 timestamp`);
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new ProtoJsonError(`${path} must be an RFC 3339 timestamp`);
  return { seconds: Math.floor(ms / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}
