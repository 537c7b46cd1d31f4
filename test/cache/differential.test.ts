// Differential test of the decision cache: two in-process pipelines built
// from the same configuration, one with the cache and one without, answer the
// same long randomized stream of CheckRequests. Any difference in any answer
// is a cache bug (a key that leaves out something the decision depends on, an
// entry that outlives its policy or its token). The stream is reproducible:
// the seed is printed, and ZTAUTHZ_TEST_SEED=<seed> replays it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import { checkResponseToJson } from '../../src/envoy/CheckResponse.ts';
import { CheckResponseType } from '../../src/envoy/ProtoCodec.ts';
import { VOLATILE_FIELDS } from '../../src/cache/CacheKey.ts';
import { loadPolicy } from '../../src/policy/PolicyLoader.ts';
import { loaderOptions, requiredEntrypoints } from '../../src/server/PolicyLifecycle.ts';
import type { CheckOutcome } from '../../src/check/CheckPipeline.ts';
import type { PolicyEngine } from '../../src/policy/PolicyEngine.ts';
import { frame, inferRequest } from '../route/grpcMessages.ts';
import { makeKey, nowS, sign, type TestKey } from '../identity/tokens.ts';
import { inProcessPipeline } from '../support/servers.ts';
import { prng, testSeed } from '../support/prng.ts';

const policyDir = (name: string): string => fileURLToPath(new URL(`../fixtures/policies/${name}`, import.meta.url));
const REV1 = policyDir('cache-diff/rev1');
const REV2 = policyDir('cache-diff/rev2');
const TIME_POLICY = policyDir('cache-time');
const ISSUER = 'https://idp.cdiff.test';
const AUDIENCE = 'ztauthz';

const SEED = testSeed();

type Pipelines = Awaited<ReturnType<typeof inProcessPipeline>>;

const rand = prng(SEED);
const chance = (p: number): boolean => rand() < p;
const uniform = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
/** Skewed towards the front of the list, as real traffic is: a few callers and routes make most requests. */
const skewed = <T>(items: readonly T[]): T => items[Math.floor(rand() * rand() * items.length)] as T;
const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

// Principals as Envoy forwards them: SPIFFE IDs across namespaces and trust
// domains, non-SPIFFE principals (DNS SAN, subject) and none at all.
const PRINCIPALS: ReadonlyArray<string | undefined> = [
  'spiffe://cluster.local/ns/web/sa/frontend',
  'spiffe://cluster.local/ns/ml-training/sa/trainer',
  'spiffe://cluster.local/ns/analytics/sa/notebook',
  'spiffe://cluster.local/ns/ml-serving/sa/model-server',
  undefined,
  'spiffe://cluster.local/ns/web/sa/admin-ui',
  'CN=legacy-dashboard',
  'spiffe://cluster.local/ns/analytics/sa/dashboard',
  'spiffe://other.example/ns/web/sa/frontend',
  'spiffe://cluster.local/ns/ml-serving/sa/batch-scorer',
  'legacy.example.com',
  'spiffe://cluster.local/workload/custom-path',
];
const MODELS = ['fraud-detector', 'churn', 'ranker', 'llama-3-8b'];
const TENANTS: ReadonlyArray<string | undefined> = ['acme', undefined, 'globex', 'initech'];
const FEATURE_SERVICES = ['fraud_features_v1', 'churn_features', 'pii_features'];
const HOSTS = ['models.ml-serving.svc.cluster.local', 'gateway.example.com', 'Models.ML-Serving.svc.cluster.local.'];

interface Target {
  method: string;
  path: string;
  body?: string;
  rawBody?: string;
  contentType?: string;
}

const GRPC_INFER = MODELS.flatMap((m) => ['', '1', '3'].map((v) => frame(inferRequest(m, v)).toString('base64')));

function debugQuery(): string {
  return uniform(['', '', '', '?debug=1', '?debug=0', '?debug=1&debug=0']);
}

const KINDS = [
  'v2-infer',
  'openai',
  'v2-meta',
  'mlflow-get',
  'feast',
  'training',
  'v2-infer-ver',
  'grpc',
  'mlflow-ver',
  'artifact',
  'unmatched',
  'rejected',
] as const;
type Kind = (typeof KINDS)[number];

/**
 * What each workload usually does and for which tenant: most traffic is a
 * caller doing its job (mostly allowed), the rest is anyone doing anything
 * (mostly denied).
 */
const HABITS: Readonly<Record<string, { kinds: Kind[]; models: string[]; tenant: string | undefined }>> = {
  'spiffe://cluster.local/ns/web/sa/frontend': { kinds: ['v2-infer', 'openai', 'v2-meta'], models: ['fraud-detector', 'churn', 'llama-3-8b'], tenant: 'acme' },
  'spiffe://cluster.local/ns/ml-training/sa/trainer': { kinds: ['feast', 'training'], models: MODELS, tenant: undefined },
  'spiffe://cluster.local/ns/analytics/sa/notebook': { kinds: ['v2-infer', 'openai', 'v2-meta'], models: ['ranker', 'fraud-detector'], tenant: 'acme' },
  'spiffe://cluster.local/ns/ml-serving/sa/model-server': {
    kinds: ['mlflow-get', 'mlflow-ver', 'artifact'],
    models: ['fraud-detector', 'churn'],
    tenant: undefined,
  },
  'CN=legacy-dashboard': { kinds: ['v2-meta'], models: MODELS, tenant: undefined },
};

/** A request target from the route catalogue (and some that match nothing or are refused). */
function target(kind: Kind = chance(0.03) ? 'rejected' : skewed(KINDS), models: readonly string[] = MODELS): Target {
  const m = skewed(models);
  switch (kind) {
    case 'v2-infer':
      return {
        method: 'POST',
        path: `/v2/models/${m}/infer${debugQuery()}`,
        contentType: 'application/json',
        body: uniform(['{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[0.5]}]}', '{"inputs":[]}']),
      };
    case 'v2-infer-ver':
      return { method: 'POST', path: `/v2/models/${m}/versions/${uniform(['0', '1', '3'])}/infer`, contentType: 'application/json', body: '{"inputs":[]}' };
    case 'v2-meta':
      return { method: 'GET', path: `/v2/models/${m}${debugQuery()}` };
    case 'grpc':
      return { method: 'POST', path: '/inference.GRPCInferenceService/ModelInfer', contentType: 'application/grpc', rawBody: uniform(GRPC_INFER) };
    case 'openai': {
      const body: Record<string, unknown> = {
        model: m,
        messages: [{ role: 'user', content: uniform(['hi', 'summarise this']) }],
        max_tokens: uniform([64, 256, 1024, 4096]),
      };
      if (chance(0.3)) body['stream'] = chance(0.5);
      return { method: 'POST', path: '/v1/chat/completions', contentType: 'application/json', body: JSON.stringify(body) };
    }
    case 'mlflow-get':
      return { method: 'GET', path: `/api/2.0/mlflow/registered-models/get?name=${m}${debugQuery().replace('?', '&')}` };
    case 'mlflow-ver':
      return { method: 'GET', path: `/api/2.0/mlflow/model-versions/get?name=${m}&version=${uniform(['1', '3'])}` };
    case 'artifact':
      return { method: 'GET', path: `/api/2.0/mlflow-artifacts/artifacts/${m}/${uniform(['1', '2'])}/model.pkl` };
    case 'feast':
      return {
        method: 'POST',
        path: '/get-online-features',
        contentType: 'application/json',
        body: JSON.stringify({ feature_service: skewed(FEATURE_SERVICES), entities: { user_id: [uniform([1, 2])] } }),
      };
    case 'training':
      return uniform<Target>([
        { method: 'POST', path: '/v1/training/jobs', contentType: 'application/json', body: '{"image":"trainer:1"}' },
        { method: 'GET', path: '/v1/training/jobs' },
        { method: 'GET', path: `/v1/training/jobs/job-${uniform(['1', '2'])}` },
      ]);
    case 'unmatched':
      return { method: uniform(['GET', 'POST']), path: uniform(['/healthz', '/metrics', '/v3/unknown', '/v2/models/x/y/z']) };
    default:
      // Refused before the policy (path_rejected): errors are never cached.
      return { method: 'GET', path: uniform(['/v2/models/../admin', '//admin', '/v2/models/a%2Fb/infer']) };
  }
}

interface Tokens {
  /** Long-lived tokens (valid for the whole run). */
  readonly valid: readonly string[];
  /** Signed by a key the issuer does not publish: 401 token_invalid. */
  readonly forged: string;
}

let tokens: Tokens;

function authorization(): string | undefined {
  return skewed<string | undefined>([undefined, undefined, ...tokens.valid.map((t) => `Bearer ${t}`), `Bearer ${tokens.forged}`, 'Basic dXNlcjpwYXNz']);
}

/** One CheckRequest (protojson, as grpcurl and Envoy's JSON form write it). */
function request(overrides: { authorization?: string; target?: Target; principal?: string | undefined } = {}): Record<string, unknown> {
  const principal = 'principal' in overrides ? overrides.principal : skewed(PRINCIPALS);
  const habit = HABITS[principal ?? ''];
  const usual = habit !== undefined && chance(0.7);
  const t = overrides.target ?? (usual ? target(skewed(habit.kinds), habit.models) : target());
  const headers: Record<string, string> = {
    // Volatile: different on every request, and nothing this policy decides on.
    traceparent: `00-${hex(32)}-${hex(16)}-01`,
  };
  if (chance(0.3)) headers['x-b3-traceid'] = hex(16);
  if (chance(0.2)) headers['x-envoy-attempt-count'] = String(1 + Math.floor(rand() * 3));
  // Volatile but named by the policy (it denies ids starting "bad"): the key
  // must keep it, so every request that carries one is its own entry.
  if (chance(0.25)) headers['x-request-id'] = chance(0.2) ? `bad-${hex(8)}` : hex(16);
  const tenant = usual ? habit.tenant : skewed(TENANTS);
  if (tenant !== undefined) headers['x-tenant'] = tenant;
  const auth = overrides.authorization ?? authorization();
  if (auth !== undefined) headers['authorization'] = auth;
  if (t.contentType) headers['content-type'] = t.contentType;
  if (chance(0.05)) headers['user-agent'] = uniform(['curl/8.5', 'python-requests/2.31']);
  const http: Record<string, unknown> = {
    method: t.method,
    path: t.path,
    host: chance(0.8) ? HOSTS[0] : uniform(HOSTS),
    scheme: 'http',
    protocol: 'HTTP/1.1',
    headers,
  };
  // Envoy gives every request a unique id. This policy's source contains
  // "id" (identity, spiffe_id), which keeps attributes.request.http.id in the
  // key (the volatile-field filter matches by substring), so a unique id on
  // every request would make every request a miss; most carry none here so
  // that the hit path is exercised.
  if (chance(0.05)) http['id'] = String(Math.floor(rand() * 1e12));
  if (t.body !== undefined) http['body'] = t.body;
  if (t.rawBody !== undefined) http['raw_body'] = t.rawBody;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.1.2.3', portValue: 30000 + Math.floor(rand() * 30000) } },
        ...(principal !== undefined ? { principal } : {}),
      },
      destination: { address: { socketAddress: { address: '10.1.9.9', portValue: 8080 } } },
      request: { time: new Date(1_750_000_000_000 + Math.floor(rand() * 1e9)).toISOString(), http },
    },
  };
}

/**
 * Everything a client or the decision record could see, minus the per-Check
 * decision id: the CheckResponse as Envoy receives it (protobuf bytes, hex),
 * the gRPC error, the reason, the raw policy result and the revision.
 */
function comparable(o: CheckOutcome): string {
  let response = '';
  if (o.response) {
    const msg = CheckResponseType.decode(o.response) as unknown as { dynamicMetadata?: { fields: Record<string, unknown> } };
    if (msg.dynamicMetadata) delete msg.dynamicMetadata.fields['decision_id'];
    response = Buffer.from(CheckResponseType.encode(msg).finish()).toString('hex');
  }
  return JSON.stringify({ response, error: o.error ?? null, reason: o.decision.reason, result: o.decision.result ?? null, revision: o.record.revision });
}

/** The same, readable, for failure messages. */
function readable(o: CheckOutcome): string {
  const response = o.response ? (checkResponseToJson(o.response) as Record<string, unknown>) : null;
  const md = response?.['dynamicMetadata'] as Record<string, unknown> | undefined;
  if (md) delete md['decision_id'];
  return JSON.stringify({ response, error: o.error ?? null, reason: o.decision.reason, result: o.decision.result ?? null, revision: o.record.revision });
}

interface Pair {
  readonly on: Pipelines;
  readonly off: Pipelines;
}

class Comparison {
  compared = 0;
  readonly cache: Record<string, number> = {};
  readonly reasons: Record<string, number> = {};
  readonly mismatches: string[] = [];

  record(label: string, req: unknown, a: CheckOutcome, b: CheckOutcome): void {
    this.compared++;
    // A hit answered without an input came through the request shortcut (repeated bytes).
    const outcome = a.record.cache === 'hit' && a.input === undefined ? 'shortcut' : (a.record.cache ?? 'none');
    this.cache[outcome] = (this.cache[outcome] ?? 0) + 1;
    this.reasons[b.decision.reason] = (this.reasons[b.decision.reason] ?? 0) + 1;
    if (comparable(a) !== comparable(b) && this.mismatches.length < 5) {
      this.mismatches.push(
        `#${this.compared} (${label}, seed ${SEED}, cache ${outcome})\n  request: ${JSON.stringify(req)}\n  cache on:  ${readable(a)}\n  cache off: ${readable(b)}`,
      );
    }
  }

  /** Same request, both pipelines, one after the other (the cached one first, so a stale entry is served before the truth is computed). */
  async one(pair: Pair, label: string, req: Record<string, unknown>): Promise<{ on: CheckOutcome; off: CheckOutcome }> {
    const bytes = encodeCheckRequestJson(req);
    const on = await pair.on.pipeline.check(bytes);
    const off = await pair.off.pipeline.check(bytes);
    this.record(label, req, on, off);
    return { on, off };
  }

  add(other: Comparison): void {
    this.compared += other.compared;
    for (const [k, v] of Object.entries(other.cache)) this.cache[k] = (this.cache[k] ?? 0) + v;
    for (const [k, v] of Object.entries(other.reasons)) this.reasons[k] = (this.reasons[k] ?? 0) + v;
  }

  expectAgreement(): void {
    expect(this.mismatches, `cache on and off disagree (seed ${SEED}; ZTAUTHZ_TEST_SEED=${SEED} replays):\n${this.mismatches.join('\n')}`).toEqual([]);
  }
}

/**
 * The test policy denies on x-request-id, so by the cache's contract it runs
 * with a cache.ignore that keeps that header in the key (everything else of
 * the documented volatile list stays out).
 */
const IGNORE_FOR_TEST_POLICY = VOLATILE_FIELDS.filter((f) => f !== 'attributes.request.http.headers.x-request-id');

async function pair(flags: Record<string, string>): Promise<Pair> {
  const on = await inProcessPipeline({ 'cache-ignore': IGNORE_FOR_TEST_POLICY.join(','), ...flags, 'cache-enabled': 'true' });
  const off = await inProcessPipeline({ ...flags, 'cache-enabled': 'false' });
  on.policies.activate(await on.load());
  off.policies.activate(await off.load());
  return { on, off };
}

/** Loads a policy exactly as the pipeline's own configuration would (entrypoints, limits). */
function loadFor(p: Pipelines, path: string): Promise<PolicyEngine> {
  return loadPolicy(path, loaderOptions(p.config, requiredEntrypoints(p.config, p.phases.router.entrypoints)));
}

describe(`decision cache: cached and uncached pipelines answer alike (seed ${SEED})`, () => {
  let dir: string;
  let key: TestKey;
  let jwtFlags: (invalid: 'deny' | 'policy') => Record<string, string>;
  const total = new Comparison();

  beforeAll(async () => {
    console.log(`differential cache test seed: ${SEED} (ZTAUTHZ_TEST_SEED=${SEED} replays this stream)`);
    dir = mkdtempSync(join(tmpdir(), 'ztauthz-cdiff-'));
    key = await makeKey('ES256', 'cdiff-1');
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [key.publicJwk] }));
    // No clock tolerance: a token stops being valid exactly at exp, so the
    // expiry phase needs only a short real wait.
    jwtFlags = (invalid) => ({
      'jwt-issuers': JSON.stringify([{ issuer: ISSUER, audiences: [AUDIENCE], jwks_file: jwks, clock_tolerance_s: 0 }]),
      'jwt-invalid': invalid,
    });
    const exp = nowS() + 3600;
    const claims = (sub: string, roles: string[]) => ({ iss: ISSUER, aud: AUDIENCE, sub, roles, exp, iat: nowS() });
    const stranger = await makeKey('ES256', 'cdiff-1');
    tokens = {
      valid: await Promise.all([
        sign(key, claims('alice', ['chat'])),
        sign(key, claims('bob', ['chat'])),
        sign(key, claims('mallory', ['viewer'])),
        sign(key, claims('carol', ['admin'])),
      ]),
      forged: await sign(stranger, claims('alice', ['admin'])),
    };
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `differential cache test: ${total.compared} CheckResponses compared (seed ${SEED}); cache outcomes ${JSON.stringify(total.cache)}; reasons ${JSON.stringify(total.reasons)}`,
    );
  });

  it('the test policy keeps x-request-id in the key and leaves the trace headers out', async () => {
    const { on } = await pair({ 'policy-path': REV1 });
    const ignored = on.config.cache.ignore;
    expect(ignored).not.toContain('attributes.request.http.headers.x-request-id');
    expect(ignored).toContain('attributes.request.http.headers.traceparent');
    expect(ignored).toContain('attributes.request.http.headers.x-b3-traceid');
    expect(ignored).toContain('attributes.request.time');
    expect(ignored).toContain('attributes.source.address.socketAddress.portValue');
  });

  it('a long randomized stream, with a policy reload (in flight and after) in the middle', async () => {
    const p = await pair({ 'policy-path': REV1, ...jwtFlags('deny') });
    const c = new Comparison();
    const rev1 = p.on.policies.current!.revision;

    for (let i = 0; i < 10_000; i++) await c.one(p, 'rev1', request());

    // The reload lands while Checks are in flight: each pipeline's Check
    // keeps the policy it started with, so both still agree pairwise.
    const [rev2On, rev2Off] = await Promise.all([loadFor(p.on, REV2), loadFor(p.off, REV2)]);
    expect(rev2On.revision).not.toBe(rev1);
    const inflight: Array<Promise<void>> = [];
    for (let i = 0; i < 400; i++) {
      if (i === 200) {
        p.on.policies.activate(rev2On);
        p.off.policies.activate(rev2Off);
      }
      const req = request();
      const bytes = encodeCheckRequestJson(req);
      const a = p.on.pipeline.check(bytes);
      const b = p.off.pipeline.check(bytes);
      inflight.push(Promise.all([a, b]).then(([x, y]) => c.record(i < 200 ? 'in flight across reload (rev1)' : 'in flight across reload (rev2)', req, x, y)));
    }
    await Promise.all(inflight);

    // After the reload: the same hot requests again; a rev1 entry served now would disagree.
    for (let i = 0; i < 10_000; i++) await c.one(p, 'rev2', request());

    total.add(c);
    console.log(
      `differential cache test, stream: ${c.compared} CheckResponses compared (seed ${SEED}); cache ${JSON.stringify(c.cache)}; reasons ${JSON.stringify(c.reasons)}`,
    );
    c.expectAgreement();
    expect(c.compared).toBeGreaterThanOrEqual(20_000);
    // The stream must really exercise the cache: many answers served from it,
    // both allows and every kind of denial among the compared answers.
    expect(c.cache['hit'] ?? 0).toBeGreaterThan(1_000);
    expect(c.cache['shortcut'] ?? 0).toBeGreaterThan(1_000);
    expect((c.cache['hit'] ?? 0) + (c.cache['shortcut'] ?? 0)).toBeGreaterThan(4_000);
    expect(c.cache['miss'] ?? 0).toBeGreaterThan(1_000);
    for (const reason of ['allowed', 'policy_denied', 'token_invalid', 'path_rejected']) expect(c.reasons[reason] ?? 0).toBeGreaterThan(50);
    expect(p.on.policies.current!.revision).toBe(rev2On.revision);
    // About 25 s alone; the suite runs files in parallel on two cores.
  }, 120_000);

  for (const invalid of ['deny', 'policy'] as const) {
    it(`verified end-user tokens: a cached decision is not served past the token's exp (jwt.invalid: ${invalid})`, async () => {
      const p = await pair({ 'policy-path': REV1, ...jwtFlags(invalid) });
      const c = new Comparison();
      const exp = nowS() + 2;
      const short = await Promise.all(
        ['alice', 'bob', 'carol'].map((sub) => sign(key, { iss: ISSUER, aud: AUDIENCE, sub, roles: [sub === 'carol' ? 'admin' : 'chat'], exp })),
      );
      // A small set of requests the policy decides by user (OpenAI chat),
      // repeated so that the cache holds every one of them.
      const chat = (): Target => ({
        method: 'POST',
        path: '/v1/chat/completions',
        contentType: 'application/json',
        body: JSON.stringify({ model: uniform(MODELS), messages: [], max_tokens: uniform([64, 256]) }),
      });
      const set = Array.from({ length: 40 }, () =>
        request({
          authorization: `Bearer ${uniform(short)}`,
          target: chat(),
          principal: uniform([undefined, 'spiffe://cluster.local/ns/analytics/sa/notebook', 'spiffe://cluster.local/ns/web/sa/frontend']),
        }),
      );
      // Stop well before exp: the two pipelines of a pair must see the same token state.
      const before: CheckOutcome[] = [];
      for (let i = 0; Date.now() < exp * 1000 - 400 || i < set.length; i++) {
        const { on } = await c.one(p, 'before exp', set[i % set.length]!);
        if (i < set.length) before.push(on);
        if (i >= 600) break;
      }
      expect(
        before.some((o) => o.decision.allowed),
        'some user was allowed before exp',
      ).toBe(true);
      const wait = exp * 1000 + 50 - Date.now();
      if (wait > 0) await sleep(wait);
      let served = 0;
      for (const req of set) {
        const { on } = await c.one(p, 'after exp', req);
        if (invalid === 'deny') expect(on.decision.reason).toBe('token_invalid');
        else expect((on.input?.['identity'] as { user?: unknown } | null)?.user ?? null).toBeNull();
        if (on.decision.allowed) served++;
      }
      // The user grant needs a valid token: after exp nothing in this set may be allowed by it.
      if (invalid === 'deny') expect(served).toBe(0);
      c.expectAgreement();
      expect(c.cache['hit'] ?? 0).toBeGreaterThan(0);
      total.add(c);
    });
  }

  it('a clock-reading policy is never cached (bypass), and still agrees', async () => {
    const p = await pair({ 'policy-path': TIME_POLICY });
    expect(p.on.policies.current!.timeDependent).toBe(true);
    const c = new Comparison();
    const set = Array.from({ length: 50 }, () => request({ target: { method: 'GET', path: `/v2/models/${uniform(MODELS)}` } }));
    for (let i = 0; i < 1_000; i++) {
      const { on } = await c.one(p, 'time', set[i % set.length]!);
      if (on.decision.reason === 'allowed' || on.decision.reason === 'policy_denied') expect(on.record.cache).toBe('bypass');
    }
    c.expectAgreement();
    expect(c.cache['bypass']).toBeGreaterThan(900);
    expect(c.cache['hit'] ?? 0).toBe(0);
    total.add(c);
  });
});
