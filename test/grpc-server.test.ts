// The gRPC server on loopback: Check with the demo policy, health, and the
// bad-input cases of the issue, each a denial with a reason while the server
// keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest, headerValue } from './support/checkClient.ts';
import type { RunningServer } from '../src/server/Server.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';

describe('serve: Authorization/Check and Health over real gRPC', () => {
  let server: RunningServer;
  let client: CheckClient;

  beforeAll(async () => {
    server = await startInProcess();
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('allows the frontend to call inference and adds the policy headers', async () => {
    const res = await client.check(checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: FRONTEND }));
    expect(res.status?.code ?? 0).toBe(0);
    expect(headerValue(res, 'x-ztauthz-caller')).toBe(FRONTEND);
    expect(headerValue(res, 'x-ztauthz-action')).toBe('infer');
    expect(res.dynamicMetadata?.fields['decision_id']?.stringValue).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('denies the training job calling inference with the policy status and body', async () => {
    const res = await client.check(checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: TRAINER }));
    expect(res.status?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(res.deniedResponse?.status?.code).toBe('Forbidden');
    expect(res.deniedResponse?.body).toContain('no rule allows');
  });

  it('reports SERVING on grpc.health.v1 Check and Watch', async () => {
    expect(await client.healthCheck('')).toEqual({ status: 'SERVING' });
    expect(await client.healthCheck('envoy.service.auth.v3.Authorization')).toEqual({ status: 'SERVING' });
    await expect(client.healthCheck('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const stream = client.watch('');
    stream.on('error', () => {}); // the cancel below ends the stream with CANCELLED
    const first = await new Promise((resolve) => stream.once('data', resolve));
    expect(first).toEqual({ status: 'SERVING' });
    stream.cancel();
  });

  it('answers /healthz, /readyz with the revision, and /metrics', async () => {
    const base = `http://127.0.0.1:${server.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', policy_revision: expect.stringMatching(/^sha256:/) });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/ztauthz_checks_total\{decision="allow",reason="allowed",route="[^"]+"\} \d+/);
    expect(metrics).toMatch(/ztauthz_policy_info\{revision="sha256:[0-9a-f]+"\} 1/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  describe('bad input: a denial with a reason, and the server keeps serving', () => {
    const denied = async (request: object, reason: string, httpStatus = 'BadRequest') => {
      const res = await client.check(request);
      expect(res.status?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(res.status?.message).toBe(reason);
      expect(res.deniedResponse?.status?.code).toBe(httpStatus);
      return res;
    };

    it('an empty CheckRequest', async () => {
      await denied({}, 'request_empty');
    });

    it('a CheckRequest without attributes.request', async () => {
      await denied({ attributes: { source: { principal: FRONTEND } } }, 'request_empty');
    });

    it('a body labelled JSON that does not parse', async () => {
      const res = await denied(
        checkRequest({
          method: 'POST',
          path: '/v2/models/m/infer',
          principal: FRONTEND,
          headers: { 'content-type': 'application/json' },
          body: '{"inputs": [',
        }),
        'body_invalid',
      );
      expect(res.deniedResponse?.body).toMatch(/^body_invalid: body is labelled JSON but does not parse/);
    });

    it('a truncated body', async () => {
      await denied(
        checkRequest({
          method: 'POST',
          path: '/v2/models/m/infer',
          principal: FRONTEND,
          headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' },
          body: '{"inputs": [1,',
        }),
        'body_truncated',
        'PayloadTooLarge',
      );
    });

    it('a 1 MB header (under the message limit, over the header limit)', async () => {
      await denied(checkRequest({ principal: FRONTEND, headers: { 'x-big': 'a'.repeat(1024 * 1024) } }), 'request_too_large', 'PayloadTooLarge');
    });

    it('a 10 MB header: refused by the 4 MiB message limit with RESOURCE_EXHAUSTED', async () => {
      await expect(client.check(checkRequest({ headers: { 'x-big': 'a'.repeat(10 * 1024 * 1024) } }))).rejects.toMatchObject({
        code: grpc.status.RESOURCE_EXHAUSTED,
      });
    });

    it('invalid UTF-8 in a string field', async () => {
      // attributes(1) { request(4) { http(2) { method(2) = "\xff\xfe" } } }, sent as raw bytes.
      const raw = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
      const bytes = Buffer.from([0x0a, 0x08, 0x22, 0x06, 0x12, 0x04, 0x12, 0x02, 0xff, 0xfe]);
      const res = await new Promise<Buffer>((resolve, reject) =>
        raw.makeUnaryRequest(
          '/envoy.service.auth.v3.Authorization/Check',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err, r) => (err ? reject(err) : resolve(r!)),
        ),
      );
      raw.close();
      const { CheckResponseType } = await import('../src/envoy/ProtoCodec.ts');
      const decoded = CheckResponseType.toObject(CheckResponseType.decode(res)) as any;
      expect(decoded.status).toEqual({ code: 7, message: 'request_invalid_utf8' });
      expect(decoded.deniedResponse.status.code).toBe(400);
    });

    it('still serves normal requests afterwards', async () => {
      const res = await client.check(checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: FRONTEND }));
      expect(res.status?.code ?? 0).toBe(0);
      const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
      for (const reason of ['request_empty', 'body_invalid', 'body_truncated', 'request_too_large', 'request_invalid_utf8']) {
        expect(metrics).toMatch(new RegExp(`ztauthz_checks_total\\{decision="deny",reason="${reason}",route="[^"]+"\\}`));
      }
    });
  });
});

describe('grpc.max_send_msg_bytes', () => {
  let dir: string;
  let servers: RunningServer[] = [];
  let clients: CheckClient[] = [];
  beforeAll(async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    dir = mkdtempSync(join(tmpdir(), 'ztauthz-maxsend-'));
    // A 6000-byte header on /big, a small one elsewhere.
    writeFileSync(join(dir, 'data.json'), JSON.stringify({ big: 'b'.repeat(6000) }));
    writeFileSync(
      join(dir, 'policy.rego'),
      'package envoy.authz\n\nresult := {"allowed": true, "headers": {"x-big": data.big}} if input.parsed_path[0] == "big"\n\nresult := {"allowed": true, "headers": {"x-small": "s"}} if input.parsed_path[0] != "big"\n',
    );
    const flags = { policy: dir, 'decision-path': 'envoy/authz/result', 'grpc-max-send-msg-bytes': '4096' };
    servers = await Promise.all([
      startInProcess(flags),
      startInProcess({ ...flags, 'decision-on-error': 'grpc_error' }),
      startInProcess({ policy: dir, 'decision-path': 'envoy/authz/result' }),
    ]);
    clients = servers.map((s) => new CheckClient(s.grpcPort));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop(1000)));
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a response under the limit goes out as it is', async () => {
    const res = await clients[0]!.check(checkRequest({ path: '/small' }));
    expect(res.status?.code ?? 0).toBe(0);
    expect(headerValue(res, 'x-small')).toBe('s');
  });

  it('a response over the limit is an internal_error denial, never a transport error Envoy could fail open on', async () => {
    const res = await clients[0]!.check(checkRequest({ path: '/big' }));
    expect(res.status?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(res.status?.message).toBe('internal_error');
    expect(headerValue(res, 'x-big')).toBeUndefined();
    // Counted (and recorded) once, as what was answered: the allow that could not be sent is not counted.
    const metrics = await servers[0]!.metrics.registry.metrics();
    expect(metrics).toMatch(/ztauthz_checks_total\{decision="deny",reason="internal_error",route="[^"]*"\} 1\n/);
    expect(metrics).toMatch(/ztauthz_checks_total\{decision="allow",reason="allowed",route="[^"]*"\} 1\n/);
  });

  it('with decision.on_error grpc_error it is an INTERNAL gRPC error, as opa-envoy-plugin errors are', async () => {
    await expect(clients[1]!.check(checkRequest({ path: '/big' }))).rejects.toMatchObject({
      code: grpc.status.INTERNAL,
      details: expect.stringMatching(/max_send_msg_bytes/),
    });
  });

  it('the default (4 MiB) sends the 6 KB header', async () => {
    const res = await clients[2]!.check(checkRequest({ path: '/big' }));
    expect(headerValue(res, 'x-big')).toHaveLength(6000);
  });
});
