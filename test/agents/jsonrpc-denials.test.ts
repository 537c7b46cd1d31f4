// Denials of MCP and A2A calls (JSON-RPC over POST) through the real Check
// pipeline with Rego compiled by the pinned opa: each is a JSON-RPC 2.0 error
// response with the request's id, whether the policy's jsonrpc_error, ztauthz's
// answer to a policy that gave no body, or ztauthz's own refusal (a body that
// is not JSON or not JSON-RPC, a route Envoy named that the path does not fit,
// a policy result it cannot use). A policy's own body is sent as written, and
// compat: opa-envoy answers as opa-envoy-plugin.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../../src/config/load.ts';
import { buildPhases, createPipeline } from '../../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';

// Tools are decided by name: search_docs is allowed; wipe gets a JSON-RPC
// error of the policy's, say_no a plain body of its own, broken a malformed
// jsonrpc_error; anything else is a bare false.
const POLICY = `package envoy.authz

import rego.v1

default allow := false

allow if input.route.action in {"initialize", "tools/list", "notifications/initialized"}

allow if input.route.params.tool == "search_docs"

allow := {"allowed": false, "http_status": 403, "body": "no wiping\\n",
  "headers": {"content-type": "text/plain", "x-team": "docs"},
  "jsonrpc_error": {"code": -32042, "message": "wiping needs an approval"}} if wipe

wipe if input.route.params.tool == "wipe"

wipe if input.route.params.task == "wipe"

allow := {"allowed": false, "http_status": 429, "body": "say no\\n", "headers": {"content-type": "text/plain"}} if input.route.params.tool == "say_no"

allow := {"allowed": false, "jsonrpc_error": {"message": "x", "data": 1}} if input.route.params.tool == "broken"

allow := {"allowed": false, "body": "not a session\\n", "jsonrpc_error": {"message": "stream refused"}} if input.route.action == "open_stream"
`;

async function pipelineFor(flags: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-rpc-denials-'));
  writeFileSync(join(dir, 'policy.rego'), POLICY);
  const config = loadConfig({ flags: { policy: dir, 'decision-log-enabled': 'false', ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  return createPipeline(config, policies, phases);
}

const pipeline = await pipelineFor();

interface Sent {
  method?: string;
  headers?: Record<string, string>;
  raw?: string;
  contextExtensions?: Record<string, string>;
  via?: typeof pipeline;
}

async function check(path: string, body: unknown, opts: Sent = {}) {
  const request = {
    attributes: {
      source: { principal: 'spiffe://cluster.local/ns/agents/sa/planner' },
      ...(opts.contextExtensions ? { contextExtensions: opts.contextExtensions } : {}),
      request: {
        http: {
          method: opts.method ?? 'POST',
          host: 'tools.agents.svc',
          path,
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...opts.headers },
          body: opts.raw ?? (body === undefined ? '' : JSON.stringify(body)),
        },
      },
    },
  };
  const { decision } = await (opts.via ?? pipeline).check(Buffer.from(encodeCheckRequestJson(request)));
  const contentType = decision.headers.filter((h) => h.key.toLowerCase() === 'content-type').map((h) => h.value);
  return { allowed: decision.allowed, reason: decision.reason, status: decision.httpStatus, headers: decision.headers, contentType, body: decision.body };
}

/** The body as JSON, after checking it is sent as application/json (and only as that). */
function rpcBody(out: Awaited<ReturnType<typeof check>>): unknown {
  expect(out.contentType).toEqual(['application/json']);
  return JSON.parse(out.body);
}

const tool = (name: string, id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
const err = (id: unknown, code: number, message: string) => ({ jsonrpc: '2.0', id, error: { code, message } });

describe("a policy's denial of a JSON-RPC call", () => {
  it("jsonrpc_error is the call's error: the policy's code, message, status and headers, the request's id, JSON in place of its text", async () => {
    const out = await check('/mcp', tool('wipe', 'w-1'));
    expect(out).toMatchObject({ allowed: false, reason: 'policy_denied', status: 403 });
    expect(rpcBody(out)).toEqual(err('w-1', -32042, 'wiping needs an approval'));
    expect(out.headers).toContainEqual({ key: 'x-team', value: 'docs' });
    // A2A the same.
    const task = { jsonrpc: '2.0', id: 9, method: 'tasks/cancel', params: { id: 'wipe' } };
    expect(rpcBody(await check('/reviewer/a2a', task))).toEqual(err(9, -32042, 'wiping needs an approval'));
  });

  it('without jsonrpc_error and without a body: -32003 naming the reason only', async () => {
    expect(rpcBody(await check('/mcp', tool('delete_records', 4)))).toEqual(err(4, -32003, 'forbidden by ztauthz: policy_denied'));
  });

  it('a body of its own, with no jsonrpc_error, is sent as written (as opa-envoy-plugin would)', async () => {
    const out = await check('/mcp', tool('say_no', 5));
    expect(out).toMatchObject({ status: 429, body: 'say no\n', contentType: ['text/plain'] });
  });

  it('a batch: an error per request, the denied call with the reason, the others refused with it; notifications get none', async () => {
    const out = await check('/mcp', [
      tool('search_docs', 1),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      tool('wipe', 'two'),
      tool('search_docs', 3),
    ]);
    expect(rpcBody(out)).toEqual([
      err(1, -32042, 'batch refused: wiping needs an approval'),
      err('two', -32042, 'wiping needs an approval'),
      err(3, -32042, 'batch refused: wiping needs an approval'),
    ]);
  });

  it('nothing with an id (a notification, a response, a batch of them): one error with id null', async () => {
    const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } };
    expect(rpcBody(await check('/mcp', note))).toEqual(err(null, -32003, 'forbidden by ztauthz: policy_denied'));
    expect(rpcBody(await check('/mcp', [note, note]))).toEqual(err(null, -32003, 'forbidden by ztauthz: policy_denied'));
  });

  it('a cached denial answers each request with its own id', async () => {
    for (const id of [10, 11, 'twelve']) expect(rpcBody(await check('/mcp', tool('wipe', id)))).toEqual(err(id, -32042, 'wiping needs an approval'));
  });

  it('the session stream (GET) is not JSON-RPC: the policy body, even with jsonrpc_error', async () => {
    const out = await check('/mcp', undefined, { method: 'GET', headers: { accept: 'text/event-stream' } });
    expect(out).toMatchObject({ allowed: false, status: 403, body: 'not a session\n' });
    expect(out.contentType).toEqual([]);
  });

  it('a malformed jsonrpc_error is result_invalid, answered -32603 to each call', async () => {
    const out = await check('/mcp', tool('broken', 6));
    expect(out).toMatchObject({ allowed: false, reason: 'result_invalid', status: 403 });
    expect(rpcBody(out)).toEqual(err(6, -32603, 'ztauthz could not decide: result_invalid'));
  });
});

describe("ztauthz's own denials of JSON-RPC calls", () => {
  it('a body that is not JSON: 400, -32700, id null', async () => {
    const out = await check('/mcp', undefined, { raw: '{"jsonrpc":"2.0","id":1,' });
    expect(out).toMatchObject({ reason: 'body_invalid', status: 400 });
    expect(rpcBody(out)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/^body_invalid: /) } });
    const twice = await check('/mcp', undefined, { raw: '{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}' });
    expect(rpcBody(twice)).toMatchObject({ id: null, error: { code: -32700, message: expect.stringMatching(/^body_duplicate_key: /) } });
  });

  it("JSON that is not a valid JSON-RPC request: 400, -32600 saying what is wrong, with the request's id when it has one", async () => {
    const out = await check('/mcp', { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { arguments: {} } });
    expect(out).toMatchObject({ reason: 'body_invalid', status: 400 });
    expect(rpcBody(out)).toEqual(err(8, -32600, 'body_invalid: route "mcp": the tool name (params.name) must be a non-empty string'));
    expect(rpcBody(await check('/mcp', { id: 3, method: 'tools/list' }))).toMatchObject({ id: 3, error: { code: -32600 } });
    // An id that is not an id is not echoed.
    expect(rpcBody(await check('/mcp', { jsonrpc: '2.0', id: { x: 1 }, method: 'tools/list' }))).toMatchObject({ id: null, error: { code: -32600 } });
    const text = await check('/a2a', undefined, { raw: JSON.stringify(tool('x', 2)), headers: { 'content-type': 'text/plain' } });
    // A body that is not labelled JSON is not parsed: its id is not known.
    expect(rpcBody(text)).toMatchObject({ id: null, error: { code: -32600, message: expect.stringMatching(/not application\/json/) } });
  });

  it('a batch refused as a whole (over routes.jsonrpc_max_batch, a bad element): one error with id null', async () => {
    const big = Array.from({ length: 65 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/list' }));
    const out = await check('/mcp', big);
    expect(out).toMatchObject({ reason: 'body_invalid', status: 400 });
    expect(rpcBody(out)).toEqual(err(null, -32600, 'body_invalid: route "mcp": the JSON-RPC batch has 65 calls, more than routes.jsonrpc_max_batch (64)'));
    expect(rpcBody(await check('/mcp', [tool('search_docs', 1), 7]))).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('a body Envoy sent in part (not parsed, so no id): 413, -32600', async () => {
    const out = await check('/mcp', tool('search_docs', 1), { headers: { 'x-envoy-auth-partial-body': 'true' } });
    expect(out).toMatchObject({ reason: 'body_truncated', status: 413 });
    expect(rpcBody(out)).toEqual(err(null, -32600, 'body_truncated: request too large to authorize'));
  });

  it('an agent route Envoy names (context_extensions) that the path does not fit: 403, -32003', async () => {
    const out = await check('/not-mcp', tool('search_docs', 1), { contextExtensions: { ztauthz_route: 'mcp' } });
    expect(out).toMatchObject({ reason: 'route_unmatched', status: 403 });
    expect(rpcBody(out)).toEqual(err(1, -32003, 'forbidden by ztauthz: route_unmatched'));
    // A GET is no JSON-RPC call, whatever route Envoy names.
    const get = await check('/mcp', undefined, { method: 'GET', contextExtensions: { ztauthz_route: 'mcp' } });
    expect(get).toMatchObject({ reason: 'route_unmatched', status: 403, body: 'route_unmatched', contentType: [] });
  });

  it('an invalid bearer token (refused before the body is read, so id null): 401, -32003, the challenge kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztauthz-rpc-jwks-'));
    const { publicKey } = await generateKeyPair('ES256');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const via = await pipelineFor({
      'jwt-issuers': JSON.stringify([{ issuer: 'https://idp.test', audiences: ['ztauthz'], jwks_file: join(dir, 'jwks.json') }]),
    });
    const out = await check('/mcp', tool('search_docs', 1), { via, headers: { authorization: 'Bearer not.a.token' } });
    expect(out).toMatchObject({ reason: 'token_invalid', status: 401 });
    expect(out.headers.find((h) => h.key === 'www-authenticate')?.value).toMatch(/^Bearer /);
    expect(rpcBody(out)).toEqual(err(null, -32003, 'forbidden by ztauthz: token_invalid'));
  });

  it('requests that are not agent calls keep their text bodies', async () => {
    const out = await check('/v1/chat/completions', undefined, { raw: '{"model":' });
    expect(out).toMatchObject({ reason: 'body_invalid', status: 400, contentType: [] });
    expect(out.body).toMatch(/^body_invalid: /);
  });
});

describe('compat: opa-envoy answers as opa-envoy-plugin', () => {
  it("the policy's answer as it is (no body: none; the policy sees no input.route), and its errors' text", async () => {
    const via = await pipelineFor({ compat: 'opa-envoy' });
    expect(await check('/mcp', tool('delete_records', 4), { via })).toMatchObject({ allowed: false, body: '', contentType: [] });
    const bad = await check('/mcp', undefined, { raw: '{"jsonrpc":', via });
    expect(bad.contentType).toEqual([]);
    expect(bad.body).toMatch(/^request_parse_error: /);
  });
});
