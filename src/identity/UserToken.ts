// End-user JWTs (and JWT-SVIDs) verified with jose. A missing token is not an
// error (the policy decides what anonymous callers may do); a present token
// that fails any check yields no user and an RFC 6750 challenge. The size cap
// comes before any decoding, the header is vetted before any key lookup, and
// jose always gets algorithms, issuer, audience and required claims.
import type { JWTPayload, JWTVerifyGetKey, ProtectedHeaderParameters } from 'jose';
import { jose } from './Jose.ts';
import type { SpiffeIdParts, UserIdentity } from '../types/Identity.ts';
import { JwksUnavailableError, jwksFromFile, RemoteJwks, type RemoteJwksOptions } from './Jwks.ts';
import { tokenError, type TokenError } from './TokenError.ts';
import { issuerHeaderError, spiffeSubject, ASYMMETRIC_ALGORITHMS, JWT_SVID_ALGORITHMS } from './TokenHeader.ts';
import { trustDomainError } from './SpiffeId.ts';

export type { TokenError } from './TokenError.ts';

export interface IssuerOptions {
  /** Expected `iss`. "" only with spiffe_trust_domain: iss is then not checked (JWT-SVIDs need not carry one). */
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwks_file?: string | undefined;
  readonly jwks_url?: string | undefined;
  /** Default: every asymmetric JWS algorithm; symmetric ones and "none" are refused. */
  readonly algorithms?: readonly string[] | undefined;
  readonly clock_tolerance_s?: number | undefined;
  /** Request header carrying the token; default "authorization" (Bearer scheme). */
  readonly header?: string | undefined;
  /** Tokens of this issuer are JWT-SVIDs of this trust domain. */
  readonly spiffe_trust_domain?: string | undefined;
}

export interface UserTokenOptions {
  readonly issuers: readonly IssuerOptions[];
  readonly max_token_bytes?: number;
  readonly jwks_timeout_ms?: number;
  readonly jwks_cooldown_ms?: number;
  readonly jwks_cache_ms?: number;
  /** "deny": an invalid token is denied with 401 before the policy; "policy": the policy sees user null. */
  readonly invalid?: 'deny' | 'policy';
  /** Clock (ms) for token times; tests pin it. A remote JWKS is cached on jose's clock (Date.now). */
  readonly now?: () => number;
}

export interface UserTokenResult {
  readonly user: UserIdentity | null;
  /** The token's `exp` (seconds since the epoch): nothing derived from it may outlive it. */
  readonly expiresAt?: number;
  readonly error?: TokenError;
  /** error present and `invalid: deny`. */
  readonly deny: boolean;
}

interface Issuer {
  readonly opts: IssuerOptions;
  readonly header: string;
  readonly algorithms: readonly string[];
  readonly getKey: JWTVerifyGetKey;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class UserTokenVerifier {
  readonly #issuers: readonly Issuer[];
  readonly #headers: readonly string[];
  readonly #maxBytes: number;
  readonly #deny: boolean;
  readonly #now: () => number;

  /** Throws on an invalid configuration (naming the issuer); reads JWKS files now. */
  constructor(opts: UserTokenOptions) {
    this.#maxBytes = opts.max_token_bytes ?? 8192;
    this.#deny = (opts.invalid ?? 'deny') === 'deny';
    this.#now = opts.now ?? Date.now;
    const remote = {
      timeoutMs: opts.jwks_timeout_ms ?? 2000,
      cooldownMs: opts.jwks_cooldown_ms ?? 30_000,
      cacheMs: opts.jwks_cache_ms ?? 600_000,
    };
    this.#issuers = opts.issuers.map((o) => buildIssuer(o, remote));
    const seen = new Set<string>();
    for (const i of this.#issuers) {
      const key = `${i.header}\n${i.opts.issuer}\n${i.opts.issuer === '' ? i.opts.spiffe_trust_domain : ''}`;
      if (seen.has(key)) throw new Error(`issuer ${JSON.stringify(i.opts.issuer)}: listed twice for header ${i.header}`);
      seen.add(key);
    }
    this.#headers = [...new Set(this.#issuers.map((i) => i.header))];
  }

  async verify(headers: Readonly<Record<string, string>>): Promise<UserTokenResult> {
    // The first configured header that is present carries the token.
    const header = this.#headers.find((h) => (headers[h] ?? '') !== '');
    if (header === undefined) return { user: null, deny: false };
    const extracted = extractToken(header, headers[header] as string, this.#maxBytes);
    if (extracted === null) return { user: null, deny: false };
    if (typeof extracted !== 'string') return this.#fail(extracted);
    try {
      return await this.#verifyToken(header, extracted);
    } catch (e) {
      return this.#fail(classify(e));
    }
  }

  async #verifyToken(header: string, token: string): Promise<UserTokenResult> {
    let protectedHeader: ProtectedHeaderParameters;
    try {
      protectedHeader = jose().decodeProtectedHeader(token);
    } catch {
      return this.#fail(tokenError('malformed', 'token: malformed header'));
    }
    let claims: JWTPayload;
    try {
      claims = jose().decodeJwt(token);
    } catch {
      return this.#fail(tokenError('malformed', 'token: malformed payload'));
    }
    const issuer = this.#select(header, claims);
    if (issuer === undefined) return this.#fail(tokenError('invalid', 'token: issuer not accepted'));
    const headerErr = issuerHeaderError(protectedHeader, issuer.algorithms, issuer.opts.spiffe_trust_domain !== undefined);
    if (headerErr !== undefined) return this.#fail(tokenError('invalid', `token: ${headerErr}`));
    const clockTolerance = issuer.opts.clock_tolerance_s ?? 30;
    const now = this.#now();
    const { payload } = await jose().jwtVerify(token, issuer.getKey, {
      algorithms: [...issuer.algorithms],
      audience: [...issuer.opts.audiences],
      ...(issuer.opts.issuer !== '' ? { issuer: issuer.opts.issuer } : {}),
      requiredClaims: ['exp', 'sub', 'aud'],
      clockTolerance,
      currentDate: new Date(now),
    });
    // jose checks that iat is a number, but holds it to the clock only with
    // maxTokenAge, which ztauthz does not set: a token issued in the future
    // (a wrong issuer clock, or one minted to outlive a key rotation) would
    // pass. Refused past the clock tolerance, as jose's own iat check does.
    if (typeof payload.iat === 'number' && payload.iat > Math.floor(now / 1000) + clockTolerance) {
      return this.#fail(tokenError('invalid', 'token: iat in the future'));
    }
    // jose checks presence; the types UserIdentity promises are checked here.
    if (typeof payload.sub !== 'string') return this.#fail(tokenError('invalid', 'token: sub is not a string'));
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    if (!aud.every((a) => typeof a === 'string')) return this.#fail(tokenError('invalid', 'token: aud is not a list of strings'));
    let spiffe: SpiffeIdParts | undefined;
    const td = issuer.opts.spiffe_trust_domain;
    if (td !== undefined) {
      const s = spiffeSubject(payload.sub, td);
      if (typeof s === 'string') return this.#fail(tokenError('invalid', `token: ${s}`));
      spiffe = s;
    }
    const user: UserIdentity = {
      // A JWT-SVID need not carry iss; its issuer is then its trust domain.
      iss: typeof payload.iss === 'string' ? payload.iss : `spiffe://${td}`,
      sub: payload.sub,
      aud: [...aud],
      claims: { ...payload },
      spiffe,
    };
    return { user, expiresAt: payload.exp as number, deny: false };
  }

  // The unverified iss picks the key set, and jwtVerify then holds the token
  // to that issuer's expectations. JWT-SVIDs need not carry iss (the JWT
  // bundle of the sub's trust domain is the authority), so entries with
  // issuer "" are chosen by that trust domain instead, whatever iss says.
  #select(header: string, claims: JWTPayload): Issuer | undefined {
    const candidates = this.#issuers.filter((i) => i.header === header);
    if (claims.iss !== undefined && typeof claims.iss !== 'string') return undefined;
    const byIss = candidates.find((i) => i.opts.issuer !== '' && i.opts.issuer === claims.iss);
    if (byIss !== undefined) return byIss;
    return candidates.find((i) => {
      const td = i.opts.spiffe_trust_domain;
      return i.opts.issuer === '' && td !== undefined && typeof spiffeSubject(claims.sub, td) !== 'string';
    });
  }

  #fail(error: TokenError): UserTokenResult {
    return { user: null, error, deny: this.#deny };
  }
}

/** The token, null when there is none for us, or a problem. */
function extractToken(header: string, value: string, maxBytes: number): string | null | TokenError {
  // Bound the work before any matching or decoding: "Bearer " plus the token.
  if (value.length > maxBytes + 64) return tokenError('too_large', 'token: larger than max_token_bytes');
  let token: string;
  if (/^bearer(?: |$)/i.test(value)) {
    const m = BEARER.exec(value);
    if (m === null) return tokenError('malformed', 'token: malformed Bearer credentials');
    token = m[1] as string;
  } else if (header === 'authorization') {
    // Another scheme (Basic, ...) is not a bearer token and not ours to judge.
    return null;
  } else {
    token = value;
  }
  if (token.length > maxBytes) return tokenError('too_large', 'token: larger than max_token_bytes');
  if (!COMPACT_JWS.test(token)) return tokenError('malformed', 'token: not a compact JWS');
  return token;
}

function classify(e: unknown): TokenError {
  if (e instanceof JwksUnavailableError) return tokenError('unavailable', `token: signing keys unavailable (${e.message})`);
  if (e instanceof jose().errors.JWTExpired) return tokenError('expired', 'token: expired');
  if (e instanceof jose().errors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return tokenError('invalid', `token: missing claim ${e.claim}`);
    if (e.reason === 'invalid') return tokenError('invalid', `token: claim ${e.claim} malformed`);
    if (e.claim === 'nbf') return tokenError('not_yet_valid', 'token: nbf in the future');
    return tokenError('invalid', `token: ${e.claim} not accepted`);
  }
  if (e instanceof jose().errors.JOSEAlgNotAllowed) return tokenError('invalid', 'token: algorithm not allowed');
  if (e instanceof jose().errors.JWKSNoMatchingKey) return tokenError('invalid', 'token: no key for its kid');
  if (e instanceof jose().errors.JWKSMultipleMatchingKeys) return tokenError('invalid', 'token: no kid and several keys match');
  if (e instanceof jose().errors.JWSSignatureVerificationFailed) return tokenError('invalid', 'token: signature invalid');
  if (e instanceof jose().errors.JOSEError) return tokenError('invalid', `token: rejected (${e.code})`);
  return tokenError('invalid', 'token: rejected');
}

function buildIssuer(o: IssuerOptions, remote: RemoteJwksOptions): Issuer {
  const name = `issuer ${JSON.stringify(o.issuer)}`;
  const svid = o.spiffe_trust_domain !== undefined;
  if (svid) {
    const err = trustDomainError(o.spiffe_trust_domain as string);
    if (err !== undefined) throw new Error(`${name}: spiffe_trust_domain: ${err}`);
  }
  if (o.issuer === '' && !svid) throw new Error(`${name}: issuer is required`);
  if (o.audiences.length === 0) throw new Error(`${name}: audiences must not be empty`);
  if ((o.jwks_file === undefined) === (o.jwks_url === undefined)) throw new Error(`${name}: set exactly one of jwks_file and jwks_url`);
  const allowed = svid ? JWT_SVID_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
  const algorithms = o.algorithms ?? allowed;
  for (const a of algorithms) if (!allowed.includes(a)) throw new Error(`${name}: algorithm ${a} not allowed (only ${allowed.join(', ')})`);
  if (algorithms.length === 0) throw new Error(`${name}: algorithms must not be empty`);
  const tol = o.clock_tolerance_s ?? 30;
  if (!Number.isFinite(tol) || tol < 0 || tol > 300) throw new Error(`${name}: clock_tolerance_s must be 0..300`);
  const getKey = o.jwks_file !== undefined ? jwksFromFile(o.jwks_file) : new RemoteJwks(o.jwks_url as string, remote).getKey;
  return { opts: o, header: (o.header ?? 'authorization').toLowerCase(), algorithms, getKey };
}
