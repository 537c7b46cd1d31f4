// Reading certificates (pkijs under a DER gate) and the name matching of
// name constraints, on real openssl-made certificates and on crafted bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateError,
  KeyUsageBit,
  NameType,
  OID,
  hasKeyUsage,
  parseCertificateDer,
  parseChain,
  type GeneralName,
} from '../../src/identity/Certificate.ts';
import { matches, uriHost } from '../../src/identity/PathValidation.ts';
import { Pki } from '../support/pki.ts';

const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');

describe('certificate fields from real certificates', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = new Pki();
  });
  afterAll(() => pki.cleanup());

  it('reads basic constraints, key usage, EKU and SANs of a leaf', () => {
    const ca = pki.ca('td.example');
    const { ext } = parseCertificateDer(
      der(pki.leaf(ca, { uris: ['spiffe://td.example/a'], dns: ['x.example'], keyUsage: 'critical,digitalSignature,keyEncipherment' })),
    );
    expect(ext.version).toBe(3);
    expect(ext.basicConstraints).toEqual({ critical: true, ca: false, pathLen: null });
    expect(ext.keyUsage?.critical).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.digitalSignature)).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, 2)).toBe(true); // keyEncipherment
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.keyCertSign)).toBe(false);
    expect(ext.extKeyUsage).toEqual([OID.serverAuth, OID.clientAuth]);
    expect(ext.uris).toEqual(['spiffe://td.example/a']);
    expect(ext.altNames).toEqual([
      { type: NameType.uri, value: 'spiffe://td.example/a' },
      { type: NameType.dns, value: 'x.example' },
    ]);
    expect(ext.nameConstraints).toBeNull();
    expect(ext.otherCritical).toEqual([]);
  });

  it('reads a CA certificate with pathLenConstraint and name constraints', () => {
    const root = pki.ca('ca.example');
    const c = parseCertificateDer(der(root.pem));
    expect(c.ext.basicConstraints).toEqual({ critical: true, ca: true, pathLen: null });
    expect(hasKeyUsage(c.ext.keyUsage!, KeyUsageBit.keyCertSign)).toBe(true);
    expect(hasKeyUsage(c.ext.keyUsage!, KeyUsageBit.cRLSign)).toBe(true);
    expect(c.ext.uris).toEqual(['spiffe://ca.example']);
    expect(c.selfIssued).toBe(true);

    const inter = pki.intermediate(root, 'sub', { pathLen: 1, nameConstraints: 'critical,permitted;URI:ca.example,excluded;DNS:bad.example' });
    const i = parseCertificateDer(der(inter.pem));
    expect(i.ext.basicConstraints).toEqual({ critical: true, ca: true, pathLen: 1 });
    expect(i.ext.nameConstraints).toEqual({
      permitted: [{ type: NameType.uri, value: 'ca.example' }],
      excluded: [{ type: NameType.dns, value: 'bad.example' }],
    });
    expect(i.selfIssued).toBe(false);
  });

  it('lists critical extensions it does not process', () => {
    const ca = pki.ca('p.example');
    const { ext } = parseCertificateDer(der(pki.leaf(ca, { extra: ['certificatePolicies=critical,1.2.3.4', '1.3.6.1.4.1.99999.1=ASN1:NULL'] })));
    expect(ext.otherCritical).toEqual(['2.5.29.32']);
  });

  it('shares the parse of an intermediate between chains, never that of a leaf', () => {
    const root = pki.ca('share.example');
    const inter = pki.intermediate(root, 'share-i');
    const leafA = pki.leaf({ ...inter, name: 'share.example' });
    const leafB = pki.leaf({ ...inter, name: 'share.example' });
    const a = parseChain(leafA + inter.pem, { strict: true });
    const b = parseChain(leafB + inter.pem, { strict: true });
    expect(b[1]).toBe(a[1]);
    expect(parseChain(leafA + inter.pem, { strict: true })[0]).not.toBe(a[0]);
  });

  it('rejects every truncation of a certificate', () => {
    const full = der(pki.leaf(pki.ca('t.example')));
    for (let n = 0; n < full.length; n += 7) {
      expect(() => parseCertificateDer(full.subarray(0, n))).toThrow(CertificateError);
    }
  });

  it('rejects a BOOLEAN TRUE other than FF', () => {
    const full = der(pki.leaf(pki.ca('bool.example')));
    const bc = Buffer.from('0603551d130101ff', 'hex'); // basicConstraints, critical TRUE
    const at = full.indexOf(bc);
    expect(at).toBeGreaterThan(0);
    const odd = Buffer.from(full);
    odd[at + bc.length - 1] = 0x01;
    expect(() => parseCertificateDer(odd)).toThrow('not a DER certificate (certificate: BOOLEAN not 00 or FF)');
  });

  it('rejects BER that is not DER: a non-minimal and an indefinite outer length', () => {
    const full = der(pki.leaf(pki.ca('b.example')));
    expect(full[0]).toBe(0x30);
    expect(full[1]).toBe(0x82);
    const longer = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), full.subarray(2)]);
    expect(() => parseCertificateDer(longer)).toThrow('not a DER certificate (certificate: non-minimal encoding)');
    const indefinite = Buffer.concat([Buffer.from([0x30, 0x80]), full.subarray(4), Buffer.from([0, 0])]);
    expect(() => parseCertificateDer(indefinite)).toThrow('not a DER certificate (certificate: indefinite length)');
  });
});

describe('name constraint matching (RFC 5280 4.2.1.10)', () => {
  const uri = (value: string): GeneralName => ({ type: NameType.uri, value });
  const dns = (value: string): GeneralName => ({ type: NameType.dns, value });
  const email = (value: string): GeneralName => ({ type: NameType.rfc822, value });
  const ip = (...bytes: number[]): GeneralName => ({ type: NameType.ip, value: Uint8Array.from(bytes) });

  it('takes the host of a URI, without userinfo or port; none without an authority', () => {
    expect(uriHost('spiffe://td.example/ns/x')).toBe('td.example');
    expect(uriHost('https://user@Host.Example:8443/p?q')).toBe('host.example');
    expect(uriHost('https://[2001:db8::1]:443/')).toBe('[2001:db8::1]');
    expect(uriHost('urn:uuid:1234')).toBeNull();
    expect(uriHost('spiffe:///path')).toBeNull();
  });

  it.each([
    ['spiffe://td.example/a', 'td.example', true],
    ['spiffe://TD.example/a', 'td.example', true],
    ['spiffe://td.example/a', 'other.example', false],
    ['spiffe://td.example/a', '.example', true],
    ['spiffe://example/a', '.example', false],
    ['spiffe://sub.td.example/a', 'td.example', false],
    ['spiffe://td.example/a', 'spiffe://td.example/a', false],
  ] as const)('URI %s against %s: %s', (name, base, expected) => {
    expect(matches(uri(name), uri(base))).toBe(expected);
  });

  it('cannot decide a URI without a host', () => {
    expect(matches(uri('urn:x:y'), uri('td.example'))).toBe('unsupported');
  });

  it.each([
    ['svc.example', 'svc.example', true],
    ['a.svc.example', 'svc.example', true],
    ['asvc.example', 'svc.example', false],
    ['svc.example', '.svc.example', false],
    ['a.svc.example', '.svc.example', true],
    ['anything', '', true],
  ] as const)('DNS %s against %s: %s', (name, base, expected) => {
    expect(matches(dns(name), dns(base))).toBe(expected);
  });

  it.each([
    ['ops@corp.example', 'ops@corp.example', true],
    ['ops@CORP.example', 'ops@corp.example', true],
    ['dev@corp.example', 'ops@corp.example', false],
    ['ops@corp.example', 'corp.example', true],
    ['ops@mail.corp.example', 'corp.example', false],
    ['ops@mail.corp.example', '.corp.example', true],
  ] as const)('email %s against %s: %s', (name, base, expected) => {
    expect(matches(email(name), email(base))).toBe(expected);
  });

  it('IP addresses against address and mask', () => {
    expect(matches(ip(10, 1, 2, 3), ip(10, 1, 0, 0, 255, 255, 0, 0))).toBe(true);
    expect(matches(ip(10, 2, 2, 3), ip(10, 1, 0, 0, 255, 255, 0, 0))).toBe(false);
    const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0)];
    const v6mask = [...new Array<number>(4).fill(0xff), ...new Array<number>(12).fill(0)];
    expect(matches(ip(...v6.slice(0, 15), 7), ip(...v6, ...v6mask))).toBe(true);
    expect(matches(ip(10, 1, 2, 3), ip(...v6, ...v6mask))).toBe(false);
  });
});
