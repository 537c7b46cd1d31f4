// Builtins that opa-wasm implements in JavaScript (its src/builtins/*.js)
// and that ztauthz answers instead, with Go's semantics: opa-wasm consults
// its own before a host's (`builtinFuncs[name] || customBuiltins[name]`), so
// loadHostPolicy (load.ts) intercepts the wasm's opa_builtinN calls for
// these names. Their arguments are read as Rego text (opa_value_dump), not
// JSON, so sets and long numbers arrive as OPA sees them. Builtins OPA
// compiles into the wasm itself (format_int, json.marshal, base64.*) are
// calls inside the module and cannot be answered by the host.

import { regexSplit } from './regex.ts';
import { RegoNumber, RegoObject, RegoSet, type RegoValue } from './regotext.ts';
import { sprintf } from './sprintf.ts';
import { yamlMarshal } from './yamlv2.ts';

export type RegoBuiltin = (...args: RegoValue[]) => unknown;

/** A Rego value as JSON data, for builtins that only take strings, arrays and objects. */
function plain(v: RegoValue): unknown {
  if (v instanceof RegoNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof RegoSet) return v.items.map(plain);
  if (v instanceof RegoObject) return Object.fromEntries(v.entries.map(([k, x]) => [typeof k === 'string' ? k : JSON.stringify(plain(k)), plain(x)]));
  return v;
}

/**
 * Host builtins (createHostBuiltins) whose arguments are read as Rego text
 * too, because opa-wasm's JSON copy would round them: nanosecond times beyond
 * 2^53 (2024 is 1.7e18). Integers a double cannot hold arrive as bigints.
 */
export const EXACT_ARGUMENTS: ReadonlySet<string> = new Set(['time.format', 'time.date', 'time.clock', 'time.weekday', 'time.add_date', 'time.diff']);

/** Host builtins that take their arguments as RegoValues (regotext.ts) as they are. */
export const REGO_ARGUMENTS: ReadonlySet<string> = new Set(['providers.aws.sign_req']);

/** A Rego value as JSON data, with integers beyond 2^53 as bigints. */
export function exactData(v: RegoValue): unknown {
  if (v instanceof RegoNumber) {
    const n = Number(v.text);
    return /^-?\d+$/.test(v.text) && !Number.isSafeInteger(n) ? BigInt(v.text) : n;
  }
  if (Array.isArray(v)) return v.map(exactData);
  if (v instanceof RegoSet) return v.items.map(exactData);
  if (v instanceof RegoObject) return Object.fromEntries(v.entries.map(([k, x]) => [typeof k === 'string' ? k : JSON.stringify(plain(k)), exactData(x)]));
  return v;
}

export const HOST_OVERRIDES: Readonly<Record<string, RegoBuiltin>> = {
  sprintf,
  'regex.split': (p, s) => regexSplit(plain(p), plain(s)),
  'yaml.marshal': (x) => yamlMarshal(x),
};
