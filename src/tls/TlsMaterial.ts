// One consistent set of listener TLS material: certificate chain, its private key
// and the CA bundle client certificates are verified against. Everything that can
// feed the listener (files, the Workload API) goes through loadTlsMaterial, so a
// half-written or mismatched set is refused here, before the listener's
// setSecureContext sees it: a context Node cannot build would fail there, and
// we would rather keep serving the previous pair.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext as tlsSecureContext } from 'node:tls';

export interface TlsMaterial {
  /** PEM, leaf first, then intermediates. */
  readonly certChainPem: Buffer;
  /** PEM (PKCS#8). */
  readonly privateKeyPem: Buffer;
  /** PEM, every CA a client certificate may chain to. */
  readonly caBundlePem: Buffer;
  readonly leaf: X509Certificate;
  /** The leaf's serial number in hex, as Node prints it. */
  readonly serial: string;
  readonly notAfter: Date;
}

export interface TlsMaterialInput {
  certChain: Buffer | string;
  privateKey: Buffer | string;
  caBundle: Buffer | string;
}

/** Raised when a set of material is not usable; the message says why in one line. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text, in order. Anything between blocks is ignored, as OpenSSL does. */
export function splitPemCertificates(pem: Buffer | string): X509Certificate[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  return (text.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
}

/**
 * Validates and normalises one set of material. Throws TlsMaterialError when the
 * chain or bundle has no certificate, a block does not parse, the key does not
 * belong to the leaf, the leaf has expired, or Node's TLS refuses the set.
 */
export function loadTlsMaterial(input: TlsMaterialInput, now: Date = new Date()): TlsMaterial {
  const chain = parseCerts(input.certChain, 'certificate chain');
  const ca = parseCerts(input.caBundle, 'CA bundle');
  const leaf = chain[0]!;
  let keyPem: Buffer;
  try {
    const key = createPrivateKey(input.privateKey);
    if (!leaf.checkPrivateKey(key)) throw new TlsMaterialError('private key does not match the certificate');
    keyPem = Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }));
  } catch (err) {
    if (err instanceof TlsMaterialError) throw err;
    throw new TlsMaterialError(`private key does not parse: ${(err as Error).message}`);
  }
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new TlsMaterialError(`certificate expired at ${notAfter.toISOString()} (serial ${leaf.serialNumber})`);
  }
  const certChainPem = Buffer.from(chain.map((c) => c.toString()).join(''));
  const caBundlePem = Buffer.from(ca.map((c) => c.toString()).join(''));
  try {
    // The same call grpc-js makes through setSecureContext: if it would throw there, throw here.
    tlsSecureContext({ cert: certChainPem, key: keyPem, ca: caBundlePem });
  } catch (err) {
    throw new TlsMaterialError(`TLS refuses the material: ${(err as Error).message}`);
  }
  return { certChainPem, privateKeyPem: keyPem, caBundlePem, leaf, serial: leaf.serialNumber, notAfter };
}

/** Same material from the Workload API's DER forms (concatenated certificates, PKCS#8 key). */
export function tlsMaterialFromDer(certChainDer: Buffer[], privateKeyPkcs8Der: Buffer, caBundleDer: Buffer[]): TlsMaterial {
  let keyPem: Buffer;
  try {
    const key = createPrivateKey({ key: privateKeyPkcs8Der, format: 'der', type: 'pkcs8' });
    keyPem = Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }));
  } catch (err) {
    throw new TlsMaterialError(`private key does not parse: ${(err as Error).message}`);
  }
  return loadTlsMaterial({ certChain: derToPem(certChainDer), privateKey: keyPem, caBundle: derToPem(caBundleDer) });
}

/**
 * Splits concatenated DER certificates (the Workload API's x509_svid and bundle
 * fields) by reading each outer SEQUENCE's length. Throws on trailing garbage.
 */
export function splitDerCertificates(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < der.length) {
    if (der[at] !== 0x30) throw new TlsMaterialError(`DER certificate list: expected a SEQUENCE at byte ${at}`);
    const first = der[at + 1];
    if (first === undefined) throw new TlsMaterialError('DER certificate list: truncated');
    let len: number;
    let header: number;
    if (first < 0x80) {
      len = first;
      header = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || at + 2 + n > der.length) throw new TlsMaterialError('DER certificate list: bad length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
      header = 2 + n;
    }
    const end = at + header + len;
    if (end > der.length) throw new TlsMaterialError('DER certificate list: truncated');
    out.push(der.subarray(at, end));
    at = end;
  }
  return out;
}

function derToPem(certs: Buffer[]): string {
  try {
    return certs.map((der) => new X509Certificate(der).toString()).join('');
  } catch (err) {
    throw new TlsMaterialError(`DER certificate does not parse: ${(err as Error).message}`);
  }
}

function parseCerts(pem: Buffer | string, what: string): X509Certificate[] {
  let certs: X509Certificate[];
  try {
    certs = splitPemCertificates(pem);
  } catch (err) {
    throw new TlsMaterialError(`${what} does not parse: ${(err as Error).message}`);
  }
  if (certs.length === 0) throw new TlsMaterialError(`${what} holds no PEM certificate`);
  return certs;
}
