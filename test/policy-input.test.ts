import { describe, expect, it } from 'vitest';
import { buildPolicyInput, type InputOptions } from '../src/envoy/PolicyInput.ts';
import { canonicalPath } from '../src/route/CanonicalPath.ts';
import { readCheckRequest } from '../src/envoy/CheckRequest.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import { CheckRequestType } from '../src/envoy/ProtoCodec.ts';
import { Reason } from '../src/types/Reason.ts';
import { isUtf8 } from 'node:buffer';
import { prng } from './support/prng.ts';
import { lengthDelimited, stringField, varintField } from './support/wire.ts';
import protobuf from 'protobufjs';

const LIMITS = { maxHeaders: 100, maxHeaderBytes: 65536, maxPathBytes: 8192, maxBodyBytes: 1 << 20 };
const OPTS: InputOptions = { parseBody: true, truncatedBody: 'policy' };

function input(http: Record<string, unknown>, extra: Record<string, unknown> = {}, opts = OPTS) {
  const bytes = encodeCheckRequestJson({ attributes: { request: { http: { method: 'GET', path: '/', ...http } }, ...extra } });
  const request = readCheckRequest(bytes, LIMITS);
  return buildPolicyInput(request, canonicalPath(request.http.method, request.http.path, { maxPathBytes: 8192 }), opts);
}

describe('policy input (opa-envoy-plugin contract)', () => {
  it('uses protojson names and value forms', () => {
    const i = input(
      { id: '7', path: '/x', headers: { 'x-a': 'b' }, size: '5000000000', raw_body: Buffer.from('hi').toString('base64') },
      {
        source: { address: { socket_address: { address: '10.0.0.1', port_value: 4000 } }, principal: 'spiffe://td/a' },
        context_extensions: { route: 'r1' },
        metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': { payload: { sub: 'u', n: 1, ok: true, l: [1, 'x'], z: null } } } },
        tls_session: { sni: 'svc' },
      },
    );
    const attrs = i['attributes'] as any;
    expect(attrs.request.http).toMatchObject({ id: '7', method: 'GET', path: '/x', size: 5000000000, rawBody: 'aGk=' });
    expect(attrs.source.address.socketAddress).toEqual({ address: '10.0.0.1', portValue: 4000 });
    expect(attrs.contextExtensions).toEqual({ route: 'r1' });
    expect(attrs.metadataContext.filterMetadata['envoy.filters.http.jwt_authn']).toEqual({ payload: { sub: 'u', n: 1, ok: true, l: [1, 'x'], z: null } });
    expect(attrs.tlsSession).toEqual({ sni: 'svc' });
    expect(i['version']).toEqual({ ext_authz: 'v3', encoding: 'protojson' });
    expect(i['source_principal']).toBe('spiffe://td/a');
  });

  it('gives request.time as the Timestamp message {seconds, nanos}, as opa-envoy-plugin (protoreflect) does', () => {
    const i = input({}, { request: { time: '2024-05-06T07:08:09.120Z', http: { method: 'GET', path: '/' } } });
    expect((i['attributes'] as any).request.time).toEqual({ seconds: 1714979289, nanos: 120000000 });
  });

  it('gives only populated fields: proto3 zero values sent explicitly are left out, a set oneof member is kept', () => {
    // protobufjs' fromObject sets what it is given, so "" and 0 go onto the wire.
    const i = input({ host: '', body: '', size: '0', headers: {} }, { source: { address: { socket_address: { address: '', port_value: 0 } } } });
    const http = (i['attributes'] as any).request.http;
    expect(http).toEqual({ method: 'GET', path: '/' });
    // port_value is a oneof member: set to 0 it is populated (protoreflect Has), as in opa-envoy-plugin.
    expect((i['attributes'] as any).source.address.socketAddress).toEqual({ portValue: 0 });
  });

  it('gives enums as numbers and an Any as {typeUrl, value}, as protoreflect does', () => {
    const i = input({}, { destination: { address: { socket_address: { address: '10.0.0.2', port_value: 80, protocol: 'UDP' } } } });
    expect((i['attributes'] as any).destination.address.socketAddress).toEqual({ address: '10.0.0.2', portValue: 80, protocol: 1 });
    // Any is not in the request-file format: built with protobufjs.
    const bytes = CheckRequestType.encode(
      CheckRequestType.fromObject({
        attributes: {
          request: { http: { method: 'GET', path: '/' } },
          metadataContext: {
            typedFilterMetadata: {
              ns: { type_url: 'type.googleapis.com/x.Y', value: Buffer.from('hi') },
              known: { type_url: 'type.googleapis.com/google.protobuf.Struct', value: Buffer.from([]) },
            },
          },
        },
      }),
    ).finish();
    expect((readCheckRequest(bytes, LIMITS).attributes as any).metadataContext.typedFilterMetadata).toEqual({
      ns: { typeUrl: 'type.googleapis.com/x.Y', value: 'aGk=' },
      known: { typeUrl: 'type.googleapis.com/google.protobuf.Struct' },
    });
  });

  it('parses path and query like opa-envoy-plugin', () => {
    expect(input({ path: '/people' })['parsed_path']).toEqual(['people']);
    expect(input({ path: '/' })['parsed_path']).toEqual(['']);
    expect(() => input({ path: '/a?bad=%zz' })).toThrow(expect.objectContaining({ reason: 'path_rejected' }));
    expect(input({ path: '/a/b%20c?x=1&x=2&y=a+b&z' })).toMatchObject({
      parsed_path: ['a', 'b c'],
      parsed_query: { x: ['1', '2'], y: ['a b'], z: [''] },
    });
  });

  it('never turns //admin into an authority (CVE-2026-26205): the canonical path refuses it', () => {
    expect(() => input({ path: '//admin/secret' })).toThrow(expect.objectContaining({ reason: 'path_rejected' }));
    expect(() => input({ path: '/a%2Fb' })).toThrow(expect.objectContaining({ reason: 'path_rejected' }));
  });

  it('omits source_principal when empty', () => {
    expect(input({})).not.toHaveProperty('source_principal');
  });

  it('parses JSON, form and multipart bodies', () => {
    expect(input({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","n":[1]}' })['parsed_body']).toEqual({
      model: 'm',
      n: [1],
    });
    expect(input({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&a=2&b=x+y' })['parsed_body']).toEqual({
      a: ['1', '2'],
      b: ['x y'],
    });
    const mp =
      '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nfraud\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--\r\n';
    expect(input({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }, body: mp })['parsed_body']).toEqual({
      model: ['fraud'],
      file: ['line1\r\nline2'],
    });
    expect(input({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })['parsed_body']).toBeNull();
    expect(
      input({ method: 'POST', headers: { 'content-type': 'application/json' }, raw_body: Buffer.from('{"a":1}').toString('base64') })['parsed_body'],
    ).toEqual({ a: 1 });
  });

  it('parses JSON bodies within request.max_body_* and refuses duplicate keys, or keeps the last with body_duplicate_keys: last', () => {
    const json = (body: string, opts = OPTS) => input({ method: 'POST', headers: { 'content-type': 'application/json' }, body }, {}, opts);
    const tight: InputOptions = { ...OPTS, json: { maxDepth: 2, maxKeys: 3, maxElements: 4, duplicateKeys: 'deny' } };
    expect(json('{"a":[1,2,3,4],"b":{}}', tight)['parsed_body']).toEqual({ a: [1, 2, 3, 4], b: {} });
    expect(() => json('{"a":[[1]]}', tight)).toThrow(expect.objectContaining({ reason: Reason.bodyTooDeep }));
    expect(() => json('{"a":1,"b":{"c":1,"d":2}}', tight)).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyKeys }));
    expect(() => json('[1,2,3,4,5]', tight)).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyElements }));
    // Without json options: the configuration defaults.
    expect(() => json(`${'['.repeat(65)}${']'.repeat(65)}`)).toThrow(expect.objectContaining({ reason: Reason.bodyTooDeep }));
    expect(() => json('{"model":"a","mod\\u0065l":"b"}')).toThrow(expect.objectContaining({ reason: Reason.bodyDuplicateKey }));
    const last: InputOptions = { ...OPTS, json: { maxDepth: 64, maxKeys: 100, maxElements: 100, duplicateKeys: 'last' } };
    expect(json('{"model":"a","mod\\u0065l":"b"}', last)['parsed_body']).toEqual({ model: 'b' });
    // The same for raw_body.
    const raw = (body: string) => input({ method: 'POST', headers: { 'content-type': 'application/json' }, raw_body: Buffer.from(body).toString('base64') });
    expect(() => raw('{"model":"a","model":"b"}')).toThrow(expect.objectContaining({ reason: Reason.bodyDuplicateKey }));
  });

  it('takes any name in a query or form, "__proto__", "toString" and "constructor" included (they threw)', () => {
    const q = input({ path: '/a?toString=1&__proto__=2&constructor=3&hasOwnProperty=4&toString=5' })['parsed_query'] as Record<string, unknown>;
    // Compared as JSON text: in an object literal, __proto__ would set the prototype.
    expect(JSON.stringify(q)).toBe('{"toString":["1","5"],"__proto__":["2"],"constructor":["3"],"hasOwnProperty":["4"]}');
    expect(Object.getPrototypeOf(q)).toBe(Object.prototype);
    const form = input({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '__proto__=x&valueOf=y' })['parsed_body'];
    expect(Object.keys(form as object)).toEqual(['__proto__', 'valueOf']);
    const mp =
      '--B\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nv\r\n--B\r\nContent-Disposition: form-data; name="toString"\r\n\r\nw\r\n--B--\r\n';
    const parsed = input({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=B' }, body: mp })['parsed_body'];
    expect(JSON.stringify(parsed)).toBe('{"__proto__":["v"],"toString":["w"]}');
  });

  it('bounds form and multipart bodies by request.max_body_keys (names) and max_body_elements (values)', () => {
    const tight: InputOptions = { ...OPTS, json: { maxDepth: 64, maxKeys: 2, maxElements: 3, duplicateKeys: 'deny' } };
    const form = (body: string) => input({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, {}, tight)['parsed_body'];
    expect(form('a=1&b=2&a=3')).toEqual({ a: ['1', '3'], b: ['2'] });
    expect(() => form('a=1&b=2&c=3')).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyKeys }));
    expect(() => form('a=1&a=2&a=3&a=4')).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyElements }));
    const part = (name: string) => `--B\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nv\r\n`;
    const mp = (body: string) => input({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=B' }, body }, {}, tight)['parsed_body'];
    expect(mp(`${part('a') + part('b') + part('a')}--B--\r\n`)).toEqual({ a: ['v', 'v'], b: ['v'] });
    expect(() => mp(`${part('a') + part('b') + part('c')}--B--\r\n`)).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyKeys }));
    expect(() => mp(`${part('a').repeat(4)}--B--\r\n`)).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyElements }));
    // Unnamed parts count too: each costs a header parse.
    expect(() => mp(`${'--B\r\nX: y\r\n\r\nv\r\n'.repeat(4)}--B--\r\n`)).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyElements }));
    // The query string is not a body: only request.max_path_bytes bounds it.
    expect(Object.keys(input({ path: '/a?a=1&b=2&c=3&d=4' }, {}, tight)['parsed_query'] as object)).toHaveLength(4);
  });

  it('refuses a metadata Struct nested deeper than decoding allows as request_malformed, naming the nesting', () => {
    let v: unknown = 'x';
    for (let i = 0; i < 49; i++) v = { a: v };
    const deep = () => input({}, { metadata_context: { filter_metadata: { jwt: { v } } } });
    const limit = protobuf.util.recursionLimit;
    try {
      protobuf.util.recursionLimit = 1000; // so that encodeCheckRequestJson writes it at all
      expect(deep).toThrow(expect.objectContaining({ reason: Reason.requestMalformed, message: expect.stringMatching(/nests messages deeper than 100/) }));
    } finally {
      protobuf.util.recursionLimit = limit;
    }
    let ok: unknown = 'x';
    for (let i = 0; i < 40; i++) ok = i % 2 ? [ok] : { a: ok };
    expect((input({}, { metadata_context: { filter_metadata: { jwt: { ok } } } })['attributes'] as any).metadataContext.filterMetadata.jwt.ok).toEqual(ok);
  });

  it('marks truncated bodies and, by default, denies them', () => {
    const partial = { method: 'POST', headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' }, body: '{"a":' };
    expect(input(partial)).toMatchObject({ parsed_body: null, truncated_body: true });
    const short = { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100' }, body: '{"a":1}' };
    expect(input(short)).toMatchObject({ parsed_body: null, truncated_body: true });
    expect(() => input(partial, {}, { parseBody: true, truncatedBody: 'deny' })).toThrow(expect.objectContaining({ reason: Reason.bodyTruncated }));
  });

  it("marks a partial body of any type truncated (Envoy's mark first, as opa-envoy-plugin), denying only types it parses", () => {
    const text = { method: 'POST', headers: { 'content-type': 'text/plain', 'x-envoy-auth-partial-body': 'true' }, body: 'abc' };
    expect(input(text)).toMatchObject({ parsed_body: null, truncated_body: true });
    expect(input({ method: 'POST', headers: { 'x-envoy-auth-partial-body': 'true' }, body: 'xyz' })).toMatchObject({ parsed_body: null, truncated_body: true });
    // Nothing was misread: a type not parsed is not denied by truncated_body: deny.
    expect(input(text, {}, { parseBody: true, truncatedBody: 'deny' })).toMatchObject({ truncated_body: true });
    const emptyJson = { method: 'POST', headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' } };
    expect(input(emptyJson)).toMatchObject({ parsed_body: null, truncated_body: true });
  });

  it('refuses a form body with a bad escape or ";" (Go\'s url.ParseQuery error) instead of dropping the pair', () => {
    const form = (body: string, opts = OPTS) => input({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, {}, opts);
    expect(() => form('a=%zz')).toThrow(expect.objectContaining({ reason: Reason.bodyInvalid, message: 'form body does not parse: invalid URL escape "%zz"' }));
    expect(() => form('a=%zz&b=1;c')).toThrow(expect.objectContaining({ message: 'form body does not parse: invalid semicolon separator in query' }));
    // Decoded bytes that are not UTF-8 are kept as U+FFFD, as opa-envoy-plugin gives them.
    expect(form('a=%ff&b=%C3%A9')['parsed_body']).toEqual({ a: ['\ufffd'], b: ['é'] });
  });

  it('with compat: opa-envoy, reads bodies as opa-envoy-plugin does and answers its 400 texts', () => {
    const compat: InputOptions = { ...OPTS, compat: true };
    const post = (contentType: string | undefined, body: string, headers: Record<string, string> = {}) =>
      input({ method: 'POST', headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers }, body }, {}, compat);
    const goText = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as { response?: { body?: string } }).response?.body;
      }
      return 'no error';
    };
    // Media types matched case-sensitively (ztauthz alone lower-cases them).
    expect(post('Application/JSON', '{"a":1}')['parsed_body']).toBeNull();
    expect(input({ method: 'POST', headers: { 'content-type': 'Application/JSON' }, body: '{"a":1}' })['parsed_body']).toEqual({ a: 1 });
    // multipart without a boundary: not parsed (ztauthz alone refuses it).
    expect(post('multipart/form-data', '--x\r\n\r\n')['parsed_body']).toBeNull();
    expect(() => input({ method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: '--x\r\n\r\n' })).toThrow(
      expect.objectContaining({ reason: Reason.bodyInvalid }),
    );
    // Go's encoding/json errors, and what it accepts that JSON.parse does not.
    expect(goText(() => post('application/json', '{"a":'))).toBe('request_parse_error: unexpected EOF');
    expect(goText(() => post('application/json', '  '))).toBe('request_parse_error: EOF');
    expect(goText(() => post('application/json', '\uFEFF{}'))).toBe("request_parse_error: invalid character 'ï' looking for beginning of value");
    expect(goText(() => post('application/json', '{"a":1}{"b":2}'))).toBe("request_parse_error: error: invalid character '{' after top-level value");
    expect(post('application/json', '{"a":1} null x')['parsed_body']).toEqual({ a: 1 });
    // Bounds and duplicate keys stay ztauthz's own.
    expect(() => post('application/json', '{"a":1,"a":2}')).toThrow(expect.objectContaining({ reason: Reason.bodyDuplicateKey }));
    // Forms and content-length with Go's texts; content-length as strconv.ParseInt reads it.
    expect(goText(() => post('application/x-www-form-urlencoded', 'a=%zz'))).toBe('request_parse_error: invalid URL escape "%zz"');
    // parsed_query under compat takes "__proto__" as a name too (it threw: Object.prototype has no push).
    expect(JSON.stringify(input({ path: '/a?__proto__=1&toString=2' }, {}, compat)['parsed_query'])).toBe('{"__proto__":["1"],"toString":["2"]}');
    // Go's cap of 10,000 pairs (compat only; ztauthz's own bounds are request.max_body_*).
    const many = Array.from({ length: 10_001 }, () => 'a=1').join('&');
    expect(goText(() => post('application/x-www-form-urlencoded', many))).toBe('request_parse_error: number of URL query parameters exceeded limit');
    expect((post('application/x-www-form-urlencoded', many.slice(4))['parsed_body'] as { a: unknown[] }).a).toHaveLength(10_000);
    expect(
      (input({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: many })['parsed_body'] as { a: unknown[] }).a,
    ).toHaveLength(10_001);
    expect(goText(() => post('application/json', '{}', { 'content-length': 'abc' }))).toBe(
      'request_parse_error: strconv.ParseInt: parsing "abc": invalid syntax',
    );
    expect(post('application/json', '{}', { 'content-length': '-1' })).toMatchObject({ parsed_body: {}, truncated_body: false });
    expect(post('application/json', '{}', { 'content-length': '+9' })).toMatchObject({ parsed_body: null, truncated_body: true });
    expect(goText(() => post('multipart/form-data; boundary=q', '--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'))).toBe(
      'request_parse_error: unexpected EOF',
    );
  });

  it('with compat: opa-envoy, reads multipart with LF line ends and parses JSON parts within the body bounds', () => {
    const mp = (body: string, opts: InputOptions) => input({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=q' }, body }, {}, opts);
    const compat: InputOptions = { ...OPTS, compat: true };
    const lf =
      '--q\nContent-Disposition: form-data; name="x"\n\n1\n--q\nContent-Disposition: form-data; name="j"\nContent-Type: application/json\n\n{"k":[1,2]}\n--q--\n';
    expect(mp(lf, compat)['parsed_body']).toEqual({ x: ['1'], j: [{ k: [1, 2] }] });
    // Without compat: LF line ends are refused, and parts stay text.
    expect(() => mp(lf, OPTS)).toThrow(expect.objectContaining({ reason: Reason.bodyInvalid }));
    const crlf = lf.replace(/\n/g, '\r\n');
    expect(mp(crlf, OPTS)['parsed_body']).toEqual({ x: ['1'], j: ['{"k":[1,2]}'] });
    // The key bound covers all JSON parts together.
    const part = (i: number) => `--q\r\nContent-Disposition: form-data; name="p${i}"\r\nContent-Type: application/json\r\n\r\n{"a":1,"b":2,"c":3}\r\n`;
    const three = `${part(0)}${part(1)}${part(2)}--q--\r\n`;
    const json = { maxDepth: 64, maxKeys: 8, maxElements: 100, duplicateKeys: 'deny' as const };
    expect(() => mp(three, { ...compat, json })).toThrow(expect.objectContaining({ reason: Reason.bodyTooManyKeys }));
    expect(Object.keys(mp(three, { ...compat, json: { ...json, maxKeys: 9 } })['parsed_body'] as object)).toEqual(['p0', 'p1', 'p2']);
  });

  it('leaves body keys out when body parsing is off', () => {
    const i = input({ method: 'POST', headers: { 'content-type': 'application/json' }, body: 'not json' }, {}, { parseBody: false, truncatedBody: 'deny' });
    expect(i).not.toHaveProperty('parsed_body');
    expect(i).not.toHaveProperty('truncated_body');
  });

  it.each([
    [{ headers: { 'content-type': 'application/json' }, body: '{"a":' }, Reason.bodyInvalid],
    [{ headers: { 'content-type': 'multipart/form-data' }, body: 'x' }, Reason.bodyInvalid],
    [{ headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b\r\nno-header-end' }, Reason.bodyInvalid],
    [{ headers: { 'content-type': 'application/json', 'content-length': 'x' }, body: '{}' }, Reason.bodyInvalid],
    [{ path: '/a%zz' }, 'path_rejected'],
  ])('refuses %j as %s', (http, reason) => {
    expect(() => input({ method: 'POST', ...http })).toThrow(expect.objectContaining({ reason }));
  });
});

describe('CheckRequest limits and decoding', () => {
  const enc = (http: Record<string, unknown>) => encodeCheckRequestJson({ attributes: { request: { http: { method: 'GET', path: '/', ...http } } } });

  it('refuses requests without attributes.request.http', () => {
    expect(() => readCheckRequest(new Uint8Array(0), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestEmpty }));
    expect(() => readCheckRequest(encodeCheckRequestJson({ attributes: {} }), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestEmpty }));
  });

  it('refuses garbage bytes and invalid UTF-8', () => {
    expect(() => readCheckRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff]), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestMalformed }));
    // attributes(1) { request(4) { http(2) { method(2) = "\xff\xfe" } } }
    const bad = Buffer.from([0x0a, 0x08, 0x22, 0x06, 0x12, 0x04, 0x12, 0x02, 0xff, 0xfe]);
    expect(() => readCheckRequest(bad, LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestInvalidUtf8 }));
  });

  it('refuses a string field exactly when its bytes are not UTF-8', () => {
    const rand = prng(0x07f8);
    // Bytes drawn mostly from the ranges where UTF-8 goes wrong: continuation
    // bytes, lead bytes, overlongs (c0, c1, e0 80), surrogates (ed a0), beyond U+10FFFF (f4 90, f5).
    const pool = [0x41, 0x80, 0x8f, 0x90, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xbd, 0xf0, 0xf4, 0xf5, 0xff];
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pool[Math.floor(rand() * pool.length)]!));
      if (i % 7 === 0) bytes.set([0xef, 0xbf, 0xbd].slice(0, bytes.length)); // U+FFFD itself, spelt validly
      // attributes(1) { request(4) { http(2) { method(2) = bytes } } }
      const http = Buffer.concat([Buffer.from([0x12, bytes.length]), bytes]);
      const request = Buffer.concat([Buffer.from([0x12, http.length]), http]);
      const attributes = Buffer.concat([Buffer.from([0x22, request.length]), request]);
      const message = Buffer.concat([Buffer.from([0x0a, attributes.length]), attributes]);
      if (isUtf8(bytes)) {
        expect(readCheckRequest(message, LIMITS).http.method).toBe(bytes.toString('utf8'));
      } else {
        refused++;
        expect(() => readCheckRequest(message, LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestInvalidUtf8 }));
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('enforces header, path and body limits', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 101; i++) many[`h${i}`] = 'v';
    expect(() => readCheckRequest(enc({ headers: many }), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestTooLarge }));
    expect(() => readCheckRequest(enc({ headers: { big: 'x'.repeat(70000) } }), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestTooLarge }));
    expect(() => readCheckRequest(enc({ path: `/${'a'.repeat(9000)}` }), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestTooLarge }));
    expect(() => readCheckRequest(enc({ body: 'x'.repeat((1 << 20) + 1) }), LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestTooLarge }));
  });

  it('folds header_map (encode_raw_headers) into headers', () => {
    const bytes = encodeCheckRequestJson({
      attributes: {
        request: {
          http: {
            method: 'GET',
            path: '/',
            header_map: {
              headers: [
                { key: 'x-a', raw_value: Buffer.from('1').toString('base64') },
                { key: 'x-a', raw_value: Buffer.from('2').toString('base64') },
              ],
            },
          },
        },
      },
    });
    expect(readCheckRequest(bytes, LIMITS).http.headers).toEqual({ 'x-a': '1,2' });
  });
});

describe('CheckRequest wire strictness (one meaning per accepted request)', () => {
  // Hand-built wire bytes: a length-delimited field, a varint field, a string.
  const ld = lengthDelimited;
  const vi = varintField;
  const str = (field: number, text: string): Uint8Array => stringField(field, text);
  // CheckRequest { attributes(1) { request(4) { ... } } }
  const withRequest = (...parts: Uint8Array[]): Uint8Array => ld(1, ld(4, ...parts));
  const http = (...parts: Uint8Array[]): Uint8Array => ld(2, ...parts);
  const refused = (bytes: Uint8Array, reason: string = Reason.requestMalformed) =>
    expect(() => readCheckRequest(bytes, LIMITS)).toThrow(expect.objectContaining({ reason }));

  it('refuses an embedded message sent twice, which protobufjs would replace instead of merge', () => {
    // Merged as the spec says: GET /public; replaced: no method, /public. Neither is guessed.
    refused(withRequest(http(str(2, 'GET'), str(4, '/admin')), http(str(4, '/public'))));
    refused(Buffer.concat([withRequest(http(str(2, 'GET'), str(4, '/'))), withRequest(http(str(2, 'POST'), str(4, '/')))]));
    // attributes.source twice
    refused(ld(1, ld(1, str(4, 'spiffe://td/a')), ld(1, str(4, 'spiffe://td/b')), ld(4, http(str(2, 'GET'), str(4, '/')))));
    // A Struct value (metadata) with its struct_value twice, deep inside a map entry.
    const value = ld(2, ld(5, ld(1, str(1, 'a'), ld(2, str(3, 'x')))), ld(5, ld(1, str(1, 'b'), ld(2, str(3, 'y')))));
    refused(ld(1, ld(11, ld(1, str(1, 'ns'), ld(2, ld(1, str(1, 'k'), value)))), ld(4, http(str(2, 'GET'), str(4, '/')))));
  });

  it('refuses two members of one oneof (the spec keeps the last, protobufjs both)', () => {
    // source.address.socket_address { port_value(3) = 80, named_port(4) = "http" }
    const socket = ld(1, str(2, '10.0.0.1'), vi(3, 80), str(4, 'http'));
    refused(ld(1, ld(1, ld(1, socket)), ld(4, http(str(2, 'GET'), str(4, '/')))));
    // a metadata Value with string_value(3) and bool_value(4)
    const value = ld(2, str(3, 'x'), vi(4, 1));
    refused(ld(1, ld(11, ld(1, str(1, 'ns'), ld(2, ld(1, str(1, 'k'), value)))), ld(4, http(str(2, 'GET'), str(4, '/')))));
  });

  it('refuses a known field with the wrong wire type, a 6-to-9-byte 32-bit varint and group wire types', () => {
    refused(withRequest(http(vi(2, 5), str(4, '/')))); // method as a varint
    const port = (bytes: number[]) => ld(1, ld(1, ld(1, ld(1, Buffer.from([0x18, ...bytes])))), ld(4, http(str(2, 'GET'), str(4, '/'))));
    refused(port([0xd0, 0x80, 0x80, 0x80, 0x80, 0x00])); // 80 in 6 bytes: protobufjs would take 10
    expect(readCheckRequest(port([0xd0, 0x80, 0x80, 0x80, 0x00]), LIMITS).attributes).toMatchObject({
      source: { address: { socketAddress: { portValue: 80 } } },
    });
    refused(withRequest(http(str(2, 'GET'), str(4, '/'), Buffer.from([0xfb, 0x06, 0xfc, 0x06])))); // group 111, empty
    refused(withRequest(http(str(2, 'GET'), str(4, '/'), Buffer.from([0x03])))); // field 0
  });

  it('accepts what the spec gives one meaning: unknown fields, and a scalar repeated (the last one wins)', () => {
    const r = readCheckRequest(withRequest(http(str(2, 'GET'), str(4, '/a'), str(4, '/b'), vi(99, 7), str(98, 'new field'))), LIMITS);
    expect(r.http).toMatchObject({ method: 'GET', path: '/b' });
  });

  const timed = (time: { seconds?: number; nanos?: number }): Uint8Array =>
    CheckRequestType.encode(CheckRequestType.fromObject({ attributes: { request: { time, http: { method: 'GET', path: '/' } } } })).finish();

  it('refuses request.time outside the Timestamp range as request_malformed', () => {
    for (const t of [
      { seconds: 1e15 },
      { seconds: 253_402_300_800 },
      { seconds: -62_135_596_801 },
      { seconds: 0, nanos: -1 },
      { seconds: 0, nanos: 1_000_000_000 },
    ]) {
      refused(timed(t));
    }
    // int64 beyond 2^53: hand-built, as fromObject cannot hold it.
    refused(withRequest(ld(1, vi(1, 2n ** 62n)), http(str(2, 'GET'), str(4, '/'))));
    refused(withRequest(ld(1, vi(1, -(2n ** 62n))), http(str(2, 'GET'), str(4, '/'))));
  });

  it('accepts the ends of the Timestamp range', () => {
    const time = (t: { seconds?: number; nanos?: number }) => (readCheckRequest(timed(t), LIMITS).attributes as any).request.time;
    expect(time({ seconds: -62_135_596_800 })).toEqual({ seconds: -62_135_596_800 });
    expect(time({ seconds: 253_402_300_799, nanos: 999_999_999 })).toEqual({ seconds: 253_402_300_799, nanos: 999_999_999 });
    expect(time({})).toEqual({});
  });
});
