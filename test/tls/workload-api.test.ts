// The Workload API client against a real grpc-js agent stand-in on a unix
// socket, and the listener it feeds: first SVID, rotation, the security header,
// retries, agent restarts, and snapshots that must not be served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { PeerAuth } from '../../src/tls/PeerAuth.ts';
import { materialFromContext, startWorkloadApiServerTls, type ServerTls } from '../../src/tls/ServerTls.ts';
import { toX509Context } from '../../src/tls/WorkloadApiProto.ts';
import { WorkloadApiClient, workloadApiTarget, type X509Context } from '../../src/tls/WorkloadApi.ts';
import { workloadApiServiceDefinition } from '../../src/tls/WorkloadApiProto.ts';
import { TestPki, type Ca, type Leaf } from './pki.ts';
import { TestWorkloadApi, svidSnapshot } from './workloadApiServer.ts';
import { SERVER_ID, parseTestId, servedSerial, startEchoServer, until, whoClient, type EchoServer } from './harness.ts';

const ENVOY_ID = 'spiffe://test.example/ns/mesh/sa/envoy';
const BACKOFF = { initialMs: 20, maxMs: 200 };
const pki = new TestPki();
let ca: Ca;
let envoy: Leaf;
let agent: TestWorkloadApi;
const errors: string[] = [];
let tls: ServerTls;
let server: EchoServer;

const clientTls = () => ({ ca: ca.certPem, cert: envoy.certPem, key: envoy.keyPem });

beforeAll(async () => {
  ca = pki.ca('ca', 'test.example');
  envoy = pki.leaf(ca, { uris: [ENVOY_ID] });
  agent = new TestWorkloadApi(pki.file('agent.sock'));
  await agent.start();
});

afterAll(async () => {
  await server?.stop();
  tls?.close();
  agent.stop();
  pki.cleanup();
});

describe('Workload API feeding the listener', () => {
  it('serves the first X509-SVID once it arrives', async () => {
    const first = pki.leaf(ca, { uris: [SERVER_ID] });
    const starting = startWorkloadApiServerTls({
      endpoint: agent.endpoint,
      backoff: BACKOFF,
      onError: (e) => errors.push(e.message),
      onRejected: (e) => errors.push(e.message),
    });
    // The agent has nothing for us yet: start-up waits for the first snapshot.
    await until(() => agent.openStreams === 1, 'the client to open its stream');
    agent.push(svidSnapshot(SERVER_ID, first, [ca]));
    tls = await starting;
    expect(tls.provider.current()!.serial).toBe(first.serial);
    expect(agent.acceptedHeaders).toEqual(['true']);

    server = await startEchoServer(tls.provider, new PeerAuth({ allowed: [ENVOY_ID], parseId: parseTestId }));
    expect(await servedSerial(server.port, clientTls())).toBe(first.serial);
    const c = whoClient(server.port, clientTls());
    expect(await c.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    c.close();
  });

  it('rotates to each new SVID under continuous calls with zero failures', async () => {
    const c = whoClient(server.port, clientTls());
    const next = pki.leaf(ca, { uris: [SERVER_ID] });
    const failures: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 50) agent.push(svidSnapshot(SERVER_ID, next, [ca]));
      if (i === 150) await until(async () => (await servedSerial(server.port, clientTls())) === next.serial, 'the rotated SVID');
      await c.who().catch((e: unknown) => failures.push(e));
    }
    c.close();
    expect(failures).toEqual([]);
    expect(tls.provider.current()!.serial).toBe(next.serial);
  });

  it('keeps the current SVID when a snapshot is unusable (bad DER, key of another certificate)', async () => {
    const current = tls.provider.current()!.serial;
    const other = pki.leaf(ca, { uris: [SERVER_ID] });
    const rotations: string[] = [];
    tls.provider.onUpdate((m) => rotations.push(m.serial));

    let before = errors.length;
    const badDer = svidSnapshot(SERVER_ID, other, [ca]);
    badDer.svids[0]!.x509_svid = Buffer.from('not DER');
    agent.push(badDer);
    await until(() => errors.length > before, 'the bad snapshot to be reported');
    expect(errors.at(-1)).toBe(
      `Workload API sent an unusable X509-SVID update: svids[0] (${SERVER_ID}) x509_svid: DER certificate list: expected a SEQUENCE at byte 0`,
    );

    before = errors.length;
    const mismatched = svidSnapshot(SERVER_ID, other, [ca]);
    mismatched.svids[0]!.x509_svid_key = envoy.keyDer;
    agent.push(mismatched);
    await until(() => errors.length > before, 'the mismatched snapshot to be refused');
    expect(errors.at(-1)).toBe('private key does not match the certificate');
    expect(await servedSerial(server.port, clientTls())).toBe(current);

    const good = pki.leaf(ca, { uris: [SERVER_ID] });
    agent.push(svidSnapshot(SERVER_ID, good, [ca]));
    await until(() => tls.provider.current()!.serial === good.serial, 'the good snapshot');
    expect(rotations).toEqual([good.serial]);
    expect(await servedSerial(server.port, clientTls())).toBe(good.serial);
  });

  it('reconnects after the agent restarts and serves the SVID the new agent issues', async () => {
    const before = errors.length;
    agent.stop();
    await until(() => errors.length > before, 'the broken stream to be reported');
    // While the agent is down, the listener keeps serving.
    const c = whoClient(server.port, clientTls());
    expect(await c.who()).toMatchObject({ peer: { spiffe_id: ENVOY_ID } });
    c.close();

    const after = pki.leaf(ca, { uris: [SERVER_ID] });
    agent.push(svidSnapshot(SERVER_ID, after, [ca]));
    await agent.start();
    await until(() => tls.provider.current()!.serial === after.serial, 'the SVID from the restarted agent');
    expect(await servedSerial(server.port, clientTls())).toBe(after.serial);
    expect(agent.acceptedHeaders.every((h) => h === 'true')).toBe(true);
  });
});

describe('Workload API client', () => {
  it('the agent refuses a call without the workload.spiffe.io header (INVALID_ARGUMENT)', async () => {
    const Raw = grpc.makeGenericClientConstructor(workloadApiServiceDefinition, 'SpiffeWorkloadAPI');
    const raw = new Raw(agent.endpoint, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      FetchX509SVID(req: object, md: grpc.Metadata): grpc.ClientReadableStream<unknown>;
    };
    const refused = agent.refusedCalls;
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = raw.FetchX509SVID({}, new grpc.Metadata());
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    raw.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(agent.refusedCalls).toBe(refused + 1);
  });

  it('retries PERMISSION_DENIED with backoff until the workload gets an identity', async () => {
    agent.refuseWith = grpc.status.PERMISSION_DENIED;
    const seen: string[] = [];
    const updates: X509Context[] = [];
    const client = new WorkloadApiClient({
      endpoint: agent.endpoint,
      backoff: BACKOFF,
      onUpdate: (u) => updates.push(u),
      onError: (e) => seen.push(e.message),
    });
    client.start();
    await until(() => seen.length >= 3, 'several refused attempts');
    expect(seen[0]).toBe('Workload API FetchX509SVID failed: PERMISSION_DENIED: no identity issued');
    agent.refuseWith = null;
    await until(() => updates.length > 0, 'the snapshot after the refusals end');
    expect(updates[0]!.svids[0]!.spiffeId).toBe(SERVER_ID);
    client.stop();
  });

  it('gives up on INVALID_ARGUMENT: start-up fails with the reason', async () => {
    agent.refuseWith = grpc.status.INVALID_ARGUMENT;
    try {
      await expect(startWorkloadApiServerTls({ endpoint: agent.endpoint, backoff: BACKOFF })).rejects.toThrow(
        'Workload API FetchX509SVID failed: INVALID_ARGUMENT: no identity issued',
      );
    } finally {
      agent.refuseWith = null;
    }
  });

  it('start-up fails, naming the reason, when no snapshot holds an SVID it can serve', async () => {
    await expect(
      startWorkloadApiServerTls({
        endpoint: agent.endpoint,
        backoff: BACKOFF,
        firstSvidTimeoutMs: 500,
        pickSvid: (ctx) => ctx.svids.find((s) => s.hint === 'missing'),
      }),
    ).rejects.toThrow('no X509-SVID from the Workload API within 500 ms (Workload API update holds no usable X509-SVID)');
  });

  it('each snapshot replaces the previous one whole (a dropped SVID is gone)', async () => {
    const updates: X509Context[] = [];
    const client = new WorkloadApiClient({ endpoint: agent.endpoint, backoff: BACKOFF, onUpdate: (u) => updates.push(u) });
    client.start();
    await until(() => updates.length === 1, 'the current snapshot');
    const a = pki.leaf(ca, { uris: ['spiffe://test.example/a'] });
    const b = pki.leaf(ca, { uris: ['spiffe://test.example/b'] });
    const partner = pki.ca('partner', 'partner.example');
    const two = svidSnapshot('spiffe://test.example/a', a, [ca], { 'spiffe://partner.example': [partner] });
    two.svids.push({ ...svidSnapshot('spiffe://test.example/b', b, [ca]).svids[0]!, hint: 'external' });
    agent.push(two);
    await until(() => updates.length === 2, 'the two-SVID snapshot');
    expect(updates[1]!.svids.map((s) => [s.spiffeId, s.hint])).toEqual([
      ['spiffe://test.example/a', ''],
      ['spiffe://test.example/b', 'external'],
    ]);
    expect([...updates[1]!.federatedBundles.keys()]).toEqual(['partner.example']);
    expect(updates[1]!.federatedBundles.get('partner.example')![0]!.equals(partner.certDer)).toBe(true);
    agent.push(svidSnapshot('spiffe://test.example/b', b, [ca]));
    await until(() => updates.length === 3, 'the one-SVID snapshot');
    expect(client.latest()!.svids.map((s) => s.spiffeId)).toEqual(['spiffe://test.example/b']);
    expect(client.latest()!.federatedBundles.size).toBe(0);
    client.stop();
  });

  it('trusts federated bundles for client certificates only when asked to', () => {
    const partner = pki.ca('partner-fed', 'partner.example');
    const ctx = toX509Context(svidSnapshot(SERVER_ID, pki.leaf(ca, { uris: [SERVER_ID] }), [ca], { 'spiffe://partner.example': [partner] }));
    const first = (c: X509Context) => c.svids[0];
    const line = partner.certPem.split('\n')[1]!;
    expect(materialFromContext(ctx, first, false).caBundlePem.toString()).not.toContain(line);
    expect(materialFromContext(ctx, first, true).caBundlePem.toString()).toContain(line);
  });

  it('reads SPIFFE_ENDPOINT_SOCKET forms', () => {
    expect(workloadApiTarget('unix:///run/spire/agent.sock')).toBe('unix:///run/spire/agent.sock');
    expect(workloadApiTarget('tcp://127.0.0.1:8081')).toBe('127.0.0.1:8081');
    expect(workloadApiTarget('tcp://[::1]:8081')).toBe('[::1]:8081');
    expect(() => workloadApiTarget(undefined)).toThrow('set SPIFFE_ENDPOINT_SOCKET');
    expect(() => workloadApiTarget('unix://relative.sock')).toThrow('must be absolute');
    expect(() => workloadApiTarget('tcp://agent.local:8081')).toThrow('needs an IP address');
    expect(() => workloadApiTarget('/run/agent.sock')).toThrow('must start with unix:// or tcp://');
  });
});
