import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustBundles } from '../../src/identity/TrustBundle.ts';
import { checkX509Svid, validateEnvoyCertificate, validateX509Svid } from '../../src/identity/X509Svid.ts';
import { envoyLegacyUrlEncode, envoyUrlEncode, Pki, type Ca } from '../support/pki.ts';

const DAY = 86_400_000;
let pki: Pki;
let caA: Ca;
let caB: Ca;
let caC: Ca;

beforeAll(() => {
  pki = new Pki();
  caA = pki.ca('a.example');
  caB = pki.ca('b.example');
  caC = pki.ca('c.example');
});
afterAll(() => pki.cleanup());

const reasonOf = (r: ReturnType<typeof validateX509Svid>): string => (r.ok ? 'ok' : r.reason);

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// Same bytes, but the last base64 digit carries bits that padding drops:
// Buffer.from decodes it anyway; canonical DER-in-PEM never looks like this.
function nonCanonical(der: Buffer): string {
  const padded = Buffer.concat([der, Buffer.alloc((3 - ((der.length - 1) % 3)) % 3)]); // length % 3 === 1
  const b64 = padded.toString('base64');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const last = alphabet[alphabet.indexOf(b64[b64.length - 3] as string) | 1] as string;
  const text = `${b64.slice(0, -3) + last}==`;
  return `-----BEGIN CERTIFICATE-----\n${text.replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}

describe('X509-SVID leaf rules', () => {
  it('accepts a conforming SVID and returns its SPIFFE ID and validity', () => {
    const pem = pki.leaf(caA, { uris: ['spiffe://a.example/ns/web/sa/frontend'] });
    const r = validateX509Svid(pem);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.svid.id).toEqual({
      spiffe_id: 'spiffe://a.example/ns/web/sa/frontend',
      trust_domain: 'a.example',
      path: '/ns/web/sa/frontend',
      namespace: 'web',
      service_account: 'frontend',
    });
    expect(r.svid.notAfter).toBe(new X509Certificate(pem).validToDate.getTime());
  });

  it.each([
    ['two URI SANs', { uris: ['spiffe://a.example/one', 'spiffe://a.example/two'] }, 'two URI SANs'],
    ['a SPIFFE and an https URI SAN', { uris: ['spiffe://a.example/one', 'https://a.example/'] }, 'two URI SANs'],
    ['no URI SAN, DNS only', { uris: [], dns: ['svc.a.example'] }, 'no URI SAN'],
    ['no SAN at all', { uris: [] }, 'no URI SAN'],
    ['an https URI SAN', { uris: ['https://a.example/ns/x'] }, 'URI SAN is not a SPIFFE ID (scheme is missing or invalid)'],
    ['a SPIFFE ID without path', { uris: ['spiffe://a.example'] }, 'SPIFFE ID has no path'],
    [
      'an upper-case trust domain',
      { uris: ['spiffe://A.example/w'] },
      'URI SAN is not a SPIFFE ID (trust domain characters are limited to lowercase letters, digits, ".", "-" and "_")',
    ],
    ['CA=true', { basicConstraints: 'critical,CA:TRUE' }, 'CA=true'],
    ['no key usage', { keyUsage: null }, 'no key usage'],
    ['a non-critical key usage', { keyUsage: 'digitalSignature' }, 'key usage not critical'],
    ['key usage without digitalSignature', { keyUsage: 'critical,keyEncipherment' }, 'key usage lacks digitalSignature'],
    ['key usage with keyCertSign', { keyUsage: 'critical,digitalSignature,keyCertSign' }, 'key usage has keyCertSign'],
    ['key usage with cRLSign', { keyUsage: 'critical,digitalSignature,cRLSign' }, 'key usage has cRLSign'],
    ['EKU clientAuth only', { extKeyUsage: 'clientAuth' }, 'extended key usage lacks serverAuth or clientAuth'],
    ['EKU serverAuth only', { extKeyUsage: 'serverAuth' }, 'extended key usage lacks serverAuth or clientAuth'],
    ['EKU anyExtendedKeyUsage only', { extKeyUsage: 'anyExtendedKeyUsage' }, 'extended key usage lacks serverAuth or clientAuth'],
    ['an unknown critical extension', { extra: ['1.3.6.1.4.1.99999.1=critical,ASN1:NULL'] }, 'unsupported critical extension'],
  ] as const)('rejects %s', (_name, opts, reason) => {
    expect(reasonOf(validateX509Svid(pki.leaf(caA, opts)))).toBe(reason);
  });

  it.each([
    ['no basic constraints (CA defaults to false)', { basicConstraints: null }],
    ['no EKU (optional in the standard)', { extKeyUsage: null }],
    ['EKU with more than serverAuth and clientAuth', { extKeyUsage: 'serverAuth,clientAuth,codeSigning' }],
    ['key usage with keyAgreement too', { keyUsage: 'critical,digitalSignature,keyAgreement' }],
    ['a DNS SAN next to the URI SAN', { dns: ['svc.a.example'] }],
    ['an empty subject', { subject: '/' }],
  ] as const)('accepts %s', (_name, opts) => {
    expect(reasonOf(validateX509Svid(pki.leaf(caA, opts)))).toBe('ok');
  });

  it('reads URI SANs from DER, not from the ambiguous subjectAltName string', () => {
    // One URI SAN whose text looks like two entries in Node's rendering.
    const pem = pki.leaf(caA, { uris: ['spiffe://a.example/x, URI:spiffe://a.example/admin'] });
    expect(new X509Certificate(pem).subjectAltName).toContain('spiffe://a.example/admin');
    expect(reasonOf(validateX509Svid(pem))).toMatch(/^URI SAN is not a SPIFFE ID/);
  });
});

describe('X509-SVID validity window', () => {
  const now = Date.now();
  it('rejects expired and not-yet-valid certificates', () => {
    const expired = pki.leaf(caA, { notBefore: new Date(now - 3 * DAY), notAfter: new Date(now - DAY) });
    expect(reasonOf(validateX509Svid(expired, { now }))).toBe('expired');
    const future = pki.leaf(caA, { notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) });
    expect(reasonOf(validateX509Svid(future, { now }))).toBe('not yet valid');
  });

  it('allows a small clock tolerance at both ends', () => {
    const notAfter = new Date(Math.floor(now / 1000) * 1000);
    const pem = pki.leaf(caA, { notAfter });
    expect(reasonOf(validateX509Svid(pem, { now: notAfter.getTime() + 10_000 }))).toBe('ok');
    expect(reasonOf(validateX509Svid(pem, { now: notAfter.getTime() + 10_000, toleranceMs: 0 }))).toBe('expired');
    expect(reasonOf(validateX509Svid(pem, { now: notAfter.getTime() + 31_000 }))).toBe('expired');
  });
});

describe('chain verification against per-trust-domain bundles', () => {
  let bundles: TrustBundles;
  beforeAll(() => {
    bundles = TrustBundles.fromPem(
      new Map([
        ['a.example', caA.pem],
        ['b.example', caB.pem],
      ]),
    );
  });

  it('accepts a leaf signed by the bundle of its trust domain', () => {
    expect(reasonOf(validateX509Svid(pki.leaf(caA), { bundles }))).toBe('ok');
    expect(reasonOf(validateX509Svid(pki.leaf(caB), { bundles }))).toBe('ok');
  });

  it('rejects a trust domain without a bundle when bundles are configured', () => {
    expect(reasonOf(validateX509Svid(pki.leaf(caC), { bundles }))).toBe('no trust bundle for its trust domain');
    // Without any bundle, no chain is checked (Envoy verified the TLS peer).
    expect(reasonOf(validateX509Svid(pki.leaf(caC), { bundles: TrustBundles.empty() }))).toBe('ok');
  });

  it("rejects a CA of one trust domain issuing another domain's ID", () => {
    const forged = pki.leaf(caB, { uris: ['spiffe://a.example/ns/web/sa/frontend'] });
    expect(reasonOf(validateX509Svid(forged, { bundles }))).toBe('not signed by the trust bundle of its trust domain');
  });

  it('follows intermediates sent after the leaf, checking each issuer', () => {
    const inter = pki.intermediate(caA, 'a-intermediate');
    const leaf = pki.leaf({ ...inter, name: 'a.example' });
    expect(reasonOf(validateX509Svid(leaf + inter.pem, { bundles }))).toBe('ok');
    expect(reasonOf(validateX509Svid(leaf, { bundles }))).toBe('not signed by the trust bundle of its trust domain');

    const notCa = pki.intermediate(caA, 'a-not-ca', { ca: false });
    const leaf2 = pki.leaf({ ...notCa, name: 'a.example' });
    expect(reasonOf(validateX509Svid(leaf2 + notCa.pem, { bundles }))).toBe('chain holds an issuer that is not a CA');
  });

  it('takes the validity of the whole chain', () => {
    const now = Date.now();
    const inter = pki.intermediate(caA, 'a-short', { notBefore: new Date(now - DAY), notAfter: new Date(now + 60_000) });
    const leaf = pki.leaf({ ...inter, name: 'a.example' }, { notAfter: new Date(now + DAY) });
    const r = checkX509Svid(leaf + inter.pem, { bundles });
    expect(r.ok && r.svid.notAfter).toBe(new X509Certificate(inter.pem).validToDate.getTime());
    expect(reasonOf(validateX509Svid(leaf + inter.pem, { bundles, now: now + 10 * 60_000 }))).toBe('expired');
  });

  it('refuses bundles that are not CA certificates or not PEM', () => {
    expect(() => TrustBundles.fromPem(new Map([['a.example', pki.leaf(caA)]]))).toThrow(/a.example: holds a certificate that is not a CA/);
    expect(() => TrustBundles.fromPem(new Map([['a.example', 'nothing here']]))).toThrow(/a.example: no certificate in PEM/);
    expect(() => TrustBundles.fromPem(new Map([['A.example', caA.pem]]))).toThrow(/not a trust domain name/);
    // Bundles may carry comments around the blocks (openssl x509 -text style).
    expect(TrustBundles.fromPem(new Map([['a.example', `# root of a.example\n${caA.pem}\n# and b\n${caB.pem}`]])).size).toBe(1);
  });
});

describe("Envoy's URL-encoded source.certificate", () => {
  it('decodes current and legacy Envoy encodings', () => {
    const pem = pki.leaf(caA);
    expect(reasonOf(validateEnvoyCertificate(envoyUrlEncode(pem)))).toBe('ok');
    expect(reasonOf(validateEnvoyCertificate(envoyLegacyUrlEncode(pem)))).toBe('ok');
  });

  it('refuses raw PEM: Envoy never sends it', () => {
    expect(reasonOf(validateEnvoyCertificate(pki.leaf(caA)))).toBe('certificate is not URL-encoded');
  });

  it.each([
    ['garbage', 'hello', 'certificate is not URL-encoded PEM'],
    ['empty', '', 'certificate is not URL-encoded PEM'],
    ['a bad escape', '-----BEGIN%20CERTIFICATE-----%0AMII%ZZ', 'certificate is not URL-encoded PEM'],
    ['an escape that is not UTF-8', '-----BEGIN%20CERTIFICATE-----%0A%FF', 'certificate is not URL-encoded PEM'],
    ['a form-encoded "+"', '-----BEGIN+CERTIFICATE-----', 'certificate is not URL-encoded PEM'],
  ])('rejects %s', (_name, input, reason) => {
    expect(reasonOf(validateEnvoyCertificate(input))).toBe(reason);
  });

  it('rejects truncated PEM', () => {
    const pem = pki.leaf(caA);
    expect(reasonOf(validateEnvoyCertificate(envoyUrlEncode(pem.slice(0, 300))))).toBe('truncated PEM (no END line)');
    // The END line intact but base64 cut: not a certificate any more.
    const lines = pem.trimEnd().split('\n');
    const cut = `${[...lines.slice(0, 3), lines[lines.length - 1]].join('\n')}\n`;
    expect(reasonOf(validateEnvoyCertificate(envoyUrlEncode(cut)))).toMatch(/^not a (DER )?certificate/);
  });

  it('rejects oversized input before decoding it', () => {
    const big = envoyUrlEncode(pki.leaf(caA)) + '%0A'.repeat(70_000);
    expect(reasonOf(validateEnvoyCertificate(big))).toBe('certificate too large');
  });
});

describe('PEM and DER strictness', () => {
  it.each([
    ['text outside blocks', (p: string) => `hello\n${p}`, 'text outside PEM blocks'],
    ['another PEM type', (p: string) => p.replaceAll('CERTIFICATE', 'PUBLIC KEY'), 'not a certificate PEM block'],
    ['PEM headers', (p: string) => p.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n'), 'PEM body is not base64'],
    ['non-canonical base64', (p: string) => nonCanonical(pemToDer(p)), 'PEM body is not canonical base64'],
    ['padding inside the body', (p: string) => p.replace('\n', '\nAA==\n'), 'PEM body is not base64'],
    ['base64 with junk', (p: string) => p.replace('\n', '\n!!!!\n'), 'PEM body is not base64'],
  ] as const)('rejects %s', (_name, edit, reason) => {
    expect(reasonOf(validateX509Svid(edit(pki.leaf(caA))))).toBe(reason);
  });

  it('accepts CRLF line ends', () => {
    expect(reasonOf(validateX509Svid(pki.leaf(caA).replaceAll('\n', '\r\n')))).toBe('ok');
  });

  it('rejects DER with trailing bytes, which OpenSSL alone would accept', () => {
    const der = Buffer.concat([pemToDer(pki.leaf(caA)), Buffer.from([0])]);
    expect(() => new X509Certificate(der)).not.toThrow();
    expect(reasonOf(validateX509Svid(derToPem(der)))).toBe('not a DER certificate (trailing bytes after certificate)');
  });

  it('rejects a PEM block holding garbage', () => {
    expect(reasonOf(validateX509Svid(derToPem(Buffer.from('this is no certificate at all!!'))))).toMatch(/^not a (DER )?certificate/);
  });

  it('rejects more than 8 certificates', () => {
    const pem = pki.leaf(caA);
    expect(reasonOf(validateX509Svid(pem.repeat(9)))).toBe('too many certificates');
  });
});
