// Identity through the whole Check path (real gRPC): a bad token is a 401
// challenge with a decision record naming the reason; headers a client can
// write are never an identity; the server keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest, headerValue } from './support/checkClient.ts';
import type { RunningServer } from '../src/server/Server.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztauthz-idp-'));
const log = join(dir, 'decisions.log');
const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
let server: RunningServer;
let client: CheckClient;
let goodToken: string;

function records(): any[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.decision_id);
}
async function lastRecord(count: number): Promise<any> {
  for (let i = 0; i < 100 && records().length < count; i++) await new Promise((r) => setTimeout(r, 20));
  return records().at(-1);
}

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  goodToken = await new SignJWT({ tier: 'premium' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer('https://idp.test')
    .setAudience('ztauthz')
    .setSubject('alice')
    .setExpirationTime('5m')
    .sign(privateKey);
  writeFileSync(log, '');
  server = await startInProcess({
    'jwt-issuers': JSON.stringify([{ issuer: 'https://idp.test', audiences: ['ztauthz'], jwks_file: join(dir, 'jwks.json') }]),
    'decision-log-enabled': 'true',
    'decision-log-output': log,
    // The records show the input the policy saw, allows included.
    'decision-log-include-input': 'all',
    'cache-enabled': 'false',
  });
  client = new CheckClient(server.grpcPort);
});
afterAll(async () => {
  client.close();
  await server.stop(1000);
});

const infer = { method: 'POST', path: '/v2/models/fraud-detector/infer' };

describe('identity through the Check path', () => {
  it('a verified token becomes input.identity.user next to the workload', async () => {
    const res = await client.check(checkRequest({ ...infer, principal: FRONTEND, headers: { authorization: `Bearer ${goodToken}` } }));
    expect(res.status?.code ?? 0).toBe(0);
    const r = await lastRecord(1);
    expect(r.input.identity).toMatchObject({
      spiffe_id: FRONTEND,
      source: 'principal',
      namespace: 'web',
      service_account: 'frontend',
      user: { iss: 'https://idp.test', sub: 'alice' },
    });
    expect(r.input.identity.user.claims.tier).toBe('premium');
    expect(r.input.attributes.request.http.headers.authorization).toBeUndefined(); // masked in the record
  });

  it.each([
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`],
    ['garbage', 'not-a-token'],
    ['100 KB token', 'a'.repeat(100 * 1024)],
  ])('%s: 401 with a Bearer challenge before the policy, reason in the record', async (_name, token) => {
    const before = records().length;
    const res = await client.check(checkRequest({ ...infer, principal: FRONTEND, headers: { authorization: `Bearer ${token}` } }));
    expect(res.status?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(res.deniedResponse?.status?.code).toBe('Unauthorized');
    expect(headerValue(res, 'www-authenticate')).toMatch(/^Bearer realm="ztauthz", error="invalid_token"/);
    const r = await lastRecord(before + 1);
    expect(r).toMatchObject({ allowed: false, reason: 'token_invalid', http_status: 401 });
    expect(r.message).toMatch(/token: /);
  });

  it('headers a client can write are never an identity', async () => {
    const before = records().length;
    await client.check(
      checkRequest({
        ...infer,
        headers: {
          'x-spiffe-id': FRONTEND,
          'x-user': 'admin',
          'x-forwarded-client-cert': `By=spiffe://cluster.local/ns/x/sa/y;URI=${FRONTEND}`,
        },
      }),
    );
    const r = await lastRecord(before + 1);
    expect(r.input.identity).toBeNull();
    expect(r.allowed).toBe(false);
  });

  it("a principal that is not a SPIFFE ID (Envoy's DNS/Subject fallback) is no identity", async () => {
    const before = records().length;
    await client.check(checkRequest({ ...infer, principal: 'frontend.web.svc.cluster.local' }));
    const r = await lastRecord(before + 1);
    expect(r.input.identity).toBeNull();
    expect(r.allowed).toBe(false);
  });
});
