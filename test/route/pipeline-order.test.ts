// The route phase on real CheckRequests, in the order the pipeline runs it:
// decode -> canonicalise -> policy input (parses the body) -> match -> body
// fields. Uses src/envoy as it stands, read-only.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCheckRequest } from '../../src/envoy/CheckRequest.ts';
import { buildPolicyInput } from '../../src/envoy/PolicyInput.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import { DEFAULT_ROUTE_CONFIG, parseRouteConfig } from '../../src/route/RouteConfig.ts';
import { Router } from '../../src/route/Router.ts';
import type { CheckError } from '../../src/types/Reason.ts';
import type { JsonObject } from '../../src/types/Json.ts';
import { frame, inferRequest } from './grpcMessages.ts';

const LIMITS = { maxHeaders: 100, maxHeaderBytes: 65536, maxPathBytes: 8192, maxBodyBytes: 1 << 20 };
const ROUTER_OPTS = { defaultEntrypoint: 'envoy/authz/allow', maxPathBytes: LIMITS.maxPathBytes, maxBodyBytes: LIMITS.maxBodyBytes };
const router = new Router(DEFAULT_ROUTE_CONFIG, ROUTER_OPTS);

/** The pipeline's order: decode, canonicalise, build the input (parses the body), select (match + body fields). */
function check(request: unknown, truncatedBody: 'deny' | 'policy' = 'policy', r = router) {
  const view = readCheckRequest(encodeCheckRequestJson(request), LIMITS);
  const canon = r.canonicalise(view.http);
  const input = buildPolicyInput(view, canon.path, { parseBody: true, truncatedBody });
  const sel = r.select(view.http, input, canon);
  input['route'] = sel.route as unknown as JsonObject | null;
  return { host: canon.host, input, ...sel };
}

function http(fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { attributes: { request: { http: { method: 'POST', host: 'svc', ...fields } }, ...extra } };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as CheckError).reason;
  }
  return 'accepted';
}

describe('route phase on real CheckRequests', () => {
  it('the README fixture: KServe v2 REST infer', () => {
    const req = JSON.parse(readFileSync(new URL('../fixtures/requests/frontend-infer.json', import.meta.url), 'utf8'));
    const out = check(req);
    expect(out.route).toMatchObject({ name: 'kserve-v2-infer', action: 'infer', model: 'fraud-detector' });
    expect(out.host).toEqual({ host: 'fraud-detector.ml-serving.svc.cluster.local', port: null });
    expect(out.input['parsed_path']).toEqual(['v2', 'models', 'fraud-detector', 'infer']);
  });

  it('OpenAI chat: the model from the body parsed once by the input phase', () => {
    const out = check(http({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":"llama-3-8b","messages":[]}' }));
    expect(out.route).toMatchObject({ name: 'openai-chat-completions', model: 'llama-3-8b' });
  });

  it('KServe v2 gRPC ModelInfer: the model from raw_body (pack_as_bytes)', () => {
    const raw = frame(inferRequest('fraud-detector', '2')).toString('base64');
    const out = check(http({ path: '/inference.GRPCInferenceService/ModelInfer', headers: { 'content-type': 'application/grpc' }, raw_body: raw }));
    expect(out.route).toMatchObject({ name: 'kserve-v2-grpc-infer', model: 'fraud-detector', version: '2' });
  });

  it('a partial gRPC body (Envoy marks it) is body_truncated', () => {
    const raw = frame(inferRequest('fraud-detector')).subarray(0, 20).toString('base64');
    const headers = { 'content-type': 'application/grpc', 'x-envoy-auth-partial-body': 'true' };
    expect(reason(() => check(http({ path: '/inference.GRPCInferenceService/ModelInfer', headers, raw_body: raw })))).toBe('body_truncated');
  });

  it('a partial JSON body handed to the policy (truncated_body: policy) is still body_truncated for a route that reads it', () => {
    const headers = { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' };
    expect(reason(() => check(http({ path: '/v1/chat/completions', headers, body: '{"model":"ll' })))).toBe('body_truncated');
  });

  it('a body that does not parse is refused by the input phase before routing', () => {
    expect(reason(() => check(http({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":' })))).toBe('body_invalid');
  });

  it('context_extensions arrive as protojson contextExtensions', () => {
    const out = check(http({ path: '/v2/models/stats', method: 'GET' }, { context_extensions: { ztauthz_route: 'kserve-v2-model-metadata' } }));
    expect(out.route).toMatchObject({ name: 'kserve-v2-model-metadata', model: 'stats' });
  });

  it('routes.unmatched: deny and user routes through the Router', () => {
    const strict = new Router(parseRouteConfig({ unmatched: 'deny', table: [{ name: 'scoring', methods: ['POST'], path: '/score/{model}', api: 'scoring', action: 'infer' }] }), ROUTER_OPTS);
    expect(check(http({ path: '/score/m' }), 'policy', strict).input['route']).toMatchObject({ name: 'scoring', model: 'm' });
    expect(reason(() => check(http({ path: '/unknown' }), 'policy', strict))).toBe('route_unmatched');
    const scoped = new Router(parseRouteConfig({ table: [{ name: 'scoring', methods: ['POST'], path: '/score/{model}', api: 'scoring', action: 'infer', entrypoint: 'scoring/allow' }] }), ROUTER_OPTS);
    expect(scoped.entrypoints).toEqual(['envoy/authz/allow', 'scoring/allow']);
  });

  it('attack paths are refused before the input is built', () => {
    for (const path of ['/info/../private', '//admin/secret', '/admin%2Fsecret', '/v1/..;/internal', '/a%5Cb']) {
      expect(reason(() => check(http({ path, method: 'GET' }))), path).toBe('path_rejected');
    }
    expect(reason(() => check(http({ path: '/', method: 'GET', host: 'a', headers: { host: 'b' } })))).toBe('host_rejected');
  });
});
