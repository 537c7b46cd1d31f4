// What counts as a usable set of listener material, and the DER forms the Workload API uses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { TlsMaterialError, loadTlsMaterial, splitDerCertificates, tlsMaterialFromDer } from '../../src/tls/TlsMaterial.ts';
import { RotatingCertificateProvider } from '../../src/tls/RotatingCertificateProvider.ts';
import { TestPki, type Ca, type Leaf } from './pki.ts';

const pki = new TestPki();
let ca: Ca;
let leaf: Leaf;

beforeAll(() => {
  ca = pki.ca('ca', 'test.example');
  leaf = pki.leaf(ca, { uris: ['spiffe://test.example/ztauthz'] });
});
afterAll(() => pki.cleanup());

describe('loadTlsMaterial', () => {
  it('accepts a consistent set and normalises it', () => {
    const m = loadTlsMaterial({ certChain: leaf.certPem, privateKey: leaf.keyPem, caBundle: ca.certPem });
    expect(m.serial).toBe(leaf.serial);
    expect(m.leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(m.privateKeyPem.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('refuses, with the reason, each way a set can be unusable', () => {
    const other = pki.leaf(ca, { uris: ['spiffe://test.example/other'] });
    const cases: Array<[Parameters<typeof loadTlsMaterial>[0], string | RegExp]> = [
      [{ certChain: '', privateKey: leaf.keyPem, caBundle: ca.certPem }, 'certificate chain holds no PEM certificate'],
      [{ certChain: leaf.certPem, privateKey: leaf.keyPem, caBundle: 'junk' }, 'CA bundle holds no PEM certificate'],
      [{ certChain: leaf.certPem, privateKey: other.keyPem, caBundle: ca.certPem }, 'private key does not match the certificate'],
      [{ certChain: leaf.certPem, privateKey: leaf.keyPem.slice(0, 60), caBundle: ca.certPem }, /^private key does not parse/],
      [{ certChain: leaf.certPem.replace(/[A-Za-z]{8}\n/, '!!!!!!!!\n'), privateKey: leaf.keyPem, caBundle: ca.certPem }, /certificate chain/],
    ];
    for (const [input, reason] of cases) {
      let caught: unknown;
      try {
        loadTlsMaterial(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TlsMaterialError);
      if (typeof reason === 'string') expect((caught as Error).message).toBe(reason);
      else expect((caught as Error).message).toMatch(reason);
    }
  });

  it('refuses a certificate that has expired', () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(() => loadTlsMaterial({ certChain: leaf.certPem, privateKey: leaf.keyPem, caBundle: ca.certPem }, later)).toThrow(/^certificate expired at/);
  });
});

describe('DER forms (Workload API)', () => {
  it('splits concatenated DER certificates, long-form lengths included', () => {
    const two = Buffer.concat([leaf.certDer, ca.certDer]);
    const parts = splitDerCertificates(two);
    expect(parts.length).toBe(2);
    expect(parts[0]!.equals(leaf.certDer) && parts[1]!.equals(ca.certDer)).toBe(true);
    expect(splitDerCertificates(Buffer.alloc(0))).toEqual([]);
    expect(() => splitDerCertificates(leaf.certDer.subarray(0, leaf.certDer.length - 1))).toThrow('truncated');
    expect(() => splitDerCertificates(Buffer.concat([leaf.certDer, Buffer.from([0x01])]))).toThrow('expected a SEQUENCE at byte');
  });

  it('builds the same material from DER chain, PKCS#8 key and bundle', () => {
    const m = tlsMaterialFromDer([leaf.certDer], leaf.keyDer, [ca.certDer]);
    expect(m.serial).toBe(leaf.serial);
    expect(() => tlsMaterialFromDer([leaf.certDer], Buffer.from('nope'), [ca.certDer])).toThrow(/^private key does not parse/);
  });
});

describe('RotatingCertificateProvider', () => {
  it('publishes each new set once, with the previous one, and ignores re-publishing the same content', () => {
    const m = loadTlsMaterial({ certChain: leaf.certPem, privateKey: leaf.keyPem, caBundle: ca.certPem });
    const p = new RotatingCertificateProvider(m);
    expect(p.current()).toBe(m);
    const updates: string[] = [];
    const stop = p.onUpdate((n, prev) => updates.push(`${prev?.serial}->${n.serial}`));
    p.update(loadTlsMaterial({ certChain: leaf.certPem, privateKey: leaf.keyPem, caBundle: ca.certPem }));
    expect(updates).toEqual([]);
    const next = pki.leaf(ca, { uris: ['spiffe://test.example/ztauthz'] });
    p.update(loadTlsMaterial({ certChain: next.certPem, privateKey: next.keyPem, caBundle: ca.certPem }));
    expect(updates).toEqual([`${leaf.serial}->${next.serial}`]);
    expect(p.current()?.serial).toBe(next.serial);
    stop();
    p.update(m);
    expect(updates).toHaveLength(1);
  });
});
