// End to end through a real Envoy (1.40, .tools/bin/envoy) running the
// deliverable bootstrap deploy/envoy/ext-authz.yaml unchanged: client -> Envoy
// (ext_authz filter) -> ztauthz (spawned `serve`) -> Envoy -> echo upstream.
//
// Two stacks share one echo upstream: the object-result policy (every
// CheckResponse field) and the jwt-rbac policy (decisions on the request body).
// Each request is tied to its records by an `x-test-id` header: ztauthz's
// decision log carries it in the input, the decision's id appears in Envoy's
// access log (from the CheckResponse's dynamic_metadata), and the upstream
// echoes what it received.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHmac, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';
import { startEnvoy, type RunningEnvoy } from './support/envoy.ts';
import { startEchoUpstream, type EchoUpstream, type EchoedRequest } from './support/upstream.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { eventually } from './support/mesh.ts';

const CONFIG = join(ROOT, 'deploy/envoy/ext-authz.yaml');

interface Stack {
  readonly ztauthz: ServeProcess;
  readonly envoy: RunningEnvoy;
}

let upstream: EchoUpstream;
/** policies/examples/object-result, decision path envoy/authz/result. */
let objectResult: Stack;
/** policies/examples/jwt-rbac, decision path envoy/authz/allow. */
let jwtRbac: Stack;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  upstream = await startEchoUpstream();
  cleanups.push(() => upstream.close());
  const serve = async (policy: string, decisionPath: string): Promise<ServeProcess> => {
    // Every record with its input (the default keeps it for denials only): records are found by their x-test-id header.
    const p = await spawnServe(['--policy', `policies/examples/${policy}`, '--decision-path', decisionPath, '--decision-log-include-input', 'all']);
    // ServeProcess.stop() never resolves for a child already killed by a
    // signal (it waits for an exit that has happened): skip the dead one.
    cleanups.push(async () => {
      if (p.child.exitCode === null && p.child.signalCode === null) await p.stop('SIGKILL');
    });
    return p;
  };
  const envoyFor = async (z: ServeProcess): Promise<RunningEnvoy> => {
    const e = await startEnvoy({ configFile: CONFIG, vars: { UPSTREAM_PORT: upstream.port, ZTAUTHZ_GRPC_PORT: z.grpcPort } });
    cleanups.push(() => e.stop());
    return e;
  };
  const stack = async (policy: string, decisionPath: string): Promise<Stack> => {
    const ztauthz = await serve(policy, decisionPath);
    return { ztauthz, envoy: await envoyFor(ztauthz) };
  };
  [objectResult, jwtRbac] = await Promise.all([stack('object-result', 'envoy/authz/result'), stack('jwt-rbac', 'envoy/authz/allow')]);
  await Promise.all([warmUp(objectResult), warmUp(jwtRbac)]);
});

afterAll(async () => {
  await Promise.allSettled(cleanups.reverse().map((stop) => stop()));
});

// ---- helpers ---------------------------------------------------------------

interface Sent {
  readonly testId: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** Sends a request through the stack's Envoy, tagged with a fresh x-test-id. */
async function send(stack: Stack, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Sent> {
  const testId = randomUUID();
  const res = await fetch(`http://127.0.0.1:${stack.envoy.listenPort}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-test-id': testId, ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { testId, status: res.status, headers: res.headers, body: await res.text() };
}

type Json = Record<string, any>;

/**
 * Sends requests until one is decided by ztauthz, so that the tests do not
 * pay for the first Check (Envoy's HTTP/2 connection to ztauthz, the first
 * policy evaluation) within the filter's 0.5s timeout on a busy machine.
 */
async function warmUp(stack: Stack): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await send(stack, '/warm-up');
    if (decisionsFor(stack, res.testId).length > 0) return;
    if (attempt >= 10) throw new Error(`no request reached ztauthz through Envoy (last status ${res.status}):\n${stack.envoy.logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function jsonLines(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);
}

/** ztauthz's decision records (stdout) for a request, by the x-test-id in their input. */
function decisionsFor(stack: Stack, testId: string): Json[] {
  return jsonLines(stack.ztauthz.stdout()).filter((r) => r['input']?.attributes?.request?.http?.headers?.['x-test-id'] === testId);
}

/** The one decision record for a request; fails if ztauthz decided it more than once. */
async function decisionFor(stack: Stack, testId: string): Promise<Json> {
  const record = await eventually(`decision record for ${testId}`, () => decisionsFor(stack, testId)[0]);
  expect(decisionsFor(stack, testId)).toHaveLength(1);
  expect(record).toMatchObject({ decision_id: expect.any(String), allowed: expect.any(Boolean), reason: expect.any(String) });
  return record;
}

/** Envoy's access-log line (deploy config: JSON on stdout) matching `pred`. */
function accessLogLine(stack: Stack, what: string, pred: (line: Json) => boolean): Promise<Json> {
  return eventually(`access-log line for ${what}`, () => jsonLines(stack.envoy.stdout()).find(pred));
}

/** Checks that Envoy's access log ties the request to this decision record and returns the line. */
async function accessLogFor(stack: Stack, record: Json): Promise<Json> {
  const line = await accessLogLine(stack, `decision ${record['decision_id']}`, (l) => l['decision_id'] === record['decision_id']);
  expect(line['request_id']).toBe(record['input'].attributes.request.http.headers['x-request-id']);
  return line;
}

function seenUpstream(testId: string): EchoedRequest[] {
  return upstream.received.filter((r) => r.headers['x-test-id'] === testId);
}

/** Every value a header arrived with at the upstream (repeats kept apart). */
function rawValues(req: EchoedRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!);
  }
  return out;
}

/** An HS256 JWT. jwt-rbac only decodes the token (Envoy's jwt_authn would verify it). */
function jwt(claims: Json): string {
  const b64 = (o: Json): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', 'e2e-test-secret').update(unsigned).digest('base64url')}`;
}

function bearer(sub: string, role: string): string {
  const now = Math.floor(Date.now() / 1000);
  return `Bearer ${jwt({ sub, role, nbf: now - 60, exp: now + 3600 })}`;
}

// ---- tests -----------------------------------------------------------------

describe('object-result policy through Envoy', () => {
  test('an allowed request reaches the upstream rewritten as the policy says', async () => {
    const res = await send(objectResult, '/items?debug=1&keep=1', {
      // x-validated-by from the client must not survive next to the policy's value.
      headers: { 'x-api-key': 'let-me-in', 'x-validated-by': 'client-forged' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-tier')).toBe('gold');

    const echoed = JSON.parse(res.body) as { method: string; url: string; headers: Record<string, string> };
    expect(echoed.method).toBe('GET');
    expect(echoed.headers['x-ext-auth-allow']).toBe('yes');
    expect(echoed.headers['x-validated-by']).toBe('security-checkpoint');
    expect(echoed.headers).not.toHaveProperty('x-api-key');

    const [seen] = seenUpstream(res.testId);
    expect(seenUpstream(res.testId)).toHaveLength(1);
    // Headers without append/append_action overwrite: one value, the policy's.
    expect(rawValues(seen!, 'x-validated-by')).toEqual(['security-checkpoint']);

    const url = new URL(echoed.url, 'http://upstream');
    expect(url.pathname).toBe('/items');
    expect(url.searchParams.get('authz')).toBe('ok');
    expect(url.searchParams.get('keep')).toBe('1');
    expect(url.searchParams.has('debug')).toBe(false);
    // The policy sets tags to ["a", "b"] and ztauthz sends both as two
    // query_parameters_to_set entries (next test), as opa-envoy-plugin does.
    // Envoy applies each entry as an overwrite of the key, so only the last
    // value reaches the upstream: a multi-valued query parameter cannot be
    // set through ext_authz.
    expect(url.searchParams.getAll('tags')).toEqual(['b']);
    // Envoy rebuilds the query string with its keys sorted.
    expect(url.search).toBe('?authz=ok&keep=1&tags=b');

    const record = await decisionFor(objectResult, res.testId);
    expect(record).toMatchObject({ allowed: true, reason: 'allowed', http_status: 200, path: 'envoy/authz/result' });
    // ztauthz saw the request as the client sent it.
    expect(record['input'].attributes.request.http.path).toBe('/items?debug=1&keep=1');
    expect(record['input'].attributes.request.http.headers['x-api-key']).toBe('let-me-in');

    const line = await accessLogFor(objectResult, record);
    expect(line).toMatchObject({ status: 200, details: 'via_upstream' });
    expect(seen!.headers['x-request-id']).toBe(line['request_id']);
  });

  test('ztauthz sends both tags values on the wire (Envoy keeps the last)', async () => {
    const client = new CheckClient(objectResult.ztauthz.grpcPort);
    try {
      const res = await client.check(checkRequest({ path: '/items?debug=1', headers: { 'x-api-key': 'let-me-in' } }));
      expect(res.okResponse?.queryParametersToSet).toEqual(
        expect.arrayContaining([
          { key: 'tags', value: 'a' },
          { key: 'tags', value: 'b' },
          { key: 'authz', value: 'ok' },
        ]),
      );
    } finally {
      client.close();
    }
  });

  test('a denied request gets the policy response and never reaches the upstream', async () => {
    const res = await send(objectResult, '/items?debug=1', { headers: { 'x-api-key': 'wrong' } });
    expect(res.status).toBe(401);
    expect(res.body).toBe('Authentication Failed');
    expect(res.headers.get('x-validated-by')).toBe('security-checkpoint');
    expect(res.headers.get('x-ext-auth-allow')).toBeNull();
    expect(res.headers.get('x-ratelimit-tier')).toBeNull();
    expect(seenUpstream(res.testId)).toHaveLength(0);

    const record = await decisionFor(objectResult, res.testId);
    expect(record).toMatchObject({ allowed: false, reason: 'policy_denied', http_status: 401 });
    const line = await accessLogFor(objectResult, record);
    expect(line).toMatchObject({ status: 401, details: 'ext_authz_denied', response_flags: 'UAEX' });
    expect(seenUpstream(res.testId)).toHaveLength(0);
  });

  test('the per-route context_extensions reach the policy input on /demo/', async () => {
    const demo = await send(objectResult, '/demo/x', { headers: { 'x-api-key': 'let-me-in' } });
    const other = await send(objectResult, '/other', { headers: { 'x-api-key': 'let-me-in' } });
    expect([demo.status, other.status]).toEqual([200, 200]);
    const demoRecord = await decisionFor(objectResult, demo.testId);
    const otherRecord = await decisionFor(objectResult, other.testId);
    expect(demoRecord['input'].attributes.contextExtensions).toEqual({ team: 'demo' });
    expect(otherRecord['input'].attributes.contextExtensions).toBeUndefined();
  });

  test('a body over max_request_bytes arrives partial and ztauthz denies it', async () => {
    const path = `/upload/${randomUUID()}`;
    const res = await send(objectResult, path, {
      method: 'POST',
      headers: { 'x-api-key': 'let-me-in', 'content-type': 'application/json' },
      body: JSON.stringify({ data: 'x'.repeat(70_000) }),
    });
    expect(res.status).toBe(413);
    expect(res.body).toBe('body_truncated: request too large to authorize');
    expect(seenUpstream(res.testId)).toHaveLength(0);
    // A request that never became policy input has no input in its record:
    // find it through Envoy's access log instead.
    const line = await accessLogLine(objectResult, path, (l) => l['path'] === path);
    expect(line).toMatchObject({ status: 413, details: 'ext_authz_denied' });
    const record = await eventually(`decision ${line['decision_id']}`, () =>
      jsonLines(objectResult.ztauthz.stdout()).find((r) => r['decision_id'] === line['decision_id']),
    );
    expect(record).toMatchObject({ allowed: false, reason: 'body_truncated', http_status: 413 });
    expect(record['message']).toMatch(/max_request_bytes/);
  });
});

describe('jwt-rbac policy: the request body through Envoy', () => {
  const people = (authorization: string, body: Json) =>
    send(jwtRbac, '/people', {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('an admin POST /people is allowed and the body reaches both ztauthz and the upstream', async () => {
    const res = await people(bearer('alice', 'admin'), { firstname: 'x' });
    expect(res.status).toBe(200);
    const [seen] = seenUpstream(res.testId);
    expect(seen?.method).toBe('POST');
    expect(seen?.body).toBe('{"firstname":"x"}');

    const record = await decisionFor(jwtRbac, res.testId);
    expect(record).toMatchObject({ allowed: true, reason: 'allowed', path: 'envoy/authz/allow' });
    const http = record['input'].attributes.request.http;
    expect(http.body).toBe('{"firstname":"x"}');
    expect(http.headers['x-envoy-auth-partial-body']).toBe('false');
    expect(record['input'].parsed_body).toEqual({ firstname: 'x' });
    expect(record['input'].truncated_body).toBe(false);
    // The decision log masks the bearer token.
    expect(http.headers).not.toHaveProperty('authorization');
    expect((await accessLogFor(jwtRbac, record))['status']).toBe(200);
  });

  test('the same admin is denied when the body names themselves (the decision depends on the body)', async () => {
    const res = await people(bearer('alice', 'admin'), { firstname: 'Alice' });
    expect(res.status).toBe(403);
    expect(seenUpstream(res.testId)).toHaveLength(0);
    const record = await decisionFor(jwtRbac, res.testId);
    expect(record).toMatchObject({ allowed: false, reason: 'policy_denied', http_status: 403 });
    expect(record['input'].parsed_body).toEqual({ firstname: 'Alice' });
    expect((await accessLogFor(jwtRbac, record))['status']).toBe(403);
  });

  test('a non-admin POST /people is denied', async () => {
    const res = await people(bearer('bob', 'guest'), { firstname: 'x' });
    expect(res.status).toBe(403);
    expect(res.body).toBe('');
    expect(seenUpstream(res.testId)).toHaveLength(0);
    const record = await decisionFor(jwtRbac, res.testId);
    expect(record).toMatchObject({ allowed: false, reason: 'policy_denied' });
    expect(await accessLogFor(jwtRbac, record)).toMatchObject({ status: 403, details: 'ext_authz_denied' });
  });
});

describe('ztauthz unreachable', () => {
  test('a ztauthz slower than the filter timeout (0.5 s) is a denial, not an allow', async () => {
    const before = await objectResult.envoy.stats('ext_authz\\.error');
    // Frozen, not dead: the connection stays open and the Check simply never answers in time.
    objectResult.ztauthz.child.kill('SIGSTOP');
    try {
      const res = await send(objectResult, `/slow/${randomUUID()}`, { headers: { 'x-api-key': 'let-me-in' } });
      expect(res.status).toBe(403);
      expect(seenUpstream(res.testId)).toHaveLength(0);
    } finally {
      objectResult.ztauthz.child.kill('SIGCONT');
    }
    const after = await objectResult.envoy.stats('ext_authz\\.error');
    expect(after['http.ingress_http.ext_authz.error']).toBe((before['http.ingress_http.ext_authz.error'] ?? 0) + 1);
  });

  // Last in the file: it kills the object-result stack's ztauthz.
  test('Envoy fails closed with status_on_error 403 and the upstream sees nothing', async () => {
    const before = await objectResult.envoy.stats('ext_authz\\.error');
    await objectResult.ztauthz.stop('SIGKILL');
    const decided = jsonLines(objectResult.ztauthz.stdout()).length;

    const path = `/down/${randomUUID()}`;
    // A request policy would allow: only the failure can deny it.
    const res = await send(objectResult, path, { headers: { 'x-api-key': 'let-me-in' } });
    expect(res.status).toBe(403);
    expect(res.body).toBe('');
    expect(seenUpstream(res.testId)).toHaveLength(0);

    const line = await accessLogLine(objectResult, path, (l) => l['path'] === path);
    expect(line).toMatchObject({ status: 403, details: 'ext_authz_error', response_flags: 'UAEX', decision_id: null });
    const after = await objectResult.envoy.stats('ext_authz\\.error');
    expect(after['http.ingress_http.ext_authz.error']).toBe((before['http.ingress_http.ext_authz.error'] ?? 0) + 1);
    expect(jsonLines(objectResult.ztauthz.stdout())).toHaveLength(decided);
  });
});
