// The `routes` section of the configuration (YAML already parsed into plain
// values): validated field by field with errors that name the route and the
// field, then combined with the built-in catalogue into one RouteTable.
//
//   routes:
//     mode: extend        # extend: catalogue + these routes (same name replaces the catalogue route); replace: these only
//     unmatched: default  # default: the policy sees input.route = null; deny: route_unmatched
//     table:
//       - {name: my-infer, methods: [POST], path: "/score/{model}", api: custom, action: infer}
import { CATALOGUE } from './Catalogue.ts';
import { RouteTable } from './RouteTable.ts';
import { parseTemplate } from './RouteTemplate.ts';
import { ENTRYPOINT, GRPC_BODY_FIELDS, LABEL, METHOD, PARAM_NAME, ROUTE_NAME, RouteConfigError, type FieldSource, type RouteSpec } from './RouteSpec.ts';

export interface RouteConfig {
  readonly mode: 'extend' | 'replace';
  readonly unmatched: 'default' | 'deny';
  /** The user's routes, validated. */
  readonly table: readonly RouteSpec[];
}

export const DEFAULT_ROUTE_CONFIG: RouteConfig = Object.freeze({ mode: 'extend', unmatched: 'default', table: [] });

const SECTION_KEYS = ['mode', 'unmatched', 'table'];
const ROUTE_KEYS = ['name', 'methods', 'path', 'api', 'action', 'entrypoint', 'model_from', 'version_from', 'params_from', 'jsonrpc'];
const SOURCE_KEYS = ['json_body', 'grpc_body', 'query'];

/** Validates the `routes` section; `where` prefixes every message (the config key). Absent section: defaults. */
export function parseRouteConfig(raw: unknown, where = 'routes'): RouteConfig {
  if (raw === undefined || raw === null) return DEFAULT_ROUTE_CONFIG;
  const section = object(raw, where);
  unknownKeys(section, SECTION_KEYS, where);
  const mode = oneOf(section['mode'] ?? 'extend', ['extend', 'replace'] as const, `${where}.mode`);
  const unmatched = oneOf(section['unmatched'] ?? 'default', ['default', 'deny'] as const, `${where}.unmatched`);
  const list = section['table'] ?? [];
  if (!Array.isArray(list)) fail(`${where}.table`, 'must be a list of routes');
  const table = list.map((r, i) => validateRoute(r, `${where}.table[${i}]`));
  const names = new Set<string>();
  for (const r of table) {
    if (names.has(r.name)) fail(`${where}.table`, `route "${r.name}" is defined twice`);
    names.add(r.name);
  }
  return { mode, unmatched, table };
}

/** One route; the message names the route (by name once known) and the field. */
export function validateRoute(raw: unknown, where: string): RouteSpec {
  const o = object(raw, where);
  const rawName = o['name'];
  if (typeof rawName !== 'string' || !ROUTE_NAME.test(rawName)) fail(`${where}.name`, `must be a route name matching ${ROUTE_NAME.source}`);
  const at = `${where} ("${rawName}")`;
  unknownKeys(o, ROUTE_KEYS, at);

  const methods = o['methods'];
  if (!Array.isArray(methods) || methods.length === 0) fail(`${at}.methods`, 'must be a non-empty list of HTTP methods, or ["*"]');
  for (const m of methods) {
    if (typeof m !== 'string' || (m !== '*' && !METHOD.test(m))) fail(`${at}.methods`, `${JSON.stringify(m)} is not an upper-case HTTP method or "*"`);
  }
  if (new Set(methods).size !== methods.length) fail(`${at}.methods`, 'lists a method twice');
  if (methods.includes('*') && methods.length > 1) fail(`${at}.methods`, '"*" already means every method; list it alone');

  const path = o['path'];
  if (typeof path !== 'string') fail(`${at}.path`, 'must be a path template string');
  let params: Set<string>;
  try {
    params = new Set(parseTemplate(rawName, path).map((s) => (s.kind === 'literal' ? '' : s.name)));
  } catch (err) {
    throw new RouteConfigError(`${where}: ${(err as Error).message}`);
  }
  const jsonrpc = o['jsonrpc'];
  if (jsonrpc !== undefined && jsonrpc !== 'mcp' && jsonrpc !== 'a2a') fail(`${at}.jsonrpc`, 'must be "mcp" or "a2a" (the body is that protocol\'s JSON-RPC)');
  // A JSON-RPC route's action is each call's method; its own action only names it when unread.
  const labels = { api: o['api'], action: o['action'] ?? (jsonrpc !== undefined ? 'call' : undefined) };
  for (const key of ['api', 'action'] as const) {
    const v = labels[key];
    if (typeof v !== 'string' || !LABEL.test(v)) fail(`${at}.${key}`, `must match ${LABEL.source}`);
  }
  const entrypoint = o['entrypoint'];
  if (entrypoint !== undefined && (typeof entrypoint !== 'string' || !ENTRYPOINT.test(entrypoint))) {
    fail(`${at}.entrypoint`, 'must be a decision path like envoy/authz/allow');
  }

  const spec: { -readonly [K in keyof RouteSpec]: RouteSpec[K] } = {
    name: rawName,
    methods: [...(methods as string[])],
    path,
    api: labels.api as string,
    action: labels.action as string,
  };
  if (entrypoint !== undefined) spec.entrypoint = entrypoint as string;
  if (jsonrpc !== undefined) spec.jsonrpc = jsonrpc;
  const kinds = new Set<string>();
  for (const key of ['model_from', 'version_from'] as const) {
    if (o[key] === undefined) continue;
    const param = key === 'model_from' ? 'model' : 'version';
    if (params.has(param)) fail(`${at}.${key}`, `the path already has {${param}}; a value must come from one place only`);
    spec[key] = source(o[key], `${at}.${key}`, kinds);
  }
  if (o['params_from'] !== undefined) {
    const from = object(o['params_from'], `${at}.params_from`);
    const out: Record<string, FieldSource> = {};
    for (const [name, src] of Object.entries(from)) {
      if (!PARAM_NAME.test(name)) fail(`${at}.params_from`, `parameter name "${name}" must match ${PARAM_NAME.source}`);
      if (name === 'model' || name === 'version') fail(`${at}.params_from.${name}`, `use ${name}_from`);
      if (params.has(name)) fail(`${at}.params_from.${name}`, `the path already has {${name}}`);
      out[name] = source(src, `${at}.params_from.${name}`, kinds);
    }
    spec.params_from = out;
  }
  if (kinds.has('json_body') && kinds.has('grpc_body')) fail(at, 'reads both a JSON and a gRPC body; a body is one or the other');
  return spec;
}

function source(raw: unknown, where: string, kinds: Set<string>): FieldSource {
  const o = object(raw, where);
  const keys = Object.keys(o);
  if (keys.length !== 1 || !SOURCE_KEYS.includes(keys[0] as string)) fail(where, `must have exactly one of ${SOURCE_KEYS.join(', ')}`);
  const kind = keys[0] as 'json_body' | 'grpc_body' | 'query';
  const value = o[kind];
  kinds.add(kind);
  if (kind === 'json_body') {
    if (typeof value !== 'string' || !/^[^.]{1,128}(\.[^.]{1,128}){0,7}$/.test(value))
      fail(`${where}.json_body`, 'must be a field path like "model" or "request.model"');
    return { json_body: value };
  }
  if (kind === 'grpc_body') {
    if (typeof value !== 'string' || !Object.hasOwn(GRPC_BODY_FIELDS, value)) {
      fail(`${where}.grpc_body`, `must be one of ${Object.keys(GRPC_BODY_FIELDS).join(', ')}`);
    }
    return { grpc_body: value as keyof typeof GRPC_BODY_FIELDS };
  }
  if (typeof value !== 'string' || value === '' || value.length > 128) fail(`${where}.query`, 'must be a query parameter name');
  return { query: value };
}

export interface BuildOptions {
  /** policy.decision. */
  readonly defaultEntrypoint: string;
  /** The built-in routes (tests pass their own). */
  readonly catalogue?: readonly RouteSpec[] | undefined;
}

/** The table the config asks for; conflicts between user and catalogue routes are errors naming both. */
export function buildRouteTable(config: RouteConfig, opts: BuildOptions): RouteTable {
  const catalogue = opts.catalogue ?? CATALOGUE;
  let specs: readonly RouteSpec[] = config.table;
  if (config.mode === 'extend') {
    const overridden = new Set(config.table.map((r) => r.name));
    specs = [...catalogue.filter((r) => !overridden.has(r.name)), ...config.table];
  }
  try {
    return RouteTable.build(specs, { defaultEntrypoint: opts.defaultEntrypoint });
  } catch (err) {
    if (!(err instanceof RouteConfigError) || config.mode !== 'extend') throw err;
    throw new RouteConfigError(`${err.message} (with routes.mode: extend, a route named like a catalogue route replaces it)`);
  }
}

function object(raw: unknown, where: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be a mapping');
  return raw as Record<string, unknown>;
}

function unknownKeys(o: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`${where}.${k}`, `unknown key (known: ${known.join(', ')})`);
}

function oneOf<T extends string>(raw: unknown, values: readonly T[], where: string): T {
  if (typeof raw !== 'string' || !values.includes(raw as T)) fail(where, `must be one of ${values.map((v) => `"${v}"`).join(', ')}`);
  return raw as T;
}

function fail(where: string, why: string): never {
  throw new RouteConfigError(`${where}: ${why}`);
}
