// time.* builtins. Timestamps are nanoseconds since the epoch held as bigint:
// they exceed 2^53, and OPA computes them exactly (Go int64).

import type { BuiltinFn } from './index.ts';
import { BuiltinError, exactInt, intOperand, operandTypeError, stringOperand } from './util.ts';
import { checkZone, civilFromDays, daysFromCivil, offsetSeconds } from './zone.ts';

const NS = 1_000_000_000n;
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export interface ZonedTime {
  readonly ns: bigint;
  readonly zone: string;
  /** The third element of [ns, tz, layout], for time.format. */
  readonly layout?: string;
}

export interface Fields {
  y: number;
  m: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  nsec: bigint;
  days: number;
}

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function inNsRange(ns: bigint): boolean {
  return ns >= MIN_NS && ns <= MAX_NS;
}

// OPA's tzTime: either ns or [ns, tz?, layout?]. The ns must be an integral
// int64; OPA reports anything else as "timestamp too big".
export function tzTime(builtin: string, a: unknown): ZonedTime {
  let n: unknown;
  let zone = 'UTC';
  let layout: string | undefined;
  if (Array.isArray(a)) {
    if (a.length === 0) throw operandTypeError(builtin, 1, a, 'either number (ns) or [number (ns), string (tz)]');
    n = a[0];
    if (typeof n !== 'number' && typeof n !== 'bigint') throw operandTypeError(builtin, 1, n, 'number');
    if (a.length > 1) {
      const tz = stringOperand(builtin, a[1], 1);
      zone = tz === '' ? 'UTC' : tz;
      checkZone(builtin, zone);
    }
    if (a.length > 2) layout = stringOperand(builtin, a[2], 1);
  } else if (typeof a === 'number' || typeof a === 'bigint') {
    n = a;
  } else {
    throw operandTypeError(builtin, 1, a, 'either number (ns) or [number (ns), string (tz)]');
  }
  // a bigint: an exact integer beyond 2^53, read from the wasm as text (overrides.ts EXACT_ARGUMENTS)
  if (typeof n !== 'bigint' && !Number.isInteger(n)) throw new BuiltinError(builtin, 'timestamp too big');
  const ns = BigInt(n as number | bigint);
  if (!inNsRange(ns)) throw new BuiltinError(builtin, 'timestamp too big');
  return layout === undefined ? { ns, zone } : { ns, zone, layout };
}

export function fieldsOf(builtin: string, t: ZonedTime): Fields {
  const sec = floorDiv(t.ns, NS);
  const local = sec + BigInt(offsetSeconds(builtin, t.zone, sec));
  const days = Number(floorDiv(local, 86400n));
  const sod = Number(local - BigInt(days) * 86400n);
  const { y, m, d } = civilFromDays(days);
  return { y, m, d, h: Math.floor(sod / 3600), mi: Math.floor(sod / 60) % 60, s: sod % 60, nsec: t.ns - sec * NS, days };
}

export function safeNs(builtin: string, ns: bigint): ArrayBuffer {
  if (!inNsRange(ns)) throw new BuiltinError(builtin, 'time outside of valid range');
  return exactInt(ns);
}

export function daysIn(m: number, y: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

// Go's time.Parse(time.RFC3339, s): its fast path plus the general layout
// parser it falls back to, which also accepts a one-digit hour, a comma
// before the fraction and zone offsets up to +24:60.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

export function parseRFC3339(builtin: string, value: string): bigint {
  const m = RFC3339.exec(value);
  if (m === null) throw new BuiltinError(builtin, `parsing time ${JSON.stringify(value)} as RFC3339: cannot parse`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const frac = m[7] ?? '';
  const zh = m[9] === undefined ? 0 : Number(m[9]);
  const zm = m[10] === undefined ? 0 : Number(m[10]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || s > 59 || zh > 24 || zm > 60) {
    throw new BuiltinError(builtin, `parsing time ${JSON.stringify(value)}: value out of range`);
  }
  // Go keeps at most nine fraction digits and drops the rest.
  const nsec = BigInt(`${frac.slice(0, 9)}000000000`.slice(0, 9));
  const offset = (zh * 3600 + zm * 60) * (m[8] === '-' ? -1 : 1);
  const sec = BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + s - offset);
  return sec * NS + nsec;
}

// Go's time.Date for a wall clock in a zone: guess the offset at the wall time
// read as UTC, and re-resolve once if that guess lands in another period.
function wallToUnix(builtin: string, wallSec: bigint, zone: string): bigint {
  const guess = offsetSeconds(builtin, zone, wallSec);
  if (guess === 0) return wallSec;
  const actual = offsetSeconds(builtin, zone, wallSec - BigInt(guess));
  return wallSec - BigInt(actual);
}

function addDate(builtin: string, t: ZonedTime, years: number, months: number, days: number): bigint {
  const f = fieldsOf(builtin, t);
  const m0 = f.m - 1 + months;
  const y = f.y + years + Math.floor(m0 / 12);
  const m = (((m0 % 12) + 12) % 12) + 1;
  // Anything this far out is outside int64 ns anyway; stop before Intl/Date overflow.
  if (Math.abs(y) > 100000 || Math.abs(days) > 1e8) throw new BuiltinError(builtin, 'time outside of valid range');
  const dayNum = daysFromCivil(y, m, 1) + f.d - 1 + days;
  const wallSec = BigInt(dayNum) * 86400n + BigInt(f.h * 3600 + f.mi * 60 + f.s);
  if (wallSec < MIN_NS / NS - 86400n * 2n || wallSec > MAX_NS / NS + 86400n * 2n) {
    throw new BuiltinError(builtin, 'time outside of valid range');
  }
  return wallToUnix(builtin, wallSec, t.zone) * NS + f.nsec;
}

// Calendar difference, transcribed from OPA's builtinDiff (itself from
// github.com/icza/gox): both times are read in the first argument's zone.
function diff(builtin: string, a: ZonedTime, b: ZonedTime): number[] {
  let t1 = a;
  let t2: ZonedTime = { ns: b.ns, zone: a.zone };
  if (t1.ns > t2.ns) [t1, t2] = [t2, t1];
  const f1 = fieldsOf(builtin, t1);
  const f2 = fieldsOf(builtin, t2);
  let year = f2.y - f1.y;
  let month = f2.m - f1.m;
  let day = f2.d - f1.d;
  let hour = f2.h - f1.h;
  let min = f2.mi - f1.mi;
  let sec = f2.s - f1.s;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += daysIn(f1.m, f1.y);
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}

export interface Clock {
  /** Nanoseconds since the epoch for the evaluation in progress. */
  nowNs(): bigint;
}

export function wallClockNs(nowMs?: number): bigint {
  const ms = nowMs ?? performance.timeOrigin + performance.now();
  if (!Number.isFinite(ms)) throw new TypeError(`invalid time ${ms}`);
  // Use the decimal digits as written: ms * 1e6 in floating point would turn
  // 1700000000123.456 into ...123456055 ns.
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(ms));
  if (m === null) return BigInt(Math.round(ms * 1e6));
  const ns = BigInt(m[2] as string) * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0').slice(0, 6));
  return m[1] === '-' ? -ns : ns;
}

export function timeBuiltins(clock: Clock): Record<string, BuiltinFn> {
  return {
    'time.now_ns': () => exactInt(clock.nowNs()),
    'time.parse_rfc3339_ns': (value: unknown) => {
      const b = 'time.parse_rfc3339_ns';
      return safeNs(b, parseRFC3339(b, stringOperand(b, value, 1)));
    },
    'time.date': (x: unknown) => {
      const f = fieldsOf('time.date', tzTime('time.date', x));
      return [f.y, f.m, f.d];
    },
    'time.clock': (x: unknown) => {
      const f = fieldsOf('time.clock', tzTime('time.clock', x));
      return [f.h, f.mi, f.s];
    },
    'time.weekday': (x: unknown) => {
      const f = fieldsOf('time.weekday', tzTime('time.weekday', x));
      return WEEKDAYS[(((f.days + 4) % 7) + 7) % 7];
    },
    'time.add_date': (x: unknown, years: unknown, months: unknown, days: unknown) => {
      const b = 'time.add_date';
      const t = tzTime(b, x);
      const ns = addDate(b, t, intOperand(b, years, 2), intOperand(b, months, 3), intOperand(b, days, 4));
      return safeNs(b, ns);
    },
    'time.diff': (x: unknown, y: unknown) => diff('time.diff', tzTime('time.diff', x), tzTime('time.diff', y)),
  };
}
