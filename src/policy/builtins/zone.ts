// Time-zone offsets for the time.* builtins' optional [ns, "tz"] argument.
// OPA uses Go's tzdata; we use the ICU data behind Intl, which carries the same
// IANA database. Intl is more permissive than Go's time.LoadLocation in a few
// ways (case-insensitive names, "+05:00" offset zones), so those are rejected
// here to keep "unknown time zone" an error in both.

import { BuiltinError } from './util.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_CACHED_ZONES = 256; // zone names can come from request input

export const LOCAL = 'Local';

function formatterFor(builtin: string, zone: string): Intl.DateTimeFormat {
  const cached = formatters.get(zone);
  if (cached !== undefined) return cached;
  if (/^[+-]/.test(zone) || (/^(?:GMT|UTC|UT)[+-]/i.test(zone) && !/^GMT[+-]0$/.test(zone))) {
    throw new BuiltinError(builtin, `unknown time zone ${zone}`);
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      ...(zone === LOCAL ? {} : { timeZone: zone }),
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new BuiltinError(builtin, `unknown time zone ${zone}`);
  }
  const resolved = fmt.resolvedOptions().timeZone;
  if (zone !== LOCAL && resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) {
    // Go looks names up case-sensitively; ICU does not.
    throw new BuiltinError(builtin, `unknown time zone ${zone}`);
  }
  if (formatters.size >= MAX_CACHED_ZONES) formatters.clear();
  formatters.set(zone, fmt);
  return fmt;
}

/** Throws the builtin's error if Go's time.LoadLocation would reject the name. */
export function checkZone(builtin: string, zone: string): void {
  if (zone !== 'UTC') formatterFor(builtin, zone);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(z: number): { y: number; m: number; d: number } {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

/** Seconds east of UTC in `zone` at the instant `unixSec`. */
export function offsetSeconds(builtin: string, zone: string, unixSec: bigint): number {
  if (zone === 'UTC') return 0;
  const fmt = formatterFor(builtin, zone);
  const ms = Number(unixSec) * 1000;
  if (!(Math.abs(ms) <= 8.64e15)) throw new BuiltinError(builtin, 'time outside of valid range');
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const rawYear = Number(parts.year);
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - rawYear : rawYear;
  const local =
    daysFromCivil(year, Number(parts.month), Number(parts.day)) * 86400 + Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
  return local - Number(unixSec);
}
