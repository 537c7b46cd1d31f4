// ztauthz's mTLS listener fed by a real SPIRE agent (v1.15.3, scripts/spire.sh):
// `ztauthz serve --grpc-tls-mode workload_api` takes its X509-SVID and bundle
// over the Workload API, where the agent attests it with the unix workload
// attestor (uid and the runtime binary's path). Callers are real processes too:
// `spire-agent api fetch x509` run from a registered path gets the client its
// own SVID; from an unregistered path it gets nothing. Then the agent rotates
// every SVID (30 s TTL) and Checks keep succeeding, on the old connection and on
// new ones with the new SVIDs. A ztauthz no entry selects does not start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { uriSans } from '../src/tls/PeerAuth.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { CLI, NODE, ROOT, spawnServe, type ServeProcess } from './support/servers.ts';
import { SPIRE_AGENT, startSpire, type Spire } from './support/spire.ts';
import { TestPki } from './tls/pki.ts';

const TD = 'example.org';
const ZTAUTHZ_ID = `spiffe://${TD}/ztauthz`;
const ENVOY_ID = `spiffe://${TD}/ns/mesh/sa/envoy`;
const AUDITOR_ID = `spiffe://${TD}/ns/mesh/sa/auditor`;
const STRANGER_ID = `spiffe://${TD}/ns/other/sa/stranger`;
const SNI = 'ztauthz.test';
// Two callers may call (grpc.tls.allowed_peers) but the policy allows only one:
// the decision shows the SPIRE-issued caller ID reached input.identity.peer.
const POLICY = `package envoy.authz

default allow := false

allow if input.identity.peer.spiffe_id == "${ENVOY_ID}"
`;

interface Svid {
  dir: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  serial: string;
}

let spire: Spire;
let ztauthz: ServeProcess | undefined;
let unregistered: ChildProcess | undefined;
let unregisteredExit: Promise<{ code: number | null; stderr: string }>;
const pki = new TestPki();
const clients: CheckClient[] = [];

/** The workload's SVID, as `spire-agent api fetch x509 -write` left it. */
function readSvid(dir: string): Svid {
  const cert = readFileSync(join(dir, 'svid.0.pem'));
  return { dir, cert, key: readFileSync(join(dir, 'svid.0.key')), ca: readFileSync(join(dir, 'bundle.0.pem')), serial: new X509Certificate(cert).serialNumber };
}

let fetches = 0;
async function fetchSvid(agentBinary = SPIRE_AGENT): Promise<Svid> {
  const dir = join(spire.dir, `svid-${++fetches}`);
  const r = await spire.fetchX509(dir, { agentBinary });
  if (!r.ok) throw new Error(`no X509-SVID for ${agentBinary}: ${r.output}\n${spire.logs()}`);
  return readSvid(dir);
}

/** The server must be ztauthz's SPIFFE ID (Node checks DNS and IP names only). */
function checkServerId(_host: string, cert: { subjectaltname?: string }): Error | undefined {
  return uriSans(cert.subjectaltname)?.includes(ZTAUTHZ_ID) ? undefined : new Error(`server is not ${ZTAUTHZ_ID}`);
}

/** A Check client with its own connection, presenting `cert`/`key` (or no certificate). */
function client(ca: Buffer, cert?: Buffer, key?: Buffer): CheckClient {
  const creds = grpc.credentials.createSsl(ca, key ?? null, cert ?? null, { checkServerIdentity: checkServerId });
  const c = new CheckClient(ztauthz!.grpcPort, creds, { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': SNI });
  clients.push(c);
  return c;
}

/** The gRPC status of one Check and, when it was answered, the decision in it. */
async function checkCode(c: CheckClient): Promise<{ grpc: string; decision?: string }> {
  try {
    const res = await c.check(checkRequest({ path: '/orders' }));
    const code = res.status?.code ?? 0;
    if (code === 0 && !res.deniedResponse) return { grpc: 'OK', decision: 'allow' };
    return { grpc: 'OK', decision: `deny ${grpc.status[code]}` };
  } catch (err) {
    return { grpc: grpc.status[(err as grpc.ServiceError).code] ?? String(err) };
  }
}

/** Serial and URI SANs of the certificate a new TLS connection to ztauthz is served. */
function served(svid: Svid): Promise<{ serial: string; uris: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: ztauthz!.grpcPort,
      servername: SNI,
      ca: svid.ca,
      cert: svid.cert,
      key: svid.key,
      checkServerIdentity: checkServerId,
      ALPNProtocols: ['h2'],
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS probe timed out')));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      resolve({ serial: peer.serialNumber, uris: uriSans(peer.subjectaltname) ?? [] });
    });
    socket.once('error', reject);
  });
}

/** Polls until `probe` gives a value, up to `limitMs`: bounded, and no clock is asserted. */
async function until<T>(what: string, limitMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}\n${spire.logs()}\n--- ztauthz ---\n${ztauthz?.stderr() ?? ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A copy of `bin` at a path of its own: the same program, a different unix:path selector. */
function binaryCopy(name: string, bin: string): string {
  mkdirSync(join(spire.dir, name));
  const path = join(spire.dir, name, 'bin');
  copyFileSync(bin, path);
  return path;
}

/** Runs `ztauthz serve` on `runtime` and resolves when it exits (killed after 90 s: bounded). */
function serveUntilExit(runtime: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(runtime, [CLI, 'serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  unregistered = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16 * 1024)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stderr });
    }),
  );
}

const uid = process.getuid!();
let auditorAgent: string;
let strangerAgent: string;
let unregisteredAgent: string;

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD, x509SvidTtl: '30s' });
  auditorAgent = binaryCopy('auditor', SPIRE_AGENT);
  strangerAgent = binaryCopy('stranger', SPIRE_AGENT);
  unregisteredAgent = binaryCopy('unregistered', SPIRE_AGENT);
  // /proc/PID/exe names the resolved binary: register the real paths.
  await spire.createEntry(ZTAUTHZ_ID, [`unix:uid:${uid}`, `unix:path:${realpathSync(NODE)}`]);
  await spire.createEntry(ENVOY_ID, [`unix:uid:${uid}`, `unix:path:${realpathSync(SPIRE_AGENT)}`]);
  await spire.createEntry(AUDITOR_ID, [`unix:uid:${uid}`, `unix:path:${auditorAgent}`]);
  await spire.createEntry(STRANGER_ID, [`unix:uid:${uid}`, `unix:path:${strangerAgent}`]);
  // Once the client's SVID is there the agent has synced every entry, ztauthz's included.
  await fetchSvid();
  const policyDir = join(spire.dir, 'policy');
  mkdirSync(policyDir);
  writeFileSync(join(policyDir, 'policy.rego'), POLICY);
  const serveArgs = [
    '--policy',
    policyDir,
    '--grpc-tls-mode',
    'workload_api',
    '--grpc-tls-workload-api-endpoint',
    spire.endpoint,
    '--grpc-tls-allowed-peers',
    `${ENVOY_ID},${AUDITOR_ID}`,
  ];
  ztauthz = await spawnServe(serveArgs);
  // The same ztauthz on a copy of its runtime, which no entry selects. It waits 30 s
  // for an SVID that never comes, so it starts now and is looked at last.
  unregisteredExit = serveUntilExit(binaryCopy('unregistered-runtime', NODE), serveArgs);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  if (unregistered && unregistered.exitCode === null && unregistered.signalCode === null) unregistered.kill('SIGKILL');
  await ztauthz?.stop();
  await spire?.stop();
  pki.cleanup();
});

describe('ztauthz with a real SPIRE agent', () => {
  it('serves the X509-SVID SPIRE issued to it, and its caller holds one issued to the caller', async () => {
    // Every test fetches the client's current SVID: one fetched earlier may have expired (30 s).
    const clientSvid = await fetchSvid();
    const s = await served(clientSvid);
    expect(s.uris).toEqual([ZTAUTHZ_ID]);
    expect(new X509Certificate(clientSvid.cert).subjectAltName).toBe(`URI:${ENVOY_ID}`);
  });

  it('lets a caller with its own SPIRE-issued SVID on the allowlist check, and the policy sees it as input.identity.peer', async () => {
    const clientSvid = await fetchSvid();
    expect(await checkCode(client(clientSvid.ca, clientSvid.cert, clientSvid.key))).toEqual({ grpc: 'OK', decision: 'allow' });
  });

  it('hands another allowed caller to the policy, which denies it by its SPIFFE ID', async () => {
    const auditor = await fetchSvid(auditorAgent);
    expect(new X509Certificate(auditor.cert).subjectAltName).toBe(`URI:${AUDITOR_ID}`);
    expect(await checkCode(client(auditor.ca, auditor.cert, auditor.key))).toEqual({ grpc: 'OK', decision: 'deny PERMISSION_DENIED' });
  });

  it('refuses a SPIRE-issued SVID whose ID is not on the allowlist (PERMISSION_DENIED)', async () => {
    const stranger = await fetchSvid(strangerAgent);
    expect(new X509Certificate(stranger.cert).subjectAltName).toBe(`URI:${STRANGER_ID}`);
    expect(await checkCode(client(stranger.ca, stranger.cert, stranger.key))).toEqual({ grpc: 'PERMISSION_DENIED' });
  });

  it('gives a process without an entry no SVID, and refuses its connections without or with a certificate of its own', async () => {
    const r = await spire.fetchX509(join(spire.dir, 'unregistered-out'), { agentBinary: unregisteredAgent, limitMs: 3_000 });
    expect(r.ok).toBe(false);
    expect(r.output).toContain('no identity issued');
    const { ca } = await fetchSvid();
    // No client certificate: the handshake itself fails.
    expect(await checkCode(client(ca))).toEqual({ grpc: 'UNAVAILABLE' });
    // A certificate naming the allowed ID, from a CA of its own for the same trust domain.
    const rogueCa = pki.ca('rogue', TD);
    const forged = pki.leaf(rogueCa, { uris: [ENVOY_ID] });
    expect(await checkCode(client(ca, Buffer.from(forged.certPem), Buffer.from(forged.keyPem)))).toEqual({ grpc: 'UNAVAILABLE' });
    // And a self-signed one.
    const self = pki.ca('self', TD);
    expect(await checkCode(client(ca, Buffer.from(self.certPem), Buffer.from(self.keyPem)))).toEqual({ grpc: 'UNAVAILABLE' });
  });

  it('keeps checking across a rotation: the old connection, then new ones with the new SVIDs', async () => {
    // Each probe presents the client's current SVID: with a 30 s TTL an older one may have expired.
    const first = await fetchSvid();
    const before = await served(first);
    const long = client(first.ca, first.cert, first.key);
    expect(await checkCode(long)).toEqual({ grpc: 'OK', decision: 'allow' });
    const results: string[] = [];
    // The agent renews an SVID past half its life and pushes it down the Workload API stream.
    const after = await until('ztauthz to serve a rotated SVID', 60_000, async () => {
      const r = await checkCode(long);
      results.push(`${r.grpc} ${r.decision}`);
      const s = await served(await fetchSvid());
      return s.serial !== before.serial ? s : undefined;
    });
    expect(after.uris).toEqual([ZTAUTHZ_ID]);
    // The connection made before the rotation kept its handshake and never failed a Check.
    expect(new Set(results)).toEqual(new Set(['OK allow']));
    expect(await checkCode(long)).toEqual({ grpc: 'OK', decision: 'allow' });
    // ztauthz says which SVID replaced which.
    expect(ztauthz!.stderr()).toContain(`"serial":"${after.serial}"`);
    expect(ztauthz!.stderr()).toContain(`"previous_serial":"${before.serial}"`);

    // The client's own SVID is renewed as well; a new connection with it is allowed.
    const renewed = await until('the client SVID to be renewed', 60_000, async () => {
      const s = await fetchSvid();
      return s.serial !== first.serial ? s : undefined;
    });
    const fresh = client(renewed.ca, renewed.cert, renewed.key);
    expect(await checkCode(fresh)).toEqual({ grpc: 'OK', decision: 'allow' });
    expect((await served(renewed)).uris).toEqual([ZTAUTHZ_ID]);
  }, 150_000);

  it('does not start a ztauthz that no entry selects: it exits, saying the Workload API issued it nothing', async () => {
    const { code, stderr } = await unregisteredExit;
    expect(code).not.toBe(0);
    expect(stderr).toContain('no X509-SVID from the Workload API within 30000 ms');
    expect(stderr).toContain('PERMISSION_DENIED: no identity issued');
  }, 100_000);
});
