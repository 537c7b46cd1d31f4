// The one canonical form of the request target, used both to match routes and
// as the policy's parsed_path, so the policy and the router can never disagree
// about which resource is asked for. Anything that servers behind Envoy could
// read in more than one way is REFUSED, never repaired: repairing (merging
// slashes, resolving "..", decoding %2F) is exactly what the bypasses in
// ../shared/reference/attacks.md exploit, because the backend repairs
// differently or not at all.
//
// How `segments` (the canonical parsed_path) differs from opa-envoy-plugin's:
// opa-envoy-plugin runs the raw path through Go's url.Parse, so "//admin/secret"
// becomes authority "admin" + path "/secret" and parsed_path ["secret"]: a rule
// on parsed_path[0] == "admin" never sees it (CVE-2026-26205). Here "//admin"
// is refused (empty segment), as are "%2F" (opa-envoy-plugin decodes it into
// one segment "a/b"), dot segments, ";" and "\". For every path accepted here,
// segments equal what opa-envoy-plugin computes for the same path, with one
// exception: "OPTIONS *" gives [] (it names the server, not a resource).
import { CheckError, Reason } from '../types/Reason.ts';
import { RouteReason } from './RouteReasons.ts';

export interface CanonicalPath {
  /** The path without query: unreserved escapes (%41, %7E, %2E inside a name...) decoded, other escapes kept with upper-case hex. "*" for OPTIONS *. */
  readonly path: string;
  /** Decoded segments, the leading "/" removed: "/" → [""], "/a/b/" → ["a", "b", ""], "*" → []. */
  readonly segments: string[];
  /** The query after "?", validated but not decoded ("" when there is none). */
  readonly query: string;
}

export interface CanonicalPathOptions {
  /** Longest request target (path and query) in bytes; longer is request_too_large (config request.max_path_bytes). */
  readonly maxPathBytes: number;
}

// Per ASCII code: what may appear literally in a path segment (RFC 3986 pchar).
const BAD = 0;
const PCHAR = 1; // sub-delims (minus ";"), ":" and "@": allowed, never decoded from escapes
const UNRESERVED = 2; // ALPHA DIGIT "-" "." "_" "~": an escape of these is decoded
const CLASS = new Uint8Array(128);
for (const ch of "!$&'()*+,=:@") CLASS[ch.charCodeAt(0)] = PCHAR;
for (const ch of '-._~') CLASS[ch.charCodeAt(0)] = UNRESERVED;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = UNRESERVED;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UNRESERVED;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = UNRESERVED;

const SLASH = 0x2f;
const PERCENT = 0x25;
const _QUESTION = 0x3f;
const ASTERISK: CanonicalPath = Object.freeze({ path: '*', segments: [] as string[], query: '' });

/**
 * Canonicalises Envoy's `request.http.path` (the raw request target, query
 * included). Throws CheckError path_rejected for ambiguous or malformed
 * targets and request_too_large beyond `maxPathBytes`.
 */
export function canonicalPath(method: string, target: string, opts: CanonicalPathOptions): CanonicalPath {
  // Length first, so the scan below is bounded. A non-ASCII character makes
  // the byte length larger than .length, but such targets are refused anyway.
  if (target.length > opts.maxPathBytes) {
    throw new CheckError(Reason.requestTooLarge, `path is longer than ${opts.maxPathBytes} bytes`);
  }
  if (target === '*') {
    if (method === 'OPTIONS') return ASTERISK;
    reject('asterisk-form target "*" is only meaningful for OPTIONS');
  }
  if (target.charCodeAt(0) !== SLASH) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)) {
      reject('absolute-form target (scheme://host/...): the authority must come from :authority, not the path');
    }
    reject(target === '' ? 'empty request target' : 'request target does not start with "/"');
  }

  const q = target.indexOf('?');
  const end = q < 0 ? target.length : q;
  const segments: string[] = [];
  let rewrite = false; // some escape is decoded or its hex is lower-case: `path` must be rebuilt
  let segStart = 1;
  let segEscaped = false;
  for (let i = 1; i <= end; i++) {
    const c = i < end ? target.charCodeAt(i) : SLASH;
    if (c === SLASH) {
      segments.push(segEscaped ? decodeSegment(target, segStart, i) : target.slice(segStart, i));
      checkSegment(segments, i === end);
      segStart = i + 1;
      segEscaped = false;
    } else if (c === PERCENT) {
      const b = hexByte(target, i);
      const cls = CLASS[b] ?? BAD;
      if (cls !== UNRESERVED) checkEscapedByte(b, i);
      if (cls === UNRESERVED || hasLowerHex(target, i)) rewrite = true;
      segEscaped = true;
      i += 2;
    } else if (c >= 0x80 || (CLASS[c] ?? BAD) === BAD) {
      rejectChar(c, i);
    }
  }
  const path = rewrite ? rebuildPath(target, end) : target.slice(0, end);
  const query = q < 0 ? '' : checkQuery(target, q + 1);
  return { path, segments, query };
}

/** Refuses empty segments (except a final one: "/" and a trailing slash) and dot segments, checked after decoding. */
function checkSegment(segments: string[], last: boolean): void {
  const seg = segments[segments.length - 1] as string;
  if (seg === '' && !last) reject('empty path segment ("//"): servers that merge slashes would see a different path');
  if (seg === '.' || seg === '..') reject(`dot segment "${seg}" (also when percent-encoded): servers resolve it after the check`);
}

/** Escapes of bytes that change the path's structure or meaning are refused; the others (space, quotes, sub-delims...) stay encoded in `path` and are decoded in `segments`. */
function checkEscapedByte(b: number, at: number): void {
  switch (b) {
    case 0x2f:
      reject(`encoded "/" (%2F) at byte ${at}: servers that decode it see another path`);
    case 0x5c:
      reject(`encoded "\\" (%5C) at byte ${at}: some servers treat it as "/"`);
    case 0x00:
      reject(`encoded NUL (%00) at byte ${at}`);
    case 0x25:
      reject(`encoded "%" (%25) at byte ${at}: double encoding is decoded twice by some servers`);
    case 0x3b:
      reject(`encoded ";" (%3B) at byte ${at}: some servers decode it into a path parameter`);
    case 0x3f:
      reject(`encoded "?" (%3F) at byte ${at}: some servers decode it into a query`);
    case 0x23:
      reject(`encoded "#" (%23) at byte ${at}: some servers decode it into a fragment`);
  }
  if (b < 0x20 || b === 0x7f) reject(`encoded control byte %${hex2(b)} at byte ${at}`);
  if (b >= 0x80) reject(`encoded non-ASCII byte %${hex2(b)} at byte ${at}: overlong UTF-8 forms decode differently per server`);
}

function rejectChar(c: number, at: number): never {
  if (c === 0x5c) reject(`"\\" at byte ${at}: some servers treat it as "/"`);
  if (c === 0x3b) reject(`";" at byte ${at}: path parameters ("..;/") are stripped by some servers and not others`);
  if (c === 0x23) reject(`"#" at byte ${at}: a fragment never belongs in a request target`);
  if (c < 0x20 || c === 0x7f) reject(`control byte 0x${hex2(c)} at byte ${at}`);
  if (c >= 0x80) reject(`non-ASCII character at byte ${at}: it must be percent-encoded`);
  reject(`character "${String.fromCharCode(c)}" at byte ${at} is not allowed in a path`);
}

/** The query stays raw (parsed_query parses it); refuse only what parsers disagree on. */
function checkQuery(target: string, start: number): string {
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === PERCENT) {
      if (hexByte(target, i) === 0) reject(`encoded NUL (%00) in the query at byte ${i}`);
      i += 2;
    } else if (c === 0x23) {
      reject(`"#" at byte ${i}: a fragment never belongs in a request target`);
    } else if (c === 0x3b) {
      reject(`";" in the query at byte ${i}: some parsers split parameters on it, others do not (CVE-2021-23336)`);
    } else if (c <= 0x20 || c === 0x7f) {
      reject(`control byte or space 0x${hex2(c)} in the query at byte ${i}`);
    } else if (c >= 0x80) {
      reject(`non-ASCII character in the query at byte ${i}: it must be percent-encoded`);
    }
  }
  return target.slice(start);
}

/** The byte a "%XX" at `at` encodes; rejects a "%" not followed by two hex digits. */
function hexByte(s: string, at: number): number {
  const hi = hexValue(s.charCodeAt(at + 1));
  const lo = hexValue(s.charCodeAt(at + 2));
  if (hi < 0 || lo < 0) reject(`bad percent-encoding at byte ${at}`);
  return (hi << 4) | lo;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function hasLowerHex(s: string, at: number): boolean {
  return s.charCodeAt(at + 1) >= 0x61 || s.charCodeAt(at + 2) >= 0x61;
}

/** A segment with escapes, fully decoded (only bytes checkEscapedByte let through reach here: printable ASCII). */
function decodeSegment(s: string, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) === PERCENT) {
      out += String.fromCharCode(hexByte(s, i));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/** `path` with unreserved escapes decoded and the rest in upper-case hex (RFC 3986 6.2.2.1 and 6.2.2.2). */
function rebuildPath(s: string, end: number): string {
  let out = '';
  for (let i = 0; i < end; i++) {
    if (s.charCodeAt(i) !== PERCENT) {
      out += s[i];
      continue;
    }
    const b = hexByte(s, i);
    out += CLASS[b] === UNRESERVED ? String.fromCharCode(b) : `%${hex2(b)}`;
    i += 2;
  }
  return out;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

function reject(why: string): never {
  throw new CheckError(RouteReason.pathRejected, `path rejected: ${why}`);
}
