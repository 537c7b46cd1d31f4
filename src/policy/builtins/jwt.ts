// io.jwt.* builtins, following OPA's v1/topdown/tokens.go step by step so the
// same tokens produce the same results and the same error/false split:
// malformed input is an error, a signature or claim that does not check out
// is false (verify_*) or [false, {}, {}] (decode_verify).
//
// Deliberate additions over OPA, for safety: tokens longer than
// MAX_TOKEN_BYTES are an error, and a token whose header says alg "none" never
// verifies (OPA already never verifies one in decode_verify; in verify_* it
// would only if the key holder signed a header claiming "none").

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BuiltinFn } from './index.ts';
import { parseKeys, verifyWithGoCrypto, verifyWithJws } from './jwt-keys.ts';
import type { VerificationKey } from './jwt-keys.ts';
import type { Clock } from './time.ts';
import { BuiltinError, goBytesToString, objectOperand, opaBase64UrlDecode, stringOperand, utf8 } from './util.ts';

export const MAX_TOKEN_BYTES = 64 * 1024;

type JsonObject = Record<string, unknown>;

interface Token {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
}

function decodeJWT(builtin: string, jwt: unknown): Token {
  const s = stringOperand(builtin, jwt, 1);
  if (s.length > MAX_TOKEN_BYTES || Buffer.byteLength(s) > MAX_TOKEN_BYTES) {
    throw new BuiltinError(builtin, `encoded JWT exceeds ${MAX_TOKEN_BYTES} bytes`);
  }
  if (!s.includes('.')) throw new BuiltinError(builtin, 'encoded JWT had no period separators');
  const parts = s.split('.');
  if (parts.length !== 3) throw new BuiltinError(builtin, `encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0] as string, payload: parts[1] as string, signature: parts[2] as string };
}

function extractJSONObject(builtin: string, text: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new BuiltinError(builtin, `invalid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BuiltinError(builtin, 'decoded JSON type was not an Object');
  return v as JsonObject;
}

function decodePart(builtin: string, part: string, what: string): string {
  try {
    return goBytesToString(opaBase64UrlDecode(part));
  } catch (e) {
    throw new BuiltinError(builtin, `JWT ${what} had invalid encoding: ${(e as Error).message}`);
  }
}

function decodeHeader(builtin: string, t: Token): JsonObject {
  const header = extractJSONObject(builtin, decodePart(builtin, t.header, 'header'));
  // A JWE; OPA does not support those.
  if (Object.hasOwn(header, 'enc')) throw new BuiltinError(builtin, 'JWT is a JWE object, which is not supported');
  return header;
}

function decodeSignature(builtin: string, t: Token): Buffer {
  try {
    return opaBase64UrlDecode(t.signature);
  } catch (e) {
    throw new BuiltinError(builtin, (e as Error).message);
  }
}

interface ParsedHeader {
  alg: string;
  kid: string;
  cty: string;
  valid: boolean;
}

// OPA's parseTokenHeader + tokenHeader.valid (RFC 7515 4.1.1 and 4.1.11).
function parseTokenHeader(builtin: string, header: JsonObject): ParsedHeader {
  const out = { alg: '', kid: '', cty: '' };
  let crit: Set<string> | undefined;
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(header)) {
    if (k === 'alg' || k === 'kid' || k === 'typ' || k === 'cty') {
      if (typeof v !== 'string') throw new BuiltinError(builtin, `${k}: must be a string`);
      if (k !== 'typ') out[k] = v;
    } else if (k === 'crit') {
      if (!Array.isArray(v)) throw new BuiltinError(builtin, 'crit: must be a list');
      // OPA ignores non-string entries here rather than failing.
      crit = new Set(v.filter((x): x is string => typeof x === 'string'));
      if (crit.size === 0) throw new BuiltinError(builtin, 'crit: must be a nonempty list');
    } else {
      unknown.push(k);
    }
  }
  const valid = out.alg !== '' && !unknown.some((u) => crit?.has(u) === true);
  return { ...out, valid };
}

function signingInput(t: Token): Buffer {
  return utf8(`${t.header}.${t.payload}`);
}

function verifyAsymmetric(family: 'RS' | 'PS' | 'ES' | 'EdDSA', bits: string): BuiltinFn {
  const builtin = family === 'EdDSA' ? 'io.jwt.verify_eddsa' : `io.jwt.verify_${family.toLowerCase()}${bits}`;
  return (jwt: unknown, keyText: unknown) => {
    const t = decodeJWT(builtin, jwt);
    const keys = parseKeys(builtin, stringOperand(builtin, keyText, 2));
    const sig = decodeSignature(builtin, t);
    const header = parseTokenHeader(builtin, decodeHeader(builtin, t));
    if (header.alg === 'none') return false;
    const data = signingInput(t);
    const check = (k: VerificationKey): boolean => verifyWithGoCrypto(k, family, bits, data, sig);
    if (header.kid !== '') {
      const byKid = keys.find((k) => k.kid === header.kid);
      if (byKid !== undefined) return check(byKid);
    }
    // A key that names an alg is only tried for tokens with that alg.
    return keys.some((k) => (k.alg === '' || k.alg === header.alg) && check(k));
  };
}

function headerAlgIsNone(t: Token): boolean {
  try {
    return JSON.parse(goBytesToString(opaBase64UrlDecode(t.header)))?.alg === 'none';
  } catch {
    return false;
  }
}

// OPA's HS verification never looks at the header, so a header that does not
// decode is not an error here.
function verifyHmac(bits: string): BuiltinFn {
  const builtin = `io.jwt.verify_hs${bits}`;
  return (jwt: unknown, secret: unknown) => {
    stringOperand(builtin, jwt, 1);
    const key = utf8(stringOperand(builtin, secret, 2));
    const t = decodeJWT(builtin, jwt);
    const mac = createHmac(`sha${bits}`, key).update(signingInput(t)).digest();
    const sig = decodeSignature(builtin, t);
    if (headerAlgIsNone(t)) return false;
    return sig.length === mac.length && timingSafeEqual(sig, mac);
  };
}

function decode(jwt: unknown): unknown {
  const builtin = 'io.jwt.decode';
  const t = decodeJWT(builtin, jwt);
  const header = decodeHeader(builtin, t);
  const payloadText = decodePart(builtin, t.payload, 'payload');
  if (header.cty === 'JWT') {
    // A nested token; jwt.io-style encoders quote it, so OPA trims quotes.
    return decode(payloadText.replace(/^["']+|["']+$/g, ''));
  }
  const payload = extractJSONObject(builtin, payloadText);
  let sig: Buffer;
  try {
    sig = opaBase64UrlDecode(t.signature);
  } catch (e) {
    throw new BuiltinError(builtin, `JWT signature had invalid encoding: ${(e as Error).message}`);
  }
  return [header, payload, sig.toString('hex')];
}

interface Constraints {
  keys?: readonly VerificationKey[];
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  time: number;
}

function timeConstraint(builtin: string, v: unknown): number {
  if (typeof v !== 'number') throw new BuiltinError(builtin, 'token time constraint: must be a number');
  if (v < 0) throw new BuiltinError(builtin, 'token time constraint: must not be negative');
  return v;
}

function parseConstraints(builtin: string, o: JsonObject, nowNs: () => bigint): Constraints {
  const c: Constraints = { secret: '', alg: '', iss: '', aud: '', time: -1 };
  for (const [name, v] of Object.entries(o)) {
    switch (name) {
      case 'cert':
        if (typeof v !== 'string') throw new BuiltinError(builtin, 'cert constraint: must be a string');
        c.keys = parseKeys(builtin, v);
        break;
      case 'secret':
      case 'alg':
      case 'iss':
      case 'aud':
        if (typeof v !== 'string') throw new BuiltinError(builtin, `${name} constraint: must be a string`);
        c[name] = v;
        break;
      case 'time':
        c.time = timeConstraint(builtin, v);
        break;
      default:
        throw new BuiltinError(builtin, `unknown token validation constraint: ${name}`);
    }
  }
  if (c.time === -1) c.time = Number(nowNs());
  const keySources = (c.keys !== undefined ? 1 : 0) + (c.secret !== '' ? 1 : 0);
  if (keySources > 1) throw new BuiltinError(builtin, 'duplicate key constraints');
  if (keySources < 1) throw new BuiltinError(builtin, 'no key constraint');
  return c;
}

function verifyConstraints(c: Constraints, h: ParsedHeader, data: Buffer, sig: Buffer): boolean {
  if (c.keys !== undefined) {
    if (h.kid !== '') {
      const byKid = c.keys.find((k) => k.kid === h.kid);
      if (byKid !== undefined) return verifyWithJws(byKid, h.alg, data, sig);
    }
    return c.keys.some((k) => (k.alg === '' || k.alg === h.alg) && verifyWithJws(k, h.alg, data, sig));
  }
  const secretKey: VerificationKey = { kind: 'oct', secret: utf8(c.secret), isPrivate: true, alg: '', kid: '' };
  return verifyWithJws(secretKey, h.alg, data, sig);
}

function validAudience(aud: unknown, want: string): boolean {
  if (typeof aud === 'string') return aud === want;
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && a === want);
}

function decodeVerify(nowNs: () => bigint): BuiltinFn {
  const builtin = 'io.jwt.decode_verify';
  const unverified = (): unknown[] => [false, {}, {}];
  return (jwt: unknown, constraintsArg: unknown) => {
    const c = parseConstraints(builtin, objectOperand(builtin, constraintsArg, 2), nowNs);
    let a: unknown = jwt;
    let header: JsonObject;
    let payloadText: string;
    for (;;) {
      const t = decodeJWT(builtin, a);
      header = decodeHeader(builtin, t);
      const h = parseTokenHeader(builtin, header);
      if (!h.valid || h.alg === 'none') return unverified();
      if (c.alg !== '' && c.alg !== h.alg) return unverified();
      const sig = decodeSignature(builtin, t);
      if (!verifyConstraints(c, h, signingInput(t), sig)) return unverified();
      payloadText = decodePart(builtin, t.payload, 'payload');
      if (h.cty.toLowerCase() !== 'jwt') break;
      a = payloadText; // nested token: it must verify against the same constraints
    }
    const payload = extractJSONObject(builtin, payloadText);
    if (c.iss !== '') {
      if (!Object.hasOwn(payload, 'iss')) return unverified();
      if (typeof payload.iss !== 'string') throw new BuiltinError(builtin, 'iss value must be a string');
      if (payload.iss !== c.iss) return unverified();
    }
    if (Object.hasOwn(payload, 'aud') ? !validAudience(payload.aud, c.aud) : c.aud !== '') return unverified();
    const now = c.time / 1e9; // exp and nbf are seconds, the time constraint is ns
    if (Object.hasOwn(payload, 'exp')) {
      if (typeof payload.exp !== 'number') throw new BuiltinError(builtin, 'exp value must be a number');
      if (now >= payload.exp) return unverified();
    }
    if (Object.hasOwn(payload, 'nbf')) {
      if (typeof payload.nbf !== 'number') throw new BuiltinError(builtin, 'nbf value must be a number');
      if (now < payload.nbf) return unverified();
    }
    return [true, header, payload];
  };
}

export function jwtBuiltins(clock: Clock): Record<string, BuiltinFn> {
  const out: Record<string, BuiltinFn> = {
    'io.jwt.decode': decode,
    'io.jwt.decode_verify': decodeVerify(() => clock.nowNs()),
    'io.jwt.verify_eddsa': verifyAsymmetric('EdDSA', ''),
  };
  for (const bits of ['256', '384', '512']) {
    out[`io.jwt.verify_rs${bits}`] = verifyAsymmetric('RS', bits);
    out[`io.jwt.verify_ps${bits}`] = verifyAsymmetric('PS', bits);
    out[`io.jwt.verify_es${bits}`] = verifyAsymmetric('ES', bits);
    out[`io.jwt.verify_hs${bits}`] = verifyHmac(bits);
  }
  return out;
}
