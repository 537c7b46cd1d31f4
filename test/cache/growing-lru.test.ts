// The caches grow with their contents instead of preallocating for
// cache.max_entries, and still keep both bounds: entries (least recently used
// out first, counted as evictions) and bytes.
import { describe, expect, it } from 'vitest';
import { GrowingLru } from '../../src/cache/GrowingLru.ts';
import { DecisionCache } from '../../src/cache/DecisionCache.ts';
import { RequestShortcut, type Remembered } from '../../src/cache/RequestShortcut.ts';
import { denial } from '../../src/types/Decision.ts';

describe('GrowingLru', () => {
  it('keeps at most maxEntries, evicting the least recently used', () => {
    const evicted: string[] = [];
    const lru = new GrowingLru<string, number>({
      maxEntries: 3,
      maxSize: 1 << 20,
      sizeCalculation: () => 1,
      dispose: (_v, k, reason) => evicted.push(`${k}:${reason}`),
    });
    lru.set('a', 1).set('b', 2).set('c', 3);
    expect(lru.get('a')).toBe(1); // a is now the most recently used
    lru.set('d', 4);
    expect([...lru.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(evicted).toEqual(['b:evict']);
    lru.set('d', 5); // an update is not a new entry
    expect(lru.size).toBe(3);
  });

  it('keeps the byte bound too', () => {
    const lru = new GrowingLru<string, string>({ maxEntries: 1000, maxSize: 10, sizeCalculation: (v) => v.length });
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, 'xxxx');
    expect(lru.size).toBe(2);
    expect(lru.calculatedSize).toBeLessThanOrEqual(10);
  });

  it('reserves nothing for entries it does not hold', () => {
    // lru-cache's own `max` would allocate arrays of max_entries at construction.
    const before = process.memoryUsage().heapUsed;
    const caches = Array.from(
      { length: 20 },
      () => new GrowingLru<string, number>({ maxEntries: 100_000, maxSize: 1 << 30, ttl: 1000, sizeCalculation: () => 1 }),
    );
    const grown = process.memoryUsage().heapUsed - before;
    expect(caches).toHaveLength(20);
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('DecisionCache and RequestShortcut entry bounds', () => {
  it('DecisionCache evicts past maxEntries and counts it', () => {
    const cache = new DecisionCache({ maxEntries: 2, maxBytes: 1 << 20, ttlMs: 60_000 });
    const d = denial('policy_denied', 'no', 403, '');
    cache.set('k1', d);
    cache.set('k2', d);
    cache.set('k3', d);
    expect(cache.entries).toBe(2);
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k3')).toBe(d);
    expect(cache.stats.evictions).toBe(1);
  });

  it('RequestShortcut forgets the oldest request past maxEntries', () => {
    const table = new RequestShortcut(2, 1 << 20, 60_000);
    const r = (cacheKey: string): Remembered => ({ cacheKey, identity: null, route: null, entrypoint: 'envoy/authz/allow', behavior: undefined });
    table.remember('a', r('A'));
    table.remember('b', r('B'));
    table.remember('c', r('C'));
    expect(table.entries).toBe(2);
    expect(table.get('a')).toBeUndefined();
    expect(table.get('c')?.cacheKey).toBe('C');
  });
});
