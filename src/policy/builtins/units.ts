// units.parse and units.parse_bytes. OPA computes with Go's math/big and
// answers arbitrary precision numbers, so these compute exactly with bigint
// rationals and hand the wasm the number's text (see exactNumber).

import type { BuiltinFn } from './index.ts';
import { BuiltinError, exactNumber, stringOperand } from './util.ts';

/** A rational p/q, q > 0. */
interface Rat {
  p: bigint;
  q: bigint;
}

const MAX_EXPONENT_DIGITS = 6;

/** OPA's extractNumAndUnit; throws "exponent too large". */
function splitNumUnit(builtin: string, s: string): [string, string] {
  const isNum = (c: string | undefined): boolean => c !== undefined && /[0-9.]/.test(c);
  const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
  let first = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (!isNum(c) && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      first = i;
      break;
    }
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (i === s.length - 1 || (!isDigit(next) && next !== '+' && next !== '-')) {
        first = i;
        break;
      }
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (end < s.length && isDigit(s[end])) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw new BuiltinError(builtin, 'exponent too large');
    }
  }
  if (first === -1) return [s, ''];
  if (first === 0) return ['', s];
  return [s.slice(0, first), s.slice(first)];
}

/** A decimal number as Go's big.Rat/big.Float SetString read it (base 10 only here). */
function parseDecimal(s: string): Rat | undefined {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(s);
  if (m === null) return undefined;
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return undefined;
  let p = BigInt(int + frac || '0');
  let q = 10n ** BigInt(frac.length);
  const exp = m[4] === undefined ? 0 : Number(m[4]);
  if (exp >= 0) p *= 10n ** BigInt(exp);
  else q *= 10n ** BigInt(-exp);
  if (m[1] === '-') p = -p;
  return { p, q };
}

function abs(n: bigint): bigint {
  return n < 0n ? -n : n;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Rounds r to `bits` significant bits, to nearest, ties to even (big.Float's default). */
function roundToBits(r: Rat, bits: number): Rat {
  if (r.p === 0n) return r;
  const neg = r.p < 0n;
  const p = abs(r.p);
  // Scale so that the integer part has exactly `bits` bits: m = p/q * 2^shift.
  let shift = bits - (bitLength(p) - bitLength(r.q));
  const scaled = (s: number): [bigint, bigint] => {
    const num = s >= 0 ? p << BigInt(s) : p;
    const den = s >= 0 ? r.q : r.q << BigInt(-s);
    return [num / den, num % den];
  };
  let [m, rem] = scaled(shift);
  if (bitLength(m) > bits) {
    shift--;
    [m, rem] = scaled(shift);
  } else if (bitLength(m) < bits) {
    shift++;
    [m, rem] = scaled(shift);
  }
  const den = shift >= 0 ? r.q : r.q << BigInt(-shift);
  const twice = rem * 2n;
  if (twice > den || (twice === den && (m & 1n) === 1n)) m += 1n;
  const sm = neg ? -m : m;
  return shift >= 0 ? { p: sm, q: 1n << BigInt(shift) } : { p: sm << BigInt(-shift), q: 1n };
}

/** big.Rat.FloatString(10): ten decimals, the last rounded half away from zero. */
function floatString10(r: Rat): string {
  const neg = r.p < 0n;
  const scaled = abs(r.p) * 10n ** 10n;
  let n = scaled / r.q;
  if ((scaled % r.q) * 2n >= r.q) n += 1n;
  const digits = n.toString().padStart(11, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -10)}.${digits.slice(-10)}`;
}

const SI: Record<string, bigint> = { k: 10n ** 3n, m: 10n ** 6n, g: 10n ** 9n, t: 10n ** 12n, p: 10n ** 15n, e: 10n ** 18n };
const BIN: Record<string, bigint> = { k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n, e: 1n << 60n };

/** The exact value of a finite double, as Go's big.Rat.SetFloat64 takes it. */
function ratFromDouble(x: number): Rat {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp !== 0) mant |= 1n << 52n;
  const e = (exp === 0 ? 1 : exp) - 1075;
  const sign = bits >> 63n === 1n ? -1n : 1n;
  return e >= 0 ? { p: sign * (mant << BigInt(e)), q: 1n } : { p: sign * mant, q: 1n << BigInt(-e) };
}

// float64(0.001), exactly: Go's x.SetFloat64(siMilli) for the "m" unit.
const MILLI: Rat = ratFromDouble(0.001);

function unitsParse(x: unknown): ArrayBuffer {
  const b = 'units.parse';
  const s = stringOperand(b, x, 1).replaceAll('"', '');
  if (s.includes(' ')) throw new BuiltinError(b, 'spaces not allowed in resource strings');
  const [num, rawUnit] = splitNumUnit(b, s);
  if (num === '') throw new BuiltinError(b, 'no amount provided');
  // Lower case after the first letter only, so that m (milli) and M (mega) differ.
  const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit;
  let factor: Rat;
  if (unit === 'm') factor = MILLI;
  else if (unit === '') factor = { p: 1n, q: 1n };
  else if (unit === 'M') factor = { p: SI.m as bigint, q: 1n };
  else if (/^[kKgGtTpPeE]$/.test(unit)) factor = { p: SI[unit.toLowerCase()] as bigint, q: 1n };
  else if (/^[kKmMgGtTpPeE]i$/.test(unit)) factor = { p: BIN[(unit[0] as string).toLowerCase()] as bigint, q: 1n };
  else throw new BuiltinError(b, `unit ${unit} not recognized`);
  const n = parseDecimal(num);
  if (n === undefined) throw new BuiltinError(b, 'could not parse amount to a number');
  const p = n.p * factor.p;
  const q = n.q * factor.q;
  if (p % q === 0n) return exactNumber((p / q).toString());
  return exactNumber(floatString10({ p, q }));
}

const BYTE_UNITS: Record<string, bigint> = {
  '': 1n,
  ...Object.fromEntries(
    Object.entries(SI).flatMap(([u, v]) => [
      [`${u}b`, v],
      [u, v],
    ]),
  ),
  ...Object.fromEntries(
    Object.entries(BIN).flatMap(([u, v]) => [
      [`${u}ib`, v],
      [`${u}i`, v],
    ]),
  ),
};

function unitsParseBytes(x: unknown): ArrayBuffer {
  const b = 'units.parse_bytes';
  const s = stringOperand(b, x, 1).toLowerCase().replaceAll('"', '');
  if (s.includes(' ')) throw new BuiltinError(b, 'spaces not allowed in resource strings');
  const [num, unit] = splitNumUnit(b, s);
  if (num === '') throw new BuiltinError(b, 'no byte amount provided');
  const factor = BYTE_UNITS[unit];
  if (factor === undefined) throw new BuiltinError(b, `byte unit ${unit} not recognized`);
  const n = parseDecimal(num);
  if (n === undefined) throw new BuiltinError(b, 'could not parse byte amount to a number');
  // big.Float at its default 64-bit precision: the amount is rounded, then the product.
  const amount = roundToBits(n, 64);
  const total = roundToBits({ p: amount.p * factor, q: amount.q }, 64);
  return exactNumber((total.p / total.q).toString()); // bigint division truncates, as big.Float.Int
}

export function unitsBuiltins(): Record<string, BuiltinFn> {
  return { 'units.parse': unitsParse, 'units.parse_bytes': unitsParseBytes };
}
