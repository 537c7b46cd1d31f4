import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserTokenVerifier, type IssuerOptions, type UserTokenOptions } from '../../src/identity/UserToken.ts';
import { handMade, makeKey, nowS, sign, type TestKey } from './tokens.ts';

const ISS = 'https://idp.example';
const AUD = 'ztauthz';
const SVID_TD = 'cluster.local';

let dir: string;
let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let svidKey: TestKey;
let idpIssuer: IssuerOptions;
let svidIssuer: IssuerOptions;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ztauthz-jwt-'));
  [rsa, ec, ed, svidKey] = await Promise.all([makeKey('RS256', 'rsa1'), makeKey('ES256', 'ec1'), makeKey('EdDSA', 'ed1'), makeKey('ES256', 'svid1')]);
  writeFileSync(join(dir, 'idp.json'), JSON.stringify({ keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] }));
  // A SPIFFE bundle: JWT keys marked use "jwt-svid", next to an X.509 authority.
  writeFileSync(
    join(dir, 'bundle.json'),
    JSON.stringify({
      spiffe_sequence: 1,
      keys: [
        { ...svidKey.publicJwk, use: 'jwt-svid' },
        { kty: 'EC', crv: 'P-256', use: 'x509-svid', x5c: ['MIIB'], x: ec.publicJwk.x, y: ec.publicJwk.y },
      ],
    }),
  );
  idpIssuer = { issuer: ISS, audiences: [AUD, 'other'], jwks_file: join(dir, 'idp.json') };
  svidIssuer = { issuer: '', audiences: [AUD], jwks_file: join(dir, 'bundle.json'), spiffe_trust_domain: SVID_TD, header: 'x-jwt-svid' };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const verifier = (o: Partial<UserTokenOptions> = {}) => new UserTokenVerifier({ issuers: [idpIssuer, svidIssuer], ...o });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, sub: 'alice', aud: AUD, exp: nowS() + 600, iat: nowS(), ...extra });
const challenge = (d: string) => `Bearer realm="ztauthz", error="invalid_token", error_description="${d}"`;

async function rejects(headers: Record<string, string>, reason: string, description = 'The access token is invalid') {
  const r = await verifier().verify(headers);
  expect(r.user).toBeNull();
  expect(r.error).toEqual({ status: 401, code: 'token_invalid', wwwAuthenticate: challenge(description), reason });
  expect(r.deny).toBe(true);
  return r;
}

describe('valid tokens', () => {
  it.each(['RS256', 'ES256', 'EdDSA'])('verifies %s and returns the user and exp', async (alg) => {
    const key = { RS256: rsa, ES256: ec, EdDSA: ed }[alg] as TestKey;
    const c = claims({ aud: [AUD, 'x'], groups: ['ml'] });
    const r = await verifier().verify(bearer(await sign(key, c)));
    expect(r).toEqual({
      user: { iss: ISS, sub: 'alice', aud: [AUD, 'x'], claims: c, spiffe: undefined },
      expiresAt: c.exp,
      deny: false,
    });
  });

  it('gives no user and no error without a token, or with another scheme', async () => {
    expect(await verifier().verify({})).toEqual({ user: null, deny: false });
    expect(await verifier().verify({ authorization: 'Basic YWxpY2U6cHc=' })).toEqual({ user: null, deny: false });
    expect(await verifier().verify({ authorization: '' })).toEqual({ user: null, deny: false });
  });

  it('accepts the scheme name in any case', async () => {
    const r = await verifier().verify({ authorization: `bEaReR ${await sign(rsa, claims())}` });
    expect(r.user?.sub).toBe('alice');
  });

  it('honours the clock tolerance', async () => {
    const t = await sign(rsa, claims({ exp: nowS() - 10 }));
    expect((await verifier().verify(bearer(t))).user?.sub).toBe('alice');
  });
});

describe('invalid tokens: an error with a reason, never a user', () => {
  it('alg: none', async () => {
    await rejects(bearer(handMade({ alg: 'none', typ: 'JWT' }, claims(), null)), 'token: algorithm not allowed');
  });

  it('HS256 signed with the RSA public key as the HMAC secret', async () => {
    const pem = createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    await rejects(bearer(handMade({ alg: 'HS256', kid: 'rsa1', typ: 'JWT' }, claims(), pem)), 'token: algorithm not allowed');
  });

  it('an unknown kid', async () => {
    const stranger = await makeKey('RS256', 'nobody');
    await rejects(bearer(await sign(stranger, claims())), 'token: no key for its kid');
  });

  it.each(['jku', 'x5u'])('a %s header, even on a correctly signed token', async (param) => {
    await rejects(bearer(await sign(rsa, claims(), { [param]: 'https://attacker.example/keys' })), `token: header parameter ${param} not allowed`);
  });

  it('an embedded jwk header, even naming the right key', async () => {
    await rejects(bearer(await sign(rsa, claims(), { jwk: rsa.publicJwk })), 'token: header parameter jwk not allowed');
  });

  it('a forged signature (signed by another key under a known kid)', async () => {
    const stranger = await makeKey('RS256', 'rsa1');
    await rejects(bearer(await sign(stranger, claims())), 'token: signature invalid');
  });

  it('expired', async () => {
    await rejects(bearer(await sign(rsa, claims({ exp: nowS() - 3600 }))), 'token: expired', 'The access token expired');
  });

  it('not yet valid', async () => {
    await rejects(bearer(await sign(rsa, claims({ nbf: nowS() + 3600 }))), 'token: nbf in the future', 'The access token is not valid yet');
  });

  it.each([
    ['an hour', 3600],
    ['ten years', 10 * 365 * 86400],
    ['a minute (past the 30 s clock tolerance)', 60],
  ])('issued in the future: iat %s ahead', async (_name, ahead) => {
    await rejects(bearer(await sign(rsa, claims({ iat: nowS() + ahead, exp: nowS() + ahead + 600 }))), 'token: iat in the future');
  });

  it('accepts an iat ahead by less than the clock tolerance, and a token without iat', async () => {
    expect((await verifier().verify(bearer(await sign(rsa, claims({ iat: nowS() + 20 }))))).user?.sub).toBe('alice');
    expect((await verifier().verify(bearer(await sign(rsa, claims({ iat: undefined }))))).user?.sub).toBe('alice');
  });

  it('a wrong audience', async () => {
    await rejects(bearer(await sign(rsa, claims({ aud: 'someone-else' }))), 'token: aud not accepted');
  });

  it('a wrong issuer', async () => {
    await rejects(bearer(await sign(rsa, claims({ iss: 'https://evil.example' }))), 'token: issuer not accepted');
    await rejects(bearer(await sign(rsa, claims({ iss: 42 }))), 'token: issuer not accepted');
  });

  it.each(['exp', 'sub', 'aud'])('a missing %s claim', async (claim) => {
    await rejects(bearer(await sign(rsa, claims({ [claim]: undefined }))), `token: missing claim ${claim}`);
  });

  it.each([
    ['a numeric sub', { sub: 42 }, 'token: sub is not a string'],
    ['a non-string audience next to ours', { aud: [AUD, 5] }, 'token: aud is not a list of strings'],
    ['a string nbf', { nbf: 'soon' }, 'token: claim nbf malformed'],
    ['a string exp', { exp: 'later' }, 'token: claim exp malformed'],
  ])('%s', async (_name, extra, reason) => {
    await rejects(bearer(await sign(rsa, claims(extra))), reason);
  });

  it('a 100 KB token, refused before any decoding', async () => {
    const big = `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`;
    await rejects(bearer(big), 'token: larger than max_token_bytes', 'The access token is too large');
    await rejects({ authorization: `Bearer ${'x'.repeat(9000)}` }, 'token: larger than max_token_bytes', 'The access token is too large');
  });

  it.each([
    ['garbage', 'Bearer garbage', 'token: not a compact JWS'],
    ['a JWE (5 parts)', 'Bearer a.b.c.d.e', 'token: not a compact JWS'],
    ['a header that is not JSON', 'Bearer bm90IGpzb24.e30.c2ln', 'token: malformed header'],
    ['a payload that is not JSON', `Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}.bm9wZQ.c2ln`, 'token: malformed payload'],
    ['two credentials (repeated header)', 'Bearer a.b.c,Bearer d.e.f', 'token: malformed Bearer credentials'],
    ['an empty Bearer', 'Bearer', 'token: malformed Bearer credentials'],
  ])('%s', async (_name, value, reason) => {
    await rejects({ authorization: value }, reason, 'The access token is malformed');
  });

  it('never echoes the token or its claims in the challenge', async () => {
    const t = await sign(rsa, claims({ sub: 'secret-subject', exp: nowS() - 3600 }));
    const r = await verifier().verify(bearer(t));
    expect(r.error?.wwwAuthenticate).not.toContain('secret-subject');
    expect(JSON.stringify(r.error)).not.toContain(t.split('.')[1]);
  });

  it("leaves the verdict to the policy with invalid: 'policy'", async () => {
    const r = await verifier({ invalid: 'policy' }).verify(bearer('garbage'));
    expect(r).toMatchObject({ user: null, deny: false, error: { reason: 'token: not a compact JWS' } });
  });
});

describe('JWT-SVIDs', () => {
  const svidClaims = (extra: Record<string, unknown> = {}) => ({ sub: 'spiffe://cluster.local/ns/web/sa/frontend', aud: AUD, exp: nowS() + 300, ...extra });
  const svid = (t: string) => ({ 'x-jwt-svid': t });

  it('verifies with keys marked use "jwt-svid" and returns the SPIFFE ID', async () => {
    const r = await verifier().verify(svid(await sign(svidKey, svidClaims())));
    expect(r.user).toMatchObject({
      iss: 'spiffe://cluster.local',
      sub: 'spiffe://cluster.local/ns/web/sa/frontend',
      spiffe: { trust_domain: 'cluster.local', namespace: 'web', service_account: 'frontend' },
    });
    // typ absent and JOSE are fine too.
    expect((await verifier().verify(svid(await sign(svidKey, svidClaims(), { typ: undefined })))).user).not.toBeNull();
    expect((await verifier().verify(svid(await sign(svidKey, svidClaims(), { typ: 'JOSE' })))).user).not.toBeNull();
    // iss is informational for an entry with issuer "": the bundle decides.
    expect((await verifier().verify(svid(await sign(svidKey, svidClaims({ iss: 'https://spire.example' }))))).user?.iss).toBe('https://spire.example');
  });

  it.each([
    ['a sub from another trust domain', svidClaims({ sub: 'spiffe://evil.example/ns/web/sa/frontend' }), {}, 'token: issuer not accepted'],
    ['a sub that is not a SPIFFE ID', svidClaims({ sub: 'frontend' }), {}, 'token: issuer not accepted'],
    ['an extra header parameter', svidClaims(), { cty: 'JWT' }, 'token: JWT-SVID header parameter cty not allowed'],
    ['typ at+jwt', svidClaims(), { typ: 'at+jwt' }, 'token: JWT-SVID typ not allowed'],
    ['a missing aud', svidClaims({ aud: undefined }), {}, 'token: missing claim aud'],
  ])('rejects %s', async (_name, c, header, reason) => {
    const r = await verifier().verify(svid(await sign(svidKey, c, header)));
    expect(r).toMatchObject({ user: null, error: { reason } });
  });

  it('rejects EdDSA, which the JWT-SVID standard does not allow', async () => {
    const edSvid = await makeKey('EdDSA', 'svid1');
    const r = await verifier().verify(svid(await sign(edSvid, svidClaims())));
    expect(r.error?.reason).toBe('token: algorithm not allowed');
  });

  it('does not use keys marked x509-svid', async () => {
    // ec's public key sits in the bundle as an x509-svid entry only. Without a
    // kid, jose would report two candidate keys if that entry were kept.
    const r = await verifier().verify(svid(await sign(ec, svidClaims(), { kid: undefined })));
    expect(r.error?.reason).toBe('token: signature invalid');
  });

  it('checks an iss when the issuer entry names one', async () => {
    const v = new UserTokenVerifier({ issuers: [{ ...svidIssuer, issuer: 'https://spire.example' }] });
    expect((await v.verify(svid(await sign(svidKey, svidClaims({ iss: 'https://spire.example' }))))).user?.iss).toBe('https://spire.example');
    expect((await v.verify(svid(await sign(svidKey, svidClaims())))).error?.reason).toBe('token: issuer not accepted');
  });
});

describe('configuration', () => {
  it.each([
    ['a symmetric algorithm', { algorithms: ['HS256'] }, /algorithm HS256 not allowed/],
    ['alg none', { algorithms: ['none'] }, /algorithm none not allowed/],
    ['no key source', { jwks_file: undefined }, /exactly one of jwks_file and jwks_url/],
    ['two key sources', { jwks_url: 'https://idp.example/jwks' }, /exactly one of jwks_file and jwks_url/],
    ['no audience', { audiences: [] }, /audiences must not be empty/],
    ['an empty issuer', { issuer: '' }, /issuer is required/],
    ['a missing JWKS file', { jwks_file: '/nonexistent/jwks.json' }, /ENOENT/],
    ['a bad trust domain', { spiffe_trust_domain: 'Bad' }, /spiffe_trust_domain/],
    ['a JWKS URL that is not http(s)', { jwks_file: undefined, jwks_url: 'file:///etc/passwd' }, /must be http\(s\)/],
  ])('refuses %s', (_name, patch, message) => {
    expect(() => new UserTokenVerifier({ issuers: [{ ...idpIssuer, ...patch }] })).toThrow(message);
  });

  it('refuses an issuer listed twice for one header', () => {
    expect(() => new UserTokenVerifier({ issuers: [idpIssuer, idpIssuer] })).toThrow(/listed twice/);
  });
});
