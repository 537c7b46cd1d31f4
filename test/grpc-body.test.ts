// request.proto_descriptor: gRPC request bodies (raw_body, Envoy's
// pack_as_bytes) decoded into parsed_body as opa-envoy-plugin's
// proto-descriptor does. The descriptor set is protoc's
// (test/fixtures/grpc-body/inference.pb, from inference.proto); messages are
// encoded with protobufjs from the same .proto. The same CheckRequests go to
// ztauthz and to the real opa-envoy-plugin (.tools/bin/opa-envoy-plugin,
// scripts/peers.sh) with one policy that echoes parsed_body, and the two must
// agree. Last, a gRPC call through a real Envoy (pack_as_bytes) is decided on
// a field of its decoded message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import * as grpc from '@grpc/grpc-js';
import { ProtoDescriptorSet, ProtoDescriptorError, MAX_DEPTH, MAX_MESSAGES } from '../src/envoy/GrpcBody.ts';
import { parseBody } from '../src/envoy/RequestBody.ts';
import { checkErrorOf } from './support/errors.ts';
import { ROOT, spawnServe, startInProcess, type ServeProcess } from './support/servers.ts';
import { startEchoUpstream, type EchoUpstream } from './support/upstream.ts';
import { CheckClient, checkRequest, headerValue, type RequestSpec } from './support/checkClient.ts';
import { freePorts, startEnvoy, type RunningEnvoy } from './support/envoy.ts';
import type { RunningServer } from '../src/server/Server.ts';

const FIXTURES = join(ROOT, 'test/fixtures/grpc-body');
const DESCRIPTOR_SET = join(FIXTURES, 'inference.pb');
const OPA_ENVOY_PLUGIN = join(ROOT, '.tools/bin/opa-envoy-plugin');
const SERVICE = 'inference.GRPCInferenceService';

const root = protobuf.loadSync([join(FIXTURES, 'inference.proto'), join(FIXTURES, 'legacy.proto')]);
const Old = root.lookupType('legacy.Old');
const ModelInferRequest = root.lookupType('inference.ModelInferRequest');
const Kitchen = root.lookupType('inference.Kitchen');
const InferParameter = root.lookupType('inference.InferParameter');
const Duration = root.lookupType('google.protobuf.Duration');
const set = ProtoDescriptorSet.fromFile(DESCRIPTOR_SET);

function hasProtoc(): boolean {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function encode(type: protobuf.Type, object: Record<string, unknown>): Buffer {
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}

/** gRPC length-prefixed framing around one message. */
function frame(message: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const GRPC_HEADERS = { 'content-type': 'application/grpc' };
const parse = (
  method: string,
  rawBody: Buffer,
  headers: Record<string, string> = GRPC_HEADERS,
  segments = [SERVICE, method],
  descriptors: ProtoDescriptorSet | undefined = set,
) => parseBody(headers, '', rawBody, undefined, { descriptors, segments });

const INFER = {
  modelName: 'fraud-detector',
  modelVersion: '3',
  id: 'req-1',
  parameters: { priority: { int64Param: 7 }, sequence_start: { boolParam: true } },
  inputs: [
    { name: 'input-0', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: { uint64Param: '12' } }, contents: { fp32Contents: [0.1, 1.5, -2] } },
    { name: 'input-1', datatype: 'BYTES', shape: [1], contents: { bytesContents: [Buffer.from('hello')] } },
  ],
  outputs: [{ name: 'output-0' }],
  rawInputContents: [Buffer.from([0, 1, 2, 255])],
};

const INFER_JSON = {
  modelName: 'fraud-detector',
  modelVersion: '3',
  id: 'req-1',
  parameters: { priority: { int64Param: '7' }, sequence_start: { boolParam: true } },
  inputs: [
    {
      name: 'input-0',
      datatype: 'FP32',
      shape: ['1', '3'],
      parameters: { binary_data_size: { uint64Param: '12' } },
      contents: { fp32Contents: [0.1, 1.5, -2] },
    },
    { name: 'input-1', datatype: 'BYTES', shape: ['1'], contents: { bytesContents: ['aGVsbG8='] } },
  ],
  outputs: [{ name: 'output-0' }],
  rawInputContents: ['AAEC/w=='],
};

/** One of every kind of field, with the values protojson treats specially. */
const KITCHEN = {
  i32: -5,
  s32: -6,
  u32: 4294967295,
  f32: 8,
  sf32: -9,
  i64: '-9007199254740993',
  s64: '-3',
  u64: '18446744073709551615',
  f64: '1',
  sf64: '-1',
  fl: 0.1,
  db: 1e21,
  flag: true,
  text: 'h\u00e9llo \u{1F600}',
  data: Buffer.from([0, 255]),
  color: 2,
  colors: [1, 2],
  maybe: 0,
  renamedField: 'r',
  child: { i32: 1, child: {} },
  byId: { '5': 'five', '-1': 'minus one' },
  byFlag: { true: { text: 'y' } },
  at: { seconds: 1700000000, nanos: 5000000 },
  took: { seconds: -1, nanos: -500000000 },
  meta: {
    fields: {
      a: { numberValue: 1.5 },
      b: { listValue: { values: [{ stringValue: 's' }, { nullValue: 0 }, { boolValue: false }] } },
      c: { structValue: { fields: {} } },
    },
  },
  anyValue: { boolValue: false },
  list: { values: [{ numberValue: 2 }] },
  wrappedI64: { value: 0 },
  wrappedText: {},
  packed: { type_url: 'type.googleapis.com/google.protobuf.Duration', value: encode(Duration, { seconds: 3, nanos: 1000 }) },
  mask: { paths: ['model_name', 'inputs.raw_input_contents'] },
  nothing: {},
  choiceNumber: 0,
};

const KITCHEN_JSON = {
  i32: -5,
  s32: -6,
  u32: 4294967295,
  f32: 8,
  sf32: -9,
  i64: '-9007199254740993',
  s64: '-3',
  u64: '18446744073709551615',
  f64: '1',
  sf64: '-1',
  fl: 0.1,
  db: 1e21,
  flag: true,
  text: 'h\u00e9llo \u{1F600}',
  data: 'AP8=',
  color: 'GREEN',
  colors: ['RED', 'GREEN'],
  maybe: 0,
  customName: 'r',
  child: { i32: 1, child: {} },
  byId: { '5': 'five', '-1': 'minus one' },
  byFlag: { true: { text: 'y' } },
  at: '2023-11-14T22:13:20.005Z',
  took: '-1.500s',
  meta: { a: 1.5, b: ['s', null, false], c: {} },
  anyValue: false,
  list: [2],
  wrappedI64: '0',
  wrappedText: '',
  packed: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3.000001s' },
  mask: 'modelName,inputs.rawInputContents',
  nothing: {},
  choiceNumber: 0,
};

describe('gRPC bodies into parsed_body', () => {
  it('decodes a KServe ModelInferRequest into protojson: JSON names, int64 as strings, bytes as base64, maps, float32 digits', () => {
    expect(parse('ModelInfer', frame(encode(ModelInferRequest, INFER)))).toEqual({ parsed: INFER_JSON, truncated: false });
  });

  it('every field kind and the well-known types as protojson writes them', () => {
    expect(parse('Everything', frame(encode(Kitchen, KITCHEN))).parsed).toEqual(KITCHEN_JSON);
  });

  it('leaves out proto3 fields at their zero value, keeps optional and oneof ones', () => {
    const parsed = parse('Everything', frame(encode(Kitchen, { i32: 0, text: '', flag: false, color: 0, maybe: 0, choiceText: '' }))).parsed;
    expect(parsed).toEqual({ maybe: 0, choiceText: '' });
  });

  it('the last of repeated singular fields wins, repeated messages merge, a later oneof member replaces an earlier one', () => {
    const body = Buffer.concat([
      encode(Kitchen, { i32: 1, child: { i32: 1 }, choiceText: 'a' }),
      encode(Kitchen, { i32: 2, child: { text: 'x' }, choiceNumber: 9 }),
    ]);
    expect(parse('Everything', frame(body)).parsed).toEqual({ i32: 2, child: { i32: 1, text: 'x' }, choiceNumber: 9 });
  });

  it('an Any of a type outside google.protobuf does not resolve (opa-envoy-plugin resolves Any only among the types compiled into it)', () => {
    const e = checkErrorOf(() =>
      parse(
        'Everything',
        frame(encode(Kitchen, { packed: { type_url: 'type.googleapis.com/inference.InferParameter', value: encode(InferParameter, { boolParam: true }) } })),
      ),
    );
    expect(e.reason).toBe('body_invalid');
    expect(e.message).toMatch(/google\.protobuf\.Any: unable to resolve "type\.googleapis\.com\/inference\.InferParameter"/);
  });

  it("proto2: every set field is present (zero or not), a group is an object, an enum value not in the enum is a number (open, as Go's dynamicpb)", () => {
    const body = Buffer.concat([
      encode(Old, { name: 'n', count: 0, kind: 2, block: { label: 'x' }, numbers: [1, 2], kinds: [1], emptyText: '' }),
      Buffer.from([0x10, 0x09, 0x38, 0x09]),
    ]);
    expect(parse('Call', frame(body), GRPC_HEADERS, ['legacy.Legacy', 'Call']).parsed).toEqual({
      count: 0,
      kind: 9,
      block: { label: 'x' },
      name: 'n',
      numbers: [1, 2],
      kinds: ['A', 9],
      emptyText: '',
    });
  });

  it('unknown fields are dropped', () => {
    // Field 99, a varint, is not in Kitchen.
    const body = Buffer.concat([encode(Kitchen, { i32: 3 }), Buffer.from([0x98, 0x06, 0x01])]);
    expect(parse('Everything', frame(body)).parsed).toEqual({ i32: 3 });
  });

  it('reads only the first message of the body, as opa-envoy-plugin', () => {
    const body = Buffer.concat([frame(encode(ModelInferRequest, { modelName: 'first' })), frame(encode(ModelInferRequest, { modelName: 'second' }))]);
    expect(parse('ModelInfer', body).parsed).toEqual({ modelName: 'first' });
  });

  describe('null, truncated or refused, as opa-envoy-plugin decides', () => {
    const body = frame(encode(ModelInferRequest, { modelName: 'm' }));
    it("with compat: opa-envoy, refuses with opa-envoy-plugin's 400 texts", () => {
      const text = (raw: Buffer, segments: string[]) => {
        try {
          parseBody(GRPC_HEADERS, '', raw, undefined, { descriptors: set, segments }, true);
        } catch (err) {
          return (err as { response?: { body?: string } }).response?.body;
        }
        return 'no error';
      };
      expect(text(Buffer.from([0, 0, 0]), [SERVICE, 'ModelInfer'])).toBe('request_parse_error: less than 5 bytes');
      expect(text(body, [SERVICE, 'ModelInfer', 'x'])).toBe('request_parse_error: invalid parsed path');
      expect(text(frame(Buffer.from([0x0a, 0x05, 0x61])), [SERVICE, 'ModelInfer'])).toBe('request_parse_error: proto: cannot parse invalid wire-format data');
    });
    it('null without a descriptor set, without raw_body, compressed, for an unknown method or service, or a client-streaming method', () => {
      expect(parseBody(GRPC_HEADERS, '', body, undefined, { descriptors: undefined, segments: [SERVICE, 'ModelInfer'] })).toEqual({
        parsed: null,
        truncated: false,
      });
      expect(parseBody(GRPC_HEADERS, 'text body', Buffer.alloc(0), undefined, { descriptors: set, segments: [SERVICE, 'ModelInfer'] })).toEqual({
        parsed: null,
        truncated: false,
      });
      expect(parse('ModelInfer', frame(encode(ModelInferRequest, { modelName: 'm' }), true))).toEqual({ parsed: null, truncated: false });
      expect(parse('NoSuchMethod', body)).toEqual({ parsed: null, truncated: false });
      expect(parse('ModelInfer', body, GRPC_HEADERS, ['other.Service', 'ModelInfer'])).toEqual({ parsed: null, truncated: false });
      expect(parse('ModelStreamInfer', body)).toEqual({ parsed: null, truncated: false });
      // application/grpc+proto is gRPC too.
      expect(parse('ModelInfer', body, { 'content-type': 'application/grpc+proto' }).parsed).toEqual({ modelName: 'm' });
    });
    it('truncated when the frame says more than arrived, or Envoy says the body is partial', () => {
      expect(parse('ModelInfer', body.subarray(0, body.length - 1))).toEqual({ parsed: null, truncated: true });
      expect(parse('ModelInfer', body, { ...GRPC_HEADERS, 'x-envoy-auth-partial-body': 'true' })).toEqual({ parsed: null, truncated: true });
    });
    it('body_invalid for a path that is not /Service/Method, a body under 5 bytes, or bytes that do not decode', () => {
      expect(checkErrorOf(() => parse('ModelInfer', body, GRPC_HEADERS, ['v2', 'models', 'm'])).reason).toBe('body_invalid');
      expect(checkErrorOf(() => parse('ModelInfer', Buffer.from([0, 0, 0]))).message).toMatch(/shorter than its 5-byte frame header/);
      // Field 1 (a string) claims 100 bytes; 1 follows.
      const e = checkErrorOf(() => parse('ModelInfer', frame(Buffer.from([0x0a, 0x64, 0x41]))));
      expect(e.reason).toBe('body_invalid');
      expect(e.message).toMatch(/does not decode as inference\.GRPCInferenceService\/ModelInfer's input: a length-delimited field runs past the end/);
      expect(checkErrorOf(() => parse('ModelInfer', frame(Buffer.from([0x0a, 0x02, 0xff, 0xfe])))).message).toMatch(/not valid UTF-8/);
    });
    it(`nesting is bounded: ${MAX_DEPTH} levels decode, one more is body_invalid`, () => {
      const nested = (levels: number): Record<string, unknown> => (levels === 1 ? { i32: 1 } : { child: nested(levels - 1) });
      expect(parse('Everything', frame(encode(Kitchen, nested(MAX_DEPTH)))).parsed).toBeTypeOf('object');
      expect(checkErrorOf(() => parse('Everything', frame(encode(Kitchen, nested(MAX_DEPTH + 1))))).message).toMatch(/nests deeper than 100 levels/);
      // Unknown groups nest too: 200 start-group tags of field 99 are refused, not recursed into.
      const bomb = Buffer.concat(Array.from({ length: 200 }, () => Buffer.from([0x9b, 0x06])));
      expect(checkErrorOf(() => parse('Everything', frame(bomb))).message).toMatch(/nests deeper than 100 levels/);
    });
  });

  it(`the number of messages is bounded: ${MAX_MESSAGES} decode, one more is body_invalid`, () => {
    // Field 5 (inputs) as an empty message is 2 bytes; the request itself is one message.
    const empties = (n: number) => Buffer.concat(Array.from({ length: n }, () => Buffer.from([0x2a, 0x00])));
    expect((parse('ModelInfer', frame(empties(MAX_MESSAGES - 1))).parsed as { inputs: unknown[] }).inputs).toHaveLength(MAX_MESSAGES - 1);
    expect(checkErrorOf(() => parse('ModelInfer', frame(empties(MAX_MESSAGES)))).message).toMatch(/holds more than 100000 messages/);
  });

  describe('the descriptor set file', () => {
    it('a missing file or one that is not a FileDescriptorSet is refused with its path', () => {
      expect(() => ProtoDescriptorSet.fromFile('/nonexistent/api.pb')).toThrow(ProtoDescriptorError);
      const dir = mkdtempSync(join(tmpdir(), 'ztauthz-pb-'));
      try {
        writeFileSync(join(dir, 'bad.pb'), 'not a descriptor set at all');
        expect(() => ProtoDescriptorSet.fromFile(join(dir, 'bad.pb'))).toThrow(/request\.proto_descriptor: .*bad\.pb is not a usable FileDescriptorSet/);
        if (hasProtoc()) {
          // Without --include_imports the well-known types are missing: named at load, not at the first request.
          execFileSync('protoc', ['--descriptor_set_out', join(dir, 'no-imports.pb'), '-I', FIXTURES, 'inference.proto']);
          expect(() => ProtoDescriptorSet.fromFile(join(dir, 'no-imports.pb'))).toThrow(/refers to \.?google\.protobuf\.\w+, which the set does not define/);
          // The committed fixture is what protoc makes of inference.proto.
          execFileSync('protoc', ['--include_imports', '--descriptor_set_out', join(dir, 'fresh.pb'), '-I', FIXTURES, 'inference.proto']);
          expect(new ProtoDescriptorSet(readFileSync(join(dir, 'fresh.pb'))).decode(set.inputOf(SERVICE, 'Everything')!, encode(Kitchen, KITCHEN))).toEqual(
            KITCHEN_JSON,
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    it('serve refuses to start with a bad request.proto_descriptor', async () => {
      await expect(startInProcess({ 'request-proto-descriptor': '/nonexistent/api.pb' })).rejects.toThrow(
        /request\.proto_descriptor: cannot read \/nonexistent\/api\.pb/,
      );
    });
  });
});

// ---- against opa-envoy-plugin --------------------------------------------

const ECHO_POLICY = `package envoy.authz

result := {
  "allowed": true,
  "headers": {
    "x-parsed-body": json.marshal(object.get(input, "parsed_body", "absent")),
    "x-truncated-body": json.marshal(object.get(input, "truncated_body", "absent")),
  },
}
`;

interface Echo {
  readonly parsedBody: unknown;
  readonly truncatedBody: unknown;
}

async function echo(client: CheckClient, spec: RequestSpec): Promise<Echo | { error: string }> {
  try {
    const res = await client.check(checkRequest(spec));
    if ((res.status?.code ?? 0) !== 0) return { error: `denied ${res.status?.code}`, ...(process.env['DEBUG_BODY'] ? { body: res.deniedResponse?.body } : {}) };
    // One known difference, normalised away here: opa-envoy-plugin keeps the sign of a float -0 (present, as protojson writes it),
    // ztauthz's JSON input to the policy writes it as 0 (the key is there in both, and -0 == 0 in Rego).
    const body = JSON.parse(headerValue(res, 'x-parsed-body')!, (_k, v: unknown) => (Object.is(v, -0) ? 0 : v));
    return { parsedBody: body, truncatedBody: JSON.parse(headerValue(res, 'x-truncated-body')!) };
  } catch (err) {
    return { error: `grpc ${(err as grpc.ServiceError).code}` };
  }
}

describe.skipIf(!existsSync(OPA_ENVOY_PLUGIN))('the same CheckRequests through opa-envoy-plugin v1.19.1 and ztauthz', () => {
  let dir: string;
  let oep: ChildProcess;
  let oepClient: CheckClient;
  let server: RunningServer;
  let client: CheckClient;
  let oepOutput = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ztauthz-grpc-body-'));
    writeFileSync(join(dir, 'policy.rego'), ECHO_POLICY);
    const [port, http, diag] = await freePorts(3);
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'plugins:',
        '  envoy_ext_authz_grpc:',
        `    addr: 127.0.0.1:${port}`,
        '    path: envoy/authz/result',
        `    proto-descriptor: ${DESCRIPTOR_SET}`,
        'decision_logs:',
        '  console: false',
        '',
      ].join('\n'),
    );
    oep = spawn(
      OPA_ENVOY_PLUGIN,
      [
        'run',
        '--server',
        '--addr',
        `127.0.0.1:${http}`,
        '--diagnostic-addr',
        `127.0.0.1:${diag}`,
        '--config-file',
        join(dir, 'config.yaml'),
        join(dir, 'policy.rego'),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    oep.stdout!.on('data', (d: Buffer) => (oepOutput += d.toString()));
    oep.stderr!.on('data', (d: Buffer) => (oepOutput += d.toString()));
    const policyDir = join(dir, 'ztauthz-policy');
    mkdirSync(policyDir);
    writeFileSync(join(policyDir, 'policy.rego'), ECHO_POLICY);
    server = await startInProcess({
      policy: policyDir,
      'decision-path': 'envoy/authz/result',
      'request-proto-descriptor': DESCRIPTOR_SET,
      'request-truncated-body': 'policy',
      // No AI routes: parsed_body is compared for every path, the catalogue's gRPC routes would read the body first.
      'routes-mode': 'replace',
      'cache-enabled': 'false',
    });
    client = new CheckClient(server.grpcPort);
    oepClient = new CheckClient(port!);
    for (let i = 0; ; i++) {
      const r = await echo(oepClient, { path: '/' });
      if (!('error' in r)) break;
      if (i > 100) throw new Error(`opa-envoy-plugin did not answer: ${oepOutput.slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }, 60_000);

  afterAll(async () => {
    client?.close();
    oepClient?.close();
    await server?.stop(1000);
    oep?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const grpcRequest = (method: string, rawBody: Buffer, headers: Record<string, string> = {}): RequestSpec => ({
    method: 'POST',
    path: `/${SERVICE}/${method}`,
    headers: { 'content-type': 'application/grpc', ...headers },
    rawBody,
  });

  const cases: Array<[string, RequestSpec]> = [
    ['a KServe ModelInferRequest', grpcRequest('ModelInfer', frame(encode(ModelInferRequest, INFER)))],
    ['every field kind and well-known type', grpcRequest('Everything', frame(encode(Kitchen, KITCHEN)))],
    ['zero values and presence', grpcRequest('Everything', frame(encode(Kitchen, { i32: 0, text: '', maybe: 0, choiceText: '' })))],
    ['a float32 that is not a short decimal', grpcRequest('Everything', frame(encode(Kitchen, { fl: 3.4028234663852886e38, db: -0.000001 })))],
    [
      '64-bit and 32-bit extremes',
      grpcRequest(
        'Everything',
        frame(
          encode(Kitchen, {
            i32: -2147483648,
            s32: 2147483647,
            i64: '9223372036854775807',
            s64: '-9223372036854775808',
            u64: '281474976710656',
            f64: '18446744073709551615',
            sf64: '-9223372036854775808',
            colors: [0, 7],
          }),
        ),
      ),
    ],
    [
      'proto2 with a group and enum values outside the enum',
      {
        ...grpcRequest(
          'Call',
          frame(
            Buffer.concat([
              encode(Old, { name: 'n', count: 0, kind: 2, block: { label: 'x' }, numbers: [1, 2], kinds: [1], emptyText: '' }),
              Buffer.from([0x10, 0x09, 0x38, 0x09]),
            ]),
          ),
        ),
        path: '/legacy.Legacy/Call',
      },
    ],
    [
      'odd numbers and times',
      grpcRequest(
        'Everything',
        frame(
          encode(Kitchen, {
            fl: 1e-45,
            db: NaN,
            wrappedI64: { value: -1 },
            at: { seconds: -62135596800 },
            took: { nanos: -500000000 },
            anyValue: { numberValue: -0.0000001 },
            list: { values: [{ structValue: { fields: { k: { listValue: { values: [] } } } } }] },
          }),
        ),
      ),
    ],
    ['negative zero and infinities', grpcRequest('Everything', frame(encode(Kitchen, { fl: -0, db: -Infinity, meta: { fields: {} } })))],
    [
      'a map entry without its value, and one without its key',
      grpcRequest('Everything', frame(Buffer.from([0xb2, 0x01, 0x02, 0x08, 0x07, 0xaa, 0x01, 0x02, 0x12, 0x00]))),
    ],
    // A conforming reader takes a varint of up to 10 bytes whatever its value; protobufjs' Reader.uint32 always takes 10 once past 5 (why GrpcBody reads its own varints).
    [
      'an int32 as a 7-byte varint, then a string',
      grpcRequest('Everything', frame(Buffer.from([0x08, 0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x72, 0x02, 0x6f, 0x6b]))),
    ],
    [
      'merged repeats',
      grpcRequest(
        'Everything',
        frame(Buffer.concat([encode(Kitchen, { child: { i32: 1 }, choiceText: 'a' }), encode(Kitchen, { child: { text: 'x' }, choiceNumber: 9 })])),
      ),
    ],
    [
      'two messages (only the first is read)',
      grpcRequest('ModelInfer', Buffer.concat([frame(encode(ModelInferRequest, { modelName: 'a' })), frame(encode(ModelInferRequest, { modelName: 'b' }))])),
    ],
    ['a compressed message', grpcRequest('ModelInfer', frame(encode(ModelInferRequest, { modelName: 'a' }), true))],
    ['a frame longer than the body', grpcRequest('ModelInfer', frame(encode(ModelInferRequest, { modelName: 'abc' })).subarray(0, 8))],
    ['an unknown method', grpcRequest('Nope', frame(encode(ModelInferRequest, { modelName: 'a' })))],
    ['a client-streaming method', grpcRequest('ModelStreamInfer', frame(encode(ModelInferRequest, { modelName: 'a' })))],
    [
      'a gRPC body sent as text (no pack_as_bytes)',
      { method: 'POST', path: `/${SERVICE}/ModelInfer`, headers: { 'content-type': 'application/grpc' }, body: 'abc' },
    ],
  ];

  it.each(cases)('%s', async (_name, spec) => {
    const [theirs, ours] = await Promise.all([echo(oepClient, spec), echo(client, spec)]);
    expect('error' in theirs ? theirs : { ok: true }).toEqual({ ok: true });
    expect(ours).toEqual(theirs);
  });

  it.each([
    ['bytes that do not decode', grpcRequest('ModelInfer', frame(Buffer.from([0x0a, 0x64, 0x41])))],
    [
      "an Any of the API's own type",
      grpcRequest(
        'Everything',
        frame(encode(Kitchen, { packed: { type_url: 'type.googleapis.com/inference.InferParameter', value: encode(InferParameter, { boolParam: true }) } })),
      ),
    ],
    ['a Timestamp out of range', grpcRequest('Everything', frame(encode(Kitchen, { at: { seconds: 253402300800 } })))],
    ['a path that is not /Service/Method', { ...grpcRequest('ModelInfer', frame(encode(ModelInferRequest, { modelName: 'a' }))), path: '/a/b/c' }],
  ])('%s: both deny it as a bad request', async (_name, spec) => {
    expect(await echo(oepClient, spec)).toEqual({ error: 'denied 7' });
    expect(await echo(client, spec)).toEqual({ error: 'denied 7' });
  });
});

// ---- through a real Envoy ---------------------------------------------------

describe('a gRPC call through a real Envoy with pack_as_bytes', () => {
  let dir: string;
  let upstream: EchoUpstream;
  let serve: ServeProcess;
  let envoy: RunningEnvoy;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ztauthz-grpc-envoy-'));
    const policy = join(dir, 'policy');
    mkdirSync(policy);
    // Decides on a field of the decoded ModelInferRequest.
    writeFileSync(join(policy, 'authz.rego'), 'package envoy.authz\n\ndefault allow := false\n\nallow if input.parsed_body.modelName == "fraud-detector"\n');
    upstream = await startEchoUpstream();
    serve = await spawnServe(['--policy', policy, '--request-proto-descriptor', DESCRIPTOR_SET, '--decision-log-enabled=false']);
    // The deliverable bootstrap, with the body sent as bytes (gRPC bodies are binary).
    const bootstrap = readFileSync(join(ROOT, 'deploy/envoy/ext-authz.yaml'), 'utf8');
    expect(bootstrap).toContain('pack_as_bytes: false');
    writeFileSync(join(dir, 'envoy.yaml'), bootstrap.replace('pack_as_bytes: false', 'pack_as_bytes: true'));
    envoy = await startEnvoy({ configFile: join(dir, 'envoy.yaml'), vars: { UPSTREAM_PORT: upstream.port, ZTAUTHZ_GRPC_PORT: serve.grpcPort } });
  }, 90_000);

  afterAll(async () => {
    await envoy?.stop();
    await serve?.stop();
    await upstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A unary gRPC call over h2c to Envoy: a denial comes back as Envoy's gRPC local reply (grpc-status 7, HTTP 200), an allowed call from the upstream. */
  function call(modelName: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${envoy.listenPort}`);
      session.on('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': `/${SERVICE}/ModelInfer`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      req.on('response', (headers) => {
        resolve(headers['grpc-status'] as string | undefined);
        req.close();
        session.close();
      });
      req.on('error', reject);
      req.end(frame(encode(ModelInferRequest, { ...INFER, modelName })));
    });
  }

  it('Envoy sends the message as raw_body, ztauthz decodes it, and the policy decides on modelName', async () => {
    expect(await call('fraud-detector')).toBeUndefined();
    expect(upstream.received.map((r) => r.url)).toEqual([`/${SERVICE}/ModelInfer`]);
    expect(await call('other-model')).toBe(String(grpc.status.PERMISSION_DENIED));
    expect(upstream.received).toHaveLength(1);
  });
});
