// OPA's semantics for the builtins the wasm implements itself and
// wasm-patch.ts hands to the host: json.marshal (sorted keys, HTML escaping,
// numbers as written), base64 (strict, as Go's StdEncoding), format_int
// (exact for any integer) and indexof ("" is an error). Arguments arrive as
// Rego text (RegoValue).

import { RegoNumber, goJsonMarshal, type RegoValue } from './regotext.ts';
import { BuiltinError, goBase64Decode, goBytesToString, opaBase64UrlDecode } from './util.ts';

const typeName = (v: RegoValue): string =>
  v === null
    ? 'null'
    : typeof v === 'boolean'
      ? 'boolean'
      : typeof v === 'string'
        ? 'string'
        : v instanceof RegoNumber
          ? 'number'
          : Array.isArray(v)
            ? 'array'
            : v.constructor.name === 'RegoSet'
              ? 'set'
              : 'object';

function str(b: string, v: RegoValue, pos: number): string {
  if (typeof v !== 'string') throw new BuiltinError(b, `operand ${pos} must be string but got ${typeName(v)}`);
  return v;
}

const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length);

/**
 * format_int's integer: the text itself when it is an integer (big.Int), else
 * the number as a 64-bit-mantissa big.Float (SetString's precision, rounded
 * half to even) truncated toward zero, as OPA's NumberToFloat and Int do:
 * 12345678901234567890.9 becomes 12345678901234567891.
 */
function truncated(text: string): bigint {
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a number: ${text}`);
  const digits = `${m[2] ?? ''}${m[3] ?? ''}`.replace(/^0+(?=\d)/, '') || '0';
  const exp10 = Number(m[4] ?? '0') - (m[3] ?? '').length;
  if (Math.abs(exp10) > 10_000) throw new Error('exponent out of range');
  // |value| = num / den exactly
  const num = BigInt(digits) * (exp10 > 0 ? 10n ** BigInt(exp10) : 1n);
  const den = exp10 < 0 ? 10n ** BigInt(-exp10) : 1n;
  if (num === 0n) return 0n;
  // scale by 2^-e so that the quotient has 64 bits, then round half to even
  let e = bitLength(num) - bitLength(den) - 64;
  let mant = 0n;
  for (let tries = 0; tries < 3; tries++) {
    const [n2, d2] = e >= 0 ? [num, den << BigInt(e)] : [num << BigInt(-e), den];
    mant = n2 / d2;
    const r = n2 % d2;
    if (2n * r > d2 || (2n * r === d2 && (mant & 1n) === 1n)) mant++;
    if (bitLength(mant) > 64) e++;
    else if (bitLength(mant) < 64) e--;
    else break;
  }
  const int = e >= 0 ? mant << BigInt(e) : mant >> BigInt(-e);
  return m[1] === '-' ? -int : int;
}

function formatInt(x: RegoValue, base: RegoValue): string {
  const b = 'format_int';
  if (!(x instanceof RegoNumber)) throw new BuiltinError(b, `operand 1 must be number but got ${typeName(x)}`);
  if (!(base instanceof RegoNumber)) throw new BuiltinError(b, `operand 2 must be number but got ${typeName(base)}`);
  const radix = { '2': 2, '8': 8, '10': 10, '16': 16 }[base.text];
  if (radix === undefined) throw new BuiltinError(b, 'operand 2 must be one of {"2", "8", "10", "16"}');
  let n: bigint;
  try {
    n = truncated(x.text);
  } catch (e) {
    throw new BuiltinError(b, (e as Error).message);
  }
  return n.toString(radix);
}

function indexOf(s: RegoValue, sub: RegoValue): number {
  const b = 'indexof';
  const hay = str(b, s, 1);
  const needle = str(b, sub, 2);
  if (needle === '') throw new BuiltinError(b, 'empty search character');
  const i = hay.indexOf(needle);
  // a code point index, as OPA counts runes
  return i < 0 ? -1 : [...hay.slice(0, i)].length;
}

export const NATIVE_BUILTINS: Readonly<Record<string, (...args: RegoValue[]) => unknown>> = {
  'json.marshal': (x) => goJsonMarshal(x),
  'base64.is_valid': (x) => typeof x === 'string' && goBase64Decode(x, false) !== undefined,
  'base64.decode': (x) => {
    const out = goBase64Decode(str('base64.decode', x, 1), false);
    if (out === undefined) throw new BuiltinError('base64.decode', 'illegal base64 data');
    return goBytesToString(out);
  },
  'base64url.decode': (x) => {
    try {
      return goBytesToString(opaBase64UrlDecode(str('base64url.decode', x, 1)));
    } catch (e) {
      if (e instanceof BuiltinError) throw e;
      throw new BuiltinError('base64url.decode', (e as Error).message);
    }
  },
  format_int: formatInt,
  indexof: indexOf,
};
