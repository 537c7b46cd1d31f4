// semver.is_valid / semver.compare, after OPA's internal/semver: an optional
// leading "v", MAJOR.MINOR.PATCH as Go int64s (leading zeros and a sign
// allowed, as strconv.ParseInt allows them), then -pre-release and +metadata
// identifiers of [0-9A-Za-z-].

import type { BuiltinFn } from './index.ts';
import { BuiltinError, compareGoStrings, stringOperand } from './util.ts';

interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
}

const IDENT = /^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/;
const INT64 = /^[+-]?[0-9]+$/;

function cut(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function parseInt64(s: string): bigint | undefined {
  if (!INT64.test(s)) return undefined;
  const n = BigInt(s);
  return n < -(2n ** 63n) || n >= 2n ** 63n ? undefined : n;
}

export function parseSemver(input: string): Version | undefined {
  let v = input.startsWith('v') ? input.slice(1) : input;
  let meta: string;
  [v, meta] = cut(v, '+');
  if (meta !== '' && !IDENT.test(meta)) return undefined;
  let pre: string;
  [v, pre] = cut(v, '-');
  if (pre !== '' && !IDENT.test(pre)) return undefined;
  const parts = v.split('.');
  if (parts.length !== 3) return undefined;
  const [major, minor, patch] = parts.map(parseInt64);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch, pre };
}

const isNumeric = (s: string): boolean => /^[0-9]+$/.test(s);
const sign = (a: bigint, b: bigint): number => (a > b ? 1 : a < b ? -1 : 0);

export function compareSemver(a: Version, b: Version): number {
  const c = sign(a.major, b.major) || sign(a.minor, b.minor) || sign(a.patch, b.patch);
  if (c !== 0) return c;
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  let [x, restA] = cut(a.pre, '.');
  let [y, restB] = cut(b.pre, '.');
  for (;;) {
    // OPA 1.19.1 loops forever here (1.2.3-a.1 against 1.2.3-a.01: numerically
    // equal identifiers and nothing after them); they compare equal.
    if (x === '' && y === '') return 0;
    if (x === '' && y !== '') return -1;
    if (x !== '' && y === '') return 1;
    const xn = isNumeric(x);
    const yn = isNumeric(y);
    if (xn && !yn) return -1;
    if (!xn && yn) return 1;
    // Go's strconv.Atoi; an identifier too long for it reads as 0, as there.
    const num = (s: string): bigint => {
      const n = BigInt(s);
      return n >= 2n ** 63n ? 0n : n;
    };
    const d = xn ? sign(num(x), num(y)) : Math.sign(compareGoStrings(x, y));
    if (d !== 0) return d;
    if (restA !== '' && restB === '') return 1;
    if (restA === '' && restB !== '') return -1;
    [x, restA] = cut(restA, '.');
    [y, restB] = cut(restB, '.');
  }
}

export function semverBuiltins(): Record<string, BuiltinFn> {
  return {
    'semver.is_valid': (x: unknown) => typeof x === 'string' && parseSemver(x) !== undefined,
    'semver.compare': (a: unknown, b: unknown) => {
      const n = 'semver.compare';
      const sa = stringOperand(n, a, 1);
      const sb = stringOperand(n, b, 2);
      const va = parseSemver(sa);
      if (va === undefined) throw new BuiltinError(n, `operand 1: string ${sa} is not a valid SemVer`);
      const vb = parseSemver(sb);
      if (vb === undefined) throw new BuiltinError(n, `operand 2: string ${sb} is not a valid SemVer`);
      return compareSemver(va, vb);
    },
  };
}
