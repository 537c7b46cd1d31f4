import { describe, expect, it } from 'vitest';
import { RawRequestKeyer } from '../../src/envoy/RawRequestKey.ts';
import { lengthDelimited, stringField, varint } from '../support/wire.ts';
import { readCheckRequest } from '../../src/envoy/CheckRequest.ts';
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
          headers: {
            'content-type': 'application/json',
            'x-request-id': o.requestId ?? 'r-1',
            traceparent: o.traceparent ?? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            ...o.headers,
          },
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
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}
const key = (b: Uint8Array, policy = 'policy#1', peer = ''): string | undefined => keyer.key(b, policy, peer, false)?.key;

describe('raw request key (the request shortcut)', () => {
  it('is the same when only the per-request fields differ, and hands the trace headers on', () => {
    const a = keyer.key(request(), 'p', '', true)!;
    const b = keyer.key(
      request({
        requestId: 'r-2',
        traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
        httpId: '99',
        port: 51234,
        time: '2026-06-01T12:00:00Z',
      }),
      'p',
      '',
      true,
    )!;
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

  // The shortcut never answers a request the full path would refuse: the
  // fields the key leaves out are held to the full path's rules.
  describe('gives no key where the full path would refuse a skipped field', () => {
    const LIMITS = { maxHeaders: 20, maxHeaderBytes: 4096, maxPathBytes: 8192, maxBodyBytes: 1 << 20 };
    const strict = new RawRequestKeyer(VOLATILE_FIELDS, { limits: LIMITS });
    const skey = (b: Uint8Array) => strict.key(b, 'p', '', false)?.key;
    const verdict = (b: Uint8Array): string => {
      try {
        readCheckRequest(b, LIMITS);
        return 'accepted';
      } catch (e) {
        return (e as { reason?: string }).reason ?? 'threw';
      }
    };
    const ld = lengthDelimited;
    const str = stringField;
    const ts = (seconds: number | bigint, nanos?: number) =>
      Buffer.concat([Uint8Array.from([0x08]), varint(seconds), ...(nanos === undefined ? [] : [Uint8Array.from([0x10]), varint(nanos)])]);
    const header = (k: string, v: Uint8Array | string) => ld(3, str(1, k), str(2, v));
    /** CheckRequest { attributes { source { address { socket_address { address, <port> } } }, request { <times>, http { <http> } } } } */
    const build = (o: { times?: Uint8Array[]; port?: Uint8Array; http?: Uint8Array[] } = {}) =>
      ld(
        1,
        ld(1, ld(1, ld(1, str(2, '10.0.0.1'), o.port ?? Uint8Array.from([0x18, 0x80, 0xfa, 0x01])))),
        ld(4, ...(o.times ?? [ld(1, ts(1_700_000_000, 5))]), ld(2, str(2, 'GET'), str(4, '/x'), ...(o.http ?? [str(1, '17'), header('x-request-id', 'r-1')]))),
      );
    const base = build();

    it('the base request is accepted and keyed, and so are its ordinary variants', () => {
      expect(verdict(base)).toBe('accepted');
      expect(skey(base)).toBeDefined();
      for (const b of [
        build({ times: [ld(1, ts(1_800_000_000))] }),
        build({ times: [] }),
        build({ times: [ld(1, ts(-62_135_596_800))] }),
        build({ times: [ld(1, ts(253_402_300_799, 999_999_999))] }),
      ]) {
        expect(verdict(b)).toBe('accepted');
        expect(skey(b)).toBe(skey(base));
      }
    });

    it.each([
      ['seconds past year 9999', build({ times: [ld(1, ts(253_402_300_800))] })],
      ['seconds before year 1', build({ times: [ld(1, ts(-62_135_596_801))] })],
      ['huge seconds', build({ times: [ld(1, ts(10n ** 15n))] })],
      ['seconds 2^62', build({ times: [ld(1, ts(2n ** 62n))] })],
      ['negative nanos', build({ times: [ld(1, ts(0, -1))] })],
      ['nanos of a whole second', build({ times: [ld(1, ts(0, 1_000_000_000))] })],
      ['time twice (an embedded message repeated)', build({ times: [ld(1, ts(1_700_000_000)), ld(1, ts(1_700_000_001))] })],
      ['a truncated seconds varint', build({ times: [ld(1, Uint8Array.from([0x08, 0x80]))] })],
      ['seconds with a wrong wire type', build({ times: [ld(1, Uint8Array.from([0x0a, 0x00]))] })],
    ])('request.time: %s', (_name, b) => {
      expect(verdict(b)).not.toBe('accepted');
      expect(skey(b)).toBeUndefined();
    });

    it('is not fooled by an unusual but valid Timestamp either: no key, the full path decides', () => {
      const unknownField = build({ times: [ld(1, ts(1_700_000_000), Uint8Array.from([0x18, 0x01]))] });
      expect(verdict(unknownField)).toBe('accepted');
      expect(skey(unknownField)).toBeUndefined();
    });

    it.each([
      ['http id not UTF-8', build({ http: [str(1, Uint8Array.from([0xff, 0xfe])), header('x-request-id', 'r-1')] }), 'request_invalid_utf8'],
      [
        'a skipped header value not UTF-8',
        build({ http: [str(1, '17'), header('x-request-id', Uint8Array.from([0x72, 0xc0, 0xaf]))] }),
        'request_invalid_utf8',
      ],
      [
        'a skipped header making the headers too many',
        build({ http: [str(1, '17'), ...Array.from({ length: 20 }, (_, i) => header(`h${i}`, 'v')), header('x-request-id', 'r-1')] }),
        'request_too_large',
      ],
      ['a skipped header making the header bytes too many', build({ http: [str(1, '17'), header('x-request-id', 'r'.repeat(5000))] }), 'request_too_large'],
      ['port in 6 bytes', build({ port: Uint8Array.from([0x18, 0x80, 0xfa, 0x81, 0x80, 0x80, 0x00]) }), 'request_malformed'],
      ['port next to named_port (one oneof)', build({ port: Buffer.concat([Uint8Array.from([0x18, 0x50]), str(4, 'http')]) }), 'request_malformed'],
    ])('%s', (_name, b, reason) => {
      expect(verdict(b)).toBe(reason);
      expect(skey(b)).toBeUndefined();
    });

    it('gives no key to a skipped header beside header_map (the full path then ignores header_map)', () => {
      const headerMap = ld(13, ld(1, str(1, 'x-role'), str(2, 'admin')));
      const withMap = build({ http: [str(1, '17'), headerMap] });
      const both = build({ http: [str(1, '17'), headerMap, header('x-request-id', 'r-1')] });
      expect(skey(withMap)).toBeDefined();
      expect(skey(both)).toBeUndefined();
      expect(readCheckRequest(withMap, LIMITS).http.headers).toEqual({ 'x-role': 'admin' });
      expect(readCheckRequest(both, LIMITS).http.headers).toEqual({ 'x-request-id': 'r-1' });
    });

    it('never skips a header the pipeline reads itself, whatever cache.ignore says', () => {
      const k = new RawRequestKeyer([...VOLATILE_FIELDS, 'attributes.request.http.headers.content-type', 'attributes.request.http.headers.x-token'], {
        readHeaders: ['X-Token'],
      });
      expect(k.coversIgnore).toBe(false);
      const with_ = (h: Record<string, string>) => k.key(request({ headers: h }), 'p', '', false)!.key;
      expect(with_({ 'content-type': 'text/plain' })).not.toBe(with_({ 'content-type': 'application/json' }));
      expect(with_({ 'x-token': 'a' })).not.toBe(with_({ 'x-token': 'b' }));
    });

    // The rule checked on mutated requests: a request that shares a key with
    // one the full path accepts is accepted too.
    it('never gives a refused request the key of an accepted one (20,000 mutations)', () => {
      const rand = prng(0x5c07);
      const bases = [
        base,
        build({
          http: [
            str(1, '123456'),
            header('x-request-id', 'abcdef-0123'),
            header('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
            header('x-a', 'b'),
          ],
        }),
      ];
      const accepted = new Set<string>();
      const refused = new Map<string, string>();
      let sharedWithBase = 0;
      for (let i = 0; i < 20_000; i++) {
        const b = Uint8Array.from(bases[i % bases.length]!);
        const flips = 1 + Math.floor(rand() * 2);
        for (let f = 0; f < flips; f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        const k = skey(b);
        if (k === undefined) continue;
        if (k === skey(bases[i % bases.length]!)) sharedWithBase++;
        const v = verdict(b);
        if (v === 'accepted') accepted.add(k);
        else refused.set(k, v);
      }
      for (const b of bases) accepted.add(skey(b)!);
      for (const [k, v] of refused) expect(accepted.has(k), `a ${v} request shares an accepted request's key`).toBe(false);
      expect(sharedWithBase).toBeGreaterThan(1_000);
    });
  });
});
