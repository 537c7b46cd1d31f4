// Builds the effective configuration: schema defaults < YAML file (--config) <
// environment (ZTAUTHZ_*) < flags, validated by the one zod schema
// (config/schema.ts). A message names the key path, where the value came from,
// and for an unknown key or flag the closest known one.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { checkHostPattern } from '../policy/httpsend/HttpSendClient.ts';
import { ConfigError } from './addr.ts';
import { parseConfigYaml } from './envExpand.ts';
import { checkOpaCombinations, translateOpaKeys } from './opa.ts';
import { CONFIG_SCHEMA, FIELDS, FIELD_BY_KEY, envName, flagName, schemaAt, type Config, type Field } from './schema.ts';
import { didYouMean } from './suggest.ts';

export { ConfigError, parseAddr, parseListenAddr, showListenAddr, type GrpcListenAddr, type ListenAddr } from './addr.ts';

export interface ConfigSources {
  /** Path of the YAML file, if any. */
  readonly file?: string | undefined;
  /** Flag values by flag name without dashes ("grpc-addr"). */
  readonly flags?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const BY_FLAG = new Map<string, Field>();
for (const field of FIELDS) {
  BY_FLAG.set(flagName(field.key), field);
  for (const a of field.aliases ?? []) BY_FLAG.set(a, field);
}

/** The field a flag sets, or undefined for a flag no key has. */
export function fieldForFlag(flag: string): Field | undefined {
  return BY_FLAG.get(flag);
}

/** Every configuration flag name (without dashes), aliases included. */
export function configFlagNames(): string[] {
  return [...BY_FLAG.keys()];
}

/** Most problems reported at once: enough to fix a file in one go, few enough for one log line. */
const MAX_REPORTED = 5;

export function loadConfig(sources: ConfigSources = {}): Config {
  /** The sources merged as given; the schema turns strings into values and fills in defaults. */
  let raw: Record<string, unknown> = {};
  /** Where each key given by the file, the environment or a flag came from: the compat preset leaves these alone. */
  const origins = new Map<string, string>();
  if (sources.file) {
    const doc = readYaml(sources.file, sources.env ?? {});
    if (!isMapping(doc)) throw new ConfigError(`${sources.file}: the document must be a mapping`);
    raw = doc;
    // OPA's format (plugins.envoy_ext_authz_grpc, decision_logs) becomes ztauthz keys first.
    const translated = translateOpaKeys(doc, sources.file);
    for (const f of FIELDS) {
      const from = translated.get(f.key);
      if (getPath(doc, f.key) !== undefined) origins.set(f.key, from ? `${sources.file} (${from})` : sources.file);
    }
  }
  const env = sources.env ?? {};
  for (const f of FIELDS) {
    const value = env[envName(f.key)];
    if (value === undefined) continue;
    setPath(raw, f.key, value);
    origins.set(f.key, `$${envName(f.key)}`);
  }
  for (const [flag, value] of Object.entries(sources.flags ?? {})) {
    const f = BY_FLAG.get(flag);
    if (!f) throw new ConfigError(`unknown flag --${flag}${didYouMean(flag, BY_FLAG.keys(), (c) => `--${c}`)}`);
    setPath(raw, f.key, value);
    origins.set(f.key, `--${flag}`);
  }
  const parsed = CONFIG_SCHEMA.safeParse(raw, { error: defaultMessage });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, raw, origins, sources.file));
  const config = parsed.data;
  if (config.compat === 'opa-envoy') {
    for (const [key, value] of compatPreset(config)) if (!origins.has(key)) setPath(config, key, value);
  }
  checkCombinations(config);
  checkOpaCombinations(config);
  return config;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

/** Messages for the checks that do not carry their own (nested objects mostly). */
function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_small':
      if (issue.origin === 'array' || issue.origin === 'string')
        return Number(issue.minimum) <= 1 ? 'must not be empty' : `must have at least ${issue.minimum} ${issue.origin === 'array' ? 'entries' : 'characters'}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array' || issue.origin === 'string')
        return `must have at most ${issue.maximum} ${issue.origin === 'array' ? 'entries' : 'characters'}`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue ? `must match ${String(issue.pattern)}` : `must be a ${issue.format}`;
    case 'invalid_key':
      return 'has a key that is not allowed';
    default:
      return undefined;
  }
}

/** jwt.issuers[0].audiences */
function showPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown, origins: ReadonlyMap<string, string>, file: string | undefined): string {
  const lines = issues.slice(0, MAX_REPORTED).map((issue) => {
    const field = fieldAt(issue.path);
    // Only the file can give what no key names (a section, an unknown key outside list values).
    const origin = field ? (origins.get(field.key) ?? '') : (file ?? 'the configuration');
    const at = showPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const known = schemaAt(CONFIG_SCHEMA, issue.path);
      const candidates = known && 'shape' in known ? Object.keys(known.shape as object) : [];
      const full = (k: string) => (at === '' ? k : `${at}.${k}`);
      return issue.keys.map((k) => `${origin}: unknown key ${full(k)}${didYouMean(k, candidates, full)}`).join('\n');
    }
    if (!field) return `${origin}: ${at || 'the document'} ${issue.message}`;
    // A key left at its default is named without a source (a rule spanning keys: grpc.tls.cert_file: required when ...).
    if (!origins.has(field.key)) return `${at}: ${issue.message}`;
    if (at === field.key) return `${at}: ${issue.message} (got ${shorten(JSON.stringify(getPath(raw, field.key)))} from ${origin})`;
    return `${at}: ${issue.message} (in ${field.key} from ${origin})`;
  });
  if (issues.length > MAX_REPORTED) lines.push(`... and ${issues.length - MAX_REPORTED} more`);
  return lines.join('\n');
}

/** The key a schema path is in: the longest leading run of names that is a key. */
function fieldAt(path: readonly PropertyKey[]): Field | undefined {
  for (let n = path.length; n > 0; n--) {
    const head = path.slice(0, n);
    if (head.every((p) => typeof p === 'string')) {
      const f = FIELD_BY_KEY.get(head.join('.'));
      if (f) return f;
    }
  }
  return undefined;
}

function shorten(s: string | undefined): string {
  return s === undefined ? 'nothing' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getPath(root: unknown, key: string): unknown {
  let node = root;
  for (const part of key.split('.')) {
    if (!isMapping(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

/** Sets a key's value; under a section that is not a mapping it leaves the file's value for the schema to refuse. */
function setPath(root: object, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = root as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) {
    if (!Object.hasOwn(node, part) || node[part] === undefined) node[part] = {};
    const next = node[part];
    if (!isMapping(next)) return;
    node = next;
  }
  node[parts[parts.length - 1]!] = value;
}

/**
 * compat: opa-envoy, for the keys that have one: opa-envoy-plugin's behaviour
 * (see docs/compatibility.md). Deviations without a key of their own are
 * switched where they are made, from config.compat.
 */
function compatPreset(c: Config): Array<[string, unknown]> {
  // opa-envoy-plugin's only bound on a request is gRPC's message size: no field can be larger than the message.
  const message = c.grpc.max_recv_msg_bytes;
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

/** A rule the schema cannot state: the host patterns http.send understands. */
function checkCombinations(c: Config): void {
  for (const host of c.http_send.allowed_hosts) {
    const problem = checkHostPattern(host);
    if (problem) throw new ConfigError(`http_send.allowed_hosts: ${problem}`);
  }
}

function readYaml(file: string, env: Readonly<Record<string, string | undefined>>): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  // yaml is loaded only when there is a config file to read (it costs a few MiB of memory).
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  try {
    return parseConfigYaml(yaml, text, file, env);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}
