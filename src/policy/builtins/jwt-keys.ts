// Key material for the io.jwt.* builtins: OPA's getKeysFromCertOrJWK (a PEM
// certificate, a PEM public key, or a JWK / JWK set) and the two signature
// checks OPA uses. The io.jwt.verify_* builtins use Go's crypto directly with
// type assertions on public keys; io.jwt.decode_verify goes through
// lestrrat-go/jwx (jwsbb), which also accepts private JWKs and requires
// exact-length ECDSA signatures. Both are reproduced here with node:crypto's
// synchronous API because opa-wasm cannot await a builtin.

import { X509Certificate, createHmac, createPublicKey, constants, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { BuiltinError, goBase64Decode } from './util.ts';

export type KeyKind = 'rsa' | 'ec' | 'ed25519' | 'oct' | 'other';

export interface VerificationKey {
  readonly kind: KeyKind;
  readonly key?: KeyObject;
  readonly secret?: Buffer;
  /** From a private JWK: Go's *rsa.PublicKey-style assertions in verify_* reject it, jwx accepts it. */
  readonly isPrivate: boolean;
  readonly alg: string;
  readonly kid: string;
}

/** Algorithms OPA knows (tokenAlgorithms); JWKs declaring any other alg are skipped. */
export const TOKEN_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
]);

// Curves Go's crypto/x509 and jwx accept, with their coordinate size in bytes.
const EC_CURVES: Readonly<Record<string, number>> = { prime256v1: 32, secp384r1: 48, secp521r1: 66, secp224r1: 28 };
const JWK_CURVES: ReadonlySet<unknown> = new Set(['P-256', 'P-384', 'P-521']);

// Go 1.24+ crypto/rsa refuses keys under 1024 bits (GODEBUG rsa1024min=1).
const MIN_RSA_BITS = 1024;

function getLine(data: string): [string, string] {
  const i = data.indexOf('\n');
  if (i < 0) return [data.replace(/[ \t]+$/, ''), ''];
  const end = i > 0 && data[i - 1] === '\r' ? i - 1 : i;
  return [data.slice(0, end).replace(/[ \t]+$/, ''), data.slice(i + 1)];
}

/** Go's encoding/pem.Decode, including its skip-and-retry on malformed blocks. */
export function pemDecode(data: string): { type: string; bytes: Buffer; rest: string } | undefined {
  let rest = data;
  for (;;) {
    if (rest.startsWith('-----BEGIN ')) rest = rest.slice(11);
    else {
      const i = rest.indexOf('\n-----BEGIN ');
      if (i < 0) return undefined;
      rest = rest.slice(i + 12);
    }
    let typeLine: string;
    [typeLine, rest] = getLine(rest);
    if (!typeLine.endsWith('-----')) continue;
    typeLine = typeLine.slice(0, -5);
    let headers = 0;
    for (;;) {
      if (rest.length === 0) return undefined;
      const [line, next] = getLine(rest);
      if (!line.includes(':')) break;
      headers++;
      rest = next;
    }
    let endIndex: number;
    let trailerIndex: number;
    if (headers === 0 && rest.startsWith('-----END ')) {
      endIndex = 0;
      trailerIndex = 9;
    } else {
      endIndex = rest.indexOf('\n-----END ');
      trailerIndex = endIndex + 10;
    }
    if (endIndex < 0) continue;
    const trailer = rest.slice(trailerIndex);
    const trailerLen = typeLine.length + 5;
    if (trailer.length < trailerLen) continue;
    const head = trailer.slice(0, trailerLen);
    if (!head.startsWith(typeLine) || !head.endsWith('-----')) continue;
    if (getLine(trailer.slice(trailerLen))[0].length !== 0) continue;
    const bytes = goBase64Decode(rest.slice(0, endIndex).replace(/[ \t]/g, ''), false);
    if (bytes === undefined) continue;
    return { type: typeLine, bytes, rest: getLine(rest.slice(endIndex + 9))[1] };
  }
}

function classify(builtin: string, key: KeyObject, strict: boolean): KeyKind {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ec': {
      if (EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] !== undefined) return 'ec';
      throw new BuiltinError(builtin, 'x509: unsupported elliptic curve');
    }
    case 'ed25519':
      return 'ed25519';
    case 'x25519':
    case 'dsa':
      return 'other';
    default:
      // x509.ParsePKIXPublicKey rejects these; ParseCertificate leaves them keyless.
      if (strict) throw new BuiltinError(builtin, 'x509: unknown public key algorithm');
      return 'other';
  }
}

function fromPem(builtin: string, type: string, der: Buffer): VerificationKey {
  if (type === 'CERTIFICATE') {
    let key: KeyObject;
    try {
      key = new X509Certificate(der).publicKey;
    } catch (e) {
      throw new BuiltinError(builtin, `failed to parse a PEM certificate: ${(e as Error).message}`);
    }
    return { kind: classify(builtin, key, false), key, isPrivate: false, alg: '', kid: '' };
  }
  if (type === 'PUBLIC KEY') {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch (e) {
      throw new BuiltinError(builtin, `failed to parse a PEM public key: ${(e as Error).message}`);
    }
    return { kind: classify(builtin, key, true), key, isPrivate: false, alg: '', kid: '' };
  }
  throw new BuiltinError(builtin, 'failed to extract a Key from the PEM certificate');
}

function fromJwk(builtin: string, jwk: unknown): VerificationKey | undefined {
  const fail = (why: string): BuiltinError => new BuiltinError(builtin, `failed to parse a JWK key (set): ${why}`);
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw fail('key must be an object');
  const o = jwk as Record<string, unknown>;
  const alg = o.alg === undefined ? '' : o.alg;
  const kid = o.kid === undefined ? '' : o.kid;
  if (typeof alg !== 'string' || typeof kid !== 'string') throw fail('alg and kid must be strings');
  let kind: KeyKind;
  switch (o.kty) {
    case 'RSA':
      kind = 'rsa';
      break;
    case 'EC':
      if (!JWK_CURVES.has(o.crv)) throw fail(`unsupported curve ${String(o.crv)}`);
      kind = 'ec';
      break;
    case 'OKP':
      if (o.crv !== 'Ed25519' && o.crv !== 'X25519') throw fail(`unsupported curve ${String(o.crv)}`);
      kind = o.crv === 'Ed25519' ? 'ed25519' : 'other';
      break;
    case 'oct': {
      if (typeof o.k !== 'string') throw fail('oct key without k');
      const secret = Buffer.from(o.k, 'base64url');
      return TOKEN_ALGORITHMS.has(alg) || alg === '' ? { kind: 'oct', secret, isPrivate: true, alg, kid } : undefined;
    }
    default:
      throw fail(`invalid key type ${String(o.kty)}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: o as JsonWebKey, format: 'jwk' });
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (alg !== '' && !TOKEN_ALGORITHMS.has(alg)) return undefined;
  return { kind, key, isPrivate: o.d !== undefined, alg, kid };
}

function parseUncached(builtin: string, text: string): VerificationKey[] {
  const block = pemDecode(text);
  if (block !== undefined) {
    if (block.rest.length > 0) throw new BuiltinError(builtin, 'extra data after a PEM certificate block');
    return [fromPem(builtin, block.type, block.bytes)];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new BuiltinError(builtin, `failed to parse a JWK key (set): ${(e as Error).message}`);
  }
  const isSet = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Object.hasOwn(parsed, 'keys');
  const list = isSet ? (parsed as { keys: unknown }).keys : [parsed];
  if (!Array.isArray(list)) throw new BuiltinError(builtin, 'failed to parse a JWK key (set): keys must be an array');
  return list.map((k) => fromJwk(builtin, k)).filter((k): k is VerificationKey => k !== undefined);
}

// Policies verify every request against the same JWKS or certificate, so
// parsed keys are memoised. Bounded: the key string may come from input.
const cache = new Map<string, readonly VerificationKey[]>();
const MAX_CACHED_KEYS = 64;
const MAX_CACHEABLE_LENGTH = 256 * 1024;

export function parseKeys(builtin: string, text: string): readonly VerificationKey[] {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const keys = parseUncached(builtin, text);
  if (text.length <= MAX_CACHEABLE_LENGTH) {
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string);
    cache.set(text, keys);
  }
  return keys;
}

const HASHES: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

function rsaUsable(k: VerificationKey): k is VerificationKey & { key: KeyObject } {
  return k.kind === 'rsa' && k.key !== undefined && (k.key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS;
}

function safely(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

function ecSize(k: KeyObject): number {
  return EC_CURVES[k.asymmetricKeyDetails?.namedCurve ?? ''] ?? 0;
}

function verifyRsa(k: KeyObject, hash: string, data: Buffer, sig: Buffer, pss: 'auto' | 'digest' | undefined): boolean {
  const saltLength = pss === 'auto' ? constants.RSA_PSS_SALTLEN_AUTO : constants.RSA_PSS_SALTLEN_DIGEST;
  const padding = pss === undefined ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_PSS_PADDING;
  return safely(() => cryptoVerify(hash, data, { key: k, padding, saltLength }, sig));
}

function verifyEcP1363(k: KeyObject, hash: string, data: Buffer, sig: Buffer): boolean {
  return safely(() => cryptoVerify(hash, data, { key: k, dsaEncoding: 'ieee-p1363' }, sig));
}

/**
 * The io.jwt.verify_* check for one key: `family` is fixed by the builtin.
 * ECDSA follows OPA's verifyES, which splits the signature in half whatever
 * its length; we normalise the halves to the curve size to match.
 */
export function verifyWithGoCrypto(k: VerificationKey, family: 'RS' | 'PS' | 'ES' | 'EdDSA', bits: string, data: Buffer, sig: Buffer): boolean {
  if (k.isPrivate || k.key === undefined) return false;
  const hash = HASHES[bits] ?? '';
  switch (family) {
    case 'RS':
    case 'PS':
      return rsaUsable(k) && verifyRsa(k.key, hash, data, sig, family === 'PS' ? 'auto' : undefined);
    case 'ES': {
      const size = ecSize(k.key);
      if (k.kind !== 'ec' || size === 0) return false;
      const half = Math.floor(sig.length / 2);
      const strip = (b: Buffer): Buffer => b.subarray(b.findIndex((x) => x !== 0) === -1 ? b.length : b.findIndex((x) => x !== 0));
      const r = strip(sig.subarray(0, half));
      const s = strip(sig.subarray(half));
      if (r.length > size || s.length > size) return false;
      const fixed = Buffer.alloc(size * 2);
      r.copy(fixed, size - r.length);
      s.copy(fixed, size * 2 - s.length);
      return verifyEcP1363(k.key, hash, data, fixed);
    }
    case 'EdDSA':
      return k.kind === 'ed25519' && safely(() => cryptoVerify(null, data, k.key as KeyObject, sig));
  }
}

/** jwsbb.Verify(key, alg, payload, signature), as used by io.jwt.decode_verify. */
export function verifyWithJws(k: VerificationKey, alg: string, data: Buffer, sig: Buffer): boolean {
  if (alg === 'EdDSA') return k.kind === 'ed25519' && k.key !== undefined && safely(() => cryptoVerify(null, data, k.key as KeyObject, sig));
  const m = /^(HS|RS|PS|ES)(256|384|512)$/.exec(alg);
  if (m === null) return false; // includes "none": jwsbb has no verifier for it
  const family = m[1] as string;
  const hash = HASHES[m[2] as string] as string;
  switch (family) {
    case 'HS': {
      if (k.kind !== 'oct' || k.secret === undefined || k.secret.length === 0) return false;
      const mac = createHmac(hash, k.secret).update(data).digest();
      return mac.length === sig.length && timingSafeEqual(mac, sig);
    }
    case 'RS':
    case 'PS':
      return rsaUsable(k) && verifyRsa(k.key, hash, data, sig, family === 'PS' ? 'digest' : undefined);
    default: {
      if (k.kind !== 'ec' || k.key === undefined) return false;
      const size = ecSize(k.key);
      return sig.length === size * 2 && verifyEcP1363(k.key, hash, data, sig);
    }
  }
}
