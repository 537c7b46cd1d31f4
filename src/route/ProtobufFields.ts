// Reads a few top-level string fields of a unary gRPC request (the model name
// of a KServe v2 ModelInferRequest, for one) straight from raw_body, without
// decoding the message: tensors can be megabytes and are never looked at.
// Every other field is skipped by its length, so the cost is one step per
// top-level field, bounded by the body size. The whole message is walked, not
// just up to the first hit, because protobuf lets a later copy of a field
// override an earlier one; a field that appears twice is refused as ambiguous.
import { CheckError, Reason } from '../types/Reason.ts';

/** gRPC length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length. */
const FRAME_HEADER = 5;
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const MAX_FIELD_NUMBER = 536_870_911; // 2^29 - 1

// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading BOM is part of the name.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Checks the single gRPC frame of a unary call and returns where its message
 * ends (it starts at byte 5). `truncated`: Envoy said it sent only part of the
 * body, so a frame running past the end is body_truncated, not body_invalid.
 */
export function grpcMessageEnd(raw: Uint8Array, truncated: boolean): number {
  if (raw.length < FRAME_HEADER) {
    if (truncated) throw new CheckError(Reason.bodyTruncated, 'gRPC frame header is cut off (partial body)');
    invalid(`gRPC body of ${raw.length} bytes is shorter than the 5-byte frame header`);
  }
  const flag = raw[0] as number;
  if (flag === 1) invalid('gRPC message is compressed (grpc-encoding); its fields cannot be read: disable request compression for this service');
  if (flag !== 0) invalid(`gRPC frame has an invalid compressed flag ${flag}`);
  const length = (((raw[1] as number) << 24) >>> 0) + ((raw[2] as number) << 16) + ((raw[3] as number) << 8) + (raw[4] as number);
  const end = FRAME_HEADER + length;
  if (end > raw.length) {
    if (truncated)
      throw new CheckError(Reason.bodyTruncated, `gRPC message of ${length} bytes arrived only in part (raise with_request_body.max_request_bytes)`);
    invalid(`gRPC frame says ${length} bytes but only ${raw.length - FRAME_HEADER} follow`);
  }
  if (end < raw.length) invalid('gRPC body holds more than one message; a unary call has exactly one');
  return end;
}

/**
 * Reads the string fields numbered `fields` from the protobuf message in
 * buf[start, end) into `out` (same order; null when absent or empty, as
 * protobuf has no "present but empty" for proto3 strings).
 */
export function readStringFields(buf: Uint8Array, start: number, end: number, fields: readonly number[], out: (string | null)[]): void {
  for (let k = 0; k < fields.length; k++) out[k] = null;
  const seen = new Uint8Array(fields.length);
  const r = { pos: start };
  while (r.pos < end) {
    const tag = readVarint(buf, r, end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0 || field > MAX_FIELD_NUMBER) invalid(`protobuf field number ${field} is invalid`);
    const k = fields.indexOf(field);
    if (k >= 0) {
      if (wire !== WIRE_LEN) invalid(`protobuf field ${field} has wire type ${wire}, expected a string (2)`);
      if (seen[k]) invalid(`protobuf field ${field} appears twice: parsers keep the last one, so the value is ambiguous`);
      seen[k] = 1;
      const len = readLength(buf, r, end);
      out[k] = len === 0 ? null : utf8(buf, r.pos, r.pos + len, field);
      r.pos += len;
      continue;
    }
    switch (wire) {
      case WIRE_VARINT:
        readVarint(buf, r, end);
        break;
      case WIRE_I64:
        skip(r, 8, end);
        break;
      case WIRE_LEN:
        skip(r, readLength(buf, r, end), end);
        break;
      case WIRE_I32:
        skip(r, 4, end);
        break;
      default:
        // 3 and 4 are deprecated groups, which no inference proto uses; 6 and 7 do not exist.
        invalid(`protobuf field ${field} has unsupported wire type ${wire}`);
    }
  }
}

/**
 * A base-128 varint of at most 10 bytes; the value is exact up to 2^53, which bounds every length that matters.
 * Read by hand, not with protobufjs' Reader (issue #20 asked): Reader.uint32 takes 10 bytes for any
 * varint longer than 5, so a non-minimal 7-byte tag would move it 3 bytes past where the backend's
 * parser (Go, C++) reads on, and a varint cut off near the end of the buffer reads as a value
 * instead of an error. Here either would let the model name ztauthz routes on differ from the one
 * the server runs; test/route/body-fields.test.ts pins both readings. Speed was no reason: walking
 * 1M fields took 15-40 ms by hand and 20-35 ms with Reader.
 */
function readVarint(buf: Uint8Array, r: { pos: number }, end: number): number {
  let value = 0;
  let scale = 1;
  for (let n = 0; n < 10; n++) {
    if (r.pos >= end) invalid('protobuf varint runs past the end of the message');
    const b = buf[r.pos++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  invalid('protobuf varint is longer than 10 bytes');
}

function readLength(buf: Uint8Array, r: { pos: number }, end: number): number {
  const len = readVarint(buf, r, end);
  if (len > end - r.pos) invalid(`protobuf length ${len} runs past the end of the message`);
  return len;
}

function skip(r: { pos: number }, n: number, end: number): void {
  if (n > end - r.pos) invalid('protobuf field runs past the end of the message');
  r.pos += n;
}

function utf8(buf: Uint8Array, start: number, end: number, field: number): string {
  try {
    return UTF8.decode(buf.subarray(start, end));
  } catch {
    invalid(`protobuf field ${field} is not valid UTF-8`);
  }
}

function invalid(why: string): never {
  throw new CheckError(Reason.bodyInvalid, why);
}
