// KServe v2 gRPC request messages encoded by protobufjs from the real message
// definitions (grpc_predict_v2.proto, trimmed to the fields used here), so
// the tiny reader in ProtobufFields is checked against an independent encoder.
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package inference;
message InferTensorContents { repeated float fp32_contents = 6; }
message InferParameter { oneof parameter_choice { bool bool_param = 1; int64 int64_param = 2; string string_param = 3; } }
message ModelInferRequest {
  message InferInputTensor {
    string name = 1; string datatype = 2; repeated int64 shape = 3;
    map<string, InferParameter> parameters = 4; InferTensorContents contents = 5;
  }
  string model_name = 1;
  string model_version = 2;
  string id = 3;
  map<string, InferParameter> parameters = 4;
  repeated InferInputTensor inputs = 5;
  repeated bytes raw_input_contents = 7;
}
message ModelReadyRequest { string name = 1; string version = 2; }
message RepositoryModelLoadRequest { string repository_name = 1; string model_name = 2; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;

export function encode(type: 'ModelInferRequest' | 'ModelReadyRequest' | 'RepositoryModelLoadRequest', value: object): Uint8Array {
  const t = root.lookupType(`inference.${type}`);
  return t.encode(t.fromObject(value)).finish();
}

/** A gRPC length-prefixed frame around `message`. */
export function frame(message: Uint8Array, compressed = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** A realistic ModelInferRequest: tensors before and after the names would be in a hand-written encoder. */
export function inferRequest(model: string, version = '', floats = 4): Uint8Array {
  return encode('ModelInferRequest', {
    model_name: model,
    model_version: version,
    id: 'req-1',
    parameters: { priority: { int64_param: 3 }, tag: { string_param: 'x' } },
    inputs: [{ name: 'input0', datatype: 'FP32', shape: [1, floats], contents: { fp32_contents: Array.from({ length: floats }, (_, i) => i / 3) } }],
    raw_input_contents: [Buffer.alloc(64, 7)],
  });
}
