// crypto.x509.parse_certificates and crypto.x509.parse_and_verify_certificates.
// OPA answers Go's x509.Certificate marshalled to JSON (plus URIStrings); this
// rebuilds that shape from the DER: byte fields are base64, nil slices null,
// big integers (serial, RSA modulus, EC points) exact numbers, enums Go's
// numbers. What is not rebuilt is listed in docs/builtins.md: name
// constraints, policy mappings/constraints, and url.URL's RawPath.
//
// Verification is node:crypto's signature check with Go's chain rules that
// matter for OPA's call (roots = first certificate, leaf = last, the clock,
// CA basic constraints, the server-auth extended key usage Go defaults to).

import { X509Certificate, createPublicKey } from 'node:crypto';
import type { BuiltinFn, EvalScope } from './index.ts';
import { type Node, DerError, bigint, children, oid, readNode, text, time } from './der.ts';
import { BuiltinError, exactNumber, goBase64Decode, goBytesToString, objectOperand, stringOperand } from './util.ts';
import { type GoUrl, parseGoUrl } from './url.ts';
import { ipString as netIpString } from './net.ts';

/** A number too big for a double, written as its digits. */
class Big {
  readonly v: bigint;
  constructor(v: bigint) {
    this.v = v;
  }
}

function toJson(v: unknown): string {
  if (v instanceof Big) return v.v.toString();
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const oidStr = (o: number[]): string => o.join('.');
const nullIfEmpty = <T>(xs: T[]): T[] | null => (xs.length === 0 ? null : xs);

const SIG_ALGS: Record<string, number> = {
  '1.2.840.113549.1.1.2': 1,
  '1.2.840.113549.1.1.4': 2,
  '1.2.840.113549.1.1.5': 3,
  '1.2.840.113549.1.1.11': 4,
  '1.2.840.113549.1.1.12': 5,
  '1.2.840.113549.1.1.13': 6,
  '1.2.840.10040.4.3': 7,
  '2.16.840.1.101.3.4.3.2': 8,
  '1.2.840.10045.4.1': 9,
  '1.2.840.10045.4.3.2': 10,
  '1.2.840.10045.4.3.3': 11,
  '1.2.840.10045.4.3.4': 12,
  '1.3.101.112': 16,
};
const PSS_HASH: Record<string, number> = { '2.16.840.1.101.3.4.2.1': 13, '2.16.840.1.101.3.4.2.2': 14, '2.16.840.1.101.3.4.2.3': 15 };

const EXT_KEY_USAGE: Record<string, number> = {
  '2.5.29.37.0': 0,
  '1.3.6.1.5.5.7.3.1': 1,
  '1.3.6.1.5.5.7.3.2': 2,
  '1.3.6.1.5.5.7.3.3': 3,
  '1.3.6.1.5.5.7.3.4': 4,
  '1.3.6.1.5.5.7.3.5': 5,
  '1.3.6.1.5.5.7.3.6': 6,
  '1.3.6.1.5.5.7.3.7': 7,
  '1.3.6.1.5.5.7.3.8': 8,
  '1.3.6.1.5.5.7.3.9': 9,
  '1.3.6.1.4.1.311.10.3.3': 10,
  '2.16.840.1.113730.4.1': 11,
  '1.3.6.1.4.1.311.2.1.22': 12,
  '1.3.6.1.4.1.311.61.1.1': 13,
};

const NAME_FIELDS: Record<string, string> = {
  '2.5.4.6': 'Country',
  '2.5.4.10': 'Organization',
  '2.5.4.11': 'OrganizationalUnit',
  '2.5.4.7': 'Locality',
  '2.5.4.8': 'Province',
  '2.5.4.9': 'StreetAddress',
  '2.5.4.17': 'PostalCode',
};

// Extensions Go's parser handles; other critical ones are "unhandled".
const HANDLED = new Set([
  '2.5.29.15',
  '2.5.29.19',
  '2.5.29.17',
  '2.5.29.30',
  '2.5.29.31',
  '2.5.29.35',
  '2.5.29.37',
  '2.5.29.14',
  '2.5.29.32',
  '1.3.6.1.5.5.7.1.1',
]);

/** Go's pkix.Name.FillFromRDNSequence. */
function pkixName(n: Node): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Country: [],
    Organization: [],
    OrganizationalUnit: [],
    Locality: [],
    Province: [],
    StreetAddress: [],
    PostalCode: [],
    SerialNumber: '',
    CommonName: '',
    Names: [],
    ExtraNames: null,
  };
  const names: unknown[] = [];
  for (const rdn of children(n)) {
    for (const atv of children(rdn)) {
      const [t, v] = children(atv) as [Node, Node];
      const type = oid(t);
      const value = text(v);
      names.push({ Type: type, Value: value });
      const key = oidStr(type);
      if (key === '2.5.4.3') out.CommonName = value;
      else if (key === '2.5.4.5') out.SerialNumber = value;
      else if (NAME_FIELDS[key] !== undefined) (out[NAME_FIELDS[key] as string] as string[]).push(value);
    }
  }
  for (const k of Object.values(NAME_FIELDS)) out[k] = nullIfEmpty(out[k] as string[]);
  out.Names = nullIfEmpty(names);
  return out;
}

/** Go's net.IP.String for 4 or 16 bytes (net.ts formats it; this only reads the bytes). */
function ipString(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) return `?${Buffer.from(b).toString('hex')}`;
  return netIpString(b.length === 4, BigInt(`0x${Buffer.from(b).toString('hex')}`));
}

/** Go's url.URL as JSON, for the URIs of a SAN; a URI Go cannot parse fails the certificate, as in Go. */
function goUrl(s: string): Record<string, unknown> {
  let u: GoUrl;
  try {
    u = parseGoUrl(Buffer.from(s, 'utf8').toString('latin1'));
  } catch (e) {
    throw new DerError(`cannot parse URI ${JSON.stringify(s)}: ${(e as Error).message}`);
  }
  const t = (b: string): string => goBytesToString(Buffer.from(b, 'latin1'));
  return {
    Scheme: t(u.scheme),
    Opaque: t(u.opaque),
    User: u.user ? {} : null,
    Host: t(u.host),
    Path: t(u.path),
    RawPath: t(u.rawPath),
    OmitHost: u.omitHost,
    ForceQuery: u.forceQuery,
    RawQuery: t(u.rawQuery),
    Fragment: t(u.fragment),
    RawFragment: t(u.rawFragment),
  };
}

function generalNames(n: Node, into: { DNSNames: string[]; EmailAddresses: string[]; IPAddresses: string[]; URIs: string[] }): void {
  for (const g of children(n)) {
    if (g.tag === 0x81) into.EmailAddresses.push(text(g));
    else if (g.tag === 0x82) into.DNSNames.push(text(g));
    else if (g.tag === 0x86) into.URIs.push(text(g));
    else if (g.tag === 0x87) into.IPAddresses.push(ipString(g.body));
  }
}

function publicKey(spki: Node): { alg: number; key: unknown } {
  const [algId] = children(spki) as [Node];
  const alg = oidStr(oid(children(algId)[0] as Node));
  const key = (() => {
    try {
      return X509KeyFromSpki(spki.raw);
    } catch {
      return undefined;
    }
  })();
  if (alg === '1.2.840.113549.1.1.1' && key?.kty === 'RSA') {
    return { alg: 1, key: { N: new Big(b64uInt(key.n as string)), E: Number(b64uInt(key.e as string)) } };
  }
  if (alg === '1.2.840.10045.2.1' && key?.kty === 'EC') {
    return { alg: 3, key: { Curve: {}, X: new Big(b64uInt(key.x as string)), Y: new Big(b64uInt(key.y as string)) } };
  }
  if (alg === '1.3.101.112' && key?.kty === 'OKP') return { alg: 4, key: Buffer.from(key.x as string, 'base64url').toString('base64') };
  if (alg === '1.2.840.10040.4.1') return { alg: 2, key: null };
  return { alg: 0, key: null };
}

function b64uInt(s: string): bigint {
  const hex = Buffer.from(s, 'base64url').toString('hex');
  return hex === '' ? 0n : BigInt(`0x${hex}`);
}

function X509KeyFromSpki(der: Uint8Array): Record<string, unknown> {
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }).export({ format: 'jwk' }) as Record<string, unknown>;
}

/**
 * Go accepts RSA-PSS only in three forms: MGF1 with the message hash, a salt
 * as long as the hash, the default trailer; anything else is unknown (0).
 */
function pssAlgorithm(params: Node | undefined): number {
  if (params === undefined || params.tag !== 0x30) return 0;
  const field = (tag: number): Node | undefined => {
    const f = children(params).find((c) => c.tag === tag);
    return f === undefined ? undefined : children(f)[0];
  };
  const hash = field(0xa0);
  const mgf = field(0xa1);
  const salt = field(0xa2);
  const trailer = field(0xa3);
  if (hash === undefined || mgf === undefined || salt === undefined) return 0;
  const [hashOid, hashParams] = children(hash);
  const [mgfOid, mgfHash] = children(mgf);
  if (hashOid === undefined || mgfOid === undefined || mgfHash === undefined) return 0;
  const isNull = (n: Node | undefined): boolean => n === undefined || (n.tag === 0x05 && n.body.length === 0);
  if (!isNull(hashParams) || oidStr(oid(mgfOid)) !== '1.2.840.113549.1.1.8') return 0;
  const [mgfHashOid, mgfHashParams] = children(mgfHash);
  if (mgfHashOid === undefined || oidStr(oid(mgfHashOid)) !== oidStr(oid(hashOid)) || !isNull(mgfHashParams)) return 0;
  if (trailer !== undefined && bigint(trailer) !== 1n) return 0;
  const alg = PSS_HASH[oidStr(oid(hashOid))];
  const size = { 13: 32n, 14: 48n, 15: 64n }[alg ?? 0];
  return alg !== undefined && bigint(salt) === size ? alg : 0;
}

export interface ParsedCert {
  readonly json: Record<string, unknown>;
  readonly der: Uint8Array;
}

/** Go's x509.ParseCertificate, as JSON; throws DerError on malformed input. */
export function parseCertificate(der: Uint8Array): ParsedCert {
  const cert = readNode(der);
  if (cert.raw.length !== der.length) throw new DerError('trailing data');
  const [tbs, sigAlg, sigValue] = children(cert) as [Node, Node, Node];
  if (tbs === undefined || sigAlg === undefined || sigValue === undefined) throw new DerError('malformed certificate');
  const parts = children(tbs);
  let i = 0;
  let version = 1;
  if (parts[0]?.tag === 0xa0) {
    version = Number(bigint(children(parts[0])[0] as Node)) + 1;
    i++;
  }
  const serial = parts[i++] as Node;
  i++; // signature algorithm inside TBS
  const issuer = parts[i++] as Node;
  const validity = parts[i++] as Node;
  const subject = parts[i++] as Node;
  const spki = parts[i++] as Node;
  if (spki === undefined) throw new DerError('malformed TBS certificate');
  const [notBefore, notAfter] = children(validity) as [Node, Node];
  const sigOid = oidStr(oid(children(sigAlg)[0] as Node));
  let sigAlgNum = SIG_ALGS[sigOid] ?? 0;
  if (sigOid === '1.2.840.113549.1.1.10') sigAlgNum = pssAlgorithm(children(sigAlg)[1]);
  const pk = publicKey(spki);
  const san = { DNSNames: [] as string[], EmailAddresses: [] as string[], IPAddresses: [] as string[], URIs: [] as string[] };
  const out: Record<string, unknown> = {
    Raw: b64(cert.raw),
    RawTBSCertificate: b64(tbs.raw),
    RawSubjectPublicKeyInfo: b64(spki.raw),
    RawSubject: b64(subject.raw),
    RawIssuer: b64(issuer.raw),
    Signature: b64(sigValue.body.subarray(1)),
    SignatureAlgorithm: sigAlgNum,
    PublicKeyAlgorithm: pk.alg,
    PublicKey: pk.key,
    Version: version,
    SerialNumber: new Big(bigint(serial)),
    Issuer: pkixName(issuer),
    Subject: pkixName(subject),
    NotBefore: time(notBefore),
    NotAfter: time(notAfter),
    KeyUsage: 0,
    Extensions: null,
    ExtraExtensions: null,
    UnhandledCriticalExtensions: null,
    ExtKeyUsage: null,
    UnknownExtKeyUsage: null,
    BasicConstraintsValid: false,
    IsCA: false,
    MaxPathLen: 0,
    MaxPathLenZero: false,
    SubjectKeyId: null,
    AuthorityKeyId: null,
    OCSPServer: null,
    IssuingCertificateURL: null,
    DNSNames: null,
    EmailAddresses: null,
    IPAddresses: null,
    URIs: null,
    PermittedDNSDomainsCritical: false,
    PermittedDNSDomains: null,
    ExcludedDNSDomains: null,
    PermittedIPRanges: null,
    ExcludedIPRanges: null,
    PermittedEmailAddresses: null,
    ExcludedEmailAddresses: null,
    PermittedURIDomains: null,
    ExcludedURIDomains: null,
    CRLDistributionPoints: null,
    PolicyIdentifiers: null,
    Policies: null,
    InhibitAnyPolicy: 0,
    InhibitAnyPolicyZero: false,
    InhibitPolicyMapping: 0,
    InhibitPolicyMappingZero: false,
    RequireExplicitPolicy: 0,
    RequireExplicitPolicyZero: false,
    PolicyMappings: null,
  };
  const extsNode = parts.slice(i).find((p) => p.tag === 0xa3);
  if (extsNode !== undefined) {
    const exts: unknown[] = [];
    const unhandled: number[][] = [];
    const eku: number[] = [];
    const unknownEku: number[][] = [];
    const ocsp: string[] = [];
    const issuing: string[] = [];
    const crl: string[] = [];
    const policies: number[][] = [];
    for (const ext of children(children(extsNode)[0] as Node)) {
      const ps = children(ext);
      const id = oid(ps[0] as Node);
      const critical = ps[1]?.tag === 0x01 ? (ps[1].body[0] as number) !== 0 : false;
      const value = (ps[ps.length - 1] as Node).body;
      exts.push({ Id: id, Critical: critical, Value: b64(value) });
      const key = oidStr(id);
      if (critical && !HANDLED.has(key)) unhandled.push(id);
      const v = readNode(value);
      switch (key) {
        case '2.5.29.17':
          generalNames(v, san);
          break;
        case '2.5.29.15': {
          const bits = v.body.subarray(1);
          let usage = 0;
          for (let b = 0; b < 9; b++) if (((bits[b >> 3] ?? 0) >> (7 - (b & 7))) & 1) usage |= 1 << b;
          out.KeyUsage = usage;
          break;
        }
        case '2.5.29.37':
          for (const o of children(v)) {
            const known = EXT_KEY_USAGE[oidStr(oid(o))];
            if (known === undefined) unknownEku.push(oid(o));
            else eku.push(known);
          }
          break;
        case '2.5.29.19': {
          out.BasicConstraintsValid = true;
          let maxPathLen = -1;
          for (const c of children(v)) {
            if (c.tag === 0x01) out.IsCA = (c.body[0] as number) !== 0;
            if (c.tag === 0x02) maxPathLen = Number(bigint(c));
          }
          out.MaxPathLen = maxPathLen;
          out.MaxPathLenZero = maxPathLen === 0;
          break;
        }
        case '2.5.29.14':
          out.SubjectKeyId = b64(v.body);
          break;
        case '2.5.29.35': {
          const kid = children(v).find((c) => c.tag === 0x80);
          if (kid) out.AuthorityKeyId = b64(kid.body);
          break;
        }
        case '1.3.6.1.5.5.7.1.1':
          for (const ad of children(v)) {
            const [m, loc] = children(ad) as [Node, Node];
            if (loc.tag !== 0x86) continue;
            const method = oidStr(oid(m));
            if (method === '1.3.6.1.5.5.7.48.1') ocsp.push(text(loc));
            else if (method === '1.3.6.1.5.5.7.48.2') issuing.push(text(loc));
          }
          break;
        case '2.5.29.31':
          for (const dp of children(v)) {
            const name = children(dp).find((c) => c.tag === 0xa0);
            const full = name && children(name).find((c) => c.tag === 0xa0);
            if (full) for (const g of children(full)) if (g.tag === 0x86) crl.push(text(g));
          }
          break;
        case '2.5.29.32':
          for (const pi of children(v)) policies.push(oid(children(pi)[0] as Node));
          break;
      }
    }
    out.Extensions = nullIfEmpty(exts);
    out.UnhandledCriticalExtensions = nullIfEmpty(unhandled);
    out.ExtKeyUsage = nullIfEmpty(eku);
    out.UnknownExtKeyUsage = nullIfEmpty(unknownEku);
    out.OCSPServer = nullIfEmpty(ocsp);
    out.IssuingCertificateURL = nullIfEmpty(issuing);
    out.CRLDistributionPoints = nullIfEmpty(crl);
    out.PolicyIdentifiers = nullIfEmpty(policies);
    out.Policies = nullIfEmpty(policies.map(oidStr));
  }
  out.DNSNames = nullIfEmpty(san.DNSNames);
  out.EmailAddresses = nullIfEmpty(san.EmailAddresses);
  out.IPAddresses = nullIfEmpty(san.IPAddresses);
  out.URIs = nullIfEmpty(san.URIs.map(goUrl));
  // OPA's extendCertificates adds the URIs as plain strings.
  out.URIStrings = nullIfEmpty(san.URIs);
  return { json: out, der };
}

function attrValue(n: Node): unknown {
  switch (n.tag) {
    case 0x04:
      return b64(n.body);
    case 0x01:
      return (n.body[0] as number) !== 0;
    case 0x02:
      return new Big(bigint(n));
    case 0x06:
      return oid(n);
    case 0x0c:
    case 0x13:
    case 0x16:
    case 0x14:
    case 0x1e:
      return text(n);
    default:
      return b64(n.raw);
  }
}

/** Go's x509.ParseCertificateRequest, as JSON. */
export function parseCertificateRequest(der: Uint8Array): Record<string, unknown> {
  const csr = readNode(der);
  const [info, sigAlg, sigValue] = children(csr) as [Node, Node, Node];
  if (info === undefined || sigAlg === undefined || sigValue === undefined) throw new DerError('malformed certificate request');
  const [version, subject, spki, attrs] = children(info) as [Node, Node, Node, Node | undefined];
  if (spki === undefined) throw new DerError('malformed certificate request info');
  const sigOid = oidStr(oid(children(sigAlg)[0] as Node));
  const sigAlgNum = sigOid === '1.2.840.113549.1.1.10' ? pssAlgorithm(children(sigAlg)[1]) : (SIG_ALGS[sigOid] ?? 0);
  const pk = publicKey(spki);
  const attributes: unknown[] = [];
  const extensions: unknown[] = [];
  const san = { DNSNames: [] as string[], EmailAddresses: [] as string[], IPAddresses: [] as string[], URIs: [] as string[] };
  for (const attr of attrs?.tag === 0xa0 ? children(attrs) : []) {
    const [type, values] = children(attr) as [Node, Node | undefined];
    if (type === undefined || values === undefined) continue;
    const id = oid(type);
    // Go reads each value as a SEQUENCE of {type, value} pairs; an attribute of another shape is skipped.
    try {
      const value = children(values).map((v) => {
        if (v.tag !== 0x30) throw new DerError('not a sequence');
        return children(v).map((pair) => {
          const [t, x] = children(pair) as [Node, Node | undefined];
          if (pair.tag !== 0x30 || t?.tag !== 0x06 || x === undefined) throw new DerError('not a pair');
          return { Type: oid(t), Value: attrValue(x) };
        });
      });
      attributes.push({ Type: id, Value: value });
    } catch {
      continue;
    }
    if (oidStr(id) !== '1.2.840.113549.1.9.14') continue;
    for (const set of children(values)) {
      for (const ext of children(set)) {
        const ps = children(ext);
        const extId = oid(ps[0] as Node);
        const critical = ps[1]?.tag === 0x01 ? (ps[1].body[0] as number) !== 0 : false;
        const body = (ps[ps.length - 1] as Node).body;
        extensions.push({ Id: extId, Critical: critical, Value: b64(body) });
        if (oidStr(extId) === '2.5.29.17') generalNames(readNode(body), san);
      }
    }
  }
  return {
    Raw: b64(csr.raw),
    RawTBSCertificateRequest: b64(info.raw),
    RawSubjectPublicKeyInfo: b64(spki.raw),
    RawSubject: b64(subject.raw),
    Version: Number(bigint(version)),
    Signature: b64(sigValue.body.subarray(1)),
    SignatureAlgorithm: sigAlgNum,
    PublicKeyAlgorithm: pk.alg,
    PublicKey: pk.key,
    Subject: pkixName(subject),
    Attributes: nullIfEmpty(attributes),
    Extensions: nullIfEmpty(extensions),
    ExtraExtensions: null,
    DNSNames: nullIfEmpty(san.DNSNames),
    EmailAddresses: nullIfEmpty(san.EmailAddresses),
    IPAddresses: nullIfEmpty(san.IPAddresses),
    URIs: nullIfEmpty(san.URIs.map(goUrl)),
  };
}

function certificateRequest(x: unknown): ArrayBuffer {
  const b = 'crypto.x509.parse_certificate_request';
  const s = stringOperand(b, x, 1);
  let bytes: Buffer;
  if (s.startsWith('-----BEGIN CERTIFICATE REQUEST-----')) bytes = Buffer.from(s, 'latin1');
  else {
    const d = goBase64Decode(s, false);
    if (d === undefined) throw new BuiltinError(b, 'illegal base64 data');
    bytes = d;
  }
  const text = bytes.toString('latin1');
  const m = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  let der: Uint8Array = bytes;
  if (m !== null) {
    if (m[1] !== 'CERTIFICATE REQUEST') throw new BuiltinError(b, 'invalid PEM-encoded certificate signing request');
    der = Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64');
  }
  try {
    return exactNumber(toJson(parseCertificateRequest(der)));
  } catch (e) {
    throw new BuiltinError(b, `x509: malformed certificate request: ${(e as Error).message}`);
  }
}

/** OPA's getX509CertsFromString: PEM, or base64 of PEM or of (concatenated) DER. */
function certsFromString(builtin: string, s: string): ParsedCert[] {
  let pem = s;
  if (!s.startsWith('-----BEGIN')) {
    const raw = goBase64Decode(s, false);
    if (raw === undefined) throw new BuiltinError(builtin, 'illegal base64 data');
    if (raw.subarray(0, 10).toString('latin1') !== '-----BEGIN') return derCerts(builtin, raw);
    pem = raw.toString('latin1');
  }
  const out: ParsedCert[] = [];
  let blocks = 0;
  const re = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(pem)) !== null) {
    blocks++;
    if (m[1] !== 'CERTIFICATE') throw new BuiltinError(builtin, `PEM block type is '${m[1]}', expected CERTIFICATE`);
    out.push(...derCerts(builtin, Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64')));
  }
  if (blocks === 0) throw new BuiltinError(builtin, 'failed to find any PEM data in input');
  return out;
}

function derCerts(builtin: string, der: Uint8Array): ParsedCert[] {
  const out: ParsedCert[] = [];
  let at = 0;
  try {
    while (at < der.length) {
      const n = readNode(der, at);
      out.push(parseCertificate(n.raw));
      at += n.raw.length;
    }
  } catch (e) {
    throw new BuiltinError(builtin, `x509: malformed certificate: ${(e as Error).message}`);
  }
  return out;
}

/** The plain x509.Certificate JSON, without the URIStrings OPA adds to parse results. */
export function certJson(c: ParsedCert): string {
  const { URIStrings: _, ...plain } = c.json;
  return toJson(plain);
}

function certList(certs: ParsedCert[]): ArrayBuffer {
  return exactNumber(`[${certs.map((c) => toJson(c.json)).join(',')}]`);
}

interface VerifyOptions {
  nowNs: bigint;
  dnsName: string;
  /** Go's ExtKeyUsage numbers; empty: server auth, as Go defaults. */
  usages: number[];
}

/** Go's checkChainForKeyUsage. */
function chainHasUsage(chain: ParsedCert[], wanted: number[]): boolean {
  if (wanted.includes(0)) return true;
  const usages = [...wanted];
  let remaining = usages.length;
  for (let i = chain.length - 1; i >= 0; i--) {
    const c = chain[i]!.json;
    const eku = (c.ExtKeyUsage as number[] | null) ?? [];
    if (eku.length === 0 && c.UnknownExtKeyUsage === null) continue;
    if (eku.includes(0)) continue;
    for (let k = 0; k < usages.length; k++) {
      if (usages[k] === -1 || eku.includes(usages[k] as number)) continue;
      usages[k] = -1;
      if (--remaining === 0) return false;
    }
  }
  return true;
}

/** Go's Certificate.VerifyHostname, for DNS names and IP addresses in the SAN. */
function matchesHost(c: Record<string, unknown>, host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (/^[0-9.]+$/.test(h) || h.includes(':')) return ((c.IPAddresses as string[] | null) ?? []).includes(h);
  const want = h.toLowerCase().replace(/\.$/, '');
  return ((c.DNSNames as string[] | null) ?? []).some((pattern) => {
    const p = pattern.toLowerCase().replace(/\.$/, '');
    if (p === want) return true;
    if (!p.startsWith('*.')) return false;
    const dot = want.indexOf('.');
    return dot > 0 && want.slice(dot + 1) === p.slice(2) && want.slice(dot + 1) !== '';
  });
}

/** Go's leaf.Verify with Roots = certs[0], Intermediates = the middle; the first chain, leaf first. */
function verifyChain(certs: ParsedCert[], opts: VerifyOptions): ParsedCert[] | undefined {
  if (certs.length < 2) return undefined;
  const wanted = opts.usages.length === 0 ? [1] : opts.usages;
  const x = certs.map((c) => new X509Certificate(Buffer.from(c.der)));
  const nowMs = Number(opts.nowNs / 1_000_000n);
  const valid = (i: number): boolean => Date.parse(x[i]!.validFrom) <= nowMs && nowMs <= Date.parse(x[i]!.validTo);
  const leaf = certs.length - 1;
  if (!valid(leaf)) return undefined;
  if (opts.dnsName !== '' && !matchesHost(certs[leaf]!.json, opts.dnsName)) return undefined;
  // A leaf that is itself the root is a chain of one.
  if (Buffer.compare(Buffer.from(certs[0]!.der), Buffer.from(certs[leaf]!.der)) === 0) {
    return chainHasUsage([certs[leaf]!], wanted) ? [certs[leaf]!] : undefined;
  }
  const intermediates = certs.slice(1, -1).map((_, k) => k + 1);
  const search = (i: number, path: number[]): number[] | undefined => {
    for (const p of [0, ...intermediates]) {
      if (path.includes(p)) continue;
      const parent = certs[p]!.json;
      if (!valid(p) || !parent.BasicConstraintsValid || !parent.IsCA) continue;
      if (parent.KeyUsage !== 0 && !((parent.KeyUsage as number) & (1 << 5))) continue;
      if (Buffer.compare(Buffer.from(certs[i]!.json.RawIssuer as string, 'base64'), Buffer.from(parent.RawSubject as string, 'base64')) !== 0) continue;
      let ok = false;
      try {
        ok = x[i]!.verify(x[p]!.publicKey);
      } catch {
        ok = false;
      }
      if (!ok) continue;
      const maxPath = parent.MaxPathLen as number;
      const below = path.length - 1; // intermediates between parent and leaf
      if (maxPath >= 0 && below > maxPath && !(maxPath === 0 && !parent.MaxPathLenZero)) continue;
      if (p === 0) {
        const chain = [...path, p];
        if (
          chainHasUsage(
            chain.map((k) => certs[k]!),
            wanted,
          )
        )
          return chain;
        continue;
      }
      const found = search(p, [...path, p]);
      if (found) return found;
    }
    return undefined;
  };
  return search(leaf, [leaf])?.map((i) => certs[i] as ParsedCert);
}

const KEY_USAGE_OPTIONS: Record<string, number> = {
  KeyUsageAny: 0,
  KeyUsageServerAuth: 1,
  KeyUsageClientAuth: 2,
  KeyUsageCodeSigning: 3,
  KeyUsageEmailProtection: 4,
  KeyUsageIPSECEndSystem: 5,
  KeyUsageIPSECTunnel: 6,
  KeyUsageIPSECUser: 7,
  KeyUsageTimeStamping: 8,
  KeyUsageOCSPSigning: 9,
  KeyUsageMicrosoftServerGatedCrypto: 10,
  KeyUsageNetscapeServerGatedCrypto: 11,
  KeyUsageMicrosoftCommercialCodeSigning: 12,
  KeyUsageMicrosoftKernelCodeSigning: 13,
};

/** OPA's extractVerifyOpts. */
function verifyOptions(builtin: string, o: Record<string, unknown>, nowNs: bigint): VerifyOptions {
  const opts: VerifyOptions = { nowNs, dnsName: '', usages: [] };
  for (const [k, v] of Object.entries(o)) {
    switch (k) {
      case 'DNSName':
        if (typeof v !== 'string') throw new BuiltinError(builtin, "'DNSName' should be a string");
        opts.dnsName = v.replaceAll('"', '');
        break;
      case 'CurrentTime':
        if (typeof v !== 'number') throw new BuiltinError(builtin, "'CurrentTime' should be a number");
        if (!Number.isInteger(v)) throw new BuiltinError(builtin, "'CurrentTime' should be a valid int64 number");
        opts.nowNs = BigInt(v);
        break;
      case 'MaxConstraintComparisons':
        if (typeof v !== 'number') throw new BuiltinError(builtin, "'MaxConstraintComparisons' should be a number");
        break;
      case 'KeyUsages': {
        if (!Array.isArray(v)) throw new BuiltinError(builtin, "'KeyUsages' should be an Array or Set");
        const invalid: string[] = [];
        for (const u of v) {
          if (typeof u !== 'string') continue;
          const n = KEY_USAGE_OPTIONS[u.replaceAll('"', '')];
          if (n === undefined) invalid.push(u);
          else opts.usages.push(n);
        }
        if (invalid.length > 0) throw new BuiltinError(builtin, `invalid entries for 'KeyUsages' found: [${invalid.join(' ')}]`);
        break;
      }
      default:
        throw new BuiltinError(builtin, 'invalid key option');
    }
  }
  return opts;
}

export function x509Builtins(scope: EvalScope): Record<string, BuiltinFn> {
  return {
    'crypto.x509.parse_certificates': (x: unknown) => {
      const b = 'crypto.x509.parse_certificates';
      return certList(certsFromString(b, stringOperand(b, x, 1)));
    },
    'crypto.x509.parse_and_verify_certificates': (x: unknown) => {
      const b = 'crypto.x509.parse_and_verify_certificates';
      const s = stringOperand(b, x, 1);
      let chain: ParsedCert[] | undefined;
      try {
        chain = verifyChain(certsFromString(b, s), { nowNs: scope.nowNs(), dnsName: '', usages: [] });
      } catch {
        chain = undefined;
      }
      if (chain === undefined) return [false, []];
      return exactNumber(`[true,${new TextDecoder().decode(certList(chain))}]`);
    },
    'crypto.x509.parse_certificate_request': certificateRequest,
    'crypto.x509.parse_and_verify_certificates_with_options': (x: unknown, o: unknown) => {
      const b = 'crypto.x509.parse_and_verify_certificates_with_options';
      const s = stringOperand(b, x, 1);
      let certs: ParsedCert[];
      try {
        certs = certsFromString(b, s);
      } catch {
        return [false, []];
      }
      const opts = verifyOptions(b, objectOperand(b, o, 2), scope.nowNs());
      let chain: ParsedCert[] | undefined;
      try {
        chain = verifyChain(certs, opts);
      } catch {
        chain = undefined;
      }
      if (chain === undefined) return [false, []];
      // unlike parse_and_verify_certificates, OPA adds no URIStrings here
      return exactNumber(`[true,[${chain.map(certJson).join(',')}]]`);
    },
  };
}
