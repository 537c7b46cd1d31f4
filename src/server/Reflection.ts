// gRPC server reflection (grpc.reflection.v1 and v1alpha) for the services
// ztauthz serves, behind grpc.reflection (off by default, as opa-envoy-plugin's
// enable-reflection), so grpcurl and similar tools need no -proto flags. The
// descriptors are those of what is served: the project's proto/ definitions
// for Authorization, the same ones the Check path decodes with
// (envoy/ProtoCodec.ts), and grpc-health-check's own health.proto (with List)
// for Health.
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { dirname } from 'node:path';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { PROTO_DIR } from '../envoy/ProtoCodec.ts';

/** The services reflection lists: exactly the ones the listener serves. */
export const REFLECTED_SERVICES = ['envoy.service.auth.v3.Authorization', 'grpc.health.v1.Health'] as const;

let service: ReflectionService | undefined;

/** Adds the reflection services to `server`; the descriptors are built once per process. */
export function addReflection(server: Pick<grpc.Server, 'addService'>): void {
  service ??= new ReflectionService(reflectedPackage(), { services: [...REFLECTED_SERVICES] });
  service.addToServer(server);
}

function reflectedPackage(): protoLoader.PackageDefinition {
  // grpc-health-check's file is health/v1/health.proto under its proto/ directory.
  const healthDir = dirname(dirname(dirname(healthProtoPath)));
  const pkg = protoLoader.loadSync(['envoy/service/auth/v3/external_auth.proto', 'health/v1/health.proto'], {
    includeDirs: [PROTO_DIR, healthDir],
    keepCase: true,
  });
  // proto-loader gives every definition the same list of files; it is fixed once and shared again.
  const fixed = new Map<readonly Buffer[], Buffer[]>();
  const fix = (def: { fileDescriptorProtos?: Buffer[] } | undefined): void => {
    if (!def || !Array.isArray(def.fileDescriptorProtos)) return;
    let files = fixed.get(def.fileDescriptorProtos);
    if (!files) fixed.set(def.fileDescriptorProtos, (files = qualifyDescriptors(def.fileDescriptorProtos)));
    def.fileDescriptorProtos = files;
  };
  for (const def of Object.values(pkg)) {
    if ('format' in def) fix(def as { fileDescriptorProtos?: Buffer[] });
    else
      for (const method of Object.values(def as protoLoader.ServiceDefinition)) {
        fix(method.requestType);
        fix(method.responseType);
      }
  }
  return pkg;
}

interface FieldDesc {
  name?: string;
  label?: number;
  typeName?: string;
  extendee?: string;
}
interface RangeDesc {
  start?: number;
  end?: number;
}
interface MessageDesc {
  name?: string;
  options?: { mapEntry?: boolean };
  reservedRange?: RangeDesc[];
  extensionRange?: RangeDesc[];
  field?: FieldDesc[];
  extension?: FieldDesc[];
  nestedType?: MessageDesc[];
  enumType?: { name?: string }[];
}
interface FileDesc {
  name?: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageDesc[];
  enumType?: { name?: string }[];
  service?: { name?: string; method?: { inputType?: string; outputType?: string }[] }[];
  extension?: FieldDesc[];
}

/**
 * protobufjs writes type references relative to their scope and leaves each
 * file's `dependency` list empty; descriptor.proto allows the first, but
 * clients that build a registry from the files (Go's protodesc, hence
 * grpcurl) need the imports. Every reference becomes fully qualified and
 * each file lists the files it refers to. protobufjs also names a map
 * field's entry type after the field ("Fields"), where protoc (and Go's
 * check) wants "FieldsEntry"; and it writes reserved and extension ranges
 * with an inclusive end, where descriptor.proto's end is exclusive.
 */
export function qualifyDescriptors(buffers: readonly Uint8Array[]): Buffer[] {
  const files = buffers.map((b) => descriptor.FileDescriptorProto.decode(b) as unknown as FileDesc);
  const renameMapEntries = (m: MessageDesc): void => {
    for (const r of [...(m.reservedRange ?? []), ...(m.extensionRange ?? [])]) if (typeof r.end === 'number') r.end += 1;
    for (const n of m.nestedType ?? []) {
      renameMapEntries(n);
      if (!n.options?.mapEntry) continue;
      const field = m.field?.find((f) => f.label === 3 && f.typeName === n.name);
      if (!field?.name) continue;
      n.name = field.typeName = mapEntryName(field.name);
    }
  };
  for (const file of files) for (const m of file.messageType ?? []) renameMapEntries(m);
  const owner = new Map<string, string>();
  for (const file of files) {
    const prefix = file.package ? `.${file.package}` : '';
    const addMessage = (m: MessageDesc, scope: string): void => {
      const full = `${scope}.${m.name}`;
      owner.set(full, file.name ?? '');
      for (const e of m.enumType ?? []) owner.set(`${full}.${e.name}`, file.name ?? '');
      for (const n of m.nestedType ?? []) addMessage(n, full);
    };
    for (const m of file.messageType ?? []) addMessage(m, prefix);
    for (const e of file.enumType ?? []) owner.set(`${prefix}.${e.name}`, file.name ?? '');
    for (const s of file.service ?? []) owner.set(`${prefix}.${s.name}`, file.name ?? '');
  }
  /** C++ scoping: the innermost enclosing scope that has the name wins. */
  const resolve = (scope: string, ref: string): string => {
    if (ref.startsWith('.')) return ref;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      const candidate = `${s}.${ref}`;
      if (owner.has(candidate)) return candidate;
      if (s === '') return ref;
    }
  };
  return files.map((file) => {
    const deps = new Set<string>();
    const ref = (scope: string, name: string | undefined): string | undefined => {
      if (!name) return name;
      const full = resolve(scope, name);
      const from = owner.get(full);
      if (from !== undefined && from !== file.name) deps.add(from);
      return full;
    };
    const prefix = file.package ? `.${file.package}` : '';
    const fields = (list: FieldDesc[] | undefined, scope: string): void => {
      for (const f of list ?? []) {
        if (f.typeName) f.typeName = ref(scope, f.typeName);
        if (f.extendee) f.extendee = ref(scope, f.extendee);
      }
    };
    const walk = (m: MessageDesc, scope: string): void => {
      const full = `${scope}.${m.name}`;
      fields(m.field, full);
      fields(m.extension, full);
      for (const n of m.nestedType ?? []) walk(n, full);
    };
    for (const m of file.messageType ?? []) walk(m, prefix);
    fields(file.extension, prefix);
    for (const s of file.service ?? []) {
      for (const m of s.method ?? []) {
        m.inputType = ref(prefix, m.inputType);
        m.outputType = ref(prefix, m.outputType);
      }
    }
    file.dependency = [...new Set([...(file.dependency ?? []), ...deps])];
    return Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish());
  });
}

/** protoc's name for a map field's entry message: foo_bar -> FooBarEntry. */
function mapEntryName(field: string): string {
  return `${field.replace(/(?:^|_)([a-z]?)/g, (_m, c: string) => c.toUpperCase())}Entry`;
}
