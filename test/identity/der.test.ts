import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DerError, KeyUsageBit, OID, hasKeyUsage, readCertificateExtensions, readChildren, readOid, readTlv } from '../../src/identity/Der.ts';
import { Pki } from '../support/pki.ts';

const b = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

describe('DER reader bounds', () => {
  it('reads short and long definite lengths', () => {
    expect(readTlv(b(0x04, 0x02, 0xaa, 0xbb), 0, 4)).toEqual({ tag: 0x04, start: 2, end: 4 });
    const long = new Uint8Array(3 + 200);
    long.set([0x04, 0x81, 200]);
    expect(readTlv(long, 0, long.length)).toEqual({ tag: 0x04, start: 3, end: 203 });
  });

  it.each([
    ['an indefinite length', b(0x30, 0x80, 0x00, 0x00), 'indefinite length is not DER'],
    ['a non-minimal long length', b(0x04, 0x81, 0x01, 0xaa), 'non-minimal DER length'],
    ['a leading zero length byte', b(0x04, 0x82, 0x00, 0x81), 'non-minimal DER length'],
    ['a length past the end', b(0x04, 0x05, 0xaa), 'truncated DER element'],
    ['a length of more than 4 bytes', b(0x04, 0x85, 1, 0, 0, 0, 0), 'DER length too large'],
    ['a truncated length', b(0x04, 0x82, 0x01), 'truncated DER length'],
    ['a high tag number', b(0x1f, 0x81, 0x01, 0x00), 'unsupported DER tag'],
    ['a lone tag byte', b(0x30), 'truncated DER element'],
  ])('rejects %s', (_name, bytes, message) => {
    expect(() => readTlv(bytes, 0, bytes.length)).toThrow(new DerError(message));
  });

  it('bounds the number of children', () => {
    const many = new Uint8Array(3 + 2 * 70);
    many.set([0x30, 0x81, 140]);
    for (let i = 0; i < 70; i++) many.set([0x05, 0x00], 3 + 2 * i);
    const seq = readTlv(many, 0, many.length);
    expect(() => readChildren(many, seq)).toThrow('too many DER elements');
    expect(readChildren(many, seq, 100)).toHaveLength(70);
  });

  it('decodes OIDs and rejects malformed ones', () => {
    const oid = (...bytes: number[]) => readOid(Uint8Array.from([0x06, bytes.length, ...bytes]), { tag: 0x06, start: 2, end: 2 + bytes.length });
    expect(oid(0x55, 0x1d, 0x13)).toBe('2.5.29.19');
    expect(oid(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02)).toBe(OID.clientAuth);
    expect(() => oid(0x55, 0x81)).toThrow('truncated OID');
    expect(() => oid(0x55, 0x80, 0x01)).toThrow('non-minimal OID arc');
  });
});

describe('certificate extensions from real certificates', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = new Pki();
  });
  afterAll(() => pki.cleanup());

  const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');

  it('reads basic constraints, key usage, EKU and URI SANs of a leaf', () => {
    const ca = pki.ca('td.example');
    const ext = readCertificateExtensions(der(pki.leaf(ca, { uris: ['spiffe://td.example/a'], dns: ['x.example'], keyUsage: 'critical,digitalSignature,keyEncipherment' })));
    expect(ext.version).toBe(3);
    expect(ext.basicConstraints).toEqual({ critical: true, ca: false, pathLen: false });
    expect(ext.keyUsage?.critical).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.digitalSignature)).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, 2)).toBe(true); // keyEncipherment
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.keyCertSign)).toBe(false);
    expect(ext.extKeyUsage).toEqual([OID.serverAuth, OID.clientAuth]);
    expect(ext.uris).toEqual(['spiffe://td.example/a']);
    expect(ext.otherCritical).toEqual([]);
  });

  it('reads a CA certificate', () => {
    const ext = readCertificateExtensions(der(pki.ca('ca.example').pem));
    expect(ext.basicConstraints?.ca).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.keyCertSign)).toBe(true);
    expect(hasKeyUsage(ext.keyUsage!, KeyUsageBit.cRLSign)).toBe(true);
    expect(ext.uris).toEqual(['spiffe://ca.example']);
  });

  it('rejects every truncation of a certificate', () => {
    const full = der(pki.leaf(pki.ca('t.example')));
    for (let n = 0; n < full.length; n += 7) {
      expect(() => readCertificateExtensions(full.subarray(0, n))).toThrow(DerError);
    }
  });
});
