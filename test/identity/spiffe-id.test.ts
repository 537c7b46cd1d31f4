import { describe, expect, it } from 'vitest';
import {
  hasIdPrefix,
  isMemberOf,
  isWorkloadId,
  mustParseSpiffeId,
  parseSpiffeId,
  SpiffeIdError,
  trustDomainOf,
  trySpiffeId,
} from '../../src/identity/SpiffeId.ts';
import { prng } from '../support/prng.ts';

const TD255 = 'a'.repeat(255);
// 'spiffe://example.org' is 20 bytes: this path makes the ID exactly 2048.
const LONG_PATH = `/${Array.from({ length: 202 }, () => 'abcdefghi').join('/')}/abcdefg`;

// [input, expected error fragment or null for valid]. Cases follow the SPIFFE
// ID standard (section 2) and the reference implementation's test suite.
const CASES: ReadonlyArray<readonly [string, string | null]> = [
  // valid
  ['spiffe://example.org', null],
  ['spiffe://example.org/workload', null],
  ['spiffe://example.org/ns/default/sa/frontend', null],
  ['spiffe://cluster.local/ns/a-b_c.d/sa/X.Y', null],
  ['spiffe://trust-domain.name_1/path', null],
  ['spiffe://example.org/.a', null],
  ['spiffe://example.org/..a', null],
  ['spiffe://example.org/...', null],
  ['spiffe://example.org/a./b..', null],
  ['spiffe://example.org/UPPER/Case', null],
  ['spiffe://192.168.1.1/ip-as-name', null],
  ['spiffe://localhost/x', null],
  ['spiffe://a/b', null],
  ['spiffe://x_y.z-0/-_.', null],
  [`spiffe://${TD255}/p`, null],
  [`spiffe://example.org${LONG_PATH}`, null],
  // scheme
  ['', 'empty'],
  ['example.org/workload', 'scheme'],
  ['http://example.org/workload', 'scheme'],
  ['SPIFFE://example.org/workload', 'scheme'],
  ['Spiffe://example.org/workload', 'scheme'],
  ['spiffe:/example.org/workload', 'scheme'],
  ['spiffe:example.org/workload', 'scheme'],
  [' spiffe://example.org/workload', 'scheme'],
  ['spiffe//example.org', 'scheme'],
  // trust domain
  ['spiffe://', 'trust domain is missing'],
  ['spiffe:///path', 'trust domain is missing'],
  ['spiffe://Example.org/workload', 'trust domain characters'],
  ['spiffe://EXAMPLE.ORG', 'trust domain characters'],
  ['spiffe://example.org:8080/workload', 'trust domain characters'],
  ['spiffe://user:pass@example.org/workload', 'trust domain characters'],
  ['spiffe://user@example.org/workload', 'trust domain characters'],
  ['spiffe://exa%6Dple.org/workload', 'trust domain characters'],
  ['spiffe://[::1]/workload', 'trust domain characters'],
  ['spiffe://example.org?x=1', 'trust domain characters'],
  ['spiffe://example.org#frag', 'trust domain characters'],
  ['spiffe://exam ple.org/w', 'trust domain characters'],
  ['spiffe://exämple.org/w', 'trust domain characters'],
  [`spiffe://${TD255}a/p`, 'longer than 255'],
  // path
  ['spiffe://example.org/', 'trailing slash'],
  ['spiffe://example.org/workload/', 'trailing slash'],
  ['spiffe://example.org//workload', 'empty segments'],
  ['spiffe://example.org/a//b', 'empty segments'],
  ['spiffe://example.org/.', 'dot segments'],
  ['spiffe://example.org/..', 'dot segments'],
  ['spiffe://example.org/a/./b', 'dot segments'],
  ['spiffe://example.org/a/../b', 'dot segments'],
  ['spiffe://example.org/a/..', 'dot segments'],
  ['spiffe://example.org/path%2Fencoded', 'path segment characters'],
  ['spiffe://example.org/elem%5uent', 'path segment characters'],
  ['spiffe://example.org/workload?query=1', 'path segment characters'],
  ['spiffe://example.org/workload#fragment', 'path segment characters'],
  ['spiffe://example.org/work load', 'path segment characters'],
  ['spiffe://example.org/a\\b', 'path segment characters'],
  ['spiffe://example.org/a;b', 'path segment characters'],
  ['spiffe://example.org/a:b', 'path segment characters'],
  ['spiffe://example.org/wörk', 'path segment characters'],
  ['spiffe://example.org/a\u0000b', 'path segment characters'],
  ['spiffe://example.org/a,b', 'path segment characters'],
  // length of the whole ID
  [`spiffe://example.org${LONG_PATH}a`, 'longer than 2048'],
];

describe('parseSpiffeId (SPIFFE ID standard)', () => {
  it('has a table of at least 40 cases with both verdicts', () => {
    expect(`spiffe://example.org${LONG_PATH}`.length).toBe(2048);
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(CASES.some(([, e]) => e === null)).toBe(true);
    expect(CASES.some(([, e]) => e !== null)).toBe(true);
  });

  const rows = CASES.map(([input, expected]) => ({
    input,
    expected,
    label: input.length > 80 ? `${JSON.stringify(input.slice(0, 40))}… (${input.length} bytes)` : JSON.stringify(input),
  }));
  it.each(rows)('$label -> $expected', ({ input, expected }) => {
    const r = parseSpiffeId(input);
    if (expected === null) {
      expect(r).not.toBeInstanceOf(SpiffeIdError);
      expect((r as { spiffe_id: string }).spiffe_id).toBe(input);
    } else {
      expect(r).toBeInstanceOf(SpiffeIdError);
      expect((r as SpiffeIdError).message).toContain(expected);
      // Errors never repeat the input (it may be attacker-chosen and is logged).
      if (input.length > 12) expect((r as SpiffeIdError).message).not.toContain(input);
    }
  });

  it('splits trust domain and path and fills Kubernetes parts only for /ns/N/sa/S', () => {
    expect(mustParseSpiffeId('spiffe://cluster.local/ns/web/sa/frontend')).toEqual({
      spiffe_id: 'spiffe://cluster.local/ns/web/sa/frontend',
      trust_domain: 'cluster.local',
      path: '/ns/web/sa/frontend',
      namespace: 'web',
      service_account: 'frontend',
    });
    expect(mustParseSpiffeId('spiffe://example.org')).toMatchObject({ path: '', namespace: null, service_account: null });
    for (const p of ['/ns/web/sa/frontend/extra', '/ns/web/sa', '/ns/web/xx/frontend', '/NS/web/sa/frontend', '/x/ns/web/sa/f']) {
      expect(mustParseSpiffeId(`spiffe://td${p}`)).toMatchObject({ namespace: null, service_account: null });
    }
  });

  it('accepts a path exactly when every segment is non-empty, not a dot segment and in the character class', () => {
    // The standard's rule, segment by segment, as the reference for random paths.
    const valid = (path: string) =>
      path
        .slice(1)
        .split('/')
        .every((seg) => seg !== '' && seg !== '.' && seg !== '..' && /^[A-Za-z0-9._-]+$/.test(seg));
    const rand = prng(0x5b1ff3);
    const alphabet = ['/', '/', '.', '.', 'a', 'Z', '9', '-', '_', '%', ':', ' ', 'é', '\\', '?'];
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let path = '/';
      for (let n = Math.floor(rand() * 9); n > 0; n--) path += alphabet[Math.floor(rand() * alphabet.length)];
      const r = parseSpiffeId(`spiffe://td${path}`);
      expect(r instanceof SpiffeIdError, path).toBe(!valid(path));
      if (!(r instanceof SpiffeIdError)) accepted++;
    }
    expect(accepted).toBeGreaterThan(200);
  });

  it('has throwing and null-returning variants', () => {
    expect(() => mustParseSpiffeId('spiffe://Bad')).toThrow(SpiffeIdError);
    expect(trySpiffeId('spiffe://td/x')?.trust_domain).toBe('td');
    expect(trySpiffeId('nope')).toBeNull();
    expect(trySpiffeId(42)).toBeNull();
    expect(isWorkloadId(mustParseSpiffeId('spiffe://td'))).toBe(false);
    expect(isWorkloadId(mustParseSpiffeId('spiffe://td/w'))).toBe(true);
  });
});

describe('trust domain membership and prefixes', () => {
  it('trustDomainOf returns the trust domain of valid IDs only', () => {
    expect(trustDomainOf('spiffe://example.org/a/b')).toBe('example.org');
    expect(trustDomainOf('spiffe://example.org')).toBe('example.org');
    expect(trustDomainOf('spiffe://Example.org/a')).toBeNull();
    expect(trustDomainOf('https://example.org/a')).toBeNull();
  });

  it('isMemberOf compares the whole trust domain', () => {
    expect(isMemberOf('spiffe://example.org/a', 'example.org')).toBe(true);
    expect(isMemberOf(mustParseSpiffeId('spiffe://example.org/a'), 'example.org')).toBe(true);
    expect(isMemberOf('spiffe://example.org.evil/a', 'example.org')).toBe(false);
    expect(isMemberOf('spiffe://sub.example.org/a', 'example.org')).toBe(false);
    expect(isMemberOf('spiffe://example.or/a', 'example.org')).toBe(false);
    expect(isMemberOf('spiffe://example.org:443/a', 'example.org')).toBe(false);
  });

  it('hasIdPrefix matches on segment boundaries only', () => {
    expect(hasIdPrefix('spiffe://td/ns/web/sa/x', 'spiffe://td/ns/web')).toBe(true);
    expect(hasIdPrefix('spiffe://td/ns/web', 'spiffe://td/ns/web')).toBe(true);
    expect(hasIdPrefix('spiffe://td/ns/webhook/sa/x', 'spiffe://td/ns/web')).toBe(false);
    expect(hasIdPrefix('spiffe://td/ns/web', 'spiffe://td/ns/web/sa')).toBe(false);
    expect(hasIdPrefix('spiffe://td/anything', 'spiffe://td')).toBe(true);
    expect(hasIdPrefix('spiffe://td2/ns/web', 'spiffe://td/ns/web')).toBe(false);
    expect(hasIdPrefix('spiffe://td.evil/ns/web', 'spiffe://td')).toBe(false);
    expect(hasIdPrefix('spiffe://td/ns/web', 'spiffe://td/ns/web/')).toBe(false); // invalid prefix
    expect(hasIdPrefix('spiffe://td/ns/../web', 'spiffe://td/ns')).toBe(false); // invalid ID
  });
});
