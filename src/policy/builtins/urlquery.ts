// urlquery.* builtins: Go's url.QueryEscape / QueryUnescape / Values.Encode /
// ParseQuery, byte for byte. encodeURIComponent and URLSearchParams differ
// from Go on reserved characters (!'()*), on malformed escapes (Go errors,
// URLSearchParams passes them through) and on ';' (Go 1.17+ errors).

import type { BuiltinFn } from './index.ts';
import { BuiltinError, compareGoStrings, goBytesToString, operandTypeError, stringOperand, utf8 } from './util.ts';

// Go 1.26's default for GODEBUG urlmaxqueryparams.
const MAX_QUERY_PARAMS = 10000;

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

export function queryEscape(s: string): string {
  let out = '';
  for (const c of utf8(s)) {
    if (isUnreserved(c)) out += String.fromCharCode(c);
    else if (c === 0x20) out += '+';
    else out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

function queryUnescape(builtin: string, s: string): string {
  const b = utf8(s);
  const out = Buffer.alloc(b.length);
  let n = 0;
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    if (c === 0x25) {
      if (i + 2 >= b.length || !isHex(b[i + 1]) || !isHex(b[i + 2])) {
        const bad = goBytesToString(b.subarray(i, i + 3));
        throw new BuiltinError(builtin, `invalid URL escape ${JSON.stringify(bad)}`);
      }
      out[n++] = parseInt(String.fromCharCode(b[i + 1] as number, b[i + 2] as number), 16);
      i += 3;
    } else {
      out[n++] = c === 0x2b ? 0x20 : c;
      i += 1;
    }
  }
  return goBytesToString(out.subarray(0, n));
}

function encodeObject(x: unknown): string {
  const name = 'urlquery.encode_object';
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw operandTypeError(name, 1, x, 'object');
  const invalid = () => new BuiltinError(name, 'operand 1 values must be string, array[string], or set[string]');
  const pairs: string[] = [];
  // url.Values.Encode sorts keys bytewise and keeps each key's value order.
  for (const key of Object.keys(x).sort(compareGoStrings)) {
    const v = (x as Record<string, unknown>)[key];
    const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
    if (values === undefined) throw invalid();
    for (const item of values) {
      if (typeof item !== 'string') throw invalid();
      pairs.push(`${queryEscape(key)}=${queryEscape(item)}`);
    }
  }
  return pairs.join('&');
}

function decodeObject(x: unknown): Record<string, string[]> {
  const name = 'urlquery.decode_object';
  let query = stringOperand(name, x, 1);
  let ampersands = 0;
  for (let i = query.indexOf('&'); i !== -1; i = query.indexOf('&', i + 1)) ampersands++;
  if (ampersands + 1 > MAX_QUERY_PARAMS) throw new BuiltinError(name, `number of URL query parameters exceeded limit of ${MAX_QUERY_PARAMS}`);
  // A null-prototype object, so "__proto__" is an ordinary key as in OPA.
  const result: Record<string, string[]> = Object.create(null);
  // ParseQuery keeps going after a bad pair and reports the first error;
  // OPA turns any error into a builtin error, so stopping early is equivalent.
  while (query !== '') {
    const amp = query.indexOf('&');
    const segment = amp === -1 ? query : query.slice(0, amp);
    query = amp === -1 ? '' : query.slice(amp + 1);
    if (segment.includes(';')) throw new BuiltinError(name, 'invalid semicolon separator in query');
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const key = queryUnescape(name, eq === -1 ? segment : segment.slice(0, eq));
    const value = queryUnescape(name, eq === -1 ? '' : segment.slice(eq + 1));
    (result[key] ??= []).push(value);
  }
  return result;
}

export function urlqueryBuiltins(): Record<string, BuiltinFn> {
  return {
    'urlquery.encode': (x: unknown) => queryEscape(stringOperand('urlquery.encode', x, 1)),
    'urlquery.decode': (x: unknown) => queryUnescape('urlquery.decode', stringOperand('urlquery.decode', x, 1)),
    'urlquery.encode_object': encodeObject,
    'urlquery.decode_object': decodeObject,
  };
}
