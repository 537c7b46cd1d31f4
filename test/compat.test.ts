// compat: opa-envoy, piece by piece (the differential suite, test/drop-in,
// runs the whole of it against the real opa-envoy-plugin): each deviation
// ztauthz keeps by default, and opa-envoy-plugin's behaviour with compat.
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { readCheckRequest } from '../src/envoy/CheckRequest.ts';
import { buildPolicyInput } from '../src/envoy/PolicyInput.ts';
import { goParsedPathAndQuery } from '../src/envoy/GoUrl.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import { canonicalPath } from '../src/route/CanonicalPath.ts';
import { Reason } from '../src/types/Reason.ts';
import { CheckClient } from './support/checkClient.ts';
import { authorizationHandlers } from '../src/server/AuthorizationService.ts';
import type { CheckPipeline } from '../src/check/CheckPipeline.ts';
import { startInProcess } from './support/servers.ts';

const LIMITS = { maxHeaders: 100, maxHeaderBytes: 65536, maxPathBytes: 8192, maxBodyBytes: 1 << 20 };

const parseError = (target: string) => {
  try {
    goParsedPathAndQuery(target);
  } catch (err) {
    return { reason: (err as { reason: string }).reason, body: (err as { response?: { body?: string } }).response?.body };
  }
  return undefined;
};

describe('parsed_path and parsed_query as opa-envoy-plugin computes them (Go url package)', () => {
  it('unescapes, then trims leading slashes and splits on "/"', () => {
    const p = (t: string) => goParsedPathAndQuery(t).segments;
    expect(p('/people')).toEqual(['people']);
    expect(p('/')).toEqual(['']);
    expect(p('')).toEqual(['']);
    expect(p('//admin/x')).toEqual(['admin', 'x']);
    expect(p('/a%2Fb')).toEqual(['a', 'b']);
    expect(p('/a/../admin')).toEqual(['a', '..', 'admin']);
    expect(p('/a#frag')).toEqual(['a#frag']);
    expect(p('/caf%C3%A9')).toEqual(['café']);
    expect(p('/a+b')).toEqual(['a+b']);
    expect(p('*')).toEqual(['*']);
    expect(p('http://other.example/x')).toEqual(['http:', '', 'other.example', 'x']);
  });

  it('parses the query with url.ParseQuery', () => {
    expect(goParsedPathAndQuery('/a?x=1&x=2&y=a+b&z&&=v').query).toEqual({ x: ['1', '2'], y: ['a b'], z: [''], '': ['v'] });
    expect(goParsedPathAndQuery('/a?k=%41').query).toEqual({ k: ['A'] });
  });

  it("answers Go's errors as opa-envoy-plugin's 400 request_parse_error bodies", () => {
    expect(parseError('/a?x=1;y=2')).toEqual({ reason: Reason.pathRejected, body: 'request_parse_error: invalid semicolon separator in query' });
    expect(parseError('/a?bad=%zz')).toEqual({ reason: Reason.pathRejected, body: 'request_parse_error: invalid URL escape "%zz"' });
    expect(parseError('/a%z')).toEqual({ reason: Reason.pathRejected, body: 'request_parse_error: invalid URL escape "%z"' });
    // The semicolon error replaces an earlier escape error, as in Go.
    expect(parseError('/a?b=%zz&c;d')?.body).toBe('request_parse_error: invalid semicolon separator in query');
  });
});

describe('the request as input', () => {
  const headerMapRequest = encodeCheckRequestJson({
    attributes: { request: { http: { method: 'GET', path: '/', header_map: { headers: [{ key: 'X-A', raw_value: Buffer.from('1').toString('base64') }] } } } },
  });

  it('default: headerMap is folded into headers; compat: left as sent, headers absent', () => {
    const folded = readCheckRequest(headerMapRequest, LIMITS);
    expect(folded.http.headers).toEqual({ 'x-a': '1' });
    expect((folded.attributes as any).request.http.headers).toEqual({ 'x-a': '1' });
    const plain = readCheckRequest(headerMapRequest, LIMITS, { compat: true });
    expect(plain.http.headers).toEqual({});
    expect((plain.attributes as any).request.http.headers).toBeUndefined();
    expect((plain.attributes as any).request.http.headerMap).toEqual({ headers: [{ key: 'X-A', rawValue: 'MQ==' }] });
  });

  it('has no headers key when the request has none (both modes)', () => {
    const req = readCheckRequest(encodeCheckRequestJson({ attributes: { request: { http: { method: 'GET', path: '/' } } } }), LIMITS);
    expect('headers' in ((req.attributes as any).request.http as object)).toBe(false);
  });

  it('default: a CheckRequest without http is refused (request_empty); compat: evaluated as opa-envoy-plugin does', () => {
    const noHttp = encodeCheckRequestJson({ attributes: { source: { principal: 'spiffe://td/a' } } });
    expect(() => readCheckRequest(noHttp, LIMITS)).toThrow(expect.objectContaining({ reason: Reason.requestEmpty }));
    const req = readCheckRequest(noHttp, LIMITS, { compat: true });
    const input = buildPolicyInput(req, { path: '', segments: [], query: '' }, { parseBody: true, truncatedBody: 'policy', compat: true });
    expect(input).toEqual({
      attributes: { source: { principal: 'spiffe://td/a' } },
      version: { ext_authz: 'v3', encoding: 'protojson' },
      parsed_path: [''],
      parsed_query: {},
      parsed_body: null,
      truncated_body: false,
      source_principal: 'spiffe://td/a',
    });
  });

  it('default: parsed_path is the canonical target; compat: the Go parse of the raw one', () => {
    const req = readCheckRequest(encodeCheckRequestJson({ attributes: { request: { http: { method: 'OPTIONS', path: '*' } } } }), LIMITS);
    const target = canonicalPath('OPTIONS', '*', { maxPathBytes: 8192 });
    expect(buildPolicyInput(req, target, { parseBody: false, truncatedBody: 'deny' })['parsed_path']).toEqual([]);
    expect(buildPolicyInput(req, target, { parseBody: false, truncatedBody: 'deny', compat: true })['parsed_path']).toEqual(['*']);
  });
});

describe('gRPC codes in grpc_error mode', () => {
  const codeFor = (reason: string, compat: boolean): Promise<number | undefined> =>
    new Promise((resolve) => {
      const pipeline = { check: () => ({ response: undefined, error: { reason, message: 'x' } }) } as unknown as CheckPipeline;
      const call = { request: Buffer.alloc(0), getDeadline: () => Infinity } as unknown as grpc.ServerUnaryCall<Buffer, Buffer>;
      (authorizationHandlers(pipeline, undefined, { compat })['Check'] as grpc.handleUnaryCall<Buffer, Buffer>)(call, (err) =>
        resolve((err as { code?: number } | null)?.code),
      );
    });

  it('policy errors are UNKNOWN as in opa-envoy-plugin; not_ready is UNAVAILABLE unless compat; deadline and internal errors keep their codes', async () => {
    for (const compat of [false, true]) {
      for (const r of [Reason.policyError, Reason.policyUndefined, Reason.resultInvalid]) expect(await codeFor(r, compat)).toBe(grpc.status.UNKNOWN);
      expect(await codeFor(Reason.deadlineExceeded, compat)).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(await codeFor(Reason.internalError, compat)).toBe(grpc.status.INTERNAL);
    }
    expect(await codeFor(Reason.notReady, false)).toBe(grpc.status.UNAVAILABLE);
    expect(await codeFor(Reason.notReady, true)).toBe(grpc.status.UNKNOWN);
  });
});

describe('a server with compat: opa-envoy', () => {
  it("evaluates what the default refuses and gives the policy opa-envoy-plugin's input alone", async () => {
    const policy = 'test/fixtures/policies/echo-input';
    const servers = await Promise.all([
      startInProcess({ policy, compat: 'opa-envoy', 'decision-log-enabled': 'false' }),
      startInProcess({ policy, 'decision-log-enabled': 'false' }),
    ]);
    const [compat, plain] = servers.map((s) => new CheckClient(s.grpcPort));
    try {
      const req = {
        attributes: { request: { http: { method: 'GET', path: '//admin/x', host: 'api.example.com', headers: { ':authority': 'admin.example.com' } } } },
      };
      const refused = await plain!.check(req);
      expect(refused.status).toEqual({ code: 7, message: 'path_rejected' });
      const res = await compat!.check(req);
      expect(res.status?.code ?? 0).toBe(0);
      const echoed = JSON.parse(res.okResponse!.headers![0]!.header!.value!);
      expect(Object.keys(echoed).sort()).toEqual(['attributes', 'parsed_body', 'parsed_path', 'parsed_query', 'truncated_body', 'version']);
      expect(echoed.parsed_path).toEqual(['admin', 'x']);
      // A policy error is a gRPC UNKNOWN, as from opa-envoy-plugin.
      await expect(compat!.check({ attributes: { request: { http: { method: 'DELETE', path: '/' } } } })).rejects.toMatchObject({ code: grpc.status.UNKNOWN });
    } finally {
      compat!.close();
      plain!.close();
      await Promise.all(servers.map((s) => s.stop(1000)));
    }
  });
});
