import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { normalizeJwks } from '../../src/identity/Jwks.ts';
import { UserTokenVerifier, type UserTokenOptions } from '../../src/identity/UserToken.ts';
import { makeKey, nowS, sign, startJwksServer, type JwksServer, type TestKey } from './tokens.ts';

const ISS = 'https://idp.example';
const AUD = 'ztauthz';

let server: JwksServer;
let k1: TestKey;
let k2: TestKey;

beforeAll(async () => {
  server = await startJwksServer();
  [k1, k2] = await Promise.all([makeKey('RS256', 'k1'), makeKey('ES256', 'k2')]);
});
afterAll(() => server.close());

// jose's remote key set caches on Date.now: the tests move Date (only Date: timers, and so fetch timeouts, stay real).
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A verifier on `path` of the test server, with a clock the test moves. */
function remote(path: string, o: Partial<UserTokenOptions> = {}) {
  const clock = {
    get now(): number {
      return Date.now();
    },
    set now(ms: number) {
      vi.setSystemTime(ms);
    },
  };
  const v = new UserTokenVerifier({
    issuers: [{ issuer: ISS, audiences: [AUD], jwks_url: `${server.url}${path}` }],
    jwks_cooldown_ms: 30_000,
    jwks_cache_ms: 600_000,
    now: () => clock.now,
    ...o,
  });
  return { v, clock };
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const token = (k: TestKey) => sign(k, { iss: ISS, sub: 'bob', aud: AUD, exp: nowS() + 3600 });
const fetches = (path: string) => server.hits.get(path) ?? 0;

describe('remote JWKS', () => {
  it('fetches once for many requests, concurrent or not', async () => {
    server.body = JSON.stringify({ keys: [k1.publicJwk] });
    server.hits.clear();
    const { v } = remote('/jwks');
    const t = await token(k1);
    const results = await Promise.all(Array.from({ length: 20 }, () => v.verify(bearer(t))));
    expect(results.every((r) => r.user?.sub === 'bob')).toBe(true);
    for (let i = 0; i < 20; i++) expect((await v.verify(bearer(t))).user?.sub).toBe('bob');
    expect(fetches('/jwks')).toBe(1);
  });

  it('refetches for an unknown kid at most once per cooldown, and picks up a rotated key', async () => {
    server.body = JSON.stringify({ keys: [k1.publicJwk] });
    server.hits.clear();
    const { v, clock } = remote('/jwks');
    expect((await v.verify(bearer(await token(k1)))).user).not.toBeNull();
    expect(fetches('/jwks')).toBe(1);

    // The IdP rotates in k2. Within the cooldown, an unknown kid is just unknown.
    server.body = JSON.stringify({ keys: [k1.publicJwk, k2.publicJwk] });
    const t2 = await token(k2);
    for (let i = 0; i < 10; i++) expect((await v.verify(bearer(t2))).error?.reason).toBe('token: no key for its kid');
    expect(fetches('/jwks')).toBe(1);

    // After the cooldown, the first unknown kid triggers one refetch.
    clock.now += 31_000;
    expect((await v.verify(bearer(t2))).user?.sub).toBe('bob');
    expect(fetches('/jwks')).toBe(2);

    // A kid nobody has: refused without another fetch until the cooldown passes again.
    const stranger = await token(await makeKey('RS256', 'nobody'));
    for (let i = 0; i < 10; i++) expect((await v.verify(bearer(stranger))).error?.reason).toBe('token: no key for its kid');
    expect(fetches('/jwks')).toBe(2);
    clock.now += 31_000;
    await v.verify(bearer(stranger));
    await v.verify(bearer(stranger));
    expect(fetches('/jwks')).toBe(3);
  });

  it('refetches when the cached set is older than jwks_cache_ms, keeping old keys if that fails', async () => {
    server.body = JSON.stringify({ keys: [k1.publicJwk] });
    server.hits.clear();
    const { v, clock } = remote('/jwks');
    const t = await token(k1);
    await v.verify(bearer(t));
    clock.now += 599_000;
    await v.verify(bearer(t));
    expect(fetches('/jwks')).toBe(1);
    clock.now += 2_000;
    await v.verify(bearer(t));
    expect(fetches('/jwks')).toBe(2);

    // The IdP now serves garbage: the previous keys stay in use.
    server.body = 'not json';
    clock.now += 601_000;
    expect((await v.verify(bearer(t))).user?.sub).toBe('bob');
    expect(fetches('/jwks')).toBe(3);
    expect((await v.verify(bearer(t))).user?.sub).toBe('bob');
    expect(fetches('/jwks')).toBe(3);
  });

  it.each([
    ['an HTTP error', '/status/500'],
    ['a redirect', '/redirect'],
    ['an oversized body', '/huge'],
    ['a timeout', '/hang'],
  ])('reports keys unavailable on %s, without fetching per request', async (_name, path) => {
    server.hits.clear();
    const { v } = remote(path, { jwks_timeout_ms: 300 });
    const t = await token(k1);
    for (let i = 0; i < 3; i++) {
      const r = await v.verify(bearer(t));
      expect(r.user).toBeNull();
      expect(r.error).toMatchObject({ status: 401, code: 'token_keys_unavailable' });
      expect(r.error?.reason).toMatch(/^token: signing keys unavailable \(JWKS fetch failed: /);
      expect(r.error?.wwwAuthenticate).toContain('error_description="The access token could not be verified"');
    }
    expect(fetches(path)).toBe(1);
  });

  it('tries a failed fetch again once the cooldown has passed, and recovers', async () => {
    server.body = 'not json';
    server.hits.clear();
    const { v, clock } = remote('/jwks');
    const t = await token(k1);
    expect((await v.verify(bearer(t))).error?.code).toBe('token_keys_unavailable');
    server.body = JSON.stringify({ keys: [k1.publicJwk] });
    clock.now += 29_000;
    expect((await v.verify(bearer(t))).error?.code).toBe('token_keys_unavailable');
    expect(fetches('/jwks')).toBe(1);
    clock.now += 2_000;
    expect((await v.verify(bearer(t))).user?.sub).toBe('bob');
    expect(fetches('/jwks')).toBe(2);
  });

  it('refuses a fetched set of more than 100 keys as unavailable keys', async () => {
    server.body = JSON.stringify({ keys: Array.from({ length: 101 }, () => k1.publicJwk) });
    server.hits.clear();
    const { v } = remote('/jwks');
    const r = await v.verify(bearer(await token(k1)));
    expect(r.error?.reason).toBe('token: signing keys unavailable (JWKS fetch failed: JWKS has more than 100 keys)');
  });

  it('does not fetch at all for tokens refused before key lookup', async () => {
    server.hits.clear();
    const { v } = remote('/jwks');
    await v.verify(bearer('garbage'));
    await v.verify(bearer(await sign(k1, { iss: 'https://other.example', sub: 'x', aud: AUD, exp: nowS() + 60 })));
    await v.verify(bearer(await sign(k1, { iss: ISS, sub: 'x', aud: AUD, exp: nowS() + 60 }, { jku: `${server.url}/jwks` })));
    expect(fetches('/jwks')).toBe(0);
  });
});

describe('normalizeJwks', () => {
  it('maps SPIFFE jwt-svid keys to sig and drops everything that is not a public signing key', () => {
    const ec = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };
    expect(
      normalizeJwks({
        keys: [
          { ...ec, kid: 'a', use: 'jwt-svid' },
          { ...ec, kid: 'b', use: 'x509-svid', x5c: ['MII'] },
          { ...ec, kid: 'c', use: 'enc' },
          { ...ec, kid: 'd' },
          { ...ec, kid: 'e', use: 'sig' },
          { kty: 'oct', k: 'c2VjcmV0', kid: 'f' },
          { ...ec, kid: 'g', d: 'private' },
          'junk',
          null,
        ],
      }),
    ).toEqual({
      keys: [
        { ...ec, kid: 'a', use: 'sig' },
        { ...ec, kid: 'd' },
        { ...ec, kid: 'e', use: 'sig' },
      ],
    });
  });

  it('refuses what is not a key set', () => {
    expect(() => normalizeJwks({})).toThrow('not a JWKS');
    expect(() => normalizeJwks(null)).toThrow('not a JWKS');
    expect(() => normalizeJwks({ keys: Array(101).fill({}) })).toThrow('more than 100 keys');
  });
});
