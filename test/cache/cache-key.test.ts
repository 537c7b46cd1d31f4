import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { VOLATILE_FIELDS, fullInputKey, parseFieldPath, selectedFieldsKey } from '../../src/cache/CacheKey.ts';
import { DecisionCache } from '../../src/cache/DecisionCache.ts';
import { decisionFromResult } from '../../src/envoy/PolicyResult.ts';
import type { JsonObject } from '../../src/types/Json.ts';

const IGNORE = VOLATILE_FIELDS.map(parseFieldPath);

function input(over: { id?: string; principal?: string; path?: string; headers?: Record<string, string>; port?: number } = {}): JsonObject {
  return {
    attributes: {
      source: { principal: over.principal ?? 'spiffe://td/a', address: { socketAddress: { address: '10.0.0.1', portValue: over.port ?? 1234 } } },
      request: {
        time: '2026-01-01T00:00:00Z',
        http: { id: over.id ?? '1', method: 'GET', path: over.path ?? '/x', headers: { 'x-request-id': over.id ?? '1', ...over.headers } },
      },
    },
    parsed_path: ['x'],
  };
}

describe('cache key', () => {
  it('ignores per-request ids, time, trace context and the client port', () => {
    const a = fullInputKey('r1', 'e', input({ id: '1', port: 1, headers: { traceparent: '00-a-b-01' } }), IGNORE);
    const b = fullInputKey('r1', 'e', input({ id: '2', port: 2, headers: { traceparent: '00-c-d-01' } }), IGNORE);
    expect(a).toBe(b);
  });

  it('differs on identity, path, any other header, revision and entrypoint', () => {
    const base = fullInputKey('r1', 'e', input(), IGNORE);
    expect(fullInputKey('r1', 'e', input({ principal: 'spiffe://td/b' }), IGNORE)).not.toBe(base);
    expect(fullInputKey('r1', 'e', input({ path: '/y' }), IGNORE)).not.toBe(base);
    expect(fullInputKey('r1', 'e', input({ headers: { 'x-tenant': 't' } }), IGNORE)).not.toBe(base);
    expect(fullInputKey('r2', 'e', input(), IGNORE)).not.toBe(base);
    expect(fullInputKey('r1', 'f', input(), IGNORE)).not.toBe(base);
    // Revision/entrypoint boundaries cannot be shifted to collide.
    expect(fullInputKey('ab', 'c', input(), IGNORE)).not.toBe(fullInputKey('a', 'bc', input(), IGNORE));
  });

  it('leaves the input exactly as it was', () => {
    const i = input({ headers: { traceparent: 't' } });
    const before = structuredClone(i);
    fullInputKey('r', 'e', i, IGNORE);
    expect(i).toEqual(before);
  });

  it('keys selected fields, telling absent from present', () => {
    const fields = ['attributes.source.principal', 'attributes.request.http.headers.x-tenant'].map(parseFieldPath);
    const k1 = selectedFieldsKey('r', 'e', 'route-a', input({ path: '/a' }), fields);
    expect(selectedFieldsKey('r', 'e', 'route-a', input({ path: '/b' }), fields)).toBe(k1);
    expect(selectedFieldsKey('r', 'e', 'route-a', input({ headers: { 'x-tenant': 't' } }), fields)).not.toBe(k1);
    // The same fields on another route never share a key: the narrow-key statement holds per route.
    expect(selectedFieldsKey('r', 'e', 'route-b', input({ path: '/a' }), fields)).not.toBe(k1);
    // Absent is not null, and no client value can look absent.
    const withNull = { attributes: { source: { principal: 'spiffe://td/a' }, request: { http: { headers: { 'x-tenant': null } } } } };
    expect(selectedFieldsKey('r', 'e', 'route-a', withNull, fields)).not.toBe(k1);
    const forged = { attributes: { source: { principal: 'spiffe://td/a' }, request: { http: { headers: { 'x-tenant': [] as never } } } } };
    expect(selectedFieldsKey('r', 'e', 'route-a', forged, fields)).not.toBe(k1);
  });
});

describe('decision cache bounds', () => {
  it('keeps a million distinct keys under the byte bound', () => {
    const maxBytes = 8 * 1024 * 1024;
    const cache = new DecisionCache({ maxEntries: 1_000_000, maxBytes, ttlMs: 60_000 });
    const decision = decisionFromResult({ allowed: true, headers: { 'x-a': 'b' } });
    // A real collection before each reading, so garbage does not count as growth.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) cache.set(`key-${i}`, decision);
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(cache.bytes).toBeLessThanOrEqual(maxBytes);
    expect(cache.entries).toBeLessThan(1_000_000);
    expect(cache.stats.evictions).toBe(1_000_000 - cache.entries);
    // What the process really holds stays under the configured bound.
    expect(grown).toBeLessThan(maxBytes);
  });

  it('never stores with a zero lifetime, and honours the shorter of TTL and a limit', async () => {
    const cache = new DecisionCache({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000 });
    const d = decisionFromResult(true);
    cache.set('a', d, 0);
    cache.set('b', d, -5);
    expect(cache.entries).toBe(0);
    cache.set('c', d, 30);
    expect(cache.get('c')).toBe(d);
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.get('c')).toBeUndefined();
  });
});
