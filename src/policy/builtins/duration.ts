// time.parse_duration_ns: a transcription of Go's time.ParseDuration as OPA
// 1.19 calls it, which also takes days ("d"), weeks ("w") and 365-day years ("y"). Go's grammar is [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ with
// uint64 overflow checks; bigint keeps those checks exact.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, exactInt, stringOperand } from './util.ts';

const MAX = 1n << 63n;
const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // MICRO SIGN
  '\u03bcs': 1_000n, // GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
  y: 31_536_000_000_000_000n,
};

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function parseDuration(orig: string): bigint {
  const invalid = (): BuiltinError => new BuiltinError('time.parse_duration_ns', `time: invalid duration ${JSON.stringify(orig)}`);
  let s = orig;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    // leadingInt
    let i = 0;
    let v = 0n;
    for (; isDigit(s[i]); i++) {
      if (v > MAX / 10n) throw invalid();
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX) throw invalid();
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction: digits past what fits are ignored, not rejected
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (MAX - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > MAX) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    let u = 0;
    while (u < s.length && !(s[u] === '.' || isDigit(s[u]))) u++;
    if (u === 0) throw new BuiltinError('time.parse_duration_ns', `time: missing unit in duration ${JSON.stringify(orig)}`);
    const unit = UNITS[s.slice(0, u)];
    if (unit === undefined) {
      throw new BuiltinError('time.parse_duration_ns', `time: unknown unit ${JSON.stringify(s.slice(0, u))} in duration ${JSON.stringify(orig)}`);
    }
    s = s.slice(u);
    if (v > MAX / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // Go does this step in float64; so do we, to round identically.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX) throw invalid();
    }
    d += v;
    if (d > MAX) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX - 1n) throw invalid();
  return d;
}

export function durationBuiltins(): Record<string, BuiltinFn> {
  return {
    'time.parse_duration_ns': (x: unknown) => exactInt(parseDuration(stringOperand('time.parse_duration_ns', x, 1))),
  };
}
