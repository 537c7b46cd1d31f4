// Certificate rotation on a live grpc-js listener fed from files: no restart, no
// failed call, old connections keep going, new ones get the new certificate, and
// a half-written or mismatched set never replaces a working one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { PeerAuth } from '../../src/tls/PeerAuth.ts';
import { startFileServerTls, type ServerTls } from '../../src/tls/ServerTls.ts';
import { TestPki, type Ca, type Leaf } from './pki.ts';
import { SERVER_ID, openConnection, parseTestId, servedSerial, startEchoServer, until, whoClient, type EchoServer } from './harness.ts';

const ENVOY_ID = 'spiffe://test.example/ns/mesh/sa/envoy';
const pki = new TestPki();
const files = { certFile: pki.file('tls.crt'), keyFile: pki.file('tls.key'), caFile: pki.file('ca.crt') };
let ca: Ca;
let envoy: Leaf;
let tls: ServerTls;
let server: EchoServer;
const rejected: string[] = [];
const rotated: string[] = [];

/** Replaces a file the way secret volumes and SVID helpers do: write aside, rename over. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function clientTls() {
  return { ca: ca.certPem, cert: envoy.certPem, key: envoy.keyPem };
}

beforeAll(async () => {
  ca = pki.ca('ca', 'test.example');
  envoy = pki.leaf(ca, { uris: [ENVOY_ID] });
  const first = pki.leaf(ca, { uris: [SERVER_ID] });
  writeFileSync(files.certFile, first.certPem);
  writeFileSync(files.keyFile, first.keyPem);
  writeFileSync(files.caFile, ca.certPem);
  tls = await startFileServerTls(files, {
    refreshIntervalMs: 20,
    onRejected: (err) => rejected.push(err.message),
    onRotated: (m) => rotated.push(m.serial),
  });
  server = await startEchoServer(tls.provider, new PeerAuth({ allowed: [ENVOY_ID], parseId: parseTestId }));
});

afterAll(async () => {
  await server?.stop();
  tls?.close();
  pki.cleanup();
});

describe('listener certificate rotation from files', () => {
  it('rotates under 300 continuous calls with zero failures; new connections get the new serial, old ones keep working', async () => {
    const oldSerial = tls.provider.current()!.serial;
    expect(await servedSerial(server.port, clientTls())).toBe(oldSerial);
    const held = await openConnection(server.port, clientTls());
    expect(held.serial).toBe(oldSerial);

    const longLived = whoClient(server.port, clientTls());
    const next = pki.leaf(ca, { uris: [SERVER_ID] });
    const failures: unknown[] = [];
    let fresh = 0;
    for (let i = 0; i < 300; i++) {
      if (i === 100) {
        // Key first, then certificate: in between the files do not match, and must not be served.
        replace(files.keyFile, next.keyPem);
        replace(files.certFile, next.certPem);
      }
      if (i === 200) await until(async () => (await servedSerial(server.port, clientTls())) === next.serial, 'the new certificate');
      const calls = [longLived.who()];
      if (i % 10 === 0) {
        // Every tenth round also opens a brand-new connection, so handshakes run across the swap.
        const c = whoClient(server.port, clientTls());
        calls.push(c.who().finally(() => c.close()));
        fresh++;
      }
      for (const r of await Promise.allSettled(calls)) if (r.status === 'rejected') failures.push(r.reason);
    }
    longLived.close();

    expect(failures).toEqual([]);
    expect(fresh).toBe(30);
    expect(await servedSerial(server.port, clientTls())).toBe(next.serial);
    expect(tls.provider.current()!.serial).toBe(next.serial);
    expect(rotated).toContain(next.serial);
    // The connection made before the rotation was not dropped and still has its old certificate.
    expect(await held.call()).toBe('0');
    held.close();
  });

  it('keeps serving the previous pair through a corrupt, half-written and mismatched set', async () => {
    const good = tls.provider.current()!;
    const goodSerial = good.serial;
    const keep = whoClient(server.port, clientTls());
    const seen = (): number => rejected.length;
    const next = pki.leaf(ca, { uris: [SERVER_ID] });

    // 1. A certificate file cut in half mid-write.
    let before = seen();
    writeFileSync(files.certFile, next.certPem.slice(0, next.certPem.length / 2));
    await until(() => seen() > before, 'the truncated certificate to be refused');
    expect(rejected.at(-1)).toMatch(/certificate chain holds no PEM certificate/);
    expect(await servedSerial(server.port, clientTls())).toBe(goodSerial);
    expect(await keep.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });

    // 2. The whole new certificate, but the key file still the old one.
    before = seen();
    writeFileSync(files.certFile, next.certPem);
    await until(() => seen() > before, 'the mismatched pair to be refused');
    expect(rejected.at(-1)).toBe('private key does not match the certificate');
    expect(await servedSerial(server.port, clientTls())).toBe(goodSerial);

    // 3. The key file gone for a moment (a non-atomic swap).
    before = seen();
    rmSync(files.keyFile);
    await until(() => seen() > before, 'the missing key to be reported');
    expect(rejected.at(-1)).toMatch(/ENOENT/);
    const c = whoClient(server.port, clientTls());
    expect(await c.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    c.close();
    expect(await servedSerial(server.port, clientTls())).toBe(goodSerial);

    // 4. The matching key lands: now, and only now, the new pair is served.
    writeFileSync(files.keyFile, next.keyPem);
    await until(async () => (await servedSerial(server.port, clientTls())) === next.serial, 'the consistent new pair');
    expect(await keep.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    keep.close();
  });

  it('rotates the CA bundle too: clients of a new CA are accepted once the bundle lists it', async () => {
    const newCa = pki.ca('ca2', 'test.example');
    const newEnvoy = pki.leaf(newCa, { uris: [ENVOY_ID] });
    const newTls = { ca: ca.certPem, cert: newEnvoy.certPem, key: newEnvoy.keyPem };
    const before = whoClient(server.port, newTls);
    await expect(before.who()).rejects.toMatchObject({ code: 14 });
    before.close();

    replace(files.caFile, ca.certPem + newCa.certPem);
    await until(() => tls.provider.current()!.caBundlePem.includes(newCa.certPem.split('\n')[1]!), 'the new bundle');
    const after = whoClient(server.port, newTls);
    expect(await after.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    after.close();
    // The old CA's clients are still trusted (both are in the bundle).
    const old = whoClient(server.port, clientTls());
    expect(await old.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    old.close();
  });
});
