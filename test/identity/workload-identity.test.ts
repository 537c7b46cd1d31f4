import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadIdentifier, type WorkloadIdentityOptions } from '../../src/identity/WorkloadIdentity.ts';
import { envoyUrlEncode, Pki, type Ca } from '../support/pki.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml/sa/trainer';
const HASH = 'b'.repeat(64);
const DAY = 86_400_000;

let pki: Pki;
let mesh: Ca;
let other: Ca;
let frontendCert: string;

beforeAll(() => {
  pki = new Pki();
  mesh = pki.ca('cluster.local');
  other = pki.ca('other.example');
  frontendCert = envoyUrlEncode(pki.leaf(mesh, { uris: [FRONTEND] }));
});
afterAll(() => pki.cleanup());

const ALL: WorkloadIdentityOptions = { certificate: true, principal: true, xfcc: false, trustDomains: [], trustBundles: new Map() };
const make = (o: Partial<WorkloadIdentityOptions> = {}) => new WorkloadIdentifier({ ...ALL, ...o });
const attrs = (source: Record<string, unknown>) => ({ source, request: { http: { method: 'GET', path: '/' } } });
const xfcc = (uri: string) => `By=spiffe://cluster.local/ns/ml/sa/inference;Hash=${HASH};Subject="";URI=${uri}`;

describe('precedence of identity sources', () => {
  it('takes a valid forwarded certificate', () => {
    expect(make().identify(attrs({ certificate: frontendCert }), {})).toEqual({
      identity: {
        spiffe_id: FRONTEND,
        trust_domain: 'cluster.local',
        path: '/ns/web/sa/frontend',
        namespace: 'web',
        service_account: 'frontend',
        source: 'certificate',
      },
      reason: undefined,
      expiresAt: Math.floor(new X509Certificate(decodeURIComponent(frontendCert)).validToDate.getTime() / 1000),
    });
  });

  it('takes the certificate when the principal names the same ID', () => {
    const r = make().identify(attrs({ certificate: frontendCert, principal: FRONTEND }), {});
    expect(r.identity?.source).toBe('certificate');
  });

  it('gives no identity when principal and certificate disagree (no fallback)', () => {
    const r = make().identify(attrs({ certificate: frontendCert, principal: TRAINER }), {});
    expect(r).toEqual({ identity: null, reason: 'certificate and principal name different identities' });
  });

  it('does not fall back to the principal when the certificate is rejected', () => {
    const twoSans = envoyUrlEncode(pki.leaf(mesh, { uris: [FRONTEND, TRAINER] }));
    expect(make().identify(attrs({ certificate: twoSans, principal: FRONTEND }), {})).toEqual({ identity: null, reason: 'certificate: two URI SANs' });
    const ca = envoyUrlEncode(pki.leaf(mesh, { uris: [FRONTEND], basicConstraints: 'critical,CA:TRUE' }));
    expect(make().identify(attrs({ certificate: ca, principal: FRONTEND }), {}).reason).toBe('certificate: CA=true');
    const raw = pki.leaf(mesh, { uris: [FRONTEND] });
    expect(make().identify(attrs({ certificate: raw, principal: FRONTEND }), {})).toEqual({
      identity: null,
      reason: 'certificate: certificate is not URL-encoded',
    });
    const truncated = envoyUrlEncode(raw.slice(0, 200));
    expect(make().identify(attrs({ certificate: truncated }), {}).reason).toBe('certificate: truncated PEM (no END line)');
  });

  it('uses the principal when no certificate is forwarded, or certificates are off', () => {
    expect(make().identify(attrs({ principal: FRONTEND }), {}).identity).toMatchObject({ spiffe_id: FRONTEND, source: 'principal' });
    const r = make({ certificate: false }).identify(attrs({ certificate: 'garbage', principal: FRONTEND }), {});
    expect(r.identity?.source).toBe('principal');
  });

  it('never takes a principal that is not a workload SPIFFE ID', () => {
    // Envoy falls back to a DNS SAN or the Subject when there is no URI SAN.
    expect(make().identify(attrs({ principal: 'frontend.web.svc.cluster.local' }), {})).toEqual({ identity: null, reason: 'principal: not a SPIFFE ID' });
    expect(make().identify(attrs({ principal: 'CN=frontend,O=corp' }), {}).identity).toBeNull();
    expect(make().identify(attrs({ principal: 'spiffe://cluster.local' }), {}).reason).toBe('principal: a trust domain, not a workload');
    expect(make({ principal: false }).identify(attrs({ principal: FRONTEND }), {})).toEqual({ identity: null, reason: undefined });
  });

  it('uses XFCC only when trusted, and after the principal', () => {
    const headers = { 'x-forwarded-client-cert': xfcc(FRONTEND) };
    expect(make({ xfcc: true }).identify(attrs({}), headers).identity).toMatchObject({ spiffe_id: FRONTEND, source: 'xfcc' });
    expect(make({ xfcc: false }).identify(attrs({}), headers)).toEqual({ identity: null, reason: undefined });
    expect(make({ xfcc: true }).identify(attrs({ principal: TRAINER }), headers).identity).toMatchObject({ spiffe_id: TRAINER, source: 'principal' });
    // A non-SPIFFE principal claims no workload identity, so XFCC may speak.
    expect(make({ xfcc: true }).identify(attrs({ principal: 'gateway.example' }), headers).identity?.source).toBe('xfcc');
    expect(make({ xfcc: true }).identify(attrs({ principal: 'gateway.example' }), { 'x-forwarded-client-cert': xfcc('https://x') })).toEqual({
      identity: null,
      reason: 'principal: not a SPIFFE ID; xfcc: URI is not a SPIFFE ID (scheme is missing or invalid)',
    });
  });

  it('never takes identity from client-settable headers', () => {
    const headers = {
      'x-spiffe-id': FRONTEND,
      'x-user': 'admin',
      'x-forwarded-client-cert': xfcc(FRONTEND),
      'x-ztauthz-caller': FRONTEND,
      'x-envoy-peer-metadata-id': FRONTEND,
    };
    expect(make().identify(attrs({}), headers)).toEqual({ identity: null, reason: undefined });
    expect(make().identify({}, headers).identity).toBeNull();
    expect(make().identify({ source: 'spiffe://cluster.local/ns/web/sa/frontend' }, headers).identity).toBeNull();
  });
});

describe('trust domains and bundles', () => {
  it('rejects IDs from trust domains not in the list, from every source', () => {
    const id = make({ trustDomains: ['other.example'], xfcc: true });
    expect(id.identify(attrs({ certificate: frontendCert }), {}).reason).toBe('certificate: trust domain not accepted');
    expect(id.identify(attrs({ principal: FRONTEND }), {}).reason).toBe('principal: trust domain not accepted');
    expect(id.identify(attrs({}), { 'x-forwarded-client-cert': xfcc(FRONTEND) }).reason).toBe('xfcc: trust domain not accepted');
    expect(make({ trustDomains: ['cluster.local'] }).identify(attrs({ principal: FRONTEND }), {}).identity).not.toBeNull();
  });

  it('verifies forwarded certificates against the bundle of their trust domain', () => {
    const id = make({ trustBundles: new Map([['cluster.local', mesh.pem]]) });
    expect(id.identify(attrs({ certificate: frontendCert }), {}).identity?.source).toBe('certificate');
    const unlisted = envoyUrlEncode(pki.leaf(other));
    expect(id.identify(attrs({ certificate: unlisted }), {}).reason).toBe('certificate: no trust bundle for its trust domain');
    const forged = envoyUrlEncode(pki.leaf(other, { uris: [FRONTEND] }));
    expect(id.identify(attrs({ certificate: forged }), {}).reason).toBe('certificate: not signed by the trust bundle of its trust domain');
  });

  it('refuses invalid configuration', () => {
    expect(() => make({ trustDomains: ['Cluster.local'] })).toThrow(/trust domain "Cluster.local"/);
    expect(() => make({ trustBundles: new Map([['cluster.local', 'not pem']]) })).toThrow(/trust bundle for cluster.local/);
  });
});

describe('certificate validation cache', () => {
  it('validates a certificate text once and checks the clock on every use', () => {
    let now = Date.now();
    const leaf = envoyUrlEncode(pki.leaf(mesh, { uris: [FRONTEND], notAfter: new Date(now + DAY) }));
    const id = make({ now: () => now });
    for (let i = 0; i < 5; i++) expect(id.identify(attrs({ certificate: leaf }), {}).identity?.spiffe_id).toBe(FRONTEND);
    expect(id.stats).toEqual({ validations: 1, cacheHits: 4 });
    now += 2 * DAY;
    expect(id.identify(attrs({ certificate: leaf }), {})).toEqual({ identity: null, reason: 'certificate: expired' });
    expect(id.stats.validations).toBe(1);
  });

  it('caches rejections too, and stays bounded', () => {
    const id = make({ cacheSize: 2 });
    for (let i = 0; i < 3; i++) id.identify(attrs({ certificate: 'garbage' }), {});
    expect(id.stats).toEqual({ validations: 1, cacheHits: 2 });
    const certs = [frontendCert, envoyUrlEncode(pki.leaf(mesh)), envoyUrlEncode(pki.leaf(mesh, { uris: [TRAINER] }))];
    for (const c of certs) id.identify(attrs({ certificate: c }), {});
    expect(id.cachedCertificates).toBe(2);
  });

  it('refuses oversized certificate text without caching it', () => {
    const id = make();
    const huge = frontendCert + '%0A'.repeat(100_000);
    expect(id.identify(attrs({ certificate: huge }), {})).toEqual({ identity: null, reason: 'certificate: certificate too large' });
    expect(id.cachedCertificates).toBe(0);
  });
});
