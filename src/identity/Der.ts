// A minimal DER reader for the X.509 fields node:crypto does not expose
// unambiguously: key usage bits, basic constraints, extended key usage and the
// URI/DNS names of subjectAltName (X509Certificate#subjectAltName is a string
// in which a comma inside a URI needs quoting, and #ca also answers true for
// certificates that are CAs only by key usage). It reads DER only (definite,
// minimal lengths, low tag numbers) and every loop is bounded, so hostile
// input costs at most a linear walk over its bytes.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** One TLV: `tag` byte, content in [start, end). */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
} as const;

const MAX_CHILDREN = 64;
const MAX_OID_BYTES = 64;

/** Reads the TLV at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated DER element');
  const tag = buf[offset] as number;
  // High tag numbers never occur in the certificate fields read here.
  if ((tag & 0x1f) === 0x1f) throw new DerError('unsupported DER tag');
  const first = buf[offset + 1] as number;
  let pos = offset + 2;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (pos + n > limit) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos + i] as number);
    if ((buf[pos] as number) === 0 || length < 0x80) throw new DerError('non-minimal DER length');
    pos += n;
  }
  if (pos + length > limit) throw new DerError('truncated DER element');
  return { tag, start: pos, end: pos + length };
}

/** The TLVs inside a constructed element, at most `max` of them. */
export function readChildren(buf: Uint8Array, parent: Tlv, max = MAX_CHILDREN): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    if (out.length === max) throw new DerError('too many DER elements');
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw new DerError(`${what}: unexpected DER structure`);
  return t;
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function readOid(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.oid || t.end === t.start || t.end - t.start > MAX_OID_BYTES) throw new DerError('bad OID');
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i] as number;
    if (v === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  if ((buf[t.end - 1] as number) & 0x80) throw new DerError('truncated OID');
  const head = arcs[0] as number;
  const [a, b] = head < 40 ? [0, head] : head < 80 ? [1, head - 40] : [2, head - 80];
  return [a, b, ...arcs.slice(1)].join('.');
}

function readBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.boolean || t.end - t.start !== 1) throw new DerError('bad BOOLEAN');
  const v = buf[t.start];
  if (v === 0xff) return true;
  if (v === 0x00) return false;
  throw new DerError('bad BOOLEAN');
}

function ascii(buf: Uint8Array, t: Tlv): string {
  for (let i = t.start; i < t.end; i++) if ((buf[i] as number) > 0x7e || (buf[i] as number) < 0x20) throw new DerError('non-printable IA5String');
  return Buffer.from(buf.subarray(t.start, t.end)).toString('latin1');
}

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** RFC 5280 KeyUsage bit numbers. */
export const KeyUsageBit = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface CertificateExtensions {
  /** X.509 version (3 = v3). */
  readonly version: number;
  /** null when the extension is absent (which means CA=false). */
  readonly basicConstraints: { readonly critical: boolean; readonly ca: boolean; readonly pathLen: boolean } | null;
  /** Named bits as a bit mask (bit n = KeyUsage n); null when absent. */
  readonly keyUsage: { readonly critical: boolean; readonly bits: number } | null;
  readonly extKeyUsage: readonly string[] | null;
  /** subjectAltName uniformResourceIdentifier entries, in order. */
  readonly uris: readonly string[];
  /** OIDs of critical extensions other than the four read here. */
  readonly otherCritical: readonly string[];
}

export function hasKeyUsage(ku: { readonly bits: number }, bit: number): boolean {
  return (ku.bits & (1 << bit)) !== 0;
}

/** Reads the extensions of a DER certificate; throws DerError on anything that is not DER X.509. */
export function readCertificateExtensions(der: Uint8Array): CertificateExtensions {
  const cert = expectTag(readTlv(der, 0, der.length), TAG.sequence, 'certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after certificate');
  const top = readChildren(der, cert, 3);
  if (top.length !== 3) throw new DerError('certificate: unexpected DER structure');
  const tbsTlv = top[0];
  const tbs = readChildren(der, expectTag(tbsTlv, TAG.sequence, 'tbsCertificate'), 12);
  let version = 1;
  const explicitVersion = tbs[0];
  if (explicitVersion?.tag === 0xa0) {
    const v = expectTag(readChildren(der, explicitVersion, 1)[0], TAG.integer, 'version');
    if (v.end - v.start !== 1) throw new DerError('bad version');
    version = (der[v.start] as number) + 1;
  }
  const result = {
    version,
    basicConstraints: null as CertificateExtensions['basicConstraints'],
    keyUsage: null as CertificateExtensions['keyUsage'],
    extKeyUsage: null as string[] | null,
    uris: [] as string[],
    otherCritical: [] as string[],
  };
  const wrapper = tbs.find((t) => t.tag === 0xa3);
  if (wrapper === undefined) return result;
  if (version !== 3) throw new DerError('extensions in a certificate that is not v3');
  const list = expectTag(readChildren(der, wrapper, 1)[0], TAG.sequence, 'extensions');
  const seen = new Set<string>();
  for (const ext of readChildren(der, list)) {
    const parts = readChildren(der, expectTag(ext, TAG.sequence, 'extension'), 3);
    const oid = readOid(der, expectTag(parts[0], TAG.oid, 'extension id'));
    if (seen.has(oid)) throw new DerError('duplicate extension');
    seen.add(oid);
    const critical = parts.length === 3 ? readBoolean(der, parts[1] as Tlv) : false;
    const value = expectTag(parts[parts.length - 1], TAG.octetString, 'extension value');
    const inner = readTlv(der, value.start, value.end);
    if (inner.end !== value.end) throw new DerError('trailing bytes in extension');
    switch (oid) {
      case OID.basicConstraints:
        result.basicConstraints = { critical, ...readBasicConstraints(der, inner) };
        break;
      case OID.keyUsage:
        result.keyUsage = { critical, bits: readKeyUsage(der, inner) };
        break;
      case OID.extKeyUsage:
        result.extKeyUsage = readChildren(der, expectTag(inner, TAG.sequence, 'extKeyUsage')).map((t) => readOid(der, t));
        break;
      case OID.subjectAltName:
        for (const name of readChildren(der, expectTag(inner, TAG.sequence, 'subjectAltName'))) {
          // [6] IMPLICIT IA5String; other name forms are not identities here.
          if (name.tag === 0x86) result.uris.push(ascii(der, name));
        }
        break;
      default:
        if (critical) result.otherCritical.push(oid);
    }
  }
  return result;
}

function readBasicConstraints(der: Uint8Array, t: Tlv): { ca: boolean; pathLen: boolean } {
  const kids = readChildren(der, expectTag(t, TAG.sequence, 'basicConstraints'), 2);
  let ca = false;
  let pathLen = false;
  for (const k of kids) {
    if (k.tag === TAG.boolean) ca = readBoolean(der, k);
    else if (k.tag === TAG.integer) pathLen = true;
    else throw new DerError('basicConstraints: unexpected DER structure');
  }
  return { ca, pathLen };
}

function readKeyUsage(der: Uint8Array, t: Tlv): number {
  expectTag(t, TAG.bitString, 'keyUsage');
  const len = t.end - t.start;
  if (len < 1 || len > 3) throw new DerError('bad keyUsage');
  const unused = der[t.start] as number;
  if (unused > 7 || (len === 1 && unused !== 0)) throw new DerError('bad keyUsage');
  let bits = 0;
  for (let i = 1; i < len; i++) {
    const byte = der[t.start + i] as number;
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits |= 1 << ((i - 1) * 8 + b);
  }
  return bits;
}
