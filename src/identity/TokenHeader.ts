// Checks on a JWS protected header made before any key is looked up, and the
// JWT-SVID subject rule. jose itself never fetches jku/x5u and ignores an
// embedded jwk unless asked, but a token that carries them is asking us to
// trust keys it chose, so it is refused outright rather than half-honoured.
import type { SpiffeIdParts } from '../types/Identity.ts';
import { parseSpiffeId, SpiffeIdError } from './SpiffeId.ts';

export const ASYMMETRIC_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** JWT-SVID standard, section 3: no EdDSA, nothing symmetric. */
export const JWT_SVID_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

const KEY_CARRYING = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const JWT_SVID_HEADER = new Set(['alg', 'kid', 'typ']);

/** undefined when the header is acceptable for this issuer, otherwise why not. */
export function issuerHeaderError(header: Record<string, unknown>, algorithms: readonly string[], jwtSvid: boolean): string | undefined {
  const alg = header['alg'];
  if (typeof alg !== 'string' || !algorithms.includes(alg)) return 'algorithm not allowed';
  for (const p of KEY_CARRYING) if (Object.hasOwn(header, p)) return `header parameter ${p} not allowed`;
  if (jwtSvid) {
    for (const p of Object.keys(header)) if (!JWT_SVID_HEADER.has(p)) return `JWT-SVID header parameter ${p} not allowed`;
    const typ = header['typ'];
    if (typ !== undefined && typ !== 'JWT' && typ !== 'JOSE') return 'JWT-SVID typ not allowed';
  }
  return undefined;
}

/** A JWT-SVID's sub as a workload SPIFFE ID of `trustDomain`, or why it is not. */
export function spiffeSubject(sub: unknown, trustDomain: string): SpiffeIdParts | string {
  if (typeof sub !== 'string') return 'JWT-SVID sub missing';
  const id = parseSpiffeId(sub);
  if (id instanceof SpiffeIdError) return 'JWT-SVID sub is not a SPIFFE ID';
  if (id.trust_domain !== trustDomain) return 'JWT-SVID sub from another trust domain';
  if (id.path === '') return 'JWT-SVID sub names no workload';
  return id;
}
