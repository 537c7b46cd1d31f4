// gRPC bodies: opa-envoy-plugin, given a FileDescriptorSet (proto-descriptor),
// decodes the first message of an application/grpc raw_body into
// parsed_body by the method the path names. ztauthz has no such setting.
import { createRequire } from 'node:module';
import type { DropInCase } from './types.ts';
import { req } from './request.ts';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof import('protobufjs');
const descriptorExt = require('protobufjs/ext/descriptor') as any;

const root = protobuf.parse(
  `syntax = "proto3";
package demo.v1;
message Inner { bool flag = 1; }
message HelloRequest { string name = 1; int64 count = 2; repeated string tags = 3; Inner inner = 4; }
message HelloReply { string message = 1; }
service Greeter { rpc SayHello (HelloRequest) returns (HelloReply); }
`,
  { keepCase: true },
).root;

/** The FileDescriptorSet, without the per-field options protobufjs adds (Go refuses "packed" on scalars). */
const descriptorSet = (() => {
  const set = descriptorExt.FileDescriptorSet.toObject((root as any).toDescriptor('proto3'));
  for (const f of set.file) for (const m of f.messageType ?? []) for (const fd of m.field ?? []) delete fd.options;
  return descriptorExt.FileDescriptorSet.encode(descriptorExt.FileDescriptorSet.fromObject(set)).finish() as Uint8Array;
})();

const HelloRequest = root.lookupType('demo.v1.HelloRequest');
const message = (o: object) => Buffer.from(HelloRequest.encode(HelloRequest.fromObject(o)).finish());
const frame = (msg: Buffer, compressed = 0, declared = msg.length) => {
  const head = Buffer.alloc(5);
  head[0] = compressed;
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, msg]);
};
const call = (path: string, rawBody: Buffer | undefined, contentType = 'application/grpc') =>
  req({ method: 'POST', path, protocol: 'HTTP/2', ...(rawBody ? { rawBody } : {}), headers: { 'content-type': contentType, te: 'trailers' } });

const hello = message({ name: 'bob', count: 3, tags: ['a', 'b'], inner: { flag: true } });

export const GRPC_CASES: DropInCase[] = [
  {
    id: 'grpc_body',
    about: 'parsed_body of a gRPC call decoded with proto-descriptor',
    group: 'grpc_descriptor',
    config: { protoDescriptor: descriptorSet },
    decision: 'result',
    rego: `package PKG

result := {"allowed": true, "dynamic_metadata": {"body": object.get(input, "parsed_body", "ABSENT"), "truncated": object.get(input, "truncated_body", "ABSENT")}}
`,
    requests: [
      { name: 'hello', request: call('/demo.v1.Greeter/SayHello', frame(hello)) },
      { name: 'empty-message', request: call('/demo.v1.Greeter/SayHello', frame(Buffer.alloc(0))) },
      { name: 'unknown-method', request: call('/demo.v1.Greeter/SayBye', frame(hello)) },
      { name: 'unknown-service', request: call('/demo.v1.Other/SayHello', frame(hello)) },
      { name: 'compressed', request: call('/demo.v1.Greeter/SayHello', frame(hello, 1)) },
      { name: 'truncated-frame', request: call('/demo.v1.Greeter/SayHello', frame(hello, 0, hello.length + 10)) },
      { name: 'short-frame', request: call('/demo.v1.Greeter/SayHello', Buffer.from([0, 0])) },
      { name: 'bad-protobuf', request: call('/demo.v1.Greeter/SayHello', frame(Buffer.from([0x0a, 0x10, 0x41]))) },
      { name: 'three-segments', request: call('/x/demo.v1.Greeter/SayHello', frame(hello)) },
      { name: 'no-raw-body', request: call('/demo.v1.Greeter/SayHello', undefined) },
      { name: 'grpc-web', request: call('/demo.v1.Greeter/SayHello', frame(hello), 'application/grpc-web+proto') },
    ],
  },
  {
    id: 'grpc_rule',
    about: 'a policy deciding on a gRPC message field',
    group: 'grpc_descriptor',
    config: { protoDescriptor: descriptorSet },
    rego: `package PKG

default allow := false
allow if {
  input.parsed_path == ["demo.v1.Greeter", "SayHello"]
  input.parsed_body.name != "mallory"
  to_number(input.parsed_body.count) < 10
}
`,
    requests: [
      { name: 'bob', request: call('/demo.v1.Greeter/SayHello', frame(hello)) },
      { name: 'mallory', request: call('/demo.v1.Greeter/SayHello', frame(message({ name: 'mallory', count: 1 }))) },
      { name: 'many', request: call('/demo.v1.Greeter/SayHello', frame(message({ name: 'bob', count: 50 }))) },
    ],
  },
];
