// The grpcurl calls the README and docs/operations.md show, run for real against `ztauthz serve`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';

const GRPCURL = join(ROOT, '.tools/bin/grpcurl');

function grpcurl(port: number, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      GRPCURL,
      ['-plaintext', '-import-path', join(ROOT, 'proto'), ...args.slice(0, -1), `127.0.0.1:${port}`, args.at(-1)!],
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

const CHECK = ['-proto', 'envoy/service/auth/v3/external_auth.proto', '-d', '@', 'envoy.service.auth.v3.Authorization/Check'];

describe('grpcurl against serve (the README walk-through)', () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await spawnServe();
  });
  afterAll(async () => {
    await serve.stop();
  });

  it('gets an allow for the frontend', async () => {
    const r = await grpcurl(serve.grpcPort, CHECK, readFileSync(join(ROOT, 'test/fixtures/requests/frontend-infer.json'), 'utf8'));
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout);
    expect(res.status).toEqual({});
    expect(res.okResponse.headers).toContainEqual({ header: { key: 'x-ztauthz-caller', value: 'spiffe://cluster.local/ns/web/sa/frontend' } });
  });

  it('gets a deny for the training job', async () => {
    const r = await grpcurl(serve.grpcPort, CHECK, readFileSync(join(ROOT, 'test/fixtures/requests/trainer-infer.json'), 'utf8'));
    const res = JSON.parse(r.stdout);
    expect(res.status).toEqual({ code: 7, message: 'policy_denied' });
    expect(res.deniedResponse.status).toEqual({ code: 'Forbidden' });
  });

  it('sees SERVING on grpc.health.v1', async () => {
    const r = await grpcurl(serve.grpcPort, ['-proto', 'grpc/health/v1/health.proto', 'grpc.health.v1.Health/Check']);
    expect(JSON.parse(r.stdout)).toEqual({ status: 'SERVING' });
  });

  it('logged one decision per Check, with the decision ids', async () => {
    const records = serve
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(records.map((r) => [r.allowed, r.reason])).toEqual([
      [true, 'allowed'],
      [false, 'policy_denied'],
    ]);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await serve.stop('SIGTERM')).toBe(0);
    expect(serve.stderr()).toMatch(/"msg":"shutting down","signal":"SIGTERM"/);
  });
});

/** grpcurl with no -proto or -import-path: everything it knows comes from server reflection. */
function grpcurlBare(port: number, flags: string[], verb: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(GRPCURL, ['-plaintext', ...flags, `127.0.0.1:${port}`, ...verb], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

describe('grpc.reflection: grpcurl without proto files', () => {
  let serve: ServeProcess;
  let plain: ServeProcess;
  beforeAll(async () => {
    [serve, plain] = await Promise.all([spawnServe(['--enable-reflection', '--decision-log-enabled=false']), spawnServe(['--decision-log-enabled=false'])]);
  });
  afterAll(async () => {
    await Promise.all([serve?.stop(), plain?.stop()]);
  });

  it('lists the Authorization and Health services', async () => {
    const r = await grpcurlBare(serve.grpcPort, [], ['list']);
    expect(r.stderr).toBe('');
    const services = r.stdout.trim().split('\n');
    expect(services).toContain('envoy.service.auth.v3.Authorization');
    expect(services).toContain('grpc.health.v1.Health');
  });

  it('describes the service and its messages', async () => {
    const svc = await grpcurlBare(serve.grpcPort, [], ['describe', 'envoy.service.auth.v3.Authorization']);
    expect(svc.stderr).toBe('');
    expect(svc.stdout).toMatch(/rpc Check \( \.envoy\.service\.auth\.v3\.CheckRequest \) returns \( \.envoy\.service\.auth\.v3\.CheckResponse \)/);
    const msg = await grpcurlBare(serve.grpcPort, [], ['describe', 'envoy.service.auth.v3.AttributeContext.HttpRequest']);
    expect(msg.stdout).toMatch(/bytes raw_body = 12;/);
    expect(msg.stdout).toMatch(/map<string, string> headers = 3;/);
    const health = await grpcurlBare(serve.grpcPort, [], ['describe', 'grpc.health.v1.Health']);
    expect(health.stdout).toMatch(/rpc Watch/);
    // grpc-health-check serves List too, and reflection describes what is served.
    expect(health.stdout).toMatch(/rpc List \( \.grpc\.health\.v1\.HealthListRequest \)/);
    const list = await grpcurlBare(serve.grpcPort, [], ['describe', 'grpc.health.v1.HealthListResponse']);
    expect(list.stdout).toMatch(/map<string, \.grpc\.health\.v1\.HealthCheckResponse> statuses = 1;/);
  });

  it('invokes Check and Health with the reflected descriptors', async () => {
    const r = await grpcurlBare(
      serve.grpcPort,
      ['-d', '@'],
      ['envoy.service.auth.v3.Authorization/Check'],
      readFileSync(join(ROOT, 'test/fixtures/requests/frontend-infer.json'), 'utf8'),
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).status).toEqual({});
    const h = await grpcurlBare(serve.grpcPort, [], ['grpc.health.v1.Health/Check']);
    expect(JSON.parse(h.stdout)).toEqual({ status: 'SERVING' });
  });

  it('is off by default, as in opa-envoy-plugin', async () => {
    const r = await grpcurlBare(plain.grpcPort, [], ['list']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not support the reflection API/);
  });
});
