// SPIFFE IDs exactly as the SPIFFE ID standard defines them. Nothing is
// normalised: an ID that would need folding, decoding or trimming is not an ID,
// because two parties that normalise differently would disagree on who a
// caller is.
import type { SpiffeIdParts } from '../types/Identity.ts';

export const SPIFFE_SCHEME = 'spiffe://';
export const MAX_SPIFFE_ID_BYTES = 2048;
export const MAX_TRUST_DOMAIN_BYTES = 255;

/** Why a string is not a SPIFFE ID; `message` is safe to log (it never repeats the input). */
export class SpiffeIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpiffeIdError';
  }
}

// Character classes of the standard. Both are ASCII-only, so once a string
// passes them its length in UTF-16 units is its length in bytes.
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]+$/;
const PATH_SEGMENT_CHAR = /^[A-Za-z0-9._-]+$/;
// A whole valid path in one pass, without splitting it: every Check's caller
// is parsed, and nearly every one is valid. Segments of "." or ".." are refused
// by the lookahead. pathError() still says why a path fails.
const VALID_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)+$/;

/** Trust-domain name check (also for configuration: trust domain lists, bundle keys). */
export function trustDomainError(td: string): string | undefined {
  if (td.length === 0) return 'trust domain is missing';
  if (td.length > MAX_TRUST_DOMAIN_BYTES) return 'trust domain is longer than 255 bytes';
  if (!TRUST_DOMAIN_CHAR.test(td)) {
    return 'trust domain characters are limited to lowercase letters, digits, ".", "-" and "_"';
  }
  return undefined;
}

export function isTrustDomain(td: string): boolean {
  return trustDomainError(td) === undefined;
}

function pathError(path: string): string | undefined {
  // path starts with "/"; split keeps a trailing "" for a trailing slash.
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (seg === '') return i === segments.length - 1 ? 'path cannot have a trailing slash' : 'path cannot contain empty segments';
    if (seg === '.' || seg === '..') return 'path cannot contain dot segments';
    if (!PATH_SEGMENT_CHAR.test(seg)) {
      return 'path segment characters are limited to letters, digits, ".", "-" and "_"';
    }
  }
  return undefined;
}

/** Parses a SPIFFE ID; returns the parts or a SpiffeIdError (never throws). */
export function parseSpiffeId(s: string): SpiffeIdParts | SpiffeIdError {
  if (typeof s !== 'string' || s.length === 0) return new SpiffeIdError('SPIFFE ID is empty');
  // A UTF-16 length is never more than the UTF-8 byte length, so this bound is
  // safe to apply before looking at the characters (it bounds the work too).
  if (s.length > MAX_SPIFFE_ID_BYTES) return new SpiffeIdError('SPIFFE ID is longer than 2048 bytes');
  if (!s.startsWith(SPIFFE_SCHEME)) return new SpiffeIdError('scheme is missing or invalid');
  const rest = s.slice(SPIFFE_SCHEME.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  // ":" (port), "@" (userinfo), "%" (encoding), "?" and "#" all fail the class.
  const tdErr = trustDomainError(td);
  if (tdErr !== undefined) return new SpiffeIdError(tdErr);
  // Should the two ever disagree, the path is refused.
  if (path !== '' && !VALID_PATH.test(path)) return new SpiffeIdError(pathError(path) ?? 'path is invalid');
  return { spiffe_id: s, trust_domain: td, path, ...kubernetesParts(path) };
}

/** Throwing variant of parseSpiffeId, for configuration and tests. */
export function mustParseSpiffeId(s: string): SpiffeIdParts {
  const r = parseSpiffeId(s);
  if (r instanceof SpiffeIdError) throw r;
  return r;
}

/** The parts, or null when `s` is not a SPIFFE ID. */
export function trySpiffeId(s: unknown): SpiffeIdParts | null {
  if (typeof s !== 'string') return null;
  const r = parseSpiffeId(s);
  return r instanceof SpiffeIdError ? null : r;
}

// Istio and SPIRE's Kubernetes registrar name workloads
// spiffe://<td>/ns/<namespace>/sa/<service-account>; only that exact shape
// fills namespace and service_account, so a longer path cannot pose as one.
function kubernetesParts(path: string): { namespace: string | null; service_account: string | null } {
  const seg = path.split('/');
  if (seg.length === 5 && seg[1] === 'ns' && seg[3] === 'sa') {
    return { namespace: seg[2] as string, service_account: seg[4] as string };
  }
  return { namespace: null, service_account: null };
}

/** The trust domain of a valid SPIFFE ID, null otherwise. */
export function trustDomainOf(id: string): string | null {
  return trySpiffeId(id)?.trust_domain ?? null;
}

/** A workload ID has a path; the bare trust-domain ID names no workload. */
export function isWorkloadId(id: SpiffeIdParts): boolean {
  return id.path !== '';
}

/**
 * Membership compares the whole trust domain: `example.org.evil` and
 * `sub.example.org` are not members of `example.org`.
 */
export function isMemberOf(id: string | SpiffeIdParts, trustDomain: string): boolean {
  const parts = typeof id === 'string' ? trySpiffeId(id) : id;
  return parts !== null && parts.trust_domain === trustDomain;
}

/**
 * Whether `id` is `prefix` or below it, on segment boundaries:
 * `spiffe://td/ns/web` covers `spiffe://td/ns/web/sa/x` but not
 * `spiffe://td/ns/webhook`. `prefix` must itself be a valid SPIFFE ID
 * (a trust-domain ID covers every ID of that domain).
 */
export function hasIdPrefix(id: string | SpiffeIdParts, prefix: string | SpiffeIdParts): boolean {
  const a = typeof id === 'string' ? trySpiffeId(id) : id;
  const p = typeof prefix === 'string' ? trySpiffeId(prefix) : prefix;
  if (a === null || p === null || a.trust_domain !== p.trust_domain) return false;
  if (p.path === '') return true;
  return a.path === p.path || a.path.startsWith(`${p.path}/`);
}
