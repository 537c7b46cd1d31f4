// The route phase observed through the real Check pipeline (decode ->
// canonicalise -> policy input, which parses the body -> match -> body
// fields): each case sends a CheckRequest to the pipeline `serve` runs and
// reads the input the policy saw, or the denial's reason.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { buildPhases, createPipeline } from '../../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import type { JsonObject } from '../../src/types/Json.ts';
import { frame, inferRequest } from './grpcMessages.ts';

type Pipeline = ReturnType<typeof createPipeline>;

/** The pipeline at the defaults (decision log off: nothing here reads it), plus `routes` from a config file when given. */
async function pipelineWith(routes?: Record<string, unknown>): Promise<Pipeline> {
  let file: string | undefined;
  if (routes) {
    file = join(mkdtempSync(join(tmpdir(), 'ztauthz-routes-')), 'config.yaml');
    writeFileSync(file, stringify({ routes }));
  }
  const config = loadConfig({ file, flags: { 'decision-log-enabled': 'false' } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  return createPipeline(config, policies, phases);
}

const defaults = await pipelineWith();

/** One Check: the input the policy saw (undefined when refused before it) and the decision's reason. */
async function check(request: unknown, p: Pipeline = defaults): Promise<{ input: JsonObject; route: unknown; reason: string }> {
  const outcome = await p.check(Buffer.from(encodeCheckRequestJson(request)));
  const input = outcome.input ?? {};
  return { input, route: input['route'], reason: outcome.decision.reason };
}

function http(fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { attributes: { request: { http: { method: 'POST', host: 'svc', ...fields } }, ...extra } };
}

describe('route phase through the real Check pipeline', () => {
  it('the README fixture: KServe v2 REST infer', async () => {
    const req = JSON.parse(readFileSync(new URL('../fixtures/requests/frontend-infer.json', import.meta.url), 'utf8'));
    const out = await check(req);
    expect(out.route).toMatchObject({ name: 'kserve-v2-infer', action: 'infer', model: 'fraud-detector' });
    expect(out.input['canonical']).toMatchObject({ host: 'fraud-detector.ml-serving.svc.cluster.local', port: null });
    expect(out.input['parsed_path']).toEqual(['v2', 'models', 'fraud-detector', 'infer']);
  });

  it('OpenAI chat: the model from the body parsed once by the input phase', async () => {
    const out = await check(
      http({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":"llama-3-8b","messages":[]}' }),
    );
    expect(out.route).toMatchObject({ name: 'openai-chat-completions', model: 'llama-3-8b' });
  });

  it('KServe v2 gRPC ModelInfer: the model from raw_body (pack_as_bytes)', async () => {
    const raw = frame(inferRequest('fraud-detector', '2')).toString('base64');
    const out = await check(http({ path: '/inference.GRPCInferenceService/ModelInfer', headers: { 'content-type': 'application/grpc' }, raw_body: raw }));
    expect(out.route).toMatchObject({ name: 'kserve-v2-grpc-infer', model: 'fraud-detector', version: '2' });
  });

  it('a partial gRPC body (Envoy marks it) is body_truncated', async () => {
    const raw = frame(inferRequest('fraud-detector')).subarray(0, 20).toString('base64');
    const headers = { 'content-type': 'application/grpc', 'x-envoy-auth-partial-body': 'true' };
    expect((await check(http({ path: '/inference.GRPCInferenceService/ModelInfer', headers, raw_body: raw }))).reason).toBe('body_truncated');
  });

  it('a partial JSON body is body_truncated for a route that reads it', async () => {
    const headers = { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' };
    expect((await check(http({ path: '/v1/chat/completions', headers, body: '{"model":"ll' }))).reason).toBe('body_truncated');
  });

  it('a body that does not parse is refused by the input phase before routing', async () => {
    const out = await check(http({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":' }));
    expect(out.reason).toBe('body_invalid');
    expect(out.route).toBeUndefined();
  });

  it('context_extensions pick the route', async () => {
    const out = await check(http({ path: '/v2/models/stats', method: 'GET' }, { context_extensions: { ztauthz_route: 'kserve-v2-model-metadata' } }));
    expect(out.route).toMatchObject({ name: 'kserve-v2-model-metadata', model: 'stats' });
  });

  it('routes.unmatched: deny and user routes from the configuration', async () => {
    const strict = await pipelineWith({
      unmatched: 'deny',
      table: [{ name: 'scoring', methods: ['POST'], path: '/score/{model}', api: 'scoring', action: 'infer' }],
    });
    expect((await check(http({ path: '/score/m' }), strict)).route).toMatchObject({ name: 'scoring', model: 'm' });
    const unmatched = await check(http({ path: '/unknown' }), strict);
    expect(unmatched.reason).toBe('route_unmatched');
  });

  it('attack paths are refused before the input is built', async () => {
    for (const path of ['/info/../private', '//admin/secret', '/admin%2Fsecret', '/v1/..;/internal', '/a%5Cb']) {
      const out = await check(http({ path, method: 'GET' }));
      expect(out.reason, path).toBe('path_rejected');
      expect(out.input, path).toEqual({});
    }
    expect((await check(http({ path: '/', method: 'GET', host: 'a', headers: { host: 'b' } }))).reason).toBe('host_rejected');
  });
});
