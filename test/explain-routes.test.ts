// Route extraction end to end through the real CLI: one request file per API
// family of the catalogue (policies/routes/README.md), run with
// `ztauthz check --explain`, which prints the exact input the policy saw. And
// the known authorization bypasses (../shared/reference/attacks.md), each
// refused before any route or policy, or for Host, normalised.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encode, frame } from './route/grpcMessages.ts';
import { runCli } from './support/servers.ts';

const file = (name: string): string => fileURLToPath(new URL(`fixtures/requests/routes/${name}.json`, import.meta.url));
const DEFAULT_PATH = 'envoy/authz/allow';

interface Explained {
  code: number | null;
  stderr: string;
  out: {
    allowed: boolean;
    reason: string;
    path: string;
    response: { status: { code?: number }; deniedResponse?: { status: { code: string } } } | null;
    input: {
      route: {
        name: string;
        api: string;
        action: string;
        model: string | null;
        version: string | null;
        entrypoint: string;
        params: Record<string, string>;
      } | null;
      canonical: { path: string; host: string; port: number | null };
      attributes: { request: { http: { host: string } } };
    } | null;
  };
}

type RouteFields = { name: string; api: string; action: string; model: string | null; version: string | null };

const ROUTES: ReadonlyArray<{ family: string; file: string; route: RouteFields; params?: Record<string, string> }> = [
  {
    family: 'KServe v1 predict (the shared /v1/models family)',
    file: 'kserve-v1-predict',
    route: { name: 'v1-models-predict', api: 'v1-models', action: 'infer', model: 'sentiment', version: null },
  },
  {
    family: 'KServe v1 explain',
    file: 'kserve-v1-explain',
    route: { name: 'kserve-v1-explain', api: 'kserve-v1', action: 'explain', model: 'sentiment', version: null },
  },
  {
    family: 'KServe v2 REST, versioned infer',
    file: 'kserve-v2-infer-version',
    route: { name: 'kserve-v2-infer-version', api: 'kserve-v2', action: 'infer', model: 'fraud-detector', version: '3' },
  },
  {
    family: 'KServe v2 gRPC ModelInfer (model from raw_body)',
    file: 'kserve-v2-grpc-infer',
    route: { name: 'kserve-v2-grpc-infer', api: 'kserve-v2-grpc', action: 'infer', model: 'fraud-detector', version: '2' },
  },
  {
    family: 'TF Serving versioned predict',
    file: 'tf-serving-predict-version',
    route: { name: 'tf-serving-predict-version', api: 'tf-serving', action: 'infer', model: 'half_plus_two', version: '7' },
  },
  {
    family: 'Triton repository load',
    file: 'triton-repository-load',
    route: { name: 'triton-repository-load', api: 'triton-repository', action: 'load_model', model: 'densenet_onnx', version: null },
  },
  {
    family: 'OpenAI chat (model from the JSON body)',
    file: 'openai-chat',
    route: { name: 'openai-chat-completions', api: 'openai', action: 'infer', model: 'llama-3-8b-instruct', version: null },
  },
  {
    family: 'MLflow GET, model and version from the query',
    file: 'mlflow-model-version-get',
    route: { name: 'mlflow-model-versions-get', api: 'mlflow', action: 'read_model_version', model: 'fraud-detector', version: '4' },
  },
  {
    family: 'MLflow POST, model, version and stage from the body',
    file: 'mlflow-transition-stage',
    route: { name: 'mlflow-model-versions-transition-stage', api: 'mlflow', action: 'promote_model', model: 'fraud-detector', version: '4' },
    params: { stage: 'Production' },
  },
  {
    family: 'MLflow artifact download (rest of the path)',
    file: 'mlflow-artifact-download',
    route: { name: 'mlflow-artifacts-download', api: 'mlflow', action: 'download_artifact', model: null, version: null },
    params: { path: '12/abc123/artifacts/model/model.pkl' },
  },
  {
    family: 'Feast online features (feature service from the body)',
    file: 'feast-get-online-features',
    route: { name: 'feast-get-online-features', api: 'feast', action: 'read_features', model: null, version: null },
    params: { feature_service: 'fraud_features_v1' },
  },
  {
    family: 'Training job cancel',
    file: 'training-job-cancel',
    route: { name: 'training-jobs-cancel', api: 'training', action: 'cancel_job', model: null, version: null },
    params: { job: 'job-42' },
  },
];

const ATTACKS: ReadonlyArray<{ attack: string; file: string; reason: 'path_rejected' | 'host_rejected' }> = [
  { attack: 'dot segments: /info/../private', file: 'attack-dot-segments', reason: 'path_rejected' },
  { attack: 'merged slashes: //admin/secret', file: 'attack-double-slash', reason: 'path_rejected' },
  { attack: 'encoded slash: /admin%2Fsecret', file: 'attack-encoded-slash', reason: 'path_rejected' },
  { attack: 'encoded backslash: /admin%5Csecret', file: 'attack-encoded-backslash', reason: 'path_rejected' },
  { attack: 'fragment: /user/profile#section1', file: 'attack-fragment', reason: 'path_rejected' },
  { attack: 'path parameter: /v1/..;/internal', file: 'attack-semicolon', reason: 'path_rejected' },
  // A dot after the port is not a port ("80."): refused rather than guessed at.
  { attack: 'Host Secret.com:80.', file: 'host-dot-after-port', reason: 'host_rejected' },
  { attack: 'host header disagreeing with :authority', file: 'host-conflict', reason: 'host_rejected' },
];

const results = new Map<string, Explained>();

/** Runs `check --explain` on every file, a few processes at a time (each is a Node start plus an opa build). */
beforeAll(async () => {
  const names = [...ROUTES.map((r) => r.file), ...ATTACKS.map((a) => a.file), 'host-case-dot-port'];
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const r = await runCli(['check', '--request', file(name), '--explain']);
        let out: Explained['out'];
        try {
          out = JSON.parse(r.stdout) as Explained['out'];
        } catch {
          throw new Error(`check --explain ${name}: not JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
        }
        results.set(name, { code: r.code, stderr: r.stderr, out });
      }
    }),
  );
});

function explained(name: string): Explained {
  const r = results.get(name);
  if (!r) throw new Error(`no result for ${name}`);
  return r;
}

describe('check --explain: input.route for each API family of the catalogue', () => {
  for (const c of ROUTES) {
    it(`${c.family}: ${c.route.name}`, () => {
      const { code, out } = explained(c.file);
      expect(code, 'exit status follows the decision').toBe(out.allowed ? 0 : 1);
      expect(out.reason).toMatch(/^(allowed|policy_denied)$/);
      const route = out.input!.route!;
      expect({ name: route.name, api: route.api, action: route.action, model: route.model, version: route.version }).toEqual(c.route);
      if (c.params) expect(route.params).toMatchObject(c.params);
      // The catalogue's routes decide with the default decision path unless routes.entrypoints says otherwise.
      expect(out.path).toBe(DEFAULT_PATH);
      expect(route.entrypoint).toBe(out.path);
    });
  }

  it("the gRPC fixture is a real ModelInferRequest: its raw_body is protobufjs' encoding, framed", () => {
    const json = JSON.parse(readFileSync(file('kserve-v2-grpc-infer'), 'utf8'));
    const message = encode('ModelInferRequest', {
      model_name: 'fraud-detector',
      model_version: '2',
      id: 'req-7',
      inputs: [{ name: 'input0', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [0.25, 0.5] } }],
    });
    expect(json.attributes.request.http.raw_body).toBe(frame(message).toString('base64'));
  });
});

describe('check: known bypasses are refused before routing and policy', () => {
  for (const a of ATTACKS) {
    it(`${a.attack} -> ${a.reason}`, () => {
      const { code, out } = explained(a.file);
      expect(code).toBe(1);
      expect({ allowed: out.allowed, reason: out.reason }).toEqual({ allowed: false, reason: a.reason });
      expect(out.response!.status.code).toBe(7);
      expect(out.response!.deniedResponse!.status.code).toBe('BadRequest');
      // Refused while canonicalising: no policy input was ever built.
      expect(out.input).toBeNull();
    });
  }

  it('Host Secret.com.:80 is normalised in input.canonical (lower case, trailing dot dropped, port split off); the raw value stays visible', () => {
    const { out } = explained('host-case-dot-port');
    expect(out.input!.canonical).toEqual({ path: '/v2/models/fraud-detector/infer', host: 'secret.com', port: 80 });
    expect(out.input!.attributes.request.http.host).toBe('Secret.com.:80');
    expect(out.input!.route!.name).toBe('kserve-v2-infer');
  });
});
