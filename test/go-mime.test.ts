// Go's mime.ParseMediaType (src/envoy/GoMime.ts), as opa-envoy-plugin reads a
// multipart content type under compat: the expected answers were produced by
// Go 1.26's mime.ParseMediaType on each input.
import { describe, expect, it } from 'vitest';
import { goMediaTypeParams } from '../src/envoy/GoMime.ts';

/** [content type, Go's error, or the boundary (null: none)] */
const GO: Array<[string, { error: string } | { boundary: string | null }]> = [
  ['multipart/form-data; boundary=q; junk', { error: 'mime: invalid media parameter' }],
  ['multipart/form-data', { boundary: null }],
  ['multipart/form-data; boundary="a b"', { boundary: 'a b' }],
  ['multipart/form-data;boundary=q;', { boundary: 'q' }],
  ['multipart/form-data; boundary=q; boundary=r', { error: 'mime: duplicate parameter name' }],
  ['multipart/form-data; boundary=q; BOUNDARY=q', { boundary: 'q' }],
  ['x multipart/form-data; boundary=q', { error: 'mime: expected slash after first token' }],
  ['multipart/form-data/x; boundary=q', { error: 'mime: unexpected content after media subtype' }],
  ['; boundary=q', { error: 'mime: no media type' }],
  ['multipart/form-data; boundary=', { error: 'mime: invalid media parameter' }],
  ['multipart/form-data; boundary="unterminated', { error: 'mime: invalid media parameter' }],
  ['multipart/form-data; boundary=q;;', { error: 'mime: invalid media parameter' }],
  ['multipart/form-data; boundary="a\\"b"', { boundary: 'a"b' }],
  ['multipart/form-data ; boundary = q', { boundary: 'q' }],
];

describe("goMediaTypeParams (opa-envoy-plugin's multipart content type)", () => {
  it.each(GO)('%s', (contentType, want) => {
    const got = goMediaTypeParams(contentType);
    if ('error' in want) expect(got).toEqual(want);
    else expect('params' in got ? (got.params.get('boundary') ?? null) : got).toBe(want.boundary);
  });
});
