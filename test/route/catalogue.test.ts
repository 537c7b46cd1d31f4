import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CATALOGUE } from '../../src/route/Catalogue.ts';
import { README_PATH, catalogueTable, tableInReadme } from '../../src/route/CatalogueDoc.ts';
import { canonicalPath } from '../../src/route/CanonicalPath.ts';
import { buildRouteTable, DEFAULT_ROUTE_CONFIG, validateRoute } from '../../src/route/RouteConfig.ts';
import { RouteSelector } from '../../src/route/RouteSelect.ts';
import { parseTemplate } from '../../src/route/RouteTemplate.ts';
import type { BodyInput } from '../../src/route/BodyFields.ts';
import { frame, encode, inferRequest } from './grpcMessages.ts';

const table = buildRouteTable(DEFAULT_ROUTE_CONFIG, { defaultEntrypoint: 'envoy/authz/allow' });
const selector = new RouteSelector(table, { unmatched: 'default', defaultEntrypoint: 'envoy/authz/allow', maxBodyBytes: 1 << 20 });
const NO_BODY: BodyInput = { contentType: undefined, parsed: null, truncated: false, text: '', raw: Buffer.alloc(0), query: {} };

/** The route for a raw request target, through the canonical path, as the pipeline does it. */
function route(method: string, target: string, body: Partial<BodyInput> = {}) {
  const c = canonicalPath(method, target, { maxPathBytes: 8192 });
  return selector.select({ method, segments: c.segments, contextExtensions: undefined, body: { ...NO_BODY, ...body } }).route;
}

const json = (value: unknown): Partial<BodyInput> => ({ contentType: 'application/json', parsed: value as BodyInput['parsed'], text: JSON.stringify(value) });
const grpc = (message: Uint8Array): Partial<BodyInput> => ({ contentType: 'application/grpc', raw: frame(message) });
const query = (q: Record<string, string[]>): Partial<BodyInput> => ({ query: q });

describe('catalogue: the data', () => {
  it('every route passes the config validator (the catalogue obeys the rules users do)', () => {
    for (const [i, r] of CATALOGUE.entries()) expect(validateRoute(r, `catalogue[${i}]`)).toEqual(r);
  });

  it('every route is reachable: a request built from its own template matches it', () => {
    for (const r of CATALOGUE) {
      const segments = parseTemplate(r.name, r.path).map((s) =>
        s.kind === 'literal' ? s.text : s.kind === 'tail' ? 'a/b' : `${s.prefix}p-${s.name}${s.suffix}`,
      );
      const segs = segments.join('/').split('/');
      expect(table.match(r.methods[0] as string, segs)?.name, r.name).toBe(r.name);
    }
  });

  it('policies/routes/README.md has the table the data generates', () => {
    expect(tableInReadme(readFileSync(README_PATH, 'utf8'))).toBe(catalogueTable());
  });
});

describe('catalogue: route extraction per API family', () => {
  it('KServe v1', () => {
    expect(route('POST', '/v1/models/fraud:predict')).toMatchObject({ name: 'v1-models-predict', api: 'v1-models', action: 'infer', model: 'fraud' });
    expect(route('POST', '/v1/models/fraud:explain')).toMatchObject({ name: 'kserve-v1-explain', api: 'kserve-v1', action: 'explain', model: 'fraud' });
    expect(route('GET', '/v1/models/fraud')).toMatchObject({ name: 'v1-models-get', action: 'model_metadata', model: 'fraud' });
    expect(route('GET', '/v1/models')).toMatchObject({ name: 'v1-models-list', action: 'list_models', model: null });
  });

  it('TF Serving REST', () => {
    expect(route('POST', '/v1/models/resnet/versions/2:predict')).toMatchObject({
      name: 'tf-serving-predict-version',
      api: 'tf-serving',
      action: 'infer',
      model: 'resnet',
      version: '2',
    });
    expect(route('POST', '/v1/models/resnet/labels/stable:predict')).toMatchObject({
      action: 'infer',
      model: 'resnet',
      version: null,
      params: { label: 'stable' },
    });
    expect(route('POST', '/v1/models/resnet:classify')).toMatchObject({ name: 'tf-serving-classify', action: 'infer', model: 'resnet' });
    expect(route('POST', '/v1/models/resnet/versions/1:regress')).toMatchObject({ name: 'tf-serving-regress-version', version: '1' });
    expect(route('GET', '/v1/models/resnet/versions/1')).toMatchObject({ name: 'tf-serving-status-version', action: 'model_metadata' });
    expect(route('GET', '/v1/models/resnet/metadata')).toMatchObject({ name: 'tf-serving-metadata', model: 'resnet' });
  });

  it('KServe v2 / Open Inference Protocol REST', () => {
    expect(route('POST', '/v2/models/fraud/infer')).toMatchObject({
      name: 'kserve-v2-infer',
      api: 'kserve-v2',
      action: 'infer',
      model: 'fraud',
      version: null,
    });
    expect(route('POST', '/v2/models/fraud/versions/3/infer')).toMatchObject({ name: 'kserve-v2-infer-version', model: 'fraud', version: '3' });
    expect(route('GET', '/v2/models/fraud/ready')).toMatchObject({ action: 'model_ready', model: 'fraud' });
    expect(route('GET', '/v2/models/fraud/versions/3/ready')).toMatchObject({ action: 'model_ready', version: '3' });
    expect(route('GET', '/v2/models/fraud')).toMatchObject({ action: 'model_metadata', model: 'fraud' });
    expect(route('GET', '/v2/models/fraud/versions/3')).toMatchObject({ action: 'model_metadata', version: '3' });
    expect(route('GET', '/v2/health/live')).toMatchObject({ action: 'server_live' });
    expect(route('GET', '/v2/health/ready')).toMatchObject({ action: 'server_ready' });
    expect(route('GET', '/v2')).toMatchObject({ action: 'server_metadata' });
    // Triton: statistics are a literal route, not the metadata of a model named "stats".
    expect(route('GET', '/v2/models/stats')).toMatchObject({ name: 'triton-stats-all', action: 'model_stats', model: null });
    expect(route('POST', '/v2/models/llama/generate_stream')).toMatchObject({ api: 'triton', action: 'infer', model: 'llama' });
  });

  it('Triton model repository', () => {
    expect(route('POST', '/v2/repository/index')).toMatchObject({ api: 'triton-repository', action: 'list_models' });
    expect(route('POST', '/v2/repository/models/resnet/load')).toMatchObject({ action: 'load_model', model: 'resnet' });
    expect(route('POST', '/v2/repository/models/resnet/unload')).toMatchObject({ action: 'unload_model', model: 'resnet' });
    expect(route('GET', '/v2/repository/models/resnet/load')).toBeNull();
  });

  it('KServe v2 gRPC: the model comes from the protobuf body', () => {
    expect(route('POST', '/inference.GRPCInferenceService/ModelInfer', grpc(inferRequest('fraud', '3')))).toMatchObject({
      name: 'kserve-v2-grpc-infer',
      api: 'kserve-v2-grpc',
      action: 'infer',
      model: 'fraud',
      version: '3',
    });
    expect(route('POST', '/inference.GRPCInferenceService/ModelReady', grpc(encode('ModelReadyRequest', { name: 'fraud' })))).toMatchObject({
      action: 'model_ready',
      model: 'fraud',
      version: null,
    });
    expect(route('POST', '/inference.GRPCInferenceService/ModelMetadata', grpc(encode('ModelReadyRequest', { name: 'fraud', version: '1' })))).toMatchObject({
      action: 'model_metadata',
      model: 'fraud',
      version: '1',
    });
    expect(route('POST', '/inference.GRPCInferenceService/ServerLive')).toMatchObject({ action: 'server_live' });
    expect(route('POST', '/inference.GRPCInferenceService/ServerReady')).toMatchObject({ action: 'server_ready' });
    expect(
      route('POST', '/inference.GRPCInferenceService/RepositoryModelLoad', grpc(encode('RepositoryModelLoadRequest', { model_name: 'resnet' }))),
    ).toMatchObject({ api: 'triton-grpc', action: 'load_model', model: 'resnet' });
    // Streaming is left unmatched on purpose.
    expect(route('POST', '/inference.GRPCInferenceService/ModelStreamInfer')).toBeNull();
  });

  it('OpenAI-compatible: the model comes from the JSON body', () => {
    expect(route('POST', '/v1/chat/completions', json({ model: 'llama-3-8b', messages: [{ role: 'user', content: 'hi' }] }))).toMatchObject({
      name: 'openai-chat-completions',
      api: 'openai',
      action: 'infer',
      model: 'llama-3-8b',
      params: { model: 'llama-3-8b' },
    });
    expect(route('POST', '/v1/completions', json({ model: 'gpt2', prompt: 'x' }))).toMatchObject({ model: 'gpt2' });
    expect(route('POST', '/v1/embeddings', json({ model: 'bge', input: 'x' }))).toMatchObject({ name: 'openai-embeddings', model: 'bge' });
    // The /v1/models clash: one shared route each, documented in policies/routes/README.md.
    expect(route('GET', '/v1/models')).toMatchObject({ api: 'v1-models', action: 'list_models' });
    expect(route('GET', '/v1/models/ft:gpt-4o:acme:x1')).toMatchObject({ api: 'v1-models', action: 'model_metadata', model: 'ft:gpt-4o:acme:x1' });
  });

  it('MLflow model registry: body, query and tail parameters', () => {
    const M = '/api/2.0/mlflow';
    expect(route('POST', `${M}/registered-models/create`, json({ name: 'fraud' }))).toMatchObject({ api: 'mlflow', action: 'register_model', model: 'fraud' });
    expect(route('GET', `${M}/registered-models/get?name=fraud`, query({ name: ['fraud'] }))).toMatchObject({ action: 'read_model', model: 'fraud' });
    expect(route('GET', `${M}/registered-models/search`)).toMatchObject({ action: 'search_models' });
    expect(route('DELETE', `${M}/registered-models/delete`, json({ name: 'fraud' }))).toMatchObject({ action: 'delete_model', model: 'fraud' });
    expect(route('POST', `${M}/model-versions/create`, json({ name: 'fraud', source: 's3://x' }))).toMatchObject({
      action: 'register_model_version',
      model: 'fraud',
    });
    expect(route('POST', `${M}/model-versions/transition-stage`, json({ name: 'fraud', version: '3', stage: 'Production' }))).toMatchObject({
      action: 'promote_model',
      model: 'fraud',
      version: '3',
      params: { model: 'fraud', version: '3', stage: 'Production' },
    });
    expect(route('POST', `${M}/registered-models/alias`, json({ name: 'fraud', alias: 'champion', version: '3' }))).toMatchObject({
      action: 'promote_model',
      params: { alias: 'champion' },
    });
    expect(route('GET', `${M}/model-versions/get-download-uri`, query({ name: ['fraud'], version: ['3'] }))).toMatchObject({
      action: 'get_download_uri',
      model: 'fraud',
      version: '3',
    });
    expect(route('GET', '/api/2.0/mlflow-artifacts/artifacts/1/abc123/artifacts/model/MLmodel')).toMatchObject({
      action: 'download_artifact',
      params: { path: '1/abc123/artifacts/model/MLmodel' },
    });
    expect(route('PUT', '/api/2.0/mlflow-artifacts/artifacts/1/x/model.pkl')).toMatchObject({ action: 'upload_artifact' });
    expect(route('GET', '/api/2.0/mlflow-artifacts/artifacts', query({ path: ['1/abc'] }))).toMatchObject({
      action: 'list_artifacts',
      params: { path: '1/abc' },
    });
  });

  it('Feast feature server: names from the body when present', () => {
    expect(route('POST', '/get-online-features', json({ feature_service: 'driver_activity', entities: { driver_id: [1001] } }))).toMatchObject({
      api: 'feast',
      action: 'read_features',
      params: { feature_service: 'driver_activity' },
    });
    expect(route('POST', '/get-online-features', json({ features: ['driver_hourly_stats:conv_rate'], entities: {} }))).toMatchObject({
      action: 'read_features',
      params: {},
    });
    expect(route('POST', '/push', json({ push_source_name: 'driver_stats_push', df: {} }))).toMatchObject({
      action: 'push_features',
      params: { push_source: 'driver_stats_push' },
    });
    expect(route('POST', '/write-to-online-store', json({ feature_view_name: 'driver_hourly_stats', df: {} }))).toMatchObject({ action: 'write_features' });
  });

  it('training jobs: most specific wins between {job}:cancel and {job}', () => {
    expect(route('POST', '/v1/training/jobs')).toMatchObject({ api: 'training', action: 'create_job' });
    expect(route('GET', '/v1/training/jobs')).toMatchObject({ action: 'list_jobs' });
    expect(route('GET', '/v1/training/jobs/j-42')).toMatchObject({ action: 'read_job', params: { job: 'j-42' } });
    expect(route('POST', '/v1/training/jobs/j-42:cancel')).toMatchObject({ action: 'cancel_job', params: { job: 'j-42' } });
    expect(route('DELETE', '/v1/training/jobs/j-42')).toMatchObject({ action: 'delete_job', params: { job: 'j-42' } });
  });
});
