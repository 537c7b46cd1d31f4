// The built-in routes: the HTTP and gRPC APIs of common AI platform services,
// each named with an api family and an action so policies read as intent
// ("action == infer and model == fraud"), not as path patterns. The data lives
// in TypeScript (not policies/routes/) so it is type-checked and ships in the
// image with src/; policies/routes/README.md is generated from it
// (node src/route/CatalogueDoc.ts) and test/route/catalogue.test.ts keeps the
// two in sync.
//
// The /v1/models clash. TF Serving REST, KServe v1 (which took TF Serving's URL
// scheme) and OpenAI-compatible servers all answer GET /v1/models/{model}, and
// TF Serving and KServe v1 share POST /v1/models/{model}:predict; KServe v1 and
// OpenAI share GET /v1/models. The path cannot tell which server is behind it,
// so these three are one route each in a shared family "v1-models", with the
// action that is true for every server: GET /v1/models/{model} is
// "model_metadata" (TF Serving's status, KServe v1's readiness and OpenAI's
// model object all describe the model; it is not "model_ready", so a rule
// granting readiness probes does not grant metadata reads). A deployment that
// knows its server can replace a route by name in routes.table (mode extend).
import type { FieldSource, GrpcBodyField, RouteSpec } from './RouteSpec.ts';

const json = (field: string): FieldSource => ({ json_body: field });
const grpc = (field: GrpcBodyField): FieldSource => ({ grpc_body: field });
const query = (name: string): FieldSource => ({ query: name });

type Extra = Pick<RouteSpec, 'model_from' | 'version_from' | 'params_from' | 'jsonrpc'>;

function route(name: string, method: string, path: string, api: string, action: string, extra: Extra = {}): RouteSpec {
  return Object.freeze({ name, methods: Object.freeze([method]), path, api, action, ...extra });
}

const GRPC = '/inference.GRPCInferenceService';
const MLFLOW = '/api/2.0/mlflow';

export const CATALOGUE: readonly RouteSpec[] = Object.freeze([
  // Shared by TF Serving REST, KServe v1 and OpenAI-compatible servers (see above).
  route('v1-models-list', 'GET', '/v1/models', 'v1-models', 'list_models'),
  route('v1-models-get', 'GET', '/v1/models/{model}', 'v1-models', 'model_metadata'),
  route('v1-models-predict', 'POST', '/v1/models/{model}:predict', 'v1-models', 'infer'),

  // KServe v1 data plane.
  route('kserve-v1-explain', 'POST', '/v1/models/{model}:explain', 'kserve-v1', 'explain'),

  // TensorFlow Serving REST: versions and labels, classify and regress.
  route('tf-serving-predict-version', 'POST', '/v1/models/{model}/versions/{version}:predict', 'tf-serving', 'infer'),
  route('tf-serving-predict-label', 'POST', '/v1/models/{model}/labels/{label}:predict', 'tf-serving', 'infer'),
  route('tf-serving-classify', 'POST', '/v1/models/{model}:classify', 'tf-serving', 'infer'),
  route('tf-serving-classify-version', 'POST', '/v1/models/{model}/versions/{version}:classify', 'tf-serving', 'infer'),
  route('tf-serving-classify-label', 'POST', '/v1/models/{model}/labels/{label}:classify', 'tf-serving', 'infer'),
  route('tf-serving-regress', 'POST', '/v1/models/{model}:regress', 'tf-serving', 'infer'),
  route('tf-serving-regress-version', 'POST', '/v1/models/{model}/versions/{version}:regress', 'tf-serving', 'infer'),
  route('tf-serving-regress-label', 'POST', '/v1/models/{model}/labels/{label}:regress', 'tf-serving', 'infer'),
  route('tf-serving-status-version', 'GET', '/v1/models/{model}/versions/{version}', 'tf-serving', 'model_metadata'),
  route('tf-serving-metadata', 'GET', '/v1/models/{model}/metadata', 'tf-serving', 'model_metadata'),
  route('tf-serving-metadata-version', 'GET', '/v1/models/{model}/versions/{version}/metadata', 'tf-serving', 'model_metadata'),

  // KServe v2 / Open Inference Protocol, REST.
  route('kserve-v2-server-metadata', 'GET', '/v2', 'kserve-v2', 'server_metadata'),
  route('kserve-v2-server-live', 'GET', '/v2/health/live', 'kserve-v2', 'server_live'),
  route('kserve-v2-server-ready', 'GET', '/v2/health/ready', 'kserve-v2', 'server_ready'),
  route('kserve-v2-model-metadata', 'GET', '/v2/models/{model}', 'kserve-v2', 'model_metadata'),
  route('kserve-v2-model-metadata-version', 'GET', '/v2/models/{model}/versions/{version}', 'kserve-v2', 'model_metadata'),
  route('kserve-v2-model-ready', 'GET', '/v2/models/{model}/ready', 'kserve-v2', 'model_ready'),
  route('kserve-v2-model-ready-version', 'GET', '/v2/models/{model}/versions/{version}/ready', 'kserve-v2', 'model_ready'),
  route('kserve-v2-infer', 'POST', '/v2/models/{model}/infer', 'kserve-v2', 'infer'),
  route('kserve-v2-infer-version', 'POST', '/v2/models/{model}/versions/{version}/infer', 'kserve-v2', 'infer'),

  // Triton's extensions of the v2 REST API. "/v2/models/stats" is a literal,
  // so it is never taken for the metadata of a model called "stats".
  route('triton-generate', 'POST', '/v2/models/{model}/generate', 'triton', 'infer'),
  route('triton-generate-version', 'POST', '/v2/models/{model}/versions/{version}/generate', 'triton', 'infer'),
  route('triton-generate-stream', 'POST', '/v2/models/{model}/generate_stream', 'triton', 'infer'),
  route('triton-generate-stream-version', 'POST', '/v2/models/{model}/versions/{version}/generate_stream', 'triton', 'infer'),
  route('triton-stats-all', 'GET', '/v2/models/stats', 'triton', 'model_stats'),
  route('triton-stats', 'GET', '/v2/models/{model}/stats', 'triton', 'model_stats'),
  route('triton-stats-version', 'GET', '/v2/models/{model}/versions/{version}/stats', 'triton', 'model_stats'),
  route('triton-repository-index', 'POST', '/v2/repository/index', 'triton-repository', 'list_models'),
  route('triton-repository-load', 'POST', '/v2/repository/models/{model}/load', 'triton-repository', 'load_model'),
  route('triton-repository-unload', 'POST', '/v2/repository/models/{model}/unload', 'triton-repository', 'unload_model'),

  // KServe v2 gRPC (grpc_predict_v2.proto): the model is in the protobuf body
  // (Envoy must send it: with_request_body + pack_as_bytes). Streaming
  // ModelStreamInfer is left unmatched on purpose: its later messages, each
  // naming a model, never reach ext_authz.
  route('kserve-v2-grpc-server-live', 'POST', `${GRPC}/ServerLive`, 'kserve-v2-grpc', 'server_live'),
  route('kserve-v2-grpc-server-ready', 'POST', `${GRPC}/ServerReady`, 'kserve-v2-grpc', 'server_ready'),
  route('kserve-v2-grpc-server-metadata', 'POST', `${GRPC}/ServerMetadata`, 'kserve-v2-grpc', 'server_metadata'),
  route('kserve-v2-grpc-model-ready', 'POST', `${GRPC}/ModelReady`, 'kserve-v2-grpc', 'model_ready', {
    model_from: grpc('ModelReadyRequest.name'),
    version_from: grpc('ModelReadyRequest.version'),
  }),
  route('kserve-v2-grpc-model-metadata', 'POST', `${GRPC}/ModelMetadata`, 'kserve-v2-grpc', 'model_metadata', {
    model_from: grpc('ModelMetadataRequest.name'),
    version_from: grpc('ModelMetadataRequest.version'),
  }),
  route('kserve-v2-grpc-infer', 'POST', `${GRPC}/ModelInfer`, 'kserve-v2-grpc', 'infer', {
    model_from: grpc('ModelInferRequest.model_name'),
    version_from: grpc('ModelInferRequest.model_version'),
  }),
  route('triton-grpc-stats', 'POST', `${GRPC}/ModelStatistics`, 'triton-grpc', 'model_stats', {
    model_from: grpc('ModelStatisticsRequest.name'),
    version_from: grpc('ModelStatisticsRequest.version'),
  }),
  route('triton-grpc-repository-index', 'POST', `${GRPC}/RepositoryIndex`, 'triton-grpc', 'list_models'),
  route('triton-grpc-repository-load', 'POST', `${GRPC}/RepositoryModelLoad`, 'triton-grpc', 'load_model', {
    model_from: grpc('RepositoryModelLoadRequest.model_name'),
  }),
  route('triton-grpc-repository-unload', 'POST', `${GRPC}/RepositoryModelUnload`, 'triton-grpc', 'unload_model', {
    model_from: grpc('RepositoryModelUnloadRequest.model_name'),
  }),

  // OpenAI-compatible servers (vLLM, TGI, Ollama, gateways): the model is the JSON body's "model".
  route('openai-chat-completions', 'POST', '/v1/chat/completions', 'openai', 'infer', { model_from: json('model') }),
  route('openai-completions', 'POST', '/v1/completions', 'openai', 'infer', { model_from: json('model') }),
  route('openai-embeddings', 'POST', '/v1/embeddings', 'openai', 'infer', { model_from: json('model') }),

  // MLflow model registry (REST API 2.0): GET calls name the model in the
  // query, the others in the JSON body. MLflow also serves these handlers
  // under /ajax-api/2.0/mlflow and /api/2.0/preview/mlflow; they are not
  // listed, so routes.unmatched: deny refuses them.
  route('mlflow-registered-models-create', 'POST', `${MLFLOW}/registered-models/create`, 'mlflow', 'register_model', { model_from: json('name') }),
  route('mlflow-registered-models-get', 'GET', `${MLFLOW}/registered-models/get`, 'mlflow', 'read_model', { model_from: query('name') }),
  route('mlflow-registered-models-search', 'GET', `${MLFLOW}/registered-models/search`, 'mlflow', 'search_models'),
  route('mlflow-registered-models-delete', 'DELETE', `${MLFLOW}/registered-models/delete`, 'mlflow', 'delete_model', { model_from: json('name') }),
  route('mlflow-registered-models-set-alias', 'POST', `${MLFLOW}/registered-models/alias`, 'mlflow', 'promote_model', {
    model_from: json('name'),
    version_from: json('version'),
    params_from: { alias: json('alias') },
  }),
  route('mlflow-model-versions-create', 'POST', `${MLFLOW}/model-versions/create`, 'mlflow', 'register_model_version', { model_from: json('name') }),
  route('mlflow-model-versions-get', 'GET', `${MLFLOW}/model-versions/get`, 'mlflow', 'read_model_version', {
    model_from: query('name'),
    version_from: query('version'),
  }),
  route('mlflow-model-versions-transition-stage', 'POST', `${MLFLOW}/model-versions/transition-stage`, 'mlflow', 'promote_model', {
    model_from: json('name'),
    version_from: json('version'),
    params_from: { stage: json('stage') },
  }),
  route('mlflow-model-versions-get-download-uri', 'GET', `${MLFLOW}/model-versions/get-download-uri`, 'mlflow', 'get_download_uri', {
    model_from: query('name'),
    version_from: query('version'),
  }),
  route('mlflow-model-versions-delete', 'DELETE', `${MLFLOW}/model-versions/delete`, 'mlflow', 'delete_model_version', {
    model_from: json('name'),
    version_from: json('version'),
  }),
  // Artifacts: "{path*}" takes every remaining segment ("1/abc/artifacts/model/MLmodel").
  route('mlflow-artifacts-list', 'GET', '/api/2.0/mlflow-artifacts/artifacts', 'mlflow', 'list_artifacts', { params_from: { path: query('path') } }),
  route('mlflow-artifacts-download', 'GET', '/api/2.0/mlflow-artifacts/artifacts/{path*}', 'mlflow', 'download_artifact'),
  route('mlflow-artifacts-upload', 'PUT', '/api/2.0/mlflow-artifacts/artifacts/{path*}', 'mlflow', 'upload_artifact'),
  route('mlflow-artifacts-delete', 'DELETE', '/api/2.0/mlflow-artifacts/artifacts/{path*}', 'mlflow', 'delete_artifact'),

  // Feast feature server: the feature service / push source / feature view, when the body names one.
  route('feast-get-online-features', 'POST', '/get-online-features', 'feast', 'read_features', { params_from: { feature_service: json('feature_service') } }),
  route('feast-push', 'POST', '/push', 'feast', 'push_features', { params_from: { push_source: json('push_source_name') } }),
  route('feast-write-to-online-store', 'POST', '/write-to-online-store', 'feast', 'write_features', {
    params_from: { feature_view: json('feature_view_name') },
  }),

  // Agents. MCP's Streamable HTTP transport serves one endpoint, by
  // convention /mcp or …/mcp ("server" is the part before it): POST carries
  // JSON-RPC, whose method is the action ("tools/call", with params.tool);
  // GET opens the server's SSE stream and DELETE ends the session. A2A
  // agents take JSON-RPC ("message/send", "tasks/get") at their URL, here
  // /a2a or …/a2a, and describe themselves in an agent card. Agents served
  // at other paths are routed in routes.table with `jsonrpc: mcp` or `a2a`.
  route('mcp', 'POST', '/mcp', 'mcp', 'call', { jsonrpc: 'mcp' }),
  route('mcp-server', 'POST', '/{server*}/mcp', 'mcp', 'call', { jsonrpc: 'mcp' }),
  route('mcp-stream', 'GET', '/mcp', 'mcp', 'open_stream'),
  route('mcp-server-stream', 'GET', '/{server*}/mcp', 'mcp', 'open_stream'),
  route('mcp-session-end', 'DELETE', '/mcp', 'mcp', 'end_session'),
  route('mcp-server-session-end', 'DELETE', '/{server*}/mcp', 'mcp', 'end_session'),
  route('a2a', 'POST', '/a2a', 'a2a', 'call', { jsonrpc: 'a2a' }),
  route('a2a-agent', 'POST', '/{agent*}/a2a', 'a2a', 'call', { jsonrpc: 'a2a' }),
  route('a2a-agent-card', 'GET', '/.well-known/agent-card.json', 'a2a', 'get_agent_card'),
  route('a2a-agent-card-v0', 'GET', '/.well-known/agent.json', 'a2a', 'get_agent_card'),

  // Training jobs.
  route('training-jobs-create', 'POST', '/v1/training/jobs', 'training', 'create_job'),
  route('training-jobs-list', 'GET', '/v1/training/jobs', 'training', 'list_jobs'),
  route('training-jobs-get', 'GET', '/v1/training/jobs/{job}', 'training', 'read_job'),
  route('training-jobs-cancel', 'POST', '/v1/training/jobs/{job}:cancel', 'training', 'cancel_job'),
  route('training-jobs-delete', 'DELETE', '/v1/training/jobs/{job}', 'training', 'delete_job'),
]);
