// Real keys, certificates and tokens for the io.jwt.* differential tests,
// made with node:crypto at test time. Certificates are assembled in DER by
// hand (node:crypto cannot issue one) and self-signed.

import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function rsaKey(bits = 2048): KeyPair {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}
export function ecKey(namedCurve: 'P-256' | 'P-384' | 'P-521' | 'secp256k1'): KeyPair {
  return generateKeyPairSync('ec', { namedCurve });
}
export function edKey(): KeyPair {
  return generateKeyPairSync('ed25519');
}

export function spkiPem(k: KeyObject): string {
  return k.export({ type: 'spki', format: 'pem' }).toString();
}

export function jwk(k: KeyObject, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...k.export({ format: 'jwk' }), ...extra };
}

// --- minimal DER ---------------------------------------------------------

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}
const NULL = Buffer.from([0x05, 0x00]);

function signatureAlgorithm(k: KeyObject): { alg: Buffer; hash: string | null } {
  switch (k.asymmetricKeyType) {
    case 'rsa':
      return { alg: seq(oid('1.2.840.113549.1.1.11'), NULL), hash: 'sha256' };
    case 'ec':
      return { alg: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256' };
    case 'ed25519':
      return { alg: seq(oid('1.3.101.112')), hash: null };
    default:
      throw new Error(`no certificate signature algorithm for ${k.asymmetricKeyType}`);
  }
}

/** A self-signed X.509 v3 certificate (CN=ztauthz-test), PEM encoded. */
export function selfSignedCert(pair: KeyPair): string {
  const { alg, hash } = signatureAlgorithm(pair.privateKey);
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('ztauthz-test')))));
  const validity = seq(tlv(0x17, Buffer.from('200101000000Z')), tlv(0x17, Buffer.from('491231235959Z')));
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const tbs = seq(tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, Buffer.from([0x01, 0x23])), alg, name, validity, name, spki);
  const signature = sign(hash, tbs, pair.privateKey);
  const der = seq(tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

// --- tokens --------------------------------------------------------------

export const b64u = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

/** Signs `header.payload` with `alg` (which is not taken from the header, so tests can lie). */
export function signRaw(alg: string, key: KeyObject | string, input: string): Buffer {
  const data = Buffer.from(input);
  const hash = `sha${alg.slice(2)}`;
  if (alg.startsWith('HS'))
    return createHmac(hash, key as string)
      .update(data)
      .digest();
  const k = key as KeyObject;
  if (alg.startsWith('RS')) return sign(hash, data, k);
  if (alg.startsWith('PS')) return sign(hash, data, { key: k, padding: 6, saltLength: -1 }); // PSS, salt = digest length
  if (alg.startsWith('ES')) return sign(hash, data, { key: k, dsaEncoding: 'ieee-p1363' });
  if (alg === 'EdDSA') return sign(null, data, k);
  throw new Error(`cannot sign ${alg}`);
}

export function token(header: Record<string, unknown>, payload: unknown, key: KeyObject | string, signAlg?: string): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  return `${input}.${b64u(signRaw(signAlg ?? String(header.alg), key, input))}`;
}
