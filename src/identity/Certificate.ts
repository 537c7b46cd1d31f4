// One parsed certificate: node:crypto's view (signatures, issuer links,
// dates, all done by OpenSSL) plus the fields that path validation and the
// X509-SVID rules need, read by pkijs (basic constraints with the path
// length, key usage, extended key usage, subject alternative names, name
// constraints, the subject name). Both parsers must accept the bytes, and the
// bytes must be DER, so a certificate OpenSSL and this service would read
// differently is refused instead of being half-checked.
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as asn1js from 'asn1js';
import { LRUCache } from 'lru-cache';
import type * as pkijs from 'pkijs';
import { parseCertificatePem, PemError, type PemOptions } from './Pem.ts';

// pkijs and asn1js are loaded with the first certificate parsed: a process
// that never sees one (no mTLS, no trust bundles) does not pay their memory.
let pkijsLib: typeof pkijs | undefined;
let asn1jsLib: typeof asn1js | undefined;
const pki = (): typeof pkijs => (pkijsLib ??= createRequire(import.meta.url)('pkijs') as typeof pkijs);
const asn1Lib = (): typeof asn1js => (asn1jsLib ??= createRequire(import.meta.url)('asn1js') as typeof asn1js);

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailAddress: '1.2.840.113549.1.9.1',
} as const;

/** RFC 5280 KeyUsage bit numbers. */
export const KeyUsageBit = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** GeneralName choice tags (RFC 5280 4.2.1.6). */
export const NameType = { otherName: 0, rfc822: 1, dns: 2, x400: 3, directory: 4, ediParty: 5, uri: 6, ip: 7, registeredId: 8 } as const;

/** A subjectAltName entry or a name-constraint base, as much of it as matching needs. */
export type GeneralName =
  | { readonly type: 1 | 2 | 6; readonly value: string }
  | { readonly type: 7; readonly value: Uint8Array }
  | { readonly type: 4; readonly value: pkijs.RelativeDistinguishedNames }
  | { readonly type: 0 | 3 | 5 | 8; readonly value: null };

export interface NameConstraints {
  /** null when the extension has no permittedSubtrees. */
  readonly permitted: readonly GeneralName[] | null;
  readonly excluded: readonly GeneralName[];
}

export interface CertificateExtensions {
  /** X.509 version (3 = v3). */
  readonly version: number;
  /** null when the extension is absent (which means CA=false). pathLen null = no pathLenConstraint. */
  readonly basicConstraints: { readonly critical: boolean; readonly ca: boolean; readonly pathLen: number | null } | null;
  /** Named bits as a bit mask (bit n = KeyUsage n); null when absent. */
  readonly keyUsage: { readonly critical: boolean; readonly bits: number } | null;
  readonly extKeyUsage: readonly string[] | null;
  /** Every subjectAltName entry, in order. */
  readonly altNames: readonly GeneralName[];
  /** subjectAltName uniformResourceIdentifier entries, in order. */
  readonly uris: readonly string[];
  readonly nameConstraints: NameConstraints | null;
  /** OIDs of critical extensions other than the five read here: the validator does not process them. */
  readonly otherCritical: readonly string[];
}

export interface ParsedCertificate {
  readonly x509: X509Certificate;
  readonly ext: CertificateExtensions;
  readonly subject: pkijs.RelativeDistinguishedNames;
  /** Subject and issuer are the same name (RFC 5280 "self-issued"). */
  readonly selfIssued: boolean;
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

export function hasKeyUsage(ku: { readonly bits: number }, bit: number): boolean {
  return (ku.bits & (1 << bit)) !== 0;
}

const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectAltName, OID.nameConstraints]);

// Certificates are small; these bound the work a hostile one can cause.
// Contents of OCTET and BIT STRINGs are not parsed speculatively: extension
// values are decoded on their own, and keys and signatures are OpenSSL's.
const BER_LIMITS = { maxDepth: 32, maxNodes: 4096, parseEmbedded: false } as const;

/** The one ASN.1 value of `bytes`, which must be DER with nothing after it. */
function decodeDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  const asn1 = asn1Lib().fromBER(bytes, BER_LIMITS);
  if (asn1.offset === -1 || asn1.result.error !== '') throw new CertificateError(`not a DER certificate (${what} is not ASN.1)`);
  if (asn1.offset !== bytes.byteLength) throw new CertificateError(`not a DER certificate (trailing bytes after ${what})`);
  const err = berOnly(asn1.result, 0);
  if (err !== undefined) throw new CertificateError(`not a DER certificate (${what}: ${err})`);
  return asn1.result;
}

// What BER allows and DER does not, as far as asn1js records it: indefinite
// or non-minimal lengths, constructed strings, BOOLEANs other than 00/FF.
// asn1js's value warnings that mean "not DER" (others, such as an INTEGER
// too big for a number, are about representation only).
const NON_DER_VALUE = /needlessly long|non-zero length|more then 1 octet/i;

function berOnly(block: asn1js.AsnType, depth: number): string | undefined {
  const b = block as asn1js.BaseBlock;
  if (b.lenBlock.isIndefiniteForm) return 'indefinite length';
  if (b.lenBlock.warnings.length > 0 || b.idBlock.warnings.length > 0 || b.valueBlock.warnings.some((w) => NON_DER_VALUE.test(w))) {
    return 'non-minimal encoding';
  }
  if (!b.idBlock.isConstructed) {
    if (b.idBlock.tagClass === 1 && b.idBlock.tagNumber === 1) {
      const v = (b.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
      if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) return 'BOOLEAN not 00 or FF';
    }
    return undefined;
  }
  if (b.idBlock.tagClass === 1 && b.idBlock.tagNumber !== 16 && b.idBlock.tagNumber !== 17) return 'constructed string';
  const kids = (b.valueBlock as unknown as { value?: asn1js.AsnType[] }).value ?? [];
  for (const k of kids) {
    const e = berOnly(k, depth + 1);
    if (e !== undefined) return e;
  }
  return undefined;
}

function ia5(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^[\x20-\x7e]*$/.test(value)) throw new CertificateError(`not a DER certificate (${what} is not printable IA5String)`);
  return value;
}

function generalName(g: pkijs.GeneralName, what: string): GeneralName {
  switch (g.type) {
    case NameType.rfc822:
    case NameType.dns:
    case NameType.uri:
      return { type: g.type, value: ia5(g.value, what) };
    case NameType.ip:
      return { type: 7, value: new Uint8Array((g.value as asn1js.OctetString).valueBlock.valueHexView) };
    case NameType.directory:
      return { type: 4, value: g.value as pkijs.RelativeDistinguishedNames };
    case NameType.otherName:
    case NameType.x400:
    case NameType.ediParty:
    case NameType.registeredId:
      return { type: g.type, value: null };
    default:
      throw new CertificateError(`not a DER certificate (${what}: unknown name form)`);
  }
}

function subtrees(list: readonly pkijs.GeneralSubtree[] | undefined): GeneralName[] | null {
  if (list === undefined) return null;
  return list.map((s) => {
    // RFC 5280: minimum MUST be zero and maximum MUST be absent.
    if (s.minimum !== 0 || s.maximum !== undefined) throw new CertificateError('name constraints with minimum or maximum');
    return generalName(s.base, 'name constraints');
  });
}

/** A pkijs structure from an extension's decoded value, refused unless it fits the type. */
function build<T>(type: new (params: { schema: asn1js.AsnType }) => T, value: asn1js.AsnType, what: string): T {
  try {
    return new type({ schema: value });
  } catch {
    throw new CertificateError(`not a DER certificate (bad ${what})`);
  }
}

function readExtensions(cert: pkijs.Certificate): CertificateExtensions {
  const result = {
    version: cert.version + 1,
    basicConstraints: null as CertificateExtensions['basicConstraints'],
    keyUsage: null as CertificateExtensions['keyUsage'],
    extKeyUsage: null as string[] | null,
    altNames: [] as GeneralName[],
    uris: [] as string[],
    nameConstraints: null as NameConstraints | null,
    otherCritical: [] as string[],
  };
  const extensions = cert.extensions ?? [];
  if (extensions.length > 0 && result.version !== 3) throw new CertificateError('not a DER certificate (extensions in a certificate that is not v3)');
  const seen = new Set<string>();
  for (const e of extensions) {
    if (seen.has(e.extnID)) throw new CertificateError('not a DER certificate (duplicate extension)');
    seen.add(e.extnID);
    if (!KNOWN_EXTENSIONS.has(e.extnID)) {
      if (e.critical) result.otherCritical.push(e.extnID);
      continue;
    }
    // The extension's own content must be DER too, and nothing but one value.
    const value = decodeDer(e.extnValue.valueBlock.valueHexView, 'extension value');
    switch (e.extnID) {
      case OID.basicConstraints: {
        const bc = build(pki().BasicConstraints, value, 'basicConstraints');
        const pl = bc.pathLenConstraint;
        if (pl !== undefined && (typeof pl !== 'number' || pl < 0)) throw new CertificateError('not a DER certificate (bad pathLenConstraint)');
        result.basicConstraints = { critical: e.critical, ca: bc.cA, pathLen: pl ?? null };
        break;
      }
      case OID.keyUsage:
        if (!(value instanceof asn1Lib().BitString)) throw new CertificateError('not a DER certificate (bad keyUsage)');
        result.keyUsage = { critical: e.critical, bits: keyUsageBits(value) };
        break;
      case OID.extKeyUsage:
        result.extKeyUsage = [...build(pki().ExtKeyUsage, value, 'extKeyUsage').keyPurposes];
        break;
      case OID.subjectAltName:
        for (const g of build(pki().AltName, value, 'subjectAltName').altNames) {
          const name = generalName(g, 'subjectAltName');
          result.altNames.push(name);
          if (name.type === NameType.uri) result.uris.push(name.value);
        }
        break;
      case OID.nameConstraints: {
        const nc = build(pki().NameConstraints, value, 'nameConstraints');
        result.nameConstraints = { permitted: subtrees(nc.permittedSubtrees), excluded: subtrees(nc.excludedSubtrees) ?? [] };
        break;
      }
    }
  }
  return result;
}

function keyUsageBits(bs: asn1js.BitString): number {
  const view = bs.valueBlock.valueHexView;
  if (view.length < 1 || view.length > 2 || bs.valueBlock.unusedBits > 7) throw new CertificateError('not a DER certificate (bad keyUsage)');
  let bits = 0;
  for (let i = 0; i < view.length; i++) {
    const byte = view[i] as number;
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits |= 1 << (i * 8 + b);
  }
  return bits;
}

export function parseCertificateDer(der: Buffer): ParsedCertificate {
  let cert: pkijs.Certificate;
  let x509: X509Certificate;
  let ext: CertificateExtensions;
  try {
    cert = new (pki().Certificate)({ schema: decodeDer(der, 'certificate') });
    ext = readExtensions(cert);
    x509 = new X509Certificate(der);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError('not a certificate');
  }
  const notBefore = x509.validFromDate.getTime();
  const notAfter = x509.validToDate.getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new CertificateError('unreadable validity dates');
  return { x509, ext, subject: cert.subject, selfIssued: cert.subject.isEqual(cert.issuer), notBefore, notAfter };
}

function pemDers(pem: string, opts: PemOptions): Buffer[] {
  try {
    return parseCertificatePem(pem, opts);
  } catch (e) {
    if (e instanceof PemError) throw new CertificateError(e.message);
    throw e;
  }
}

/** Every certificate of a PEM text; errors are CertificateError with a loggable message. */
export function parseCertificates(pem: string, opts: PemOptions): ParsedCertificate[] {
  return pemDers(pem, opts).map(parseCertificateDer);
}

// Parsing with pkijs costs several hundred microseconds per certificate, and
// the intermediates of a trust domain arrive with every workload's leaf: keep
// the parsed ones, by their exact bytes. Only successes are kept, and only
// intermediates, so a stream of new leaves does not push them out.
const intermediates = new LRUCache<string, ParsedCertificate>({ max: 32 });

/** A peer chain, leaf first: like parseCertificates, with the intermediates' parses shared across calls. */
export function parseChain(pem: string, opts: PemOptions): ParsedCertificate[] {
  return pemDers(pem, opts).map((der, i) => {
    if (i === 0) return parseCertificateDer(der);
    const key = der.toString('base64');
    let c = intermediates.get(key);
    if (c === undefined) intermediates.set(key, (c = parseCertificateDer(der)));
    return c;
  });
}

/** A certificate allowed to sign others: CA=true and, when key usage is present, keyCertSign. */
export function isSigningCertificate(c: ParsedCertificate): boolean {
  const bc = c.ext.basicConstraints;
  if (bc === null || !bc.ca) return false;
  const ku = c.ext.keyUsage;
  return ku === null || hasKeyUsage(ku, KeyUsageBit.keyCertSign);
}

/**
 * `child` names `parent` as issuer and carries its valid signature. Whether
 * `parent` may sign certificates is path validation's question, asked there
 * so that its answer becomes the reason: OpenSSL's checkIssued also refuses
 * an issuer without keyCertSign, hence the plain name comparison next to it.
 */
export function isSignedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  try {
    const named = child.x509.checkIssued(parent.x509) || child.x509.issuer === parent.x509.subject;
    return named && child.x509.verify(parent.x509.publicKey);
  } catch {
    return false;
  }
}
