// strings.any_prefix_match / any_suffix_match: route policies test a request
// path against a list of prefixes with these. OPA accepts a string, an array
// or a set on either side; sets reach us as arrays, and order does not matter.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, operandTypeError } from './util.ts';

function stringList(builtin: string, v: unknown, pos: number): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw operandTypeError(builtin, pos, v, 'string, set or array');
  for (const x of v) {
    if (typeof x !== 'string') throw new BuiltinError(builtin, `operand ${pos} must be array or set of strings`);
  }
  return v as string[];
}

// Prefixes of well-formed UTF-16 strings agree with Go's byte-wise check on UTF-8.
function anyMatch(builtin: string, test: (s: string, affix: string) => boolean): BuiltinFn {
  return (search: unknown, base: unknown) => {
    const strs = stringList(builtin, search, 1);
    const affixes = stringList(builtin, base, 2);
    return strs.some((s) => affixes.some((a) => test(s, a)));
  };
}

export function stringsBuiltins(): Record<string, BuiltinFn> {
  return {
    'strings.any_prefix_match': anyMatch('strings.any_prefix_match', (s, p) => s.startsWith(p)),
    'strings.any_suffix_match': anyMatch('strings.any_suffix_match', (s, p) => s.endsWith(p)),
  };
}
