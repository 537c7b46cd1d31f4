// time.format and time.parse_ns: Go's reference-time layouts
// ("2006-01-02T15:04:05Z07:00", or OPA's named ones: "RFC3339", "ANSIC"…),
// transcribed from Go's time package (nextStdChunk, Time.Format, Parse).
//
// One known difference: the "MST" element of a non-UTC zone prints the
// abbreviation ICU knows (Intl, en-US), not Go's tzdata one; they agree for
// the US zones and UTC, and differ for e.g. Asia/Kolkata (ICU "GMT+5:30", Go "IST").

import type { BuiltinFn } from './index.ts';
import { BuiltinError, stringOperand } from './util.ts';
import { type ZonedTime, daysIn, fieldsOf, parseRFC3339, safeNs, tzTime } from './time.ts';
import { daysFromCivil, offsetSeconds } from './zone.ts';

const NAMED: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

type Std =
  | 'LongMonth'
  | 'Month'
  | 'NumMonth'
  | 'ZeroMonth'
  | 'LongWeekDay'
  | 'WeekDay'
  | 'Day'
  | 'UnderDay'
  | 'ZeroDay'
  | 'UnderYearDay'
  | 'ZeroYearDay'
  | 'Hour'
  | 'Hour12'
  | 'ZeroHour12'
  | 'Minute'
  | 'ZeroMinute'
  | 'Second'
  | 'ZeroSecond'
  | 'LongYear'
  | 'Year'
  | 'PM'
  | 'pm'
  | 'TZ'
  | 'ISO8601TZ'
  | 'ISO8601SecondsTZ'
  | 'ISO8601ShortTZ'
  | 'ISO8601ColonTZ'
  | 'ISO8601ColonSecondsTZ'
  | 'NumTZ'
  | 'NumSecondsTz'
  | 'NumShortTZ'
  | 'NumColonTZ'
  | 'NumColonSecondsTZ'
  | 'FracSecond0'
  | 'FracSecond9';

interface Chunk {
  prefix: string;
  std?: Std;
  /** Fraction digits, and the separator, for FracSecond*. */
  digits?: number;
  sep?: string;
  suffix: string;
}

const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
const isDigitAt = (s: string, i: number): boolean => i < s.length && s[i]! >= '0' && s[i]! <= '9';
const STD0X: Std[] = ['ZeroMonth', 'ZeroDay', 'ZeroHour12', 'ZeroMinute', 'ZeroSecond', 'Year'];
const TZ_FORMS: [string, Std][] = [
  ['070000', 'NumSecondsTz'],
  ['07:00:00', 'NumColonSecondsTZ'],
  ['0700', 'NumTZ'],
  ['07:00', 'NumColonTZ'],
  ['07', 'NumShortTZ'],
];
const ISO_FORMS: Record<string, Std> = {
  NumSecondsTz: 'ISO8601SecondsTZ',
  NumColonSecondsTZ: 'ISO8601ColonSecondsTZ',
  NumTZ: 'ISO8601TZ',
  NumColonTZ: 'ISO8601ColonTZ',
  NumShortTZ: 'ISO8601ShortTZ',
};

/** Go's nextStdChunk. */
function nextChunk(layout: string): Chunk {
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i];
    const at = (s: string): boolean => layout.startsWith(s, i);
    const hit = (std: Std, len: number): Chunk => ({ prefix: layout.slice(0, i), std, suffix: layout.slice(i + len) });
    switch (c) {
      case 'J':
        if (at('Jan')) {
          if (at('January')) return hit('LongMonth', 7);
          if (!isLower(layout[i + 3])) return hit('Month', 3);
        }
        break;
      case 'M':
        if (layout.length >= i + 3) {
          if (at('Mon')) {
            if (at('Monday')) return hit('LongWeekDay', 6);
            if (!isLower(layout[i + 3])) return hit('WeekDay', 3);
          }
          if (at('MST')) return hit('TZ', 3);
        }
        break;
      case '0': {
        const n = layout[i + 1];
        if (n !== undefined && n >= '1' && n <= '6') return hit(STD0X[n.charCodeAt(0) - 49] as Std, 2);
        if (at('002')) return hit('ZeroYearDay', 3);
        break;
      }
      case '1':
        if (layout[i + 1] === '5') return hit('Hour', 2);
        return hit('NumMonth', 1);
      case '2':
        if (at('2006')) return hit('LongYear', 4);
        return hit('Day', 1);
      case '_':
        if (layout[i + 1] === '2') {
          if (layout.startsWith('2006', i + 1)) return { prefix: layout.slice(0, i + 1), std: 'LongYear', suffix: layout.slice(i + 5) };
          return hit('UnderDay', 2);
        }
        if (at('__2')) return hit('UnderYearDay', 3);
        break;
      case '3':
        return hit('Hour12', 1);
      case '4':
        return hit('Minute', 1);
      case '5':
        return hit('Second', 1);
      case 'P':
        if (layout[i + 1] === 'M') return hit('PM', 2);
        break;
      case 'p':
        if (layout[i + 1] === 'm') return hit('pm', 2);
        break;
      case '-':
        for (const [form, std] of TZ_FORMS) if (layout.startsWith(form, i + 1)) return hit(std, form.length + 1);
        break;
      case 'Z':
        for (const [form, std] of TZ_FORMS) if (layout.startsWith(form, i + 1)) return hit(ISO_FORMS[std] as Std, form.length + 1);
        break;
      case '.':
      case ',': {
        const ch = layout[i + 1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          if (!isDigitAt(layout, j)) {
            return { prefix: layout.slice(0, i), std: ch === '0' ? 'FracSecond0' : 'FracSecond9', digits: j - (i + 1), sep: c, suffix: layout.slice(j) };
          }
        }
        break;
      }
    }
  }
  return { prefix: layout, suffix: '' };
}

function pad(n: number, width: number, fill = '0'): string {
  const s = String(Math.abs(n)).padStart(width, fill);
  return n < 0 ? `-${s}` : s;
}

/** The zone's abbreviation (Go's tzdata names where ICU agrees; see the file comment). */
function zoneName(zone: string, unixSec: bigint, offset: number): string {
  if (zone === 'UTC') return 'UTC';
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone === 'Local' ? undefined : zone, timeZoneName: 'short' }).formatToParts(
      new Date(Number(unixSec) * 1000),
    );
    const name = parts.find((p) => p.type === 'timeZoneName')?.value;
    if (name !== undefined && /^[A-Z]{3,5}$/.test(name)) return name;
  } catch {
    // fall through to the numeric form
  }
  // Go's tzdata uses "+0545"-style names where there is no abbreviation.
  const m = Math.abs(offset) / 60;
  const hh = pad(Math.floor(m / 60), 2);
  const mm = m % 60;
  return `${offset < 0 ? '-' : '+'}${hh}${mm === 0 ? '' : pad(mm, 2)}`;
}

function format(builtin: string, t: ZonedTime, layoutIn: string): string {
  const f = fieldsOf(builtin, t);
  const sec = (t.ns - f.nsec) / 1_000_000_000n;
  const offset = offsetSeconds(builtin, t.zone, sec);
  const yday = f.days - daysFromCivil(f.y, 1, 1) + 1;
  const weekday = (((f.days + 4) % 7) + 7) % 7;
  let out = '';
  let layout = layoutIn;
  while (layout !== '') {
    const ch = nextChunk(layout);
    out += ch.prefix;
    if (ch.std === undefined) break;
    layout = ch.suffix;
    switch (ch.std) {
      case 'Year':
        out += pad(((f.y % 100) + 100) % 100, 2);
        break;
      case 'LongYear':
        out += pad(f.y, 4);
        break;
      case 'Month':
        out += (MONTHS[f.m - 1] as string).slice(0, 3);
        break;
      case 'LongMonth':
        out += MONTHS[f.m - 1];
        break;
      case 'NumMonth':
        out += String(f.m);
        break;
      case 'ZeroMonth':
        out += pad(f.m, 2);
        break;
      case 'WeekDay':
        out += (DAYS[weekday] as string).slice(0, 3);
        break;
      case 'LongWeekDay':
        out += DAYS[weekday];
        break;
      case 'Day':
        out += String(f.d);
        break;
      case 'UnderDay':
        out += pad(f.d, 2, ' ');
        break;
      case 'ZeroDay':
        out += pad(f.d, 2);
        break;
      case 'UnderYearDay':
        out += pad(yday, 3, ' ');
        break;
      case 'ZeroYearDay':
        out += pad(yday, 3);
        break;
      case 'Hour':
        out += pad(f.h, 2);
        break;
      case 'Hour12':
        out += String(f.h % 12 === 0 ? 12 : f.h % 12);
        break;
      case 'ZeroHour12':
        out += pad(f.h % 12 === 0 ? 12 : f.h % 12, 2);
        break;
      case 'Minute':
        out += String(f.mi);
        break;
      case 'ZeroMinute':
        out += pad(f.mi, 2);
        break;
      case 'Second':
        out += String(f.s);
        break;
      case 'ZeroSecond':
        out += pad(f.s, 2);
        break;
      case 'PM':
        out += f.h >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += f.h >= 12 ? 'pm' : 'am';
        break;
      case 'TZ': {
        out += zoneName(t.zone, sec, offset);
        break;
      }
      case 'FracSecond0':
      case 'FracSecond9': {
        let digits = f.nsec.toString().padStart(9, '0').slice(0, ch.digits);
        if (ch.std === 'FracSecond9') {
          digits = f.nsec.toString().padStart(9, '0').slice(0, ch.digits).replace(/0+$/, '');
          if (digits === '') break;
        }
        out += (ch.sep as string) + digits;
        break;
      }
      default: {
        const iso = ch.std.startsWith('ISO');
        if (offset === 0 && iso) {
          out += 'Z';
          break;
        }
        let zone = Math.trunc(offset / 60);
        let abs = offset;
        if (zone < 0) {
          out += '-';
          zone = -zone;
          abs = -abs;
        } else out += '+';
        out += pad(Math.floor(zone / 60), 2);
        if (ch.std.includes('Colon')) out += ':';
        if (!ch.std.endsWith('ShortTZ')) out += pad(zone % 60, 2);
        if (ch.std.includes('Seconds')) {
          if (ch.std.includes('Colon')) out += ':';
          out += pad(abs % 60, 2);
        }
      }
    }
  }
  return out;
}

// ---- parsing (Go's time.Parse in UTC) ----

class ParseFail extends Error {}

function lookup(table: readonly string[], value: string): [number, string] {
  for (let i = 0; i < table.length; i++) {
    const v = table[i] as string;
    if (value.length >= v.length && value.slice(0, v.length).toLowerCase() === v.toLowerCase()) return [i, value.slice(v.length)];
  }
  throw new ParseFail('bad value for field');
}

function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigitAt(s, 0)) throw new ParseFail('bad number');
  if (!isDigitAt(s, 1)) {
    if (fixed) throw new ParseFail('bad number');
    return [Number(s[0]), s.slice(1)];
  }
  return [Number(s.slice(0, 2)), s.slice(2)];
}

function getnum3(s: string, fixed: boolean): [number, string] {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigitAt(s, i); i++) n = n * 10 + Number(s[i]);
  if (i === 0 || (fixed && i !== 3)) throw new ParseFail('bad number');
  return [n, s.slice(i)];
}

function cutspace(s: string): string {
  let i = 0;
  while (s[i] === ' ') i++;
  return s.slice(i);
}

function skip(value: string, prefix: string): string {
  let v = value;
  let p = prefix;
  while (p.length > 0) {
    if (p[0] === ' ') {
      if (v.length > 0 && v[0] !== ' ') throw new ParseFail('bad literal');
      p = cutspace(p);
      v = cutspace(v);
      continue;
    }
    if (v.length === 0 || v[0] !== p[0]) throw new ParseFail('bad literal');
    p = p.slice(1);
    v = v.slice(1);
  }
  return v;
}

function parseNanoseconds(value: string, nbytes: number): number {
  if (value[0] !== '.' && value[0] !== ',') throw new ParseFail('bad fraction');
  const n = Math.min(nbytes, 10);
  const digits = value.slice(1, n);
  if (!/^[0-9]*$/.test(digits) || digits === '') throw new ParseFail('bad fraction');
  return Number(digits.padEnd(9, '0'));
}

/** Go's parseTimeZone: the length of a zone abbreviation at the start of value, or 0. */
function parseTimeZone(value: string): number {
  if (value.length < 3) return 0;
  if (value.length >= 4 && (value.startsWith('ChST') || value.startsWith('MeST'))) return 4;
  if (value.startsWith('GMT')) return 3 + signedOffsetLength(value.slice(3), true);
  if (value[0] === '+' || value[0] === '-') return signedOffsetLength(value, false);
  let n = 0;
  while (n < 6 && n < value.length && value[n]! >= 'A' && value[n]! <= 'Z') n++;
  switch (n) {
    case 0:
    case 1:
    case 2:
    case 6:
      return 0;
    case 5:
      return value[4] === 'T' ? 5 : 0;
    case 4:
      return value[3] === 'T' || value.startsWith('WITA') ? 4 : 0;
    default:
      return 3;
  }
}

function signedOffsetLength(value: string, gmt: boolean): number {
  if (value.length === 0) return 0;
  const sign = value[0];
  if (sign !== '+' && sign !== '-') return gmt ? 0 : 0;
  let i = 1;
  while (i < value.length && isDigitAt(value, i)) i++;
  if (i === 1) return 0;
  const n = Number(value.slice(1, i));
  if (!Number.isFinite(n) || n > 24) return 0;
  return i;
}

function parse(builtin: string, layoutIn: string, valueIn: string): bigint {
  if (layoutIn === NAMED.RFC3339 || layoutIn === NAMED.RFC3339Nano) return parseRFC3339(builtin, valueIn);
  let layout = layoutIn;
  let value = valueIn;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let pmSet = false;
  let amSet = false;
  let zoneOffset: number | undefined;
  let zoneName: string | undefined;
  const fail = (why: string): never => {
    throw new BuiltinError(builtin, `parsing time ${JSON.stringify(valueIn)} as ${JSON.stringify(layoutIn)}: ${why}`);
  };
  try {
    for (;;) {
      const ch = nextChunk(layout);
      value = skip(value, ch.prefix);
      if (ch.std === undefined) {
        if (value.length !== 0) fail(`extra text: ${JSON.stringify(value)}`);
        break;
      }
      layout = ch.suffix;
      let range: string | undefined;
      switch (ch.std) {
        case 'Year': {
          if (value.length < 2) throw new ParseFail('year');
          const [n, rest] = getnum(value.slice(0, 2), true);
          value = value.slice(2);
          void rest;
          year = n >= 69 ? n + 1900 : n + 2000;
          break;
        }
        case 'LongYear':
          if (value.length < 4 || !isDigitAt(value, 0) || !/^[0-9]{4}/.test(value)) throw new ParseFail('year');
          year = Number(value.slice(0, 4));
          value = value.slice(4);
          break;
        case 'Month':
          [month, value] = lookup(
            MONTHS.map((m) => m.slice(0, 3)),
            value,
          );
          month++;
          break;
        case 'LongMonth':
          [month, value] = lookup(MONTHS, value);
          month++;
          break;
        case 'NumMonth':
        case 'ZeroMonth':
          [month, value] = getnum(value, ch.std === 'ZeroMonth');
          if (month <= 0 || month > 12) range = 'month';
          break;
        case 'WeekDay':
          [, value] = lookup(
            DAYS.map((d) => d.slice(0, 3)),
            value,
          );
          break;
        case 'LongWeekDay':
          [, value] = lookup(DAYS, value);
          break;
        case 'Day':
        case 'UnderDay':
        case 'ZeroDay':
          if (ch.std === 'UnderDay' && value[0] === ' ') value = value.slice(1);
          [day, value] = getnum(value, ch.std === 'ZeroDay');
          break;
        case 'UnderYearDay':
        case 'ZeroYearDay':
          for (let i = 0; i < 2; i++) if (ch.std === 'UnderYearDay' && value[0] === ' ') value = value.slice(1);
          [yday, value] = getnum3(value, ch.std === 'ZeroYearDay');
          if (yday < 1 || yday > 366) range = 'day-of-year';
          break;
        case 'Hour':
          [hour, value] = getnum(value, false);
          if (hour < 0 || hour >= 24) range = 'hour';
          break;
        case 'Hour12':
        case 'ZeroHour12':
          [hour, value] = getnum(value, ch.std === 'ZeroHour12');
          if (hour < 0 || hour > 12) range = 'hour';
          break;
        case 'Minute':
        case 'ZeroMinute':
          [min, value] = getnum(value, ch.std === 'ZeroMinute');
          if (min < 0 || min >= 60) range = 'minute';
          break;
        case 'Second':
        case 'ZeroSecond': {
          [sec, value] = getnum(value, ch.std === 'ZeroSecond');
          if (sec < 0 || sec >= 60) {
            range = 'second';
            break;
          }
          // A fraction the layout does not mention is accepted after the seconds.
          if (value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigitAt(value, 1)) {
            const next = nextChunk(layout);
            if (next.std === 'FracSecond0' || next.std === 'FracSecond9') break;
            let n = 2;
            while (n < value.length && isDigitAt(value, n)) n++;
            nsec = parseNanoseconds(value, n);
            value = value.slice(n);
          }
          break;
        }
        case 'PM':
        case 'pm': {
          if (value.length < 2) throw new ParseFail('pm');
          const p = value.slice(0, 2);
          value = value.slice(2);
          const up = ch.std === 'PM';
          if (p === (up ? 'PM' : 'pm')) pmSet = true;
          else if (p === (up ? 'AM' : 'am')) amSet = true;
          else throw new ParseFail('pm');
          break;
        }
        case 'TZ': {
          if (value.startsWith('UTC')) {
            zoneOffset = 0;
            value = value.slice(3);
            break;
          }
          const n = parseTimeZone(value);
          if (n === 0) throw new ParseFail('zone');
          zoneName = value.slice(0, n);
          value = value.slice(n);
          break;
        }
        case 'FracSecond0': {
          const ndigit = 1 + (ch.digits as number);
          if (value.length < ndigit) throw new ParseFail('fraction');
          nsec = parseNanoseconds(value, ndigit);
          value = value.slice(ndigit);
          break;
        }
        case 'FracSecond9': {
          if (value.length < 2 || (value[0] !== '.' && value[0] !== ',') || !isDigitAt(value, 1)) break;
          let i = 0;
          while (i + 1 < value.length && isDigitAt(value, i + 1)) i++;
          nsec = parseNanoseconds(value, 1 + i);
          value = value.slice(1 + i);
          break;
        }
        default: {
          // numeric zone offsets; the ISO forms also take "Z"
          if (ch.std.startsWith('ISO') && value[0] === 'Z') {
            value = value.slice(1);
            zoneOffset = 0;
            break;
          }
          const colon = ch.std.includes('Colon');
          const short = ch.std.endsWith('ShortTZ');
          const secs = ch.std.includes('Seconds');
          const len = 3 + (short ? 0 : colon ? 3 : 2) + (secs ? (colon ? 3 : 2) : 0);
          if (value.length < len) throw new ParseFail('zone');
          const sign = value[0];
          if (sign !== '+' && sign !== '-') throw new ParseFail('zone');
          const part = value.slice(1, len);
          const re = short ? /^(\d\d)$/ : colon ? (secs ? /^(\d\d):(\d\d):(\d\d)$/ : /^(\d\d):(\d\d)$/) : secs ? /^(\d\d)(\d\d)(\d\d)$/ : /^(\d\d)(\d\d)$/;
          const m = re.exec(part);
          if (m === null) throw new ParseFail('zone');
          const hh = Number(m[1]);
          const mm = Number(m[2] ?? 0);
          const ss = Number(m[3] ?? 0);
          if (hh > 24) range = 'time zone offset hour';
          if (mm > 60) range = 'time zone offset minute';
          if (ss > 60) range = 'time zone offset second';
          zoneOffset = (hh * 3600 + mm * 60 + ss) * (sign === '-' ? -1 : 1);
          value = value.slice(len);
        }
      }
      if (range !== undefined) fail(`${range} out of range`);
    }
  } catch (e) {
    if (e instanceof ParseFail) fail(`cannot parse: ${e.message}`);
    throw e;
  }
  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;
  if (yday >= 0) {
    const leap = daysIn(2, year) === 29;
    if (yday > (leap ? 366 : 365)) fail('day-of-year out of range');
    let m = 1;
    let d = yday;
    while (d > daysIn(m, year)) {
      d -= daysIn(m, year);
      m++;
    }
    if ((month >= 0 && month !== m) || (day >= 0 && day !== d)) fail('day-of-year does not match');
    month = m;
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) fail('day out of range');
  // A zone abbreviation (MST, GMT+3…) only names a fabricated zone: in UTC,
  // the only location Parse consults, the wall time is read as UTC.
  void zoneName;
  const offset = zoneOffset ?? 0;
  const s = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec - offset);
  return s * 1_000_000_000n + BigInt(nsec);
}

export function timeFormatBuiltins(): Record<string, BuiltinFn> {
  return {
    'time.format': (x: unknown) => {
      const b = 'time.format';
      const t = tzTime(b, x);
      const layout = t.layout === undefined || t.layout === '' ? NAMED.RFC3339Nano : (NAMED[t.layout] ?? t.layout);
      return format(b, t, layout as string);
    },
    'time.parse_ns': (layout: unknown, value: unknown) => {
      const b = 'time.parse_ns';
      const l = stringOperand(b, layout, 1);
      const v = stringOperand(b, value, 2);
      return safeNs(b, parse(b, NAMED[l] ?? l, v));
    },
  };
}
