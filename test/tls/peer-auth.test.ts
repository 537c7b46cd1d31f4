// mTLS on a real grpc-js listener: who gets in, who is refused, and with which code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { PeerAuth, uriSans } from '../../src/tls/PeerAuth.ts';
import { startFileServerTls, type ServerTls } from '../../src/tls/ServerTls.ts';
import { TestPki, type Ca, type Leaf } from './pki.ts';
import { SERVER_ID, parseTestId, startEchoServer, whoClient, whoError, type EchoServer } from './harness.ts';

const ENVOY_ID = 'spiffe://test.example/ns/mesh/sa/envoy';
const pki = new TestPki();
let ca: Ca;
let otherCa: Ca;
let serverLeaf: Leaf;
let tls: ServerTls;
let server: EchoServer;
const clients: Array<{ close(): void }> = [];

beforeAll(async () => {
  ca = pki.ca('ca', 'test.example');
  otherCa = pki.ca('other-ca', 'test.example');
  serverLeaf = pki.leaf(ca, { uris: [SERVER_ID] });
  writeFileSync(pki.file('server.crt'), serverLeaf.certPem);
  writeFileSync(pki.file('server.key'), serverLeaf.keyPem);
  writeFileSync(pki.file('bundle.crt'), ca.certPem);
  tls = await startFileServerTls({ certFile: pki.file('server.crt'), keyFile: pki.file('server.key'), caFile: pki.file('bundle.crt') });
  const auth = new PeerAuth({ allowed: [ENVOY_ID, 'spiffe://partner.example'], parseId: parseTestId });
  server = await startEchoServer(tls.provider, auth);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  tls?.close();
  pki.cleanup();
});

const pem = (leaf: Leaf) => ({ cert: leaf.certPem, key: leaf.keyPem });

function client(leaf: Leaf | null, trust: Ca = ca) {
  const c = whoClient(server.port, leaf ? { ca: trust.certPem, cert: leaf.certPem, key: leaf.keyPem } : { ca: trust.certPem });
  clients.push(c);
  return c;
}

describe('mTLS listener from files', () => {
  it('serves an allowed caller and tells the handler who it is', async () => {
    const res = await client(pki.leaf(ca, { uris: [ENVOY_ID] })).who();
    expect(res.peer).toEqual({ spiffe_id: ENVOY_ID, trust_domain: 'test.example', path: '/ns/mesh/sa/envoy' });
  });

  it('serves any workload of an allowed trust domain (spiffe://td entry)', async () => {
    // The partner's workloads are issued by the same CA here; only the allowlist semantics are tested.
    const res = await client(pki.leaf(ca, { uris: ['spiffe://partner.example/ns/a/sa/b'] })).who();
    expect(res.peer).toMatchObject({ spiffe_id: 'spiffe://partner.example/ns/a/sa/b', trust_domain: 'partner.example' });
  });

  it('refuses a caller whose ID is not on the allowlist: PERMISSION_DENIED, handler never runs', async () => {
    const before = server.handled;
    const err = await whoError(client(pki.leaf(ca, { uris: ['spiffe://test.example/ns/ml/sa/trainer'] })));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('ztauthz: caller spiffe://test.example/ns/ml/sa/trainer is not allowed to call this service');
    expect(server.handled).toBe(before);
  });

  it('refuses a look-alike trust domain (partner.example.evil is not partner.example)', async () => {
    const err = await whoError(client(pki.leaf(ca, { uris: ['spiffe://partner.example.evil/ns/a/sa/b'] })));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('refuses a certificate from another CA at the handshake', async () => {
    const before = server.handled;
    const err = await whoError(client(pki.leaf(otherCa, { uris: [ENVOY_ID] })));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.handled).toBe(before);
  });

  it('refuses a client without a certificate at the handshake', async () => {
    const before = server.handled;
    const err = await whoError(client(null));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.handled).toBe(before);
  });

  it('answers UNAUTHENTICATED for a verified certificate without a SPIFFE ID', async () => {
    const noSan = await whoError(client(pki.leaf(ca, {})));
    expect(noSan.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(noSan.details).toBe('ztauthz: caller has no verified client certificate with a SPIFFE ID');
    const twoSans = await whoError(client(pki.leaf(ca, { uris: [ENVOY_ID, 'spiffe://test.example/other'] })));
    expect(twoSans.code).toBe(grpc.status.UNAUTHENTICATED);
    const notSpiffe = await whoError(client(pki.leaf(ca, { uris: ['https://test.example/ns/mesh/sa/envoy'] })));
    expect(notSpiffe.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('answers UNAUTHENTICATED for a CA certificate or a trust domain ID presented as a workload', async () => {
    const caLeaf = pki.leaf(ca, { uris: [ENVOY_ID], ca: true });
    expect((await whoError(client(caLeaf))).code).toBe(grpc.status.UNAUTHENTICATED);
    const tdId = pki.leaf(ca, { uris: ['spiffe://partner.example'] });
    expect((await whoError(client(tdId))).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('without the allowlist serves any verified TLS client, still behind the handshake', async () => {
    const auth = new PeerAuth({ allowed: [ENVOY_ID], parseId: parseTestId });
    const open = await startEchoServer(tls.provider, auth, true);
    try {
      const trainer = whoClient(open.port, { ca: ca.certPem, ...pem(pki.leaf(ca, { uris: ['spiffe://test.example/ns/ml/sa/trainer'] })) });
      clients.push(trainer);
      expect(await trainer.who()).toEqual({
        peer: { spiffe_id: 'spiffe://test.example/ns/ml/sa/trainer', trust_domain: 'test.example', path: '/ns/ml/sa/trainer' },
      });
      const stranger = whoClient(open.port, { ca: ca.certPem, ...pem(pki.leaf(otherCa, { uris: [ENVOY_ID] })) });
      clients.push(stranger);
      expect((await whoError(stranger)).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await open.stop();
    }
  });
});

describe('PeerAuth configuration', () => {
  it('refuses an empty allowlist and entries that are not SPIFFE IDs', () => {
    expect(() => new PeerAuth({ allowed: [], parseId: parseTestId })).toThrow('peer allowlist is empty');
    expect(() => new PeerAuth({ allowed: ['test.example'], parseId: parseTestId })).toThrow('"test.example" is not a SPIFFE ID');
  });

  it('isAllowed: exact IDs and whole trust domains only', () => {
    const auth = new PeerAuth({ allowed: ['spiffe://a.example/x', 'spiffe://b.example'], parseId: parseTestId });
    const id = (s: string) => parseTestId(s);
    expect(auth.isAllowed(id('spiffe://a.example/x'))).toBe(true);
    expect(auth.isAllowed(id('spiffe://a.example/x/y'))).toBe(false);
    expect(auth.isAllowed(id('spiffe://a.example/xy'))).toBe(false);
    expect(auth.isAllowed(id('spiffe://b.example/anything/at/all'))).toBe(true);
    expect(auth.isAllowed(id('spiffe://b.example.evil/x'))).toBe(false);
    expect(auth.isAllowed(null)).toBe(false);
  });

  it('peerIdentity is null without TLS', () => {
    const auth = new PeerAuth({ allowed: ['spiffe://a.example'], parseId: parseTestId });
    expect(auth.peerIdentity({ getAuthContext: () => ({}) })).toBeNull();
  });

  it('a call whose TLS socket closed before its caller was checked is refused, not a crash', () => {
    // grpc-js 1.14's getAuthContext reads getPeerCertificate().raw, and a
    // destroyed TLSSocket's getPeerCertificate() is null: under ghz load
    // against the mTLS listener (calls cancelled as connections close) that
    // TypeError escaped the interceptor and ended the process.
    const auth = new PeerAuth({ allowed: ['spiffe://a.example'], parseId: parseTestId });
    const closed = {
      getAuthContext: (): never => {
        const peerCertificate = null as unknown as { raw?: Buffer };
        return { sslPeerCertificate: peerCertificate.raw } as never;
      },
    };
    expect(() => closed.getAuthContext()).toThrow(TypeError);
    expect(auth.peerIdentity(closed)).toBeNull();
    expect(auth.authorize(closed).error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe('uriSans (Node subjectAltName text)', () => {
  it('picks URI entries and keeps quoted values whole', () => {
    expect(uriSans('DNS:a.example, URI:spiffe://td/x, IP Address:127.0.0.1')).toEqual(['spiffe://td/x']);
    expect(uriSans(undefined)).toEqual([]);
    // A SAN value with ", URI:" inside is quoted by Node: it must stay one (invalid) value.
    expect(uriSans('DNS:"a, URI:spiffe://td/x"')).toEqual([]);
    expect(uriSans('URI:"spiffe://td/x, URI:spiffe://td/y"')).toEqual(['spiffe://td/x, URI:spiffe://td/y']);
    expect(uriSans('garbage')).toBeNull();
    expect(uriSans('URI:"unterminated')).toBeNull();
  });
});
