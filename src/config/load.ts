// Builds the effective configuration: schema defaults < YAML file (--config) <
// environment (ZTAUTHZ_*) < flags. Every value is validated with a message that
// names the key and where the value came from.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { checkHostPattern } from '../policy/httpsend/HttpSendClient.ts';
import { SCHEMA, envName, flagName, type Config, type FieldSpec } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigSources {
  /** Path of the YAML file, if any. */
  readonly file?: string | undefined;
  /** Flag values by flag name without dashes ("grpc-addr"). */
  readonly flags?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const BY_FLAG = new Map<string, FieldSpec>();
for (const spec of SCHEMA) {
  BY_FLAG.set(flagName(spec.key), spec);
  for (const a of spec.aliases ?? []) BY_FLAG.set(a, spec);
}

/** The schema entry a flag sets, or undefined for a flag no key has. */
export function specForFlag(flag: string): FieldSpec | undefined {
  return BY_FLAG.get(flag);
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const values = new Map<string, unknown>();
  for (const spec of SCHEMA) values.set(spec.key, validate(spec, spec.default, 'default'));
  /** Keys given by the file, the environment or a flag: the compat preset leaves them as given. */
  const given = new Set<string>();

  if (sources.file) {
    for (const [key, raw] of flattenYaml(readYaml(sources.file), sources.file)) {
      values.set(key, validate(specOf(key, sources.file), raw, sources.file));
      given.add(key);
    }
  }
  const env = sources.env ?? {};
  for (const spec of SCHEMA) {
    const raw = env[envName(spec.key)];
    if (raw === undefined) continue;
    values.set(spec.key, validate(spec, raw, `$${envName(spec.key)}`));
    given.add(spec.key);
  }
  for (const [flag, raw] of Object.entries(sources.flags ?? {})) {
    const spec = BY_FLAG.get(flag);
    if (!spec) throw new ConfigError(`unknown flag --${flag}`);
    values.set(spec.key, validate(spec, raw, `--${flag}`));
    given.add(spec.key);
  }
  if (values.get('compat') === 'opa-envoy') {
    for (const [key, value] of compatPreset(values)) if (!given.has(key)) values.set(key, value);
  }
  const config = toConfig(values);
  checkCombinations(config);
  return config;
}

/**
 * compat: opa-envoy, for the keys that have one: opa-envoy-plugin's behaviour
 * (see docs/compatibility.md). Deviations without a key of their own are
 * switched where they are made, from config.compat.
 */
function compatPreset(values: ReadonlyMap<string, unknown>): Array<[string, unknown]> {
  // opa-envoy-plugin's only bound on a request is gRPC's message size: no field can be larger than the message.
  const message = values.get('grpc.max_recv_msg_bytes') as number;
  return [
    ['decision.on_error', 'grpc_error'],
    ['routes.mode', 'replace'],
    ['routes.unmatched', 'default'],
    ['request.truncated_body', 'policy'],
    ['request.max_body_bytes', message],
    ['request.max_path_bytes', message],
    ['request.max_headers', message],
    ['request.max_header_bytes', message],
    ['cache.ignore', []],
    // Only with jwt.issuers (none by default): a bad token is the policy's business, not a 401 before it.
    ['jwt.invalid', 'policy'],
  ];
}

/** Rules that span keys. */
function checkCombinations(c: Config): void {
  if (c.policy.require_signature && !c.policy.signing_key) {
    throw new ConfigError('policy.require_signature: needs policy.signing_key');
  }
  const tls = c.grpc.tls;
  if (tls.mode !== 'off' && tls.allowed_peers.length === 0) {
    throw new ConfigError(`grpc.tls.allowed_peers: must name the callers allowed to ask when grpc.tls.mode is ${tls.mode}`);
  }
  if (tls.mode === 'files') {
    for (const k of ['cert_file', 'key_file', 'ca_file'] as const) {
      if (!tls[k]) throw new ConfigError(`grpc.tls.${k}: required when grpc.tls.mode is files`);
    }
  }
  for (const host of c.http_send.allowed_hosts) {
    const problem = checkHostPattern(host);
    if (problem) throw new ConfigError(`http_send.allowed_hosts: ${problem}`);
  }
  for (const entry of c.identity.trust_bundles) {
    if (!/^[^=]+=.+$/.test(entry)) throw new ConfigError(`identity.trust_bundles: "${entry}" must be trust-domain=/path/bundle.pem`);
  }
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    // yaml is loaded only when there is a config file to read (it costs a few MiB of memory).
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return parse(text, { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function flattenYaml(doc: unknown, file: string, prefix = ''): Array<[string, unknown]> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${file}: ${prefix || 'the document'} must be a mapping`);
  }
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(doc)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (SCHEMA.some((s) => s.key === key)) out.push([key, v]);
    else if (SCHEMA.some((s) => s.key.startsWith(key + '.'))) out.push(...flattenYaml(v, file, key));
    else throw new ConfigError(`${file}: unknown key ${key}`);
  }
  return out;
}

function specOf(key: string, origin: string): FieldSpec {
  const spec = SCHEMA.find((s) => s.key === key);
  if (!spec) throw new ConfigError(`${origin}: unknown key ${key}`);
  return spec;
}

function validate(spec: FieldSpec, raw: unknown, origin: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`${spec.key}: ${why} (got ${JSON.stringify(raw)} from ${origin})`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') fail('must be a string');
      return raw;
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) fail('must be an integer');
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        fail(`must be between ${spec.min} and ${spec.max}`);
      }
      return n;
    }
    case 'float': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) fail('must be a number');
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        fail(`must be between ${spec.min} and ${spec.max}`);
      }
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return fail('must be true or false');
    case 'enum': {
      // A file's `true` arrives as a boolean, a flag's or variable's as "true".
      const alias = typeof raw === 'string' || typeof raw === 'boolean' ? String(raw) : undefined;
      const value = spec.valueAliases && alias !== undefined && Object.hasOwn(spec.valueAliases, alias) ? spec.valueAliases[alias] : raw;
      if (typeof value !== 'string' || !spec.values?.includes(value)) fail(`must be one of ${spec.values?.join(', ')}${spec.valueAliases ? ` (or ${Object.keys(spec.valueAliases).join(', ')})` : ''}`);
      return value;
    }
    case 'addr':
      if (typeof raw !== 'string') fail('must be host:port');
      parseAddr(raw as string, (why) => fail(why));
      return raw;
    case 'grpc_addr':
      if (typeof raw !== 'string') fail('must be host:port or unix:///path');
      parseListenAddr(raw as string, (why) => fail(why));
      return raw;
    case 'objects': {
      let list = raw;
      if (typeof raw === 'string') {
        try {
          list = JSON.parse(raw);
        } catch {
          fail('must be a JSON list of objects');
        }
      }
      if (!Array.isArray(list) || !list.every((o) => o !== null && typeof o === 'object' && !Array.isArray(o))) fail('must be a list of objects');
      return list;
    }
    case 'decision_path':
      if (typeof raw !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/.test(raw)) {
        fail('must be a decision path like envoy/authz/allow');
      }
      return raw;
    case 'list': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) fail('must be a list of strings');
      return [...(list as string[])];
    }
  }
}

export interface ListenAddr {
  readonly host: string;
  readonly port: number;
}

/** "host:port", ":port" (every interface) or "[v6]:port". */
export function parseAddr(addr: string, fail: (why: string) => never = (why) => { throw new ConfigError(why); }): ListenAddr {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) return fail('must be host:port');
  const port = Number(m[3]);
  if (port > 65535) return fail('port must be at most 65535');
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Where the gRPC listener binds: TCP, or a Unix socket path. */
export type GrpcListenAddr = ({ readonly kind: 'tcp' } & ListenAddr) | { readonly kind: 'unix'; readonly path: string };

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * grpc.addr, as opa-envoy-plugin reads its `addr`: "host:port" (or
 * "grpc://host:port"), or "unix://" followed by the socket path
 * ("unix:///run/ztauthz/authz.sock"; "unix://rel.sock" is relative to the
 * working directory, as url.Parse makes it there). Abstract sockets
 * ("unix://@name") are not supported.
 */
export function parseListenAddr(addr: string, fail: (why: string) => never = (why) => { throw new ConfigError(why); }): GrpcListenAddr {
  if (addr.startsWith('unix:')) {
    if (!addr.startsWith('unix://')) return fail('a Unix socket address must be unix:///absolute/path');
    const path = addr.slice('unix://'.length);
    if (path === '') return fail('the Unix socket path is empty');
    if (path.startsWith('@')) return fail('abstract Unix sockets (unix://@name) are not supported; use a socket file path');
    if (/[\0?#%]/.test(path)) return fail('the Unix socket path must not contain NUL, "?", "#" or "%"');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return fail(`the Unix socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    return { kind: 'unix', path };
  }
  const hostPort = addr.startsWith('grpc://') ? addr.slice('grpc://'.length) : addr;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(hostPort)) return fail('must be host:port, grpc://host:port or unix:///path');
  return { kind: 'tcp', ...parseAddr(hostPort, fail) };
}

/** How a listen address is shown in the "serving" log line: host:port, or unix:///path. */
export function showListenAddr(addr: GrpcListenAddr, port: number): string {
  return addr.kind === 'unix' ? `unix://${addr.path}` : `${addr.host}:${port}`;
}

function toConfig(values: Map<string, unknown>): Config {
  const root: Record<string, unknown> = {};
  for (const [key, value] of values) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
  }
  return root as unknown as Config;
}
