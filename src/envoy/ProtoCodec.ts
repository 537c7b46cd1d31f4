// Loads the project's proto/ definitions once and exposes the message types the
// Check path needs. The gRPC layer hands the pipeline raw bytes (see
// server/AuthorizationService.ts) so that a request which does not decode is a
// recorded denial with a reason instead of a transport error.
import { fileURLToPath } from 'node:url';
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { CheckError, Reason } from '../types/Reason.ts';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

const PROTO_FILES = [
  'envoy/service/auth/v3/external_auth.proto',
  'grpc/health/v1/health.proto',
];

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
export const HealthCheckRequestType = protoRoot.lookupType('grpc.health.v1.HealthCheckRequest');
export const HealthCheckResponseType = protoRoot.lookupType('grpc.health.v1.HealthCheckResponse');
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
  try {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
export const ENVOY_HTTP_STATUSES: ReadonlySet<number> = new Set(
  Object.values(StatusCodeEnum.values).filter((n) => n >= 100),
);
