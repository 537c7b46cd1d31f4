import { describe, expect, it } from 'vitest';
import { callerElement, parseXfcc, xfccCallerId } from '../../src/identity/Xfcc.ts';

const HASH = 'a'.repeat(64);
// An element as an Istio sidecar writes it (APPEND_FORWARD, Subject/URI/DNS details).
const el = (by: string, uri: string) => `By=${by};Hash=${HASH};Subject="";URI=${uri}`;

function callerId(header: string): string {
  const r = xfccCallerId(header);
  return r.ok ? r.id.spiffe_id : `error: ${r.reason}`;
}

describe('XFCC parsing', () => {
  it('parses an Istio element', () => {
    const r = parseXfcc(el('spiffe://cluster.local/ns/foo/sa/httpbin', 'spiffe://cluster.local/ns/foo/sa/sleep'));
    expect(r).toEqual({
      ok: true,
      elements: [
        {
          by: 'spiffe://cluster.local/ns/foo/sa/httpbin',
          hash: HASH,
          cert: null,
          chain: null,
          subject: '',
          uri: ['spiffe://cluster.local/ns/foo/sa/sleep'],
          dns: [],
        },
      ],
    });
  });

  it("parses Envoy's documented example with quoted values, repeats and case-insensitive keys", () => {
    const h =
      'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;' +
      'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;dns=www.lyft.com';
    const r = parseXfcc(h);
    expect(r.ok && r.elements[0]).toMatchObject({
      subject: '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client',
      uri: ['http://testclient.lyft.com'],
      dns: ['lyft.com', 'www.lyft.com'],
    });
  });

  it('does not split on commas, semicolons or equals inside quotes, and unescapes \\"', () => {
    const r = parseXfcc('Subject="CN=a\\, b;c=\\"d\\"";URI=spiffe://td/x,By=spiffe://td/y;URI=spiffe://td/z');
    expect(r.ok && r.elements.map((e) => [e.subject, e.by, e.uri])).toEqual([
      ['CN=a\\, b;c="d"', null, ['spiffe://td/x']],
      [null, 'spiffe://td/y', ['spiffe://td/z']],
    ]);
  });

  it('accepts a space after an element comma (joined header lines)', () => {
    const r = parseXfcc('URI=spiffe://td/a, URI=spiffe://td/b');
    expect(r.ok && r.elements.map((e) => e.uri[0])).toEqual(['spiffe://td/a', 'spiffe://td/b']);
  });

  it.each([
    ['an unbalanced quote', 'By=spiffe://td/a;Subject="CN=x;URI=spiffe://td/b', 'unbalanced quotes'],
    ['a quote inside an unquoted value', 'URI=spiffe://td/a"b', 'unbalanced quotes'],
    ['a trailing escaped quote', 'Subject="abc\\"', 'unbalanced quotes'],
    ['text after a closing quote', 'Subject="a"b;URI=spiffe://td/a', 'text after a quoted value'],
    ['an unquoted "="', 'Hash=abc=;URI=spiffe://td/a', 'unquoted "=" in a value'],
    ['an unknown key', 'URI=spiffe://td/a;Role=admin', 'unknown key'],
    ['a repeated By', 'By=spiffe://td/a;By=spiffe://td/b;URI=spiffe://td/c', 'repeated by'],
    ['a pair without "="', 'URI=spiffe://td/a;garbage', 'pair without "="'],
    ['an empty element', 'URI=spiffe://td/a,,URI=spiffe://td/b', 'malformed key'],
    ['a trailing comma', 'URI=spiffe://td/a,', 'pair without "="'],
    ['an empty header', '', 'empty'],
    ['a key with spaces', 'U RI=spiffe://td/a', 'malformed key'],
  ])('rejects %s', (_name, header, reason) => {
    expect(parseXfcc(header)).toEqual({ ok: false, reason });
  });

  it('bounds size, element count and pairs', () => {
    expect(parseXfcc(`URI=${'a'.repeat(70_000)}`)).toEqual({ ok: false, reason: 'too large' });
    expect(parseXfcc(Array(40).fill('URI=spiffe://td/a').join(','))).toEqual({ ok: false, reason: 'too many elements' });
    expect(parseXfcc(Array(3).fill('URI=spiffe://td/a').join(','), { maxElements: 3 }).ok).toBe(true);
    expect(parseXfcc(Array(4).fill('URI=spiffe://td/a').join(','), { maxElements: 3 }).ok).toBe(false);
    expect(parseXfcc(Array(65).fill('DNS=a').join(';'))).toEqual({ ok: false, reason: 'too many pairs' });
  });
});

describe('the caller is named by the last element', () => {
  const gw = 'spiffe://cluster.local/ns/istio-system/sa/ingressgateway';
  const web = 'spiffe://cluster.local/ns/web/sa/frontend';
  const me = 'spiffe://cluster.local/ns/ml/sa/inference';

  it('with one element', () => {
    expect(callerId(el(me, web))).toBe(web);
  });

  it('with two elements: the earlier one came from further downstream', () => {
    expect(callerId(`${el(gw, 'spiffe://cluster.local/ns/x/sa/external')},${el(me, web)}`)).toBe(web);
  });

  it('with three elements, whatever the client put first', () => {
    const forged = el(me, 'spiffe://cluster.local/ns/admin/sa/root');
    expect(callerId(`${forged},${el(web, gw)},${el(me, web)}`)).toBe(web);
    const parsed = parseXfcc(`${forged},${el(me, web)}`);
    expect(parsed.ok && callerElement(parsed.elements)).toMatchObject({ uri: [web] });
  });

  it.each([
    ['a URI that is not a SPIFFE ID', el(me, 'https://evil.example/ns/web/sa/frontend'), 'URI is not a SPIFFE ID (scheme is missing or invalid)'],
    ['an upper-case SPIFFE ID', el(me, 'spiffe://Cluster.local/ns/web/sa/frontend'), /^URI is not a SPIFFE ID \(trust domain/],
    ['two URIs in the caller element', `${el(me, web)};URI=spiffe://cluster.local/ns/admin/sa/root`, 'several URIs in the caller element'],
    ['no URI in the caller element', `${el(me, web)},By=${me};Hash=${HASH};DNS=frontend.web`, 'no URI in the caller element'],
    ['a trust-domain ID', el(me, 'spiffe://cluster.local'), 'URI is a trust domain, not a workload'],
    ['a malformed header', `${el(me, web)};Subject="open`, 'unbalanced quotes'],
  ])('gives no identity for %s', (_name, header, reason) => {
    const r = xfccCallerId(header);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      if (typeof reason === 'string') expect(r.reason).toBe(reason);
      else expect(r.reason).toMatch(reason);
    }
  });

  it('ignores a non-SPIFFE URI in an earlier element only', () => {
    expect(callerId(`${el(gw, 'https://client.example')},${el(me, web)}`)).toBe(web);
  });
});
