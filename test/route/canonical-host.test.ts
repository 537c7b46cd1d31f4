import { describe, expect, it } from 'vitest';
import { canonicalHost } from '../../src/route/CanonicalHost.ts';
import { CheckError } from '../../src/types/Reason.ts';

function rejection(authority: string, headers: Record<string, string> = {}): CheckError {
  try {
    canonicalHost(authority, headers);
  } catch (err) {
    expect(err).toBeInstanceOf(CheckError);
    return err as CheckError;
  }
  throw new Error(`${JSON.stringify(authority)} was accepted`);
}

describe('CanonicalHost: the host attacks of attacks.md compare equal to the real host', () => {
  it.each([
    ['Host: Secret.com (case)', 'Secret.com', { host: 'secret.com', port: null }],
    ['Host: svc:80 (port)', 'svc:80', { host: 'svc', port: 80 }],
    ['Host: svc. (trailing dot)', 'svc.', { host: 'svc', port: null }],
    ['all three at once', 'SVC.NS.svc.cluster.local.:8080', { host: 'svc.ns.svc.cluster.local', port: 8080 }],
  ])('%s', (_what, authority, expected) => {
    expect(canonicalHost(authority, {})).toEqual(expected);
  });

  it('plain hosts and IP literals pass through', () => {
    expect(canonicalHost('fraud-detector.ml-serving.svc.cluster.local', {})).toEqual({ host: 'fraud-detector.ml-serving.svc.cluster.local', port: null });
    expect(canonicalHost('10.0.0.1:9000', {})).toEqual({ host: '10.0.0.1', port: 9000 });
    expect(canonicalHost('[::1]:8443', {})).toEqual({ host: '[::1]', port: 8443 });
    expect(canonicalHost('[FE80::1]', {})).toEqual({ host: '[fe80::1]', port: null });
    expect(canonicalHost('my_svc', {})).toEqual({ host: 'my_svc', port: null });
  });

  it('no host at all is the empty host, not an error (HTTP/1.0)', () => {
    expect(canonicalHost('', {})).toEqual({ host: '', port: null });
  });
});

describe('CanonicalHost: refused', () => {
  it.each([
    ['only one trailing dot is dropped', 'svc..'],
    ['empty label', 'a..b'],
    ['leading dot', '.svc'],
    ['empty port', 'svc:'],
    ['port with a leading zero', 'svc:080'],
    ['port out of range', 'svc:65536'],
    ['port zero', 'svc:0'],
    ['two colons', 'svc:80:81'],
    ['repeated host headers, joined by Envoy', 'a.com,b.com'],
    ['userinfo', 'user@svc'],
    ['percent-encoding', 'sv%63'],
    ['space', 'svc com'],
    ['NUL', 'svc\x00.evil'],
    ['non-ASCII', 'bücher.example'],
    ['unclosed IPv6 literal', '[::1'],
    ['bad IPv6 literal', '[zz::1]'],
    ['text after an IPv6 literal', '[::1]x'],
  ])('%s', (_what, authority) => {
    expect(rejection(authority).reason).toBe('host_rejected');
  });

  it('over-long values', () => {
    expect(rejection(`${'a'.repeat(301)}`).message).toMatch(/longer than 300/);
  });
});

describe('CanonicalHost: host header vs :authority', () => {
  it('agreeing values (after canonicalisation) are fine', () => {
    expect(canonicalHost('svc', { ':authority': 'svc', host: 'SVC.' })).toEqual({ host: 'svc', port: null });
    expect(canonicalHost('svc:80', { host: 'svc:80' })).toEqual({ host: 'svc', port: 80 });
  });

  it('conflicting values are refused, naming both', () => {
    const err = rejection('public.example', { host: 'secret.example' });
    expect(err.reason).toBe('host_rejected');
    expect(err.message).toMatch(/host header "secret.example" conflicts with :authority "public.example"/);
    expect(rejection('svc', { ':authority': 'other' }).message).toMatch(/:authority header "other" conflicts/);
    // An explicit port is a different authority to some servers: no guessing.
    expect(rejection('svc', { host: 'svc:8080' }).reason).toBe('host_rejected');
  });

  it('a host header alone names the host', () => {
    expect(canonicalHost('', { host: 'Svc:81' })).toEqual({ host: 'svc', port: 81 });
  });

  it('a malformed header is refused even when :authority is fine', () => {
    expect(rejection('svc', { host: 'svc..' }).reason).toBe('host_rejected');
  });
});
