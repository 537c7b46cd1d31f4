// sprintf as OPA evaluates it: each element of the argument array becomes a
// Go value (an int64 when the number's text is an integer that fits, a
// float64 when it has a decimal point, a *big.Int for longer integers, the
// number's text otherwise; a string as itself; anything else its Rego text,
// `{1, 2, 3}` or `{"k": [1, "x"]}`) and Go's fmt.Sprintf formats them
// (gofmt.ts). opa-wasm's own sprintf (sprintf-js) differs in %v of sets and
// objects, big numbers, %q, and the error forms, so loadHostPolicy answers
// the wasm's sprintf calls with this one; it reads the arguments as Rego text
// (regotext.ts), so sets and long numbers arrive intact.

import { BuiltinError } from './util.ts';
import { GoFmtUnsupported, goSprintf, type GoArg } from './gofmt.ts';
import { RegoNumber, canonicalNumber, regoString, type RegoValue } from './regotext.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** OPA's util.Atoi64: an optional sign and 1 to 19 digits, in int64 range. */
function atoi64(s: string): bigint | undefined {
  const m = /^[+-]?(\d{1,19})$/.exec(s);
  if (!m) return undefined;
  const n = BigInt(s.replace(/^\+/, ''));
  return n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
}

function goArg(v: RegoValue): GoArg {
  if (typeof v === 'string') return { t: 'string', v };
  if (v instanceof RegoNumber) {
    const text = v.text;
    const i = atoi64(text);
    if (i !== undefined) return { t: 'int64', v: i };
    if (text.includes('.')) {
      const f = Number(text);
      return Number.isFinite(f) ? { t: 'float64', v: f } : { t: 'string', v: canonicalNumber(text) };
    }
    if (/^-?\d+$/.test(text)) return { t: '*big.Int', v: BigInt(text) };
    return { t: 'string', v: text };
  }
  return { t: 'string', v: regoString(v) };
}

/** Longest result: Go would build any size, a policy has no use for more. */
const MAX_OUTPUT = 1 << 20;

export function sprintf(format: RegoValue, args: RegoValue): string {
  const b = 'sprintf';
  if (typeof format !== 'string') throw new BuiltinError(b, `operand 1 must be string but got ${typeName(format)}`);
  if (!Array.isArray(args)) throw new BuiltinError(b, `operand 2 must be array but got ${typeName(args)}`);
  let out: string;
  try {
    out = goSprintf(format, args.map(goArg));
  } catch (e) {
    if (e instanceof GoFmtUnsupported) throw new BuiltinError(b, e.message);
    throw e;
  }
  if (out.length > MAX_OUTPUT) throw new BuiltinError(b, `result longer than ${MAX_OUTPUT} characters`);
  return out;
}

function typeName(v: RegoValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof RegoNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  return v.constructor.name === 'RegoSet' ? 'set' : 'object';
}
