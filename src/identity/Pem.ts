// Certificate text as it reaches ztauthz: PEM, and Envoy's URL-encoded PEM
// (attributes.source.certificate, XFCC Cert/Chain). Parsing is strict and
// bounded; anything that needs guessing is an error, since a certificate that
// decodes in two ways could be checked in one and trusted in the other.

export const MAX_PEM_BYTES = 64 * 1024;
export const MAX_CHAIN_CERTIFICATES = 8;

export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

// Envoy percent-encodes every byte outside the unreserved set (newlines,
// spaces, "+", "/", "="), so encoded text consists of unreserved characters
// and %XX escapes only. Older Envoys encoded just "\n", " ", "+", "/" and "=",
// which yields the same alphabet for PEM text.
const URL_ENCODED = /^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})*$/;
const ENCODED_BEGIN = '-----BEGIN%20CERTIFICATE-----';

/**
 * Decodes Envoy's URL-encoded PEM. Raw PEM (literal newlines or spaces) is
 * refused: Envoy never sends it, so its presence means something other than
 * Envoy wrote the attribute.
 */
export function decodeEnvoyPem(encoded: string, maxBytes = MAX_PEM_BYTES): string {
  // The encoded form is at most 3x the PEM; bound the input before scanning.
  if (encoded.length > maxBytes * 3) throw new PemError('certificate too large');
  if (!encoded.startsWith(ENCODED_BEGIN) || !URL_ENCODED.test(encoded)) {
    throw new PemError(encoded.includes('-----BEGIN CERTIFICATE-----') ? 'certificate is not URL-encoded' : 'certificate is not URL-encoded PEM');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    throw new PemError('certificate is not URL-encoded PEM');
  }
  if (decoded.length > maxBytes) throw new PemError('certificate too large');
  return decoded;
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

export interface PemOptions {
  /** Refuse any text outside certificate blocks (peer certificates); trust bundles may carry comments. */
  readonly strict: boolean;
  readonly maxCertificates?: number;
  readonly maxBytes?: number;
}

/** DER bytes of each CERTIFICATE block, in order. */
export function parseCertificatePem(pem: string, opts: PemOptions): Buffer[] {
  const maxBytes = opts.maxBytes ?? MAX_PEM_BYTES;
  const maxCerts = opts.maxCertificates ?? MAX_CHAIN_CERTIFICATES;
  if (pem.length > maxBytes) throw new PemError('certificate too large');
  const lines = pem.split('\n');
  const out: Buffer[] = [];
  let body: string[] | null = null;
  for (let raw of lines) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    const line = raw.trimEnd();
    if (body === null) {
      if (line === BEGIN) {
        if (out.length === maxCerts) throw new PemError('too many certificates');
        body = [];
      } else if (line.startsWith('-----BEGIN ')) {
        if (opts.strict) throw new PemError('not a certificate PEM block');
      } else if (line !== '' && opts.strict) {
        throw new PemError('text outside PEM blocks');
      }
      continue;
    }
    if (line === END) {
      out.push(decodeBase64Body(body));
      body = null;
    } else if (line.startsWith('-----')) {
      throw new PemError('malformed PEM block');
    } else {
      if (!BASE64_LINE.test(line)) throw new PemError('PEM body is not base64');
      body.push(line);
    }
  }
  if (body !== null) throw new PemError('truncated PEM (no END line)');
  if (out.length === 0) throw new PemError('no certificate in PEM');
  return out;
}

function decodeBase64Body(lines: string[]): Buffer {
  const text = lines.join('');
  // Padding only at the very end, length a multiple of 4, and the canonical
  // re-encoding must match: Buffer.from would silently skip what it dislikes.
  if (text.length === 0 || text.length % 4 !== 0 || /=[^=]/.test(text)) throw new PemError('PEM body is not base64');
  const der = Buffer.from(text, 'base64');
  if (der.toString('base64') !== text) throw new PemError('PEM body is not canonical base64');
  return der;
}
