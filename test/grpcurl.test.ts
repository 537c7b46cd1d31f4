// The README's grpcurl calls, run for real against `ztauthz serve`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';

const GRPCURL = join(ROOT, '.tools/bin/grpcurl');

function grpcurl(port: number, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(GRPCURL, ['-plaintext', '-import-path', join(ROOT, 'proto'), ...args.slice(0, -1), `127.0.0.1:${port}`, args.at(-1)!], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
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
    const records = serve.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(records.map((r) => [r.allowed, r.reason])).toEqual([[true, 'allowed'], [false, 'policy_denied']]);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await serve.stop('SIGTERM')).toBe(0);
    expect(serve.stderr()).toMatch(/"msg":"shutting down","signal":"SIGTERM"/);
  });
});
