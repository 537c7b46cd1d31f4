// Small string, number and object builtins the wasm leaves to the host.
// Strings index by code point, as OPA's Go code does on runes.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, intOperand, operandTypeError, stringOperand } from './util.ts';

function strings_count(s: unknown, sub: unknown): number {
  const b = 'strings.count';
  const str = stringOperand(b, s, 1);
  const needle = stringOperand(b, sub, 2);
  if (needle === '') return [...str].length + 1; // Go's strings.Count
  let n = 0;
  for (let i = str.indexOf(needle); i >= 0; i = str.indexOf(needle, i + needle.length)) n++;
  return n;
}

function indexofN(h: unknown, n: unknown): number[] {
  const b = 'indexof_n';
  const hay = [...stringOperand(b, h, 1)];
  const needle = [...stringOperand(b, n, 2)];
  if (needle.length === 0) throw new BuiltinError(b, 'empty search character');
  const out: number[] = [];
  for (let i = 0; i + needle.length <= hay.length; i++) {
    if (needle.every((c, k) => hay[i + k] === c)) out.push(i);
  }
  return out;
}

function splitN(x: unknown, d: unknown, n: unknown): string[] {
  const b = 'strings.split_n';
  const parts = stringOperand(b, x, 1).split(stringOperand(b, d, 2));
  const k = intOperand(b, n, 3);
  if (k === 0) return [];
  return k > 0 ? parts.slice(0, k) : parts.slice(Math.max(0, parts.length + k));
}

// gobwas/glob QuoteMeta: its special characters get a backslash.
function quoteMeta(x: unknown): string {
  return stringOperand('glob.quote_meta', x, 1).replace(/[*?[\]{}\\]/g, '\\$&');
}

function rangeStep(a: unknown, z: unknown, s: unknown): number[] {
  const b = 'numbers.range_step';
  const start = intOperand(b, a, 1);
  const stop = intOperand(b, z, 2);
  const step = intOperand(b, s, 3);
  if (step <= 0) throw new BuiltinError(b, 'step must be a positive integer');
  if (Math.abs(stop - start) / step > 10_000_000) throw new BuiltinError(b, 'range too large');
  const out: number[] = [];
  if (start <= stop) for (let i = start; i <= stop; i += step) out.push(i);
  else for (let i = start; i >= stop; i -= step) out.push(i);
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObj(a)) return isObj(b) && Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  return false;
}

// OPA's isSubset: objects key by key (recursively), arrays as a contiguous run.
// Sets reach the host as arrays, so a set is judged as an array here.
function isSubset(sup: unknown, sub: unknown): boolean {
  if (isObj(sup)) {
    if (!isObj(sub)) return false;
    return Object.entries(sub).every(([k, v]) => Object.hasOwn(sup, k) && isSubset(sup[k], v));
  }
  if (Array.isArray(sup)) {
    if (!Array.isArray(sub)) return false;
    if (sub.length === 0) return true;
    for (let i = 0; i + sub.length <= sup.length; i++) if (sub.every((x, k) => equal(sup[i + k], x))) return true;
    return false;
  }
  return equal(sup, sub);
}

function objectSubset(sup: unknown, sub: unknown): boolean {
  const b = 'object.subset';
  if (sup === null || typeof sup !== 'object') throw operandTypeError(b, 1, sup, 'object, array or set');
  if (sub === null || typeof sub !== 'object') throw operandTypeError(b, 2, sub, 'object, array or set');
  if (isObj(sup) !== isObj(sub)) throw new BuiltinError(b, 'both arguments must be objects, or arrays/sets');
  return isSubset(sup, sub);
}

export function miscBuiltins(): Record<string, BuiltinFn> {
  return {
    'strings.count': strings_count,
    indexof_n: indexofN,
    'strings.split_n': splitN,
    'glob.quote_meta': quoteMeta,
    'numbers.range_step': rangeStep,
    'object.subset': objectSubset,
    // OPA answers its runtime: the process environment, the configuration file, version.
    // ztauthz has no OPA configuration, and a policy must not read ztauthz's
    // environment (secrets), so both are empty, as `opa eval` without a runtime.
    'opa.runtime': () => ({ env: {}, config: {} }),
    // OPA prints the note only with tracing (explain) on; the value is true.
    trace: (note: unknown) => {
      stringOperand('trace', note, 1);
      return true;
    },
  };
}
