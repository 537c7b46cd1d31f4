// One real mesh hop, every leg mutual TLS with SPIFFE X509-SVIDs of the trust
// domain cluster.local:
//
//   Node https client (a workload's SVID)
//     --mTLS--> Envoy 1.40 running deploy/envoy/mtls-sidecar.yaml unchanged
//                 --mTLS gRPC (the sidecar's SVID)--> ztauthz serve
//                       --config deploy/config/library.yaml --grpc-tls-mode files
//                 --plain HTTP--> echo upstream
//
// The policy library decides from input.identity (taken by ztauthz from the
// caller certificate Envoy forwards) and input.route (the built-in
// catalogue). Each request carries an x-test-id header, which ztauthz's
// decision log keeps in the input and the upstream echoes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parse as parseYaml } from 'yaml';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';
import { startEnvoy, type RunningEnvoy } from './support/envoy.ts';
import { startEchoUpstream, type EchoUpstream, type EchoedRequest } from './support/upstream.ts';
import { Pki, envoyLegacyUrlEncode, writeSvid, type Ca, type SvidFiles } from './support/pki.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { eventually, jsonLines, meshRequest, spiffeIdMismatch, type Json, type MeshCall, type MeshResponse } from './support/mesh.ts';
import { CATALOGUE } from '../src/route/Catalogue.ts';
import { opaBinary } from '../src/policy/OpaCompiler.ts';

const SIDECAR_CONFIG = join(ROOT, 'deploy/envoy/mtls-sidecar.yaml');
const LIBRARY_CONFIG = 'deploy/config/library.yaml';
const TRUST_DOMAIN = 'cluster.local';

const ID = {
  frontend: 'spiffe://cluster.local/ns/web/sa/frontend',
  trainer: 'spiffe://cluster.local/ns/ml-training/sa/trainer',
  modelServer: 'spiffe://cluster.local/ns/ml-serving/sa/model-server',
  // A valid SVID of the trust domain that policies/library/data.json does not list.
  stranger: 'spiffe://cluster.local/ns/web/sa/scraper',
  sidecar: 'spiffe://cluster.local/ns/ml-platform/sa/inbound-sidecar',
  // A sidecar with a valid SVID that ztauthz's --grpc-tls-allowed-peers does not name.
  rogueSidecar: 'spiffe://cluster.local/ns/web/sa/rogue-sidecar',
  ztauthz: 'spiffe://cluster.local/ns/ztauthz/sa/ztauthz',
} as const;

let pki: Pki;
let ca: Ca;
let svid: Record<keyof typeof ID, SvidFiles>;
let upstream: EchoUpstream;
let ztauthz: ServeProcess;
let sidecar: RunningEnvoy;
let rogue: RunningEnvoy;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  pki = new Pki();
  cleanups.push(() => pki.cleanup());
  ca = pki.ca(TRUST_DOMAIN);
  svid = Object.fromEntries(
    Object.entries(ID).map(([name, id]) => [
      name,
      writeSvid(
        pki,
        ca,
        id,
        name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      ),
    ]),
  ) as Record<keyof typeof ID, SvidFiles>;

  upstream = await startEchoUpstream();
  cleanups.push(() => upstream.close());

  ztauthz = await spawnServe([
    '--config',
    LIBRARY_CONFIG,
    '--grpc-tls-mode',
    'files',
    '--grpc-tls-cert-file',
    svid.ztauthz.certFile,
    '--grpc-tls-key-file',
    svid.ztauthz.keyFile,
    '--grpc-tls-ca-file',
    svid.ztauthz.caFile,
    '--grpc-tls-allowed-peers',
    ID.sidecar,
    // Forwarded caller certificates must chain to the trust domain's CA too,
    // not only have passed Envoy's handshake.
    '--identity-trust-bundles',
    `${TRUST_DOMAIN}=${svid.ztauthz.caFile}`,
    // Every record with its input (the default keeps it for denials only): records are found by their x-test-id header.
    '--decision-log-include-input',
    'all',
  ]);
  // ServeProcess.stop() never resolves for a child already killed by a
  // signal (it waits for an exit that has happened): skip a dead one.
  cleanups.push(async () => {
    if (ztauthz.child.exitCode === null && ztauthz.child.signalCode === null) await ztauthz.stop('SIGKILL');
  });

  const envoyAs = async (who: SvidFiles): Promise<RunningEnvoy> => {
    const e = await startEnvoy({
      configFile: SIDECAR_CONFIG,
      vars: {
        UPSTREAM_PORT: upstream.port,
        ZTAUTHZ_GRPC_PORT: ztauthz.grpcPort,
        SIDECAR_CERT_FILE: who.certFile,
        SIDECAR_KEY_FILE: who.keyFile,
        TRUST_BUNDLE_FILE: who.caFile,
        TRUST_DOMAIN,
        ZTAUTHZ_SPIFFE_ID: ID.ztauthz,
      },
    });
    cleanups.push(() => e.stop());
    return e;
  };
  [sidecar, rogue] = await Promise.all([envoyAs(svid.sidecar), envoyAs(svid.rogueSidecar)]);
  await warmUp();
});

afterAll(async () => {
  await Promise.allSettled(cleanups.reverse().map((stop) => stop()));
});

// ---- helpers ---------------------------------------------------------------

interface Sent extends MeshResponse {
  readonly testId: string;
}

/** A request through `envoy` as the workload `who` (null: no client certificate), tagged with a fresh x-test-id. */
async function call(who: SvidFiles | null, c: MeshCall, envoy: RunningEnvoy = sidecar): Promise<Sent> {
  const testId = randomUUID();
  const res = await meshRequest(
    envoy.listenPort,
    { ca: ca.pem, serverId: envoy === sidecar ? ID.sidecar : ID.rogueSidecar, svid: who },
    { ...c, headers: { 'x-test-id': testId, ...c.headers } },
  );
  return { ...res, testId };
}

const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}): MeshCall => ({
  method,
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const infer = json('POST', '/v2/models/fraud-detector/infer', {
  inputs: [{ name: 'amount', shape: [1], datatype: 'FP32', data: [42.5] }],
});
const trainingFeatures = json('POST', '/get-online-features', {
  feature_service: 'fraud-training-features',
  entities: { account_id: [1001] },
});
// What an MLflow client fetches after get-download-uri: a file under the
// version's run (experiment 12 holds fraud-detector's runs in data.json).
const ARTIFACT_PATH = '12/0f5e1c2a9b/artifacts/model/MLmodel';
const artifact: MeshCall = { method: 'GET', path: `/api/2.0/mlflow-artifacts/artifacts/${ARTIFACT_PATH}` };

function decisionsFor(testId: string): Json[] {
  return jsonLines(ztauthz.stdout()).filter((r) => r['input']?.attributes?.request?.http?.headers?.['x-test-id'] === testId);
}

/** The one decision record for a request. */
async function decisionFor(testId: string): Promise<Json> {
  const record = await eventually(`decision record for ${testId}`, () => decisionsFor(testId)[0]);
  expect(decisionsFor(testId)).toHaveLength(1);
  return record;
}

function seenUpstream(testId: string): EchoedRequest[] {
  return upstream.received.filter((r) => r.headers['x-test-id'] === testId);
}

/**
 * Sends an allowed request until ztauthz decides one, so the tests do not pay
 * for the first Check (Envoy's TLS and HTTP/2 connection to ztauthz, the first
 * wasm evaluations) within the filter's 0.5 s timeout on a busy machine.
 */
async function warmUp(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await call(svid.frontend, { method: 'GET', path: '/v2/models/fraud-detector/ready' });
    if (res.status === 200 && decisionsFor(res.testId).length > 0) return;
    if (attempt >= 10) {
      throw new Error(`no request got through the mesh (last status ${res.status} ${res.body}):\n${sidecar.logs()}\n${ztauthz.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What a decision record says about who asked what, for one assertion per request. */
function summary(record: Json): Json {
  const { identity, route } = record['input'];
  return {
    allowed: record['allowed'],
    path: record['path'],
    rule: record['result']?.dynamic_metadata?.rule,
    spiffe_id: identity?.spiffe_id,
    source: identity?.source,
    peer: identity?.peer?.spiffe_id,
    route: route && { api: route.api, action: route.action, model: route.model, params: route.params },
  };
}

/** Every value a header arrived with at the upstream (repeats kept apart). */
function rawValues(req: EchoedRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!);
  }
  return out;
}

// ---- tests -----------------------------------------------------------------

describe('the policy library decides real mesh calls', () => {
  test('the frontend infers on its granted model: 200 from the upstream, identity from the forwarded certificate', async () => {
    const res = await call(svid.frontend, infer);
    expect(res.status).toBe(200);
    const [seen] = seenUpstream(res.testId);
    expect(seenUpstream(res.testId)).toHaveLength(1);
    expect(seen!.method).toBe('POST');
    expect(seen!.url).toBe('/v2/models/fraud-detector/infer');
    expect(JSON.parse(seen!.body)).toEqual(JSON.parse(infer.body!));
    // The library's allow header, set by Envoy from the CheckResponse.
    expect(rawValues(seen!, 'x-ztauthz-policy')).toEqual(['inference']);

    const record = await decisionFor(res.testId);
    expect(summary(record)).toEqual({
      allowed: true,
      path: 'ztauthz/inference/allow',
      rule: 'inference.granted',
      spiffe_id: ID.frontend,
      // Envoy forwarded the peer certificate (include_peer_certificate) and
      // ztauthz took the identity from it, not from source.principal.
      source: 'certificate',
      // ztauthz's own mTLS listener: the sidecar Envoy asked.
      peer: ID.sidecar,
      route: { api: 'kserve-v2', action: 'infer', model: 'fraud-detector', params: { model: 'fraud-detector' } },
    });
    const { identity, attributes } = record['input'];
    expect(identity).toMatchObject({ trust_domain: TRUST_DOMAIN, namespace: 'web', service_account: 'frontend', user: null });
    expect(identity.peer).toMatchObject({ trust_domain: TRUST_DOMAIN, namespace: 'ml-platform', service_account: 'inbound-sidecar' });
    // What Envoy sent: the principal (the URI SAN it verified) next to the
    // URL-encoded PEM of this very certificate. Envoy 1.40 percent-encodes
    // only newline, space, "+", "/" and "=" (what test/support/pki.ts calls
    // the encoding of older Envoys), which ztauthz decodes.
    expect(attributes.source.principal).toBe(ID.frontend);
    expect(attributes.source.certificate).toBe(envoyLegacyUrlEncode(svid.frontend.cert));
    // The sidecar's own certificate identity as the callee.
    expect(attributes.destination.principal).toBe(ID.sidecar);
    // with_request_body pack_as_bytes: the body arrives as raw bytes.
    expect(Buffer.from(attributes.request.http.rawBody, 'base64').toString()).toBe(infer.body);

    // Both TLS legs of the sidecar: the caller's and the one to ztauthz.
    const tls = await sidecar.stats('ssl\\.versions\\.');
    expect(
      Object.entries(tls)
        .filter(([, n]) => n > 0)
        .map(([k]) => k.replace(/^listener\.[0-9.]+_\d+\./, 'listener.'))
        .sort(),
    ).toEqual(['cluster.ztauthz.ssl.versions.TLSv1.3', 'listener.ssl.versions.TLSv1.3']);
  });

  test('the same inference from the trainer and from an unknown workload: 403, never at the upstream', async () => {
    const trainer = await call(svid.trainer, infer);
    const stranger = await call(svid.stranger, infer);
    expect([trainer.status, stranger.status]).toEqual([403, 403]);
    expect(trainer.body).toBe('ztauthz inference: action not permitted for caller\n');
    expect(stranger.body).toBe('ztauthz inference: unknown workload\n');
    expect(trainer.headers['x-ztauthz-policy']).toBe('inference');
    expect(seenUpstream(trainer.testId)).toHaveLength(0);
    expect(seenUpstream(stranger.testId)).toHaveLength(0);

    const route = { api: 'kserve-v2', action: 'infer', model: 'fraud-detector', params: { model: 'fraud-detector' } };
    expect(summary(await decisionFor(trainer.testId))).toEqual({
      allowed: false,
      path: 'ztauthz/inference/allow',
      rule: 'inference.action_not_permitted',
      spiffe_id: ID.trainer,
      source: 'certificate',
      peer: ID.sidecar,
      route,
    });
    expect(summary(await decisionFor(stranger.testId))).toEqual({
      allowed: false,
      path: 'ztauthz/inference/allow',
      rule: 'inference.unknown_workload',
      spiffe_id: ID.stranger,
      source: 'certificate',
      peer: ID.sidecar,
      route,
    });
  });

  test('the trainer reads training features (Feast, feature service in the JSON body); the model server may not', async () => {
    const trainer = await call(svid.trainer, trainingFeatures);
    const server = await call(svid.modelServer, trainingFeatures);
    expect(trainer.status).toBe(200);
    expect(seenUpstream(trainer.testId)).toHaveLength(1);
    expect(server.status).toBe(403);
    expect(server.body).toBe('ztauthz features: action not permitted for caller\n');
    expect(seenUpstream(server.testId)).toHaveLength(0);

    const route = { api: 'feast', action: 'read_features', model: null, params: { feature_service: 'fraud-training-features' } };
    expect(summary(await decisionFor(trainer.testId))).toEqual({
      allowed: true,
      path: 'ztauthz/features/allow',
      rule: 'features.granted',
      spiffe_id: ID.trainer,
      source: 'certificate',
      peer: ID.sidecar,
      route,
    });
    expect(summary(await decisionFor(server.testId))).toEqual({
      allowed: false,
      path: 'ztauthz/features/allow',
      rule: 'features.action_not_permitted',
      spiffe_id: ID.modelServer,
      source: 'certificate',
      peer: ID.sidecar,
      route,
    });
  });

  test('the model server downloads its model artifact from the registry; the frontend may not', async () => {
    const server = await call(svid.modelServer, artifact);
    const frontend = await call(svid.frontend, artifact);
    expect(server.status).toBe(200);
    expect(seenUpstream(server.testId).map((r) => r.url)).toEqual([artifact.path]);
    expect(frontend.status).toBe(403);
    expect(frontend.body).toBe('ztauthz models: action not permitted for caller\n');
    expect(seenUpstream(frontend.testId)).toHaveLength(0);

    const route = { api: 'mlflow', action: 'download_artifact', model: null, params: { path: ARTIFACT_PATH } };
    expect(summary(await decisionFor(server.testId))).toEqual({
      allowed: true,
      path: 'ztauthz/models/allow',
      rule: 'models.granted',
      spiffe_id: ID.modelServer,
      source: 'certificate',
      peer: ID.sidecar,
      route,
    });
    expect(summary(await decisionFor(frontend.testId))).toMatchObject({ allowed: false, rule: 'models.action_not_permitted', spiffe_id: ID.frontend });
  });

  test('a request no catalogue route names is denied before the policy (routes.unmatched: deny)', async () => {
    // MLflow serves its API under /ajax-api too; the catalogue leaves it out.
    const res = await call(svid.modelServer, { method: 'GET', path: '/ajax-api/2.0/mlflow/registered-models/get?name=fraud-detector' });
    expect(res.status).toBe(403);
    expect(seenUpstream(res.testId)).toHaveLength(0);
    const record = await decisionFor(res.testId);
    expect(record).toMatchObject({ allowed: false, reason: 'route_unmatched' });
    expect(record['input'].identity).toMatchObject({ spiffe_id: ID.modelServer, source: 'certificate' });
  });

  test('x-forwarded-client-cert: a forged one is replaced by what the sidecar verified (SANITIZE_SET)', async () => {
    const forged = `By=${ID.sidecar};URI=${ID.trainer}`;
    const res = await call(svid.frontend, { ...infer, headers: { ...infer.headers, 'x-forwarded-client-cert': forged } });
    expect(res.status).toBe(200);
    const [seen] = seenUpstream(res.testId);
    const xfcc = rawValues(seen!, 'x-forwarded-client-cert');
    expect(xfcc).toHaveLength(1);
    expect(xfcc[0]).not.toContain(ID.trainer);
    // By (this hop's own SVID), Hash (of the caller certificate, always set), URI (the caller).
    expect(xfcc[0]).toMatch(new RegExp(`^By=${escapeRegExp(ID.sidecar)};Hash=[0-9a-f]{64};URI=${escapeRegExp(ID.frontend)}$`));
    // The HTTP connection manager rewrote the header before ext_authz ran,
    // so ztauthz saw the same sanitised value (and does not use it:
    // identity.xfcc is off; the identity is the certificate's).
    const record = await decisionFor(res.testId);
    expect(record['input'].attributes.request.http.headers['x-forwarded-client-cert']).toBe(xfcc[0]);
    expect(record['input'].identity).toMatchObject({ spiffe_id: ID.frontend, source: 'certificate' });
  });
});

describe('who may connect at all', () => {
  test('no client certificate: the TLS handshake fails, no request reaches ztauthz or the upstream', async () => {
    const before = await sidecar.stats('ssl\\.fail_verify_no_cert$|inbound_mtls\\.ext_authz\\.');
    const testId = randomUUID();
    const err = await meshRequest(
      sidecar.listenPort,
      { ca: ca.pem, serverId: ID.sidecar, svid: null },
      { ...infer, headers: { ...infer.headers, 'x-test-id': testId } },
    ).then(
      (res) => new Error(`expected a TLS failure, got HTTP ${res.status}`),
      (e: NodeJS.ErrnoException) => e,
    );
    // TLS 1.3: the client finishes its side of the handshake, then Envoy
    // answers the missing certificate with a certificate_required alert.
    expect(err).toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    // A later request from the frontend is decided and logged; the one
    // without a certificate, sent before it on the same listener, never was.
    const next = await call(svid.frontend, infer);
    expect(next.status).toBe(200);
    await decisionFor(next.testId);
    expect(decisionsFor(testId)).toEqual([]);
    expect(seenUpstream(testId)).toEqual([]);
    const stats = await sidecar.stats('ssl\\.fail_verify_no_cert$|inbound_mtls\\.ext_authz\\.');
    const delta = (suffix: string): number => sum(stats, suffix) - sum(before, suffix);
    expect(delta('ssl.fail_verify_no_cert')).toBe(1);
    // One Check for `next`, none for the refused connection.
    expect(delta('ext_authz.ok')).toBe(1);
    expect(delta('ext_authz.denied') + delta('ext_authz.error')).toBe(0);
  });

  test("a certificate from the bundle naming another trust domain fails the handshake (the listener's SAN matcher)", async () => {
    const before = await sidecar.stats('ssl\\.fail_verify_san$');
    // Same CA, look-alike trust domain: only the "spiffe://cluster.local/"
    // prefix (with its slash) keeps it out.
    const lookalike = writeSvid(pki, ca, 'spiffe://cluster.local.evil/ns/web/sa/frontend', 'lookalike');
    const err = await call(lookalike, infer).then(
      (res) => new Error(`expected a TLS failure, got HTTP ${res.status}`),
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_UNKNOWN' });
    const after = await sidecar.stats('ssl\\.fail_verify_san$');
    expect(sum(after, 'ssl.fail_verify_san') - sum(before, 'ssl.fail_verify_san')).toBe(1);
  });

  test('a certificate with two SPIFFE IDs passes Envoy but is no identity for ztauthz: denied', async () => {
    // Envoy's SAN matcher needs one matching URI SAN and its principal is
    // the first; an X509-SVID has exactly one, so ztauthz refuses the
    // certificate, and the library denies a caller without identity.
    const cert = pki.leaf(ca, { uris: [ID.frontend, ID.trainer] });
    const two: SvidFiles = { ...svid.frontend, id: ID.frontend, cert };
    const res = await call(two, infer);
    expect(res.status).toBe(403);
    expect(res.body).toBe('ztauthz inference: workload identity required\n');
    expect(seenUpstream(res.testId)).toHaveLength(0);
    const record = await decisionFor(res.testId);
    expect(record['input'].attributes.source.principal).toBe(ID.frontend);
    expect(record['input'].identity).toMatchObject({ spiffe_id: null, source: null, peer: { spiffe_id: ID.sidecar } });
    expect(summary(record)).toMatchObject({ allowed: false, rule: 'inference.workload_missing' });
    // The record's message says why the certificate gave no identity.
    expect(record['message']).toMatch(/certificate: .*URI/i);
  });

  test('a sidecar not on --grpc-tls-allowed-peers is refused by ztauthz: its Envoy fails closed with 403', async () => {
    // Every call through this sidecar is a 403. Calls are repeated until one
    // was answered by ztauthz (a gRPC error travels as HTTP/2 200 with
    // grpc-status in the trailers) rather than cut by the filter's 0.5 s
    // timeout while this never-warmed Envoy set up its TLS connection.
    const sent: Sent[] = [];
    for (let answered = 0; answered === 0; ) {
      if (sent.length >= 10) throw new Error(`ztauthz never answered the rogue sidecar:\n${rogue.logs()}`);
      const res = await call(svid.frontend, infer, rogue);
      expect(res.status).toBe(403);
      expect(seenUpstream(res.testId)).toHaveLength(0);
      sent.push(res);
      answered = (await rogue.stats('^cluster\\.ztauthz\\.upstream_rq_200$'))['cluster.ztauthz.upstream_rq_200'] ?? 0;
    }
    // ztauthz refused the gRPC calls before any Check ran: no decision record.
    const next = await call(svid.frontend, infer);
    await decisionFor(next.testId);
    for (const res of sent) expect(decisionsFor(res.testId)).toEqual([]);
    // Envoy counts them as authorization-service errors (status_on_error
    // 403), not as denials ztauthz answered.
    const stats = await rogue.stats('inbound_mtls\\.ext_authz\\.');
    expect(sum(stats, 'ext_authz.error')).toBe(sent.length);
    expect(sum(stats, 'ext_authz.denied') + sum(stats, 'ext_authz.ok')).toBe(0);
    // The refusal came after a completed mTLS handshake with ztauthz: it is
    // ztauthz's allowlist, not TLS, that turned this sidecar away.
    const tls = await rogue.stats('^cluster\\.ztauthz\\.ssl\\.(handshake|fail_verify_san)$');
    expect(tls['cluster.ztauthz.ssl.handshake']).toBeGreaterThanOrEqual(1);
    expect(tls['cluster.ztauthz.ssl.fail_verify_san']).toBe(0);
    const line = await eventually('rogue access-log line', () => jsonLines(rogue.stdout()).find((l) => l['path'] === infer.path));
    expect(line).toMatchObject({ status: 403, details: 'ext_authz_error', response_flags: 'UAEX', peer_uri_san: ID.frontend });
  });

  test("grpc-js with a valid SVID not on the allowlist gets PERMISSION_DENIED; the allowed sidecar's SVID is answered", async () => {
    const creds = (who: SvidFiles): grpc.ChannelCredentials =>
      grpc.credentials.createSsl(Buffer.from(ca.pem), Buffer.from(who.key), Buffer.from(who.cert), {
        // Authenticate ztauthz by its SPIFFE ID, as the sidecar's cluster does.
        checkServerIdentity: (_host, cert) => spiffeIdMismatch(cert, ID.ztauthz),
      });
    // A name for SNI: grpc-js would otherwise send the IP address, which
    // RFC 6066 forbids (Node warns). The server is authenticated above.
    const opts = { 'grpc.ssl_target_name_override': 'ztauthz.ztauthz.svc', 'grpc.default_authority': 'ztauthz.ztauthz.svc' };
    const asFrontend = new CheckClient(ztauthz.grpcPort, creds(svid.frontend), opts);
    const asSidecar = new CheckClient(ztauthz.grpcPort, creds(svid.sidecar), opts);
    try {
      const request = checkRequest({ method: 'GET', path: '/v2/models/fraud-detector/ready', principal: ID.frontend });
      await expect(asFrontend.check(request)).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
        details: `ztauthz: caller ${ID.frontend} is not allowed to call this service`,
      });
      // The same request from the allowed peer is decided (by the principal:
      // no certificate was forwarded here).
      const ok = await asSidecar.check(request);
      expect(ok.status?.code ?? 0).toBe(0);
      // The refusal never reached the pipeline; it is counted and logged instead.
      const metrics = await (await fetch(`http://127.0.0.1:${ztauthz.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/ztauthz_grpc_peers_refused_total\{reason="not_allowed"\} [1-9]/);
      expect(ztauthz.stderr()).toContain('"msg":"grpc caller refused","reason":"not_allowed"');
    } finally {
      asFrontend.close();
      asSidecar.close();
    }
  });
});

describe('deploy/config/library.yaml and the route catalogue', () => {
  test('every catalogue route reaches the family entrypoint whose catalog lists its api and action', () => {
    const config = parseYaml(readFileSync(join(ROOT, LIBRARY_CONFIG), 'utf8')) as {
      routes: { entrypoints: string[]; table?: Array<{ name: string; entrypoint?: string }> };
    };
    const byApi = new Map(config.routes.entrypoints.map((e) => e.split('=') as [string, string]));
    const byName = new Map((config.routes.table ?? []).map((r) => [r.name, r.entrypoint]));
    const out = execFileSync(opaBinary(), ['eval', '--format', 'json', '-d', join(ROOT, 'policies/library'), 'data.ztauthz.lib.catalog.actions'], {
      encoding: 'utf8',
    });
    const actions = JSON.parse(out).result[0].expressions[0].value as Record<string, Record<string, string[]>>;
    const familyOf = (api: string, action: string): string[] =>
      Object.entries(actions)
        .filter(([, apis]) => apis[api]?.includes(action))
        .map(([family]) => family);

    const wrong = CATALOGUE.flatMap((r) => {
      const families = familyOf(r.api, r.action);
      const entrypoint = byName.get(r.name) ?? byApi.get(r.api);
      const expected = families.length === 1 ? `ztauthz/${families[0]}/allow` : `one family (found ${families.length})`;
      return entrypoint === expected ? [] : [`${r.name} (${r.api} ${r.action}): ${entrypoint} instead of ${expected}`];
    });
    expect(wrong).toEqual([]);
    // And the library lists no api the catalogue does not have.
    const apis = new Set(CATALOGUE.map((r) => r.api));
    expect(
      Object.values(actions)
        .flatMap((a) => Object.keys(a))
        .filter((a) => !apis.has(a)),
    ).toEqual([]);
  });
});

function sum(stats: Record<string, number>, suffix: string): number {
  return Object.entries(stats)
    .filter(([name]) => name.endsWith(suffix))
    .reduce((n, [, v]) => n + v, 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
