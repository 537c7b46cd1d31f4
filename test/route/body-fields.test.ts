import { describe, expect, it } from 'vitest';
import { compileFields, readFields, type BodyInput } from '../../src/route/BodyFields.ts';
import { grpcMessageEnd, readStringFields } from '../../src/route/ProtobufFields.ts';
import type { RouteSpec } from '../../src/route/RouteSpec.ts';
import type { RouteMatch } from '../../src/types/Route.ts';
import { Reason } from '../../src/types/Reason.ts';
import { encode, frame, inferRequest } from './grpcMessages.ts';
import { checkErrorOf } from '../support/errors.ts';

const MAX = 1 << 20;
const EMPTY = Buffer.alloc(0);

function spec(extra: Partial<RouteSpec>): RouteSpec {
  return { name: 'r', methods: ['POST'], path: '/r', api: 'test', action: 'infer', ...extra };
}

function hit(extra: Partial<RouteMatch> = {}): RouteMatch {
  return { name: 'r', api: 'test', action: 'infer', model: null, version: null, params: {}, entrypoint: 'envoy/authz/allow', ...extra };
}

function jsonBody(parsed: unknown, extra: Partial<BodyInput> = {}): BodyInput {
  return {
    contentType: 'application/json',
    parsed: parsed as BodyInput['parsed'],
    truncated: false,
    text: JSON.stringify(parsed),
    raw: EMPTY,
    query: {},
    ...extra,
  };
}

function grpcBody(raw: Uint8Array, extra: Partial<BodyInput> = {}): BodyInput {
  return { contentType: 'application/grpc', parsed: null, truncated: false, text: '', raw, query: {}, ...extra };
}

const OPENAI = compileFields(spec({ model_from: { json_body: 'model' } }))!;
const INFER = compileFields(
  spec({ model_from: { grpc_body: 'ModelInferRequest.model_name' }, version_from: { grpc_body: 'ModelInferRequest.model_version' } }),
)!;

const failure = checkErrorOf;

describe('BodyFields: JSON body', () => {
  it('reads the model from the parsed body, into model and params', () => {
    expect(readFields(hit(), OPENAI, jsonBody({ model: 'llama-3-8b', messages: [] }), MAX)).toEqual(
      hit({ model: 'llama-3-8b', params: { model: 'llama-3-8b' } }),
    );
  });

  it('keeps path parameters and reads nested paths and params_from', () => {
    const plan = compileFields(spec({ version_from: { json_body: 'meta.version' }, params_from: { fs: { json_body: 'feature_service' } } }))!;
    const out = readFields(hit({ model: 'm', params: { model: 'm' } }), plan, jsonBody({ meta: { version: '2' }, feature_service: 'driver' }), MAX);
    expect(out).toEqual(hit({ model: 'm', version: '2', params: { model: 'm', version: '2', fs: 'driver' } }));
  });

  it('an absent, null or empty field is null, and the policy decides', () => {
    for (const body of [{}, { model: null }, { model: '' }, { other: 1 }]) {
      expect(readFields(hit(), OPENAI, jsonBody(body), MAX)).toEqual(hit());
    }
    const nested = compileFields(spec({ model_from: { json_body: 'a.b' } }))!;
    expect(readFields(hit(), nested, jsonBody({}), MAX).model).toBeNull();
  });

  it('does not read inherited properties', () => {
    const plan = compileFields(spec({ model_from: { json_body: 'constructor' } }))!;
    expect(readFields(hit(), plan, jsonBody({}), MAX).model).toBeNull();
  });

  it.each([
    ['a number', { model: 7 }, /must be a string, got number/],
    ['an array', { model: ['a', 'b'] }, /must be a string, got array/],
    ['an object', { model: { name: 'a' } }, /must be a string, got object/],
    ['a top-level array', [{ model: 'a' }], /not a JSON object/],
    ['a top-level string', 'model', /not a JSON object/],
  ])('a model that is %s is body_invalid', (_what, parsed, message) => {
    const err = failure(() => readFields(hit(), OPENAI, jsonBody(parsed), MAX));
    expect(err.reason).toBe(Reason.bodyInvalid);
    expect(err.message).toMatch(message);
  });

  it('a nested path through a non-object is body_invalid', () => {
    const plan = compileFields(spec({ model_from: { json_body: 'a.b' } }))!;
    expect(failure(() => readFields(hit(), plan, jsonBody({ a: 'x' }), MAX)).message).toMatch(/not inside a JSON object/);
  });

  it('a body that is not JSON where the model is expected is body_invalid, naming the content-type', () => {
    const err = failure(() =>
      readFields(hit(), OPENAI, { contentType: 'text/plain', parsed: null, truncated: false, text: '{"model":"x"}', raw: EMPTY, query: {} }, MAX),
    );
    expect(err.reason).toBe(Reason.bodyInvalid);
    expect(err.message).toMatch(/route "r" reads the JSON body, but its content-type is "text\/plain"/);
    // A form body parses into {model: ["x"]}: still not JSON.
    const form = failure(() =>
      readFields(
        hit(),
        OPENAI,
        { contentType: 'application/x-www-form-urlencoded', parsed: { model: ['x'] }, truncated: false, text: 'model=x', raw: EMPTY, query: {} },
        MAX,
      ),
    );
    expect(form.reason).toBe(Reason.bodyInvalid);
  });

  it('no body at all is body_missing, pointing at with_request_body', () => {
    const err = failure(() =>
      readFields(hit(), OPENAI, { contentType: 'application/json', parsed: null, truncated: false, text: '', raw: EMPTY, query: {} }, MAX),
    );
    expect(err.reason).toBe('body_missing');
    expect(err.message).toMatch(/with_request_body/);
  });

  it('body parsing switched off is body_missing', () => {
    const err = failure(() => readFields(hit(), OPENAI, jsonBody({ model: 'x' }, { parsed: undefined }), MAX));
    expect(err.reason).toBe('body_missing');
    expect(err.message).toMatch(/request.parse_body is off/);
  });

  it('a partial body is body_truncated', () => {
    const err = failure(() => readFields(hit(), OPENAI, jsonBody(null, { text: '{"model": "x", "messages": [', truncated: true }), MAX));
    expect(err.reason).toBe(Reason.bodyTruncated);
  });

  it('a body over the limit is request_too_large', () => {
    const big = { model: 'x', pad: 'y'.repeat(2000) };
    expect(failure(() => readFields(hit(), OPENAI, jsonBody(big), 1000)).reason).toBe(Reason.requestTooLarge);
    expect(failure(() => readFields(hit(), INFER, grpcBody(frame(inferRequest('m', '', 400))), 1000)).reason).toBe(Reason.requestTooLarge);
    expect(readFields(hit(), OPENAI, jsonBody(big), 4000).model).toBe('x');
  });
});

describe('BodyFields: query parameters', () => {
  const plan = compileFields(spec({ model_from: { query: 'name' }, version_from: { query: 'version' } }))!;
  const body = (query: Record<string, string[]>): BodyInput => ({ contentType: undefined, parsed: null, truncated: false, text: '', raw: EMPTY, query });

  it('reads single values; no body is needed', () => {
    expect(readFields(hit(), plan, body({ name: ['fraud'], version: ['3'] }), MAX)).toEqual(
      hit({ model: 'fraud', version: '3', params: { model: 'fraud', version: '3' } }),
    );
    expect(readFields(hit(), plan, body({}), MAX)).toEqual(hit());
  });

  it('a parameter given twice is refused as ambiguous', () => {
    const err = failure(() => readFields(hit(), plan, body({ name: ['public', 'secret'] }), MAX));
    expect(err.reason).toBe('path_rejected');
    expect(err.message).toMatch(/"name" is given 2 times/);
  });
});

describe('BodyFields: KServe v2 gRPC raw_body', () => {
  it('reads model_name and model_version from a ModelInferRequest with tensors around them', () => {
    expect(readFields(hit(), INFER, grpcBody(frame(inferRequest('fraud-detector', '3'))), MAX)).toEqual(
      hit({ model: 'fraud-detector', version: '3', params: { model: 'fraud-detector', version: '3' } }),
    );
    expect(readFields(hit(), INFER, grpcBody(frame(inferRequest('fraud-detector'))), MAX)).toMatchObject({ model: 'fraud-detector', version: null });
  });

  it('reads field 2 of Triton RepositoryModelLoadRequest, not field 1', () => {
    const plan = compileFields(spec({ model_from: { grpc_body: 'RepositoryModelLoadRequest.model_name' } }))!;
    const raw = frame(encode('RepositoryModelLoadRequest', { repository_name: 'repo', model_name: 'resnet' }));
    expect(readFields(hit(), plan, grpcBody(raw), MAX).model).toBe('resnet');
  });

  it('an empty message has no model', () => {
    expect(readFields(hit(), INFER, grpcBody(frame(new Uint8Array(0))), MAX)).toEqual(hit());
  });

  it('a compressed frame is body_invalid with advice', () => {
    const err = failure(() => readFields(hit(), INFER, grpcBody(frame(inferRequest('m'), 1)), MAX));
    expect(err.reason).toBe(Reason.bodyInvalid);
    expect(err.message).toMatch(/compressed/);
    expect(failure(() => readFields(hit(), INFER, grpcBody(frame(inferRequest('m'), 2)), MAX)).message).toMatch(/invalid compressed flag 2/);
  });

  it('a frame whose length runs past the body is body_invalid, or body_truncated when Envoy sent part of it', () => {
    const raw = frame(inferRequest('m'));
    const cut = raw.subarray(0, raw.length - 10);
    expect(failure(() => readFields(hit(), INFER, grpcBody(cut), MAX))).toMatchObject({
      reason: Reason.bodyInvalid,
      message: expect.stringMatching(/only \d+ follow/),
    });
    expect(failure(() => readFields(hit(), INFER, grpcBody(cut, { truncated: true }), MAX)).reason).toBe(Reason.bodyTruncated);
    expect(failure(() => readFields(hit(), INFER, grpcBody(raw.subarray(0, 3)), MAX)).message).toMatch(/shorter than the 5-byte frame header/);
  });

  it('trailing bytes after the frame (a second message) are body_invalid', () => {
    const raw = Buffer.concat([frame(inferRequest('public')), frame(inferRequest('secret'))]);
    expect(failure(() => readFields(hit(), INFER, grpcBody(raw), MAX)).message).toMatch(/more than one message/);
  });

  it('a body sent as text instead of bytes is body_invalid (needs pack_as_bytes); none at all is body_missing', () => {
    expect(failure(() => readFields(hit(), INFER, grpcBody(EMPTY, { text: '\0\0\0\0\x05\n\x03abc' }), MAX)).message).toMatch(/pack_as_bytes/);
    expect(failure(() => readFields(hit(), INFER, grpcBody(EMPTY), MAX)).reason).toBe('body_missing');
  });
});

describe('ProtobufFields: the bounded reader', () => {
  const read = (bytes: number[], fields = [1, 2]) => {
    const buf = Uint8Array.from(bytes);
    const out: (string | null)[] = [];
    readStringFields(buf, 0, buf.length, fields, out);
    return out;
  };
  const str = (field: number, s: string) => [(field << 3) | 2, s.length, ...Buffer.from(s)];
  const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(Math.floor(n / 128))]);

  it('skips varint, fixed64, fixed32 and length-delimited fields', () => {
    const bytes = [
      (9 << 3) | 0,
      0x96,
      0x01, // varint 150
      (10 << 3) | 1,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // fixed64
      (11 << 3) | 5,
      1,
      2,
      3,
      4, // fixed32
      ...str(12, 'skip me'),
      ...str(2, 'v7'),
      ...str(1, 'model-a'),
      ...varint((3000 << 3) | 0),
      0x00, // a large field number (a 3-byte tag), varint value 0
      ...varint(536_870_911 * 8 + 2),
      1,
      0x61, // the largest field number, length-delimited
    ];
    expect(read(bytes)).toEqual(['model-a', 'v7']);
  });

  // Why these varints are read by hand and not with protobufjs' Reader: its uint32 takes 10 bytes once
  // past 5 (here the tag would end at byte 10, not 7), and a varint cut off near the end reads as a value.
  it('reads non-minimal varints as conforming parsers do: a 7-byte tag, a 10-byte value', () => {
    const bytes = [0x8a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 2, 0x61, 0x62, (9 << 3) | 0, ...Array(9).fill(0xff), 0x01, ...str(2, 'cd')];
    expect(read(bytes)).toEqual(['ab', 'cd']);
  });

  it.each([
    ['a field given twice (parsers keep the last)', [...str(1, 'public'), ...str(1, 'secret')], /appears twice/],
    ['the wanted field with a non-string wire type', [(1 << 3) | 0, 5], /wire type 0, expected a string/],
    ['a varint that never ends', [(9 << 3) | 0, 0xff, 0xff], /varint runs past the end/],
    ['a varint longer than 10 bytes', [(9 << 3) | 0, ...Array(11).fill(0xff), 0x01], /longer than 10 bytes/],
    ['a length past the end', [(1 << 3) | 2, 50, 0x61], /length 50 runs past the end/],
    ['a fixed64 past the end', [(9 << 3) | 1, 1, 2], /runs past the end/],
    ['a group (wire type 3)', [(9 << 3) | 3], /unsupported wire type 3/],
    ['wire type 7', [(9 << 3) | 7], /unsupported wire type 7/],
    ['field number 0', [0x02, 0x00], /field number 0 is invalid/],
    ['invalid UTF-8', [(1 << 3) | 2, 2, 0xc3, 0x28], /not valid UTF-8/],
  ])('refuses %s as body_invalid', (_what, bytes, message) => {
    const err = failure(() => read(bytes as number[]));
    expect(err.reason).toBe(Reason.bodyInvalid);
    expect(err.message).toMatch(message);
  });

  it('grpcMessageEnd accepts exactly one frame', () => {
    expect(grpcMessageEnd(frame(Uint8Array.from([1, 2, 3])), false)).toBe(8);
    expect(grpcMessageEnd(frame(new Uint8Array(0)), false)).toBe(5);
  });
});
