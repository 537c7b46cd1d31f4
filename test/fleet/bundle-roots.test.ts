// OPA's manifest-roots rules as ztauthz applies them between bundles: overlap
// is by whole path segments, and data must lie under one of the bundle's roots.
import { describe, expect, it } from 'vitest';
import { checkDataWithinRoots, checkRootsDisjoint, rootsOverlap, type BundlePart } from '../../src/policy/remote/BundleParts.ts';

const part = (name: string, roots: string[]): BundlePart => ({ name, roots, revision: 'r', kind: 'data', bytes: new Uint8Array() });

describe('bundle roots', () => {
  it('overlap by whole segments; "" overlaps everything', () => {
    expect(rootsOverlap('a/b', 'a/b/c')).toBe(true);
    expect(rootsOverlap('a/b', 'a/b')).toBe(true);
    expect(rootsOverlap('a/b', 'a/bc')).toBe(false);
    expect(rootsOverlap('grants', 'envoy')).toBe(false);
    expect(rootsOverlap('', 'envoy')).toBe(true);
  });

  it('refuses overlapping bundles naming both and the roots', () => {
    expect(() => checkRootsDisjoint([part('authz', ['envoy']), part('grants', ['grants', 'envoy/x'])])).toThrow(
      'bundles authz and grants have overlapping roots: "envoy" and "envoy/x"',
    );
    expect(() => checkRootsDisjoint([part('authz', ['envoy']), part('a', ['grants/a']), part('b', ['grants/b'])])).not.toThrow();
  });

  it('takes data under a root, walks objects on the way to one, refuses the rest', () => {
    const p = part('grants', ['grants/teams', 'models']);
    expect(() => checkDataWithinRoots(p, { grants: { teams: { a: 1 } }, models: [1, 2] })).not.toThrow();
    expect(() => checkDataWithinRoots(p, {})).not.toThrow();
    expect(() => checkDataWithinRoots(p, { grants: { users: {} } })).toThrow('bundle grants: data at /grants/users is outside its manifest roots');
    // A value where only an object on the way to a root may be.
    expect(() => checkDataWithinRoots(p, { grants: 1 })).toThrow('data at /grants is outside');
    expect(() => checkDataWithinRoots(part('all', ['']), { anything: 1 })).not.toThrow();
  });
});
