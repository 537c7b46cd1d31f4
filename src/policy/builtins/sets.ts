// Set results. opa-wasm hands a host builtin's result to the wasm through
// opa_json_parse, and JSON has no sets: net.cidr_merge's answer would reach
// the policy as an array, so `net.cidr_merge(x) == {"10.0.0.0/8"}` or
// `net.cidr_expand(x)[ip]` would not behave as under OPA. A builtin returns
// regoSet(values) instead; loadHostPolicy (load.ts) sees it and rebuilds the
// value with opa_value_parse, which reads Rego set syntax.

import { compareGoStrings } from './util.ts';

let pending: string | undefined;

/** OPA's order for the values our builtins put in sets (strings, or arrays of strings/numbers). */
function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return compareGoStrings(a, b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  // numbers sort before strings in Rego's order
  return typeof a === 'number' ? -1 : 1;
}

/**
 * The set of `values` as the builtin's result: JSON array text, sorted as OPA
 * prints sets. The Rego set text is kept aside for loadHostPolicy.
 */
export function regoSet(values: readonly unknown[]): ArrayBuffer {
  const sorted = [...values].sort(compareValues);
  const seen: string[] = [];
  for (const v of sorted) {
    const j = JSON.stringify(v);
    if (seen[seen.length - 1] !== j) seen.push(j);
  }
  pending = seen.length === 0 ? 'set()' : `{${seen.join(',')}}`;
  const bytes = new TextEncoder().encode(`[${seen.join(',')}]`);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The Rego text of the set the last builtin call returned, if it returned one; clears it. */
export function takePendingSet(): string | undefined {
  const p = pending;
  pending = undefined;
  return p;
}
