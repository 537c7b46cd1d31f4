// Loaders for Envoy's official ext_authz definitions (shipped with the
// devDependency @grpc/grpc-js-xds under deps/) and for ztauthz's own proto/
// subset, so tests can encode with one and decode with the other.
//
// The official files import udpa/xds/validate annotation protos and
// google/protobuf/descriptor.proto; every import is looked up in the include
// dirs below, in order, and an import that is in none of them fails the load
// (rather than silently resolving next to the importing file).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** node_modules/@grpc/grpc-js-xds/deps: Envoy's API protos and their dependencies. */
export const OFFICIAL_DEPS_DIR = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** The include dirs grpc-js-xds itself generates its types with. */
export const OFFICIAL_INCLUDE_DIRS: readonly string[] = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) =>
  path.join(OFFICIAL_DEPS_DIR, dir),
);

/**
 * protobufjs bundles any/duration/empty/field_mask/struct/timestamp/wrappers in
 * code; the remaining well-known files (descriptor.proto, which the annotation
 * protos import) ship as .proto files in the package root.
 */
const PROTOBUFJS_DIR = path.dirname(require.resolve('protobufjs/package.json'));

/** ztauthz's own proto/ directory. */
export const LOCAL_PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

export const AUTH_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const HEALTH_PROTO = 'grpc/health/v1/health.proto';

/** Every file under proto/ (external_auth.proto imports all but health.proto). */
export const LOCAL_PROTO_FILES: readonly string[] = [AUTH_PROTO, HEALTH_PROTO];

/** A protobufjs resolvePath that maps an import to the first include dir holding it. */
export function includeDirResolver(includeDirs: readonly string[]): (origin: string, target: string) => string {
  return (origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error(`cannot resolve proto import "${target}"${origin ? ` (imported by ${origin})` : ''} in: ${includeDirs.join(', ')}`);
  };
}

export interface RootOptions {
  /** Keep field names as written in the .proto (snake_case). Default true. */
  keepCase?: boolean;
}

/** Loads `files` (relative to the include dirs) into a fresh, fully resolved protobufjs Root. */
export async function loadProtoRoot(files: readonly string[], includeDirs: readonly string[], options: RootOptions = {}): Promise<protobuf.Root> {
  const root = new protobuf.Root();
  root.resolvePath = includeDirResolver(includeDirs);
  await root.load([...files], { keepCase: options.keepCase ?? true });
  root.resolveAll();
  return root;
}

const cache = new Map<string, Promise<protobuf.Root>>();

function cached(key: string, load: () => Promise<protobuf.Root>): Promise<protobuf.Root> {
  let root = cache.get(key);
  if (!root) {
    root = load();
    cache.set(key, root);
  }
  return root;
}

/**
 * Envoy's official definitions (protobufjs Root), by default
 * envoy/service/auth/v3/external_auth.proto and everything it imports.
 * Cached per (files, keepCase); treat the returned Root as read-only.
 */
export function loadOfficialRoot(files: readonly string[] = [AUTH_PROTO], options: RootOptions = {}): Promise<protobuf.Root> {
  const keepCase = options.keepCase ?? true;
  return cached(`official:${keepCase}:${files.join(',')}`, () => loadProtoRoot(files, [...OFFICIAL_INCLUDE_DIRS, PROTOBUFJS_DIR], { keepCase }));
}

/**
 * ztauthz's proto/ definitions (protobufjs Root). `protoDir` lets a test load a
 * modified copy of proto/; only the default directory is cached.
 */
export function loadLocalRoot(protoDir: string = LOCAL_PROTO_DIR, options: RootOptions = {}): Promise<protobuf.Root> {
  const keepCase = options.keepCase ?? true;
  const load = () => loadProtoRoot(LOCAL_PROTO_FILES, [protoDir, PROTOBUFJS_DIR], { keepCase });
  return protoDir === LOCAL_PROTO_DIR ? cached(`local:${keepCase}`, load) : load();
}

/** The official envoy.service.auth.v3 definitions as a protobufjs Root (alias of loadOfficialRoot()). */
export function loadOfficialAuthRoot(options: RootOptions = {}): Promise<protobuf.Root> {
  return loadOfficialRoot([AUTH_PROTO], options);
}

/**
 * The official envoy.service.auth.v3 definitions as a @grpc/proto-loader
 * package definition (what @grpc/grpc-js clients and servers are built from).
 * `options.includeDirs`, if given, are searched after the official ones.
 */
export function loadOfficialAuthProto(options: protoLoader.Options = {}): Promise<protoLoader.PackageDefinition> {
  return protoLoader.load(AUTH_PROTO, {
    ...options,
    includeDirs: [...OFFICIAL_INCLUDE_DIRS, ...(options.includeDirs ?? [])],
  });
}

/** ztauthz's proto/ definitions as a @grpc/proto-loader package definition. */
export function loadLocalProto(options: protoLoader.Options = {}, protoDir: string = LOCAL_PROTO_DIR): Promise<protoLoader.PackageDefinition> {
  return protoLoader.load([...LOCAL_PROTO_FILES], {
    ...options,
    includeDirs: [protoDir, ...(options.includeDirs ?? [])],
  });
}
