import { describe, expect, it } from 'vitest';
import { RawRequestKeyer } from '../../src/envoy/RawRequestKey.ts';
import { VOLATILE_FIELDS, fullInputKey, parseFieldPath, requestDerivedKey } from '../../src/cache/CacheKey.ts';
import { CheckRequestType, PROTOJSON_OBJECT } from '../../src/envoy/ProtoCodec.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import type { JsonObject } from '../../src/types/Json.ts';
import { prng } from '../support/prng.ts';

interface Over {
  requestId?: string;
  traceparent?: string;
  httpId?: string;
  port?: number;
  time?: string;
  principal?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  destinationPort?: number;
  extensions?: Record<string, string>;
}

function request(o: Over = {}): Uint8Array {
  return encodeCheckRequestJson({
    attributes: {
      source: { address: { socketAddress: { address: '10.0.0.1', portValue: o.port ?? 40000 } }, principal: o.principal ?? 'spiffe://td/ns/a/sa/b' },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: o.destinationPort ?? 8080 } } },
      request: {
        time: o.time ?? '2026-01-01T00:00:00Z',
        http: {
          id: o.httpId ?? '17',
          method: 'POST',
          path: o.path ?? '/v2/models/m/infer',
          host: 'svc',
          headers: { 'content-type': 'application/json', 'x-request-id': o.requestId ?? 'r-1', traceparent: o.traceparent ?? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ...o.headers },
          body: o.body ?? '{"inputs":[]}',
        },
      },
      ...(o.extensions ? { contextExtensions: o.extensions } : {}),
    },
  });
}

const keyer = new RawRequestKeyer(VOLATILE_FIELDS);

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}
const key = (b: Uint8Array, policy = 'policy#1', peer = ''): string | undefined => keyer.key(b, policy, peer, false)?.key;

describe('raw request key (the request shortcut)', () => {
  it('is the same when only the per-request fields differ, and hands the trace headers on', () => {
    const a = keyer.key(request(), 'p', '', true)!;
    const b = keyer.key(request({ requestId: 'r-2', traceparent: '00-11111111111111111111111111111111-2222222222222222-01', httpId: '99', port: 51234, time: '2026-06-01T12:00:00Z' }), 'p', '', true)!;
    expect(a.key).toBe(b.key);
    expect(b.traceHeaders).toEqual({ traceparent: '00-11111111111111111111111111111111-2222222222222222-01' });
    // Read only when asked for (tracing on); the key is the same either way.
    const untraced = keyer.key(request({ traceparent: '00-11111111111111111111111111111111-2222222222222222-01' }), 'p', '', false)!;
    expect(untraced.traceHeaders).toBeUndefined();
    expect(untraced.key).toBe(b.key);
  });

  it('differs on anything else: caller, path, any other header, body, destination, context extensions, and the context', () => {
    const base = key(request());
    const variants: Over[] = [
      { principal: 'spiffe://td/ns/a/sa/c' },
      { path: '/v2/models/n/infer' },
      { headers: { 'x-tenant': 't' } },
      { headers: { 'content-type': 'text/plain' } },
      { body: '{"inputs":[1]}' },
      { destinationPort: 8081 },
      { extensions: { tenant: 'a' } },
    ];
    const keys = variants.map((v) => key(request(v)));
    for (const k of keys) expect(k).not.toBe(base);
    expect(new Set(keys).size).toBe(keys.length);
    expect(key(request(), 'policy#2')).not.toBe(base);
    expect(key(request(), 'policy#1', 'spiffe://td/peer')).not.toBe(base);
    // The parts are length-prefixed: moving text from one to the other is another key.
    expect(key(request(), 'policy#1s', 'piffe://td/peer')).not.toBe(key(request(), 'policy#1', 'spiffe://td/peer'));
  });

  it('does not depend on the order headers come in, and gives no key when a name repeats', () => {
    const a = key(request({ headers: { 'x-tenant': 't', 'x-team': 'u', accept: '*/*' } }));
    const b = key(request({ headers: { accept: '*/*', 'x-team': 'u', 'x-tenant': 't' } }));
    expect(a).toBe(b);
    expect(key(request({ headers: { accept: '*/*', 'x-team': 'v', 'x-tenant': 't' } }))).not.toBe(a);
    // The wire format allows a map key twice (the last one wins): sorting would hide which was last.
    const ld = (field: number, body: Uint8Array): Uint8Array => Uint8Array.from([(field << 3) | 2, body.length, ...body]);
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    const entry = (k: string, v: string): Uint8Array => ld(3, Uint8Array.from([...ld(1, text(k)), ...ld(2, text(v))]));
    const withHeaders = (...entries: Uint8Array[]): Uint8Array => ld(1, ld(4, ld(2, Uint8Array.from(entries.flatMap((e) => [...e])))));
    expect(key(withHeaders(entry('x-role', 'admin'), entry('x-role', 'viewer')))).toBeUndefined();
    expect(key(withHeaders(entry('x-role', 'admin'), entry('x-team', 'viewer')))).toBe(key(withHeaders(entry('x-team', 'viewer'), entry('x-role', 'admin'))));
  });

  it('keeps in the key what cache.ignore keeps (a policy that reads x-request-id)', () => {
    const strict = new RawRequestKeyer(VOLATILE_FIELDS.filter((f) => f !== 'attributes.request.http.headers.x-request-id'));
    expect(strict.key(request({ requestId: 'a' }), 'p', '', true)!.key).not.toBe(strict.key(request({ requestId: 'b' }), 'p', '', true)!.key);
    expect(strict.key(request({ httpId: '1' }), 'p', '', true)!.key).toBe(strict.key(request({ httpId: '2' }), 'p', '', true)!.key);
    const none = new RawRequestKeyer([]);
    expect(none.key(request({ port: 1 }), 'p', '', true)!.key).not.toBe(none.key(request({ port: 2 }), 'p', '', true)!.key);
  });

  it('stands in for the input key only when it leaves out all of cache.ignore', () => {
    expect(new RawRequestKeyer(VOLATILE_FIELDS).coversIgnore).toBe(true);
    expect(new RawRequestKeyer([]).coversIgnore).toBe(true);
    // A field inside the parsed body cannot be cut from the bytes: the full input key is used.
    expect(new RawRequestKeyer([...VOLATILE_FIELDS, 'parsed_body.nonce']).coversIgnore).toBe(false);
    const raw = key(request())!;
    const id = { spiffe_id: 'spiffe://td/ns/a/sa/b', user: null };
    const base = requestDerivedKey(raw, 'envoy/authz/allow', id, { learning: true });
    expect(requestDerivedKey(raw, 'envoy/authz/allow', id, { learning: true })).toBe(base);
    expect(requestDerivedKey(raw, 'envoy/authz/allow', { ...id, user: { sub: 'alice' } }, { learning: true })).not.toBe(base);
    expect(requestDerivedKey(raw, 'envoy/authz/allow', id, { learning: false })).not.toBe(base);
    expect(requestDerivedKey(raw, 'other/allow', id, { learning: true })).not.toBe(base);
    expect(requestDerivedKey(key(request({ path: '/x' }))!, 'envoy/authz/allow', id, { learning: true })).not.toBe(base);
  });

  it('is the stream itself for small requests and its SHA-256 past 1 KiB, both exact', () => {
    const small = key(request())!;
    expect(small.startsWith('#')).toBe(false);
    expect(small).toContain('/v2/models/'); // the path's bytes, verbatim
    const big = (v: string): string => key(request({ headers: { 'x-blob': v.repeat(1100) } }))!;
    expect(big('a')).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(big('a')).toBe(big('a'));
    expect(big('a')).not.toBe(big('b'));
    expect(key(request({ headers: { 'x-blob': 'a'.repeat(1100) }, requestId: 'other' }))).toBe(big('a'));
  });

  it('gives no key for bytes it does not understand', () => {
    const good = request();
    expect(key(good.subarray(0, good.length - 3))).toBeUndefined(); // truncated
    expect(key(Uint8Array.from([0x0b, 0x0c]))).toBeUndefined(); // group wire type
    expect(key(Uint8Array.from([0x00, 0x01]))).toBeUndefined(); // field 0
    expect(key(new Uint8Array(0))).toBeDefined(); // an empty CheckRequest is a valid message
  });

  // The soundness claim, checked on mutated requests: equal raw keys mean
  // decoded requests that are equal outside the ignored fields, i.e. equal
  // decision cache keys.
  it('never gives two requests one key unless their inputs agree outside cache.ignore (20,000 mutations)', () => {
    const rand = prng(0x7a11);
    const ignore = VOLATILE_FIELDS.map(parseFieldPath);
    const inputKey = (b: Uint8Array): string | undefined => {
      try {
        // Key order of a decoded map means nothing to a policy: compare with keys sorted.
        const json = sortKeys(CheckRequestType.toObject(CheckRequestType.decode(b), PROTOJSON_OBJECT)) as JsonObject;
        return fullInputKey('p', 'e', json, ignore);
      } catch {
        return undefined;
      }
    };
    const bases = [
      request(),
      request({ requestId: 'r-9', port: 1 }),
      request({ headers: { 'x-b3-sampled': '1', b3: 'x' } }),
      request({ headers: { b: '2', a: '1', c: '3' } }),
      request({ headers: { c: '3', a: '1', b: '2' } }),
    ];
    const byKey = new Map<string, string>();
    let keyed = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = Uint8Array.from(bases[i % bases.length]!);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const raw = key(b);
      const decoded = inputKey(b);
      if (raw === undefined || decoded === undefined) continue;
      keyed++;
      const seen = byKey.get(raw);
      if (seen !== undefined) expect(decoded).toBe(seen);
      else byKey.set(raw, decoded);
    }
    for (const b of bases) {
      const raw = key(b)!;
      const seen = byKey.get(raw);
      if (seen !== undefined) expect(inputKey(b)).toBe(seen);
    }
    expect(keyed).toBeGreaterThan(2_000);
  });
});
