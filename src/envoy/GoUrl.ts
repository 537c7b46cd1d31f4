// parsed_path and parsed_query exactly as opa-envoy-plugin v1.19.1-envoy
// computes them (envoyauth/request.go getParsedPathAndQuery), for
// compat: opa-envoy. ztauthz itself canonicalises the target instead
// (src/route/CanonicalPath.ts) and refuses what is ambiguous; opa-envoy-plugin
// cuts at the first "?", unescapes the path with Go's url.PathUnescape (so
// %2F becomes a separator and "//a" loses its leading slashes), splits on "/"
// and parses the query with url.ParseQuery, whose first error fails the Check
// with a 400 "request_parse_error: <error>".
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';
import { FormValues } from './QueryString.ts';

export interface GoTarget {
  readonly segments: string[];
  readonly query: Record<string, JsonValue>;
}

/** Throws path_rejected with opa-envoy-plugin's 400 body when Go's url package refuses the target. */
export function goParsedPathAndQuery(target: string): GoTarget {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const path = goUnescape(rawPath, false);
  if (typeof path !== 'string') throw parseError(path.error);
  const segments = path.replace(/^\/+/, '').split('/');
  const query = new FormValues(undefined, 'query string');
  const error = goParseQuery(rawQuery, (key, value) => query.add(key, value));
  if (error !== undefined) throw parseError(error);
  return { segments, query: query.values };
}

/** Go's defaultMaxParams (GODEBUG urlmaxqueryparams, since Go 1.24). */
const GO_MAX_QUERY_PARAMS = 10_000;

/**
 * Go's url.ParseQuery: hands every pair it can read to `add` and returns its
 * error text, if any: the last ";" pair's error over any other, else the first
 * bad escape's. `goLimit`: more than Go's 10,000 "&"-separated pairs is an
 * error before any pair is read (without it, the caller's own bounds apply).
 */
export function goParseQuery(raw: string, add: (key: string, value: string) => void, goLimit = true): string | undefined {
  if (goLimit) {
    let pairs = 1;
    for (let at = raw.indexOf('&'); at >= 0 && pairs <= GO_MAX_QUERY_PARAMS; at = raw.indexOf('&', at + 1)) pairs++;
    if (pairs > GO_MAX_QUERY_PARAMS) return 'number of URL query parameters exceeded limit';
  }
  let first: string | undefined;
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf('&', start);
    if (end < 0) end = raw.length;
    const pair = raw.slice(start, end);
    start = end + 1;
    if (pair.includes(';')) {
      // Go assigns this error over any earlier one.
      first = 'invalid semicolon separator in query';
      continue;
    }
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = goUnescape(eq < 0 ? pair : pair.slice(0, eq), true);
    if (typeof key !== 'string') {
      first ??= key.error;
      continue;
    }
    const value = goUnescape(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (typeof value !== 'string') {
      first ??= value.error;
      continue;
    }
    add(key, value);
  }
  return first;
}

function parseError(message: string): CheckError {
  return new CheckError(Reason.pathRejected, message, { httpStatus: 400, headers: [], body: `request_parse_error: ${message}` });
}

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * Go's url.unescape in encodePathSegment (PathUnescape) or encodeQueryComponent
 * (QueryUnescape, where "+" is a space) mode. Decoded bytes that are not UTF-8
 * become U+FFFD (Go keeps the bytes, which JSON cannot carry either).
 */
function goUnescape(s: string, query: boolean): string | { error: string } {
  if (!s.includes('%') && !(query && s.includes('+'))) return s;
  const bytes: number[] = [];
  const text = Buffer.from(s, 'utf8');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === 0x25) {
      const hex = text.subarray(i + 1, i + 3).toString('latin1');
      if (!HEX.test(hex)) return { error: `invalid URL escape ${goQuote(text.subarray(i, i + 3).toString('utf8'))}` };
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c === 0x2b && query) {
      bytes.push(0x20);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** strconv.Quote for the short escapes url reports (ASCII and valid UTF-8 as is, the rest escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code === 0xfffd) out += '\\ufffd';
    else if (code < 0x20 || code === 0x7f)
      out += code === 0x0a ? '\\n' : code === 0x09 ? '\\t' : code === 0x0d ? '\\r' : `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
