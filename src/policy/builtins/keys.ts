// crypto.x509.parse_rsa_private_key, crypto.parse_private_keys and
// crypto.x509.parse_keypair: PEM private keys (PKCS#1, PKCS#8, SEC 1) read
// with node:crypto and shown as OPA shows them: a JWK for the first, Go's
// rsa/ecdsa/ed25519 key structs marshalled to JSON for the others.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { BuiltinFn } from './index.ts';
import { BuiltinError, exactNumber, goBase64Decode, stringOperand } from './util.ts';
import { certJson, parseCertificate } from './x509.ts';

const KEY_BLOCKS = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);

interface PemBlock {
  type: string;
  der: Buffer;
  text: string;
}

function pemBlocks(s: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([^-\r\n]+)-----\r?\n(?:[A-Za-z-]+:.*\r?\n)*\r?\n?([\s\S]*?)-----END \1-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push({ type: m[1] as string, der: Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64'), text: m[0] });
  return out;
}

/** OPA's getPrivateKeysFromPEMData. */
function privateKeys(builtin: string, data: string): KeyObject[] {
  const decoded = goBase64Decode(data, false);
  const text = decoded === undefined ? data : decoded.toString('latin1');
  const out: KeyObject[] = [];
  for (const b of pemBlocks(text)) {
    if (!KEY_BLOCKS.has(b.type)) continue;
    try {
      out.push(createPrivateKey({ key: b.text, format: 'pem' }));
    } catch (e) {
      throw new BuiltinError(builtin, `x509: failed to parse private key: ${(e as Error).message}`);
    }
  }
  return out;
}

const bigOf = (b64u: unknown): string => {
  const hex = Buffer.from(String(b64u), 'base64url').toString('hex');
  return hex === '' ? '0' : BigInt(`0x${hex}`).toString();
};

/** Go's private key structs as JSON text (big integers exact). */
function goKeyJson(k: KeyObject): string {
  const j = k.export({ format: 'jwk' }) as Record<string, string>;
  if (j.kty === 'RSA') {
    return (
      `{"N":${bigOf(j.n)},"E":${bigOf(j.e)},"D":${bigOf(j.d)},"Primes":[${bigOf(j.p)},${bigOf(j.q)}],` +
      `"Precomputed":{"Dp":${bigOf(j.dp)},"Dq":${bigOf(j.dq)},"Qinv":${bigOf(j.qi)},"CRTValues":[]}}`
    );
  }
  if (j.kty === 'EC') return `{"Curve":{},"X":${bigOf(j.x)},"Y":${bigOf(j.y)},"D":${bigOf(j.d)}}`;
  if (j.kty === 'OKP' && j.crv === 'Ed25519') {
    return JSON.stringify(Buffer.concat([Buffer.from(j.d as string, 'base64url'), Buffer.from(j.x as string, 'base64url')]).toString('base64'));
  }
  return 'null';
}

function decodeUnlessPem(builtin: string, s: string): string {
  if (s.startsWith('-----BEGIN')) return s;
  const d = goBase64Decode(s, false);
  if (d === undefined) throw new BuiltinError(builtin, 'illegal base64 data');
  return d.toString('latin1');
}

function parseKeypair(certIn: unknown, keyIn: unknown): ArrayBuffer {
  const b = 'crypto.x509.parse_keypair';
  let certText = decodeUnlessPem(b, stringOperand(b, certIn, 1));
  let keyText = decodeUnlessPem(b, stringOperand(b, keyIn, 2));
  if (!certText.startsWith('-----BEGIN'))
    certText = `-----BEGIN CERTIFICATE-----\n${Buffer.from(certText, 'latin1').toString('base64')}\n-----END CERTIFICATE-----\n`;
  if (!keyText.startsWith('-----BEGIN'))
    keyText = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(keyText, 'latin1').toString('base64')}\n-----END PRIVATE KEY-----\n`;
  const certDers = pemBlocks(certText)
    .filter((p) => p.type === 'CERTIFICATE')
    .map((p) => p.der);
  if (certDers.length === 0) throw new BuiltinError(b, 'tls: failed to find any PEM data in certificate input');
  const keyBlock = pemBlocks(keyText).find((p) => p.type === 'PRIVATE KEY' || p.type.endsWith(' PRIVATE KEY'));
  if (keyBlock === undefined) throw new BuiltinError(b, 'tls: failed to find any PEM data in key input');
  let key: KeyObject;
  let leaf: ReturnType<typeof parseCertificate>;
  try {
    key = createPrivateKey({ key: keyBlock.text, format: 'pem' });
    leaf = parseCertificate(certDers[0] as Buffer);
  } catch (e) {
    throw new BuiltinError(b, `tls: ${(e as Error).message}`);
  }
  const certPub = createPublicKey({ key: Buffer.from(Buffer.from(leaf.json.RawSubjectPublicKeyInfo as string, 'base64')), format: 'der', type: 'spki' });
  const mine = createPublicKey(key).export({ format: 'der', type: 'spki' });
  if (!mine.equals(certPub.export({ format: 'der', type: 'spki' }))) throw new BuiltinError(b, 'tls: private key does not match public key');
  const certs = certDers.map((d) => JSON.stringify(d.toString('base64'))).join(',');
  return exactNumber(
    `{"Certificate":[${certs}],"PrivateKey":${goKeyJson(key)},"Leaf":${certJson(leaf)},"OCSPStaple":null,"SignedCertificateTimestamps":null,"SupportedSignatureAlgorithms":null}`,
  );
}

export function keyBuiltins(): Record<string, BuiltinFn> {
  return {
    'crypto.x509.parse_rsa_private_key': (x: unknown) => {
      const b = 'crypto.x509.parse_rsa_private_key';
      const s = stringOperand(b, x, 1);
      if (s === '') throw new BuiltinError(b, 'input PEM data was empty');
      const keys = privateKeys(b, decodeUnlessPem(b, s));
      if (keys.length === 0) return null;
      return (keys[0] as KeyObject).export({ format: 'jwk' });
    },
    'crypto.parse_private_keys': (x: unknown) => {
      const b = 'crypto.parse_private_keys';
      const s = stringOperand(b, x, 1);
      if (s === '') return null;
      return exactNumber(`[${privateKeys(b, s).map(goKeyJson).join(',')}]`);
    },
    'crypto.x509.parse_keypair': parseKeypair,
  };
}
