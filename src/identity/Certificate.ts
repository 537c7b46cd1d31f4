// One parsed certificate: node:crypto's view (signatures, names, dates) plus
// the extensions read from its DER by Der.ts. Both parsers must accept the
// bytes, so a certificate OpenSSL and this service would read differently is
// refused instead of being half-checked.
import { X509Certificate } from 'node:crypto';
import { DerError, KeyUsageBit, hasKeyUsage, readCertificateExtensions, type CertificateExtensions } from './Der.ts';
import { parseCertificatePem, PemError, type PemOptions } from './Pem.ts';

export interface ParsedCertificate {
  readonly x509: X509Certificate;
  readonly ext: CertificateExtensions;
  /** Validity window in ms since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export function parseCertificateDer(der: Buffer): ParsedCertificate {
  let ext: CertificateExtensions;
  let x509: X509Certificate;
  try {
    ext = readCertificateExtensions(der);
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new CertificateError(e instanceof DerError ? `not a DER certificate (${e.message})` : 'not a certificate');
  }
  const notBefore = x509.validFromDate.getTime();
  const notAfter = x509.validToDate.getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new CertificateError('unreadable validity dates');
  return { x509, ext, notBefore, notAfter };
}

/** Every certificate of a PEM text; errors are CertificateError with a loggable message. */
export function parseCertificates(pem: string, opts: PemOptions): ParsedCertificate[] {
  let ders: Buffer[];
  try {
    ders = parseCertificatePem(pem, opts);
  } catch (e) {
    if (e instanceof PemError) throw new CertificateError(e.message);
    throw e;
  }
  return ders.map(parseCertificateDer);
}

/** A certificate allowed to sign others: CA=true and, when key usage is present, keyCertSign. */
export function isSigningCertificate(c: ParsedCertificate): boolean {
  const bc = c.ext.basicConstraints;
  if (bc === null || !bc.ca) return false;
  const ku = c.ext.keyUsage;
  return ku === null || hasKeyUsage(ku, KeyUsageBit.keyCertSign);
}

/** `child` names `parent` as issuer and carries its valid signature. */
export function isSignedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  try {
    return child.x509.checkIssued(parent.x509) && child.x509.verify(parent.x509.publicKey);
  } catch {
    return false;
  }
}
