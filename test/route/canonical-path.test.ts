import { describe, expect, it } from 'vitest';
import { canonicalPath } from '../../src/route/CanonicalPath.ts';
import { CheckError, Reason } from '../../src/types/Reason.ts';

const OPTS = { maxPathBytes: 8192 };

/** parsed_path as ztauthz computed it before canonicalisation (split on "/", then decode each segment): the compatibility reference. */
function splitThenDecode(path: string): string[] {
  return path
    .slice(1)
    .split('/')
    .map((seg) => decodeURIComponent(seg));
}

function canon(target: string, method = 'GET') {
  return canonicalPath(method, target, OPTS);
}

function rejection(target: string, method = 'GET'): CheckError {
  try {
    canon(target, method);
  } catch (err) {
    expect(err).toBeInstanceOf(CheckError);
    return err as CheckError;
  }
  throw new Error(`${JSON.stringify(target)} was accepted`);
}

describe('CanonicalPath: the attack paths of attacks.md are refused', () => {
  it.each([
    ['/info/../private', /dot segment "\.\."/],
    ['/public/../admin', /dot segment/],
    ['//admin', /empty path segment/],
    ['//admin/secret', /empty path segment/],
    ['/admin%2Fsecret', /encoded "\/" \(%2F\)/],
    ['/admin%2fsecret', /encoded "\/" \(%2F\)/],
    ['/admin%5Csecret', /encoded "\\" \(%5C\)/],
    ['/admin%5csecret', /encoded "\\" \(%5C\)/],
    ['/admin\\secret', /"\\" at byte 6/],
    ['/user/profile#section1', /"#" at byte 13: a fragment/],
    ['/v1/..;/internal', /";" at byte 6: path parameters/],
  ])('%s', (target, message) => {
    const err = rejection(target);
    expect(err.reason).toBe('path_rejected');
    expect(err.message).toMatch(message);
  });

  it('and their benign neighbours are accepted', () => {
    expect(canon('/info/private').segments).toEqual(['info', 'private']);
    expect(canon('/admin/secret').segments).toEqual(['admin', 'secret']);
    expect(canon('/user/profile').segments).toEqual(['user', 'profile']);
    expect(canon('/v1/internal').segments).toEqual(['v1', 'internal']);
  });
});

describe('CanonicalPath: each rule, both verdicts', () => {
  it.each([
    // [rule, refused, accepted]
    ['encoded NUL', '/a%00b', '/a%20b'],
    ['encoded percent (double encoding)', '/a%252Fb', '/a%2Db'],
    ['encoded ";"', '/a%3Bb', '/a%3Ab'],
    ['encoded "?"', '/a%3Fb', '/a%40b'],
    ['encoded "#"', '/a%23b', '/a%24b'],
    ['encoded control byte', '/a%0Ab', '/a%41b'],
    ['encoded DEL', '/a%7Fb', '/a%7Eb'],
    ['encoded non-ASCII (overlong "/")', '/a%C0%AFb', '/a%2Eb'],
    ['literal control byte', '/a\tb', '/a-b'],
    ['literal DEL', '/a\x7fb', '/a~b'],
    ['literal NUL', '/a\x00b', '/ab'],
    ['literal non-ASCII', '/modèle', '/mod%20le'],
    ['literal space', '/a b', '/a%20b'],
    ['characters outside RFC 3986', '/a{b}', "/a!$&'()*+,=:@b"],
    ['empty segment in the middle', '/a//b', '/a/b/'],
    ['dot segment', '/a/./b', '/a/.b'],
    ['dot-dot segment', '/a/../b', '/a/...'],
    ['encoded dot-dot', '/a/%2e%2e/b', '/a/%2e%2ex/b'],
    ['half-encoded dot-dot', '/a/.%2E', '/a/.%2Ex'],
    ['encoded single dot', '/a/%2E/b', '/a/%2E%2E%2E/b'],
    ['trailing dot segment', '/a/..', '/a/..b'],
    ['bad percent-encoding', '/a%zzb', '/a%7Ab'],
    ['truncated percent-encoding', '/a%4', '/a%41'],
    ['percent before the query', '/a%?x=1', '/a%41?x=1'],
    ['fragment after the query', '/a?x=1#top', '/a?x=1'],
    ['";" in the query', '/a?x=1;y=2', '/a?x=1&y=2'],
    ['%00 in the query', '/a?x=%00', '/a?x=%2F'],
    ['bad escape in the query', '/a?x=%G1', '/a?x=%41'],
    ['non-ASCII in the query', '/a?x=é', '/a?x=%C3%A9'],
    ['space in the query', '/a?x=a b', '/a?x=a+b'],
  ])('%s', (_rule, refused, accepted) => {
    expect(rejection(refused).reason).toBe('path_rejected');
    expect(() => canon(accepted)).not.toThrow();
  });

  it('absolute-form targets are refused, origin-form accepted', () => {
    expect(rejection('http://host/x').message).toMatch(/absolute-form/);
    expect(rejection('https://evil.example/admin').message).toMatch(/absolute-form/);
    expect(rejection('host:443').message).toMatch(/does not start with "\/"/);
    expect(rejection('').message).toMatch(/empty request target/);
    // The same text as a path is just a path with an empty segment, which is refused on its own account.
    expect(rejection('/http://host/x').message).toMatch(/empty path segment/);
    expect(canon('/http:/host/x').segments).toEqual(['http:', 'host', 'x']);
  });

  it('asterisk-form only for OPTIONS', () => {
    expect(canon('*', 'OPTIONS')).toEqual({ path: '*', segments: [], query: '' });
    expect(rejection('*', 'GET').message).toMatch(/only meaningful for OPTIONS/);
    expect(rejection('*', 'POST').reason).toBe('path_rejected');
  });

  it('over-long targets are request_too_large, the limit itself is fine', () => {
    const limit = 64;
    const ok = `/${'a'.repeat(limit - 1)}`;
    expect(canonicalPath('GET', ok, { maxPathBytes: limit }).path).toBe(ok);
    try {
      canonicalPath('GET', `${ok}a`, { maxPathBytes: limit });
      expect.unreachable();
    } catch (err) {
      expect((err as CheckError).reason).toBe(Reason.requestTooLarge);
    }
    // The query counts too: the bound is on the whole target Envoy sends.
    expect(() => canonicalPath('GET', `/a?${'q'.repeat(limit)}`, { maxPathBytes: limit })).toThrow(/longer than 64 bytes/);
  });
});

describe('CanonicalPath: the canonical form', () => {
  it('decodes unreserved escapes once, keeps the others in upper-case hex', () => {
    const c = canon('/v2/models/%66raud%2Ddetector/a%20b/x%3ay/%7Euser?q=%2f');
    expect(c.path).toBe('/v2/models/fraud-detector/a%20b/x%3Ay/~user');
    expect(c.segments).toEqual(['v2', 'models', 'fraud-detector', 'a b', 'x:y', '~user']);
    expect(c.query).toBe('q=%2f'); // the query stays raw: parsed_query decodes it
  });

  it('returns the target itself when there is nothing to rewrite', () => {
    const target = '/v2/models/fraud/infer';
    expect(canon(target).path).toBe(target);
    expect(canon(`${target}?a=1&b=2`)).toEqual({ path: target, segments: ['v2', 'models', 'fraud', 'infer'], query: 'a=1&b=2' });
  });

  it('decodes once only: an escape that decodes to "%" is refused, not decoded again', () => {
    expect(rejection('/a%2541').message).toMatch(/%25/);
  });

  it('"/" and a trailing slash keep their empty last segment, as opa-envoy-plugin', () => {
    expect(canon('/').segments).toEqual(['']);
    expect(canon('/a/b/').segments).toEqual(['a', 'b', '']);
    expect(canon('/?x=1')).toEqual({ path: '/', segments: [''], query: 'x=1' });
  });

  it('for every accepted path, segments equal the split-then-decode parsed_path policies were written against', () => {
    for (const p of ['/', '/people', '/a/b/', '/v2/models/m/versions/1/infer', '/a%20b/c%3Ad', '/x%41y', '/api/2.0/mlflow/registered-models/get']) {
      expect(canon(p).segments).toEqual(splitThenDecode(p));
    }
  });

  it('where split-then-decode and opa-envoy-plugin go wrong, it refuses instead', () => {
    // opa-envoy-plugin: ["secret"] (CVE-2026-26205); split-then-decode: ["", "admin", "secret"]. Here: refused.
    expect(splitThenDecode('//admin/secret')).toEqual(['', 'admin', 'secret']);
    expect(rejection('//admin/secret').reason).toBe('path_rejected');
    // Split-then-decode makes %2F one segment "a/b", which a backend may split. Here: refused.
    expect(splitThenDecode('/a%2Fb')).toEqual(['a/b']);
    expect(rejection('/a%2Fb').reason).toBe('path_rejected');
  });
});
