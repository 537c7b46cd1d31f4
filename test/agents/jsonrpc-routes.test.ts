// MCP and A2A routes through the real Check pipeline (the one `serve` runs)
// with a Rego policy compiled by the pinned opa: the JSON-RPC method becomes
// input.route.action, the tool/prompt/resource and argument names its params,
// a batch is allowed only when every call is, and a body that is not JSON-RPC
// is denied with its reason.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { buildPhases, createPipeline } from '../../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import type { JsonObject } from '../../src/types/Json.ts';

const POLICY = `package envoy.authz

import rego.v1

default allow := false

# Session housekeeping and discovery.
allow if input.route.action in {"initialize", "notifications/initialized", "tools/list", "open_stream", "end_session", "response"}

# One read-only tool, exactly by name.
allow if {
  input.route.action == "tools/call"
  input.route.params.tool == "search_docs"
}

allow if {
  input.route.api == "a2a"
  input.route.action in {"message/send", "tasks/get"}
}
`;

/** A policy that reads an argument's value: the parsed body must then stay in the cache key. */
const READS_ARGUMENTS = `package envoy.authz

import rego.v1

default allow := false

allow if {
  input.route.params.tool == "search_docs"
  input.parsed_body.params.arguments.q < 10
}
`;

async function pipelineFor(rego: string, flags: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-agents-'));
  writeFileSync(join(dir, 'policy.rego'), rego);
  const config = loadConfig({ flags: { policy: dir, 'decision-log-enabled': 'false', ...flags } });
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  return createPipeline(config, policies, phases);
}

const pipeline = await pipelineFor(POLICY);

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const FRONT = 'spiffe://cluster.local/ns/agents/sa/planner';

async function check(path: string, body: unknown, opts: { method?: string; headers?: Record<string, string>; raw?: string; via?: typeof pipeline } = {}) {
  const text = opts.raw ?? (body === undefined ? '' : JSON.stringify(body));
  const request = {
    attributes: {
      source: { principal: FRONT },
      request: { http: { method: opts.method ?? 'POST', host: 'tools.agents.svc', path, headers: { ...JSON_HEADERS, ...opts.headers }, body: text } },
    },
  };
  const outcome = await (opts.via ?? pipeline).check(Buffer.from(encodeCheckRequestJson(request)));
  return {
    allowed: outcome.decision.allowed,
    reason: outcome.decision.reason,
    message: outcome.decision.message,
    body: outcome.decision.body,
    status: outcome.decision.httpStatus,
    headers: outcome.decision.headers,
    route: outcome.input?.['route'] as JsonObject | undefined,
    cache: outcome.record.cache,
  };
}

const rpc = (method: string, params?: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
const tool = (name: string, args: Record<string, unknown> = {}, id: unknown = 1) => rpc('tools/call', { name, arguments: args }, id);

describe('MCP routes', () => {
  it('tools/call: the method is the action, the tool and the argument names (sorted, never values) are params', async () => {
    const out = await check('/mcp', tool('search_docs', { query: 'secret plans', limit: 5 }, 7), {
      headers: { 'mcp-session-id': 's-1', 'mcp-protocol-version': '2025-06-18' },
    });
    expect(out).toMatchObject({ allowed: true, reason: 'allowed' });
    expect(out.route).toMatchObject({
      name: 'mcp',
      api: 'mcp',
      action: 'tools/call',
      params: { tool: 'search_docs', arguments: ['limit', 'query'], id: '7', session: 's-1', protocol_version: '2025-06-18' },
    });
    expect(JSON.stringify(out.route)).not.toContain('secret plans');
  });

  it('a tool the policy does not name is denied; names are compared exactly', async () => {
    expect(await check('/mcp', tool('delete_records'))).toMatchObject({ allowed: false, reason: 'policy_denied' });
    expect(await check('/mcp', tool('Search_Docs'))).toMatchObject({ allowed: false, reason: 'policy_denied' });
  });

  it('a denied call answers 403 with a JSON-RPC error for its id, naming only the reason', async () => {
    const out = await check('/mcp', tool('delete_records', {}, 'call-9'));
    expect(out.status).toBe(403);
    expect(out.headers).toContainEqual({ key: 'content-type', value: 'application/json' });
    expect(JSON.parse(out.body)).toEqual({ jsonrpc: '2.0', id: 'call-9', error: { code: -32003, message: 'forbidden by ztauthz: policy_denied' } });
    const batch = await check('/mcp', [tool('search_docs', {}, 1), tool('delete_records', {}, 2), { jsonrpc: '2.0', method: 'notifications/x' }]);
    // The batch is refused whole: the denied call (2) carries the reason, the notification gets no answer.
    expect(JSON.parse(batch.body)).toEqual([
      { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'batch refused: forbidden by ztauthz: policy_denied' } },
      { jsonrpc: '2.0', id: 2, error: { code: -32003, message: 'forbidden by ztauthz: policy_denied' } },
    ]);
  });

  it('…/mcp: the server is the path before /mcp', async () => {
    const out = await check('/team/github/mcp', tool('search_docs'));
    expect(out.route).toMatchObject({ name: 'mcp-server', params: { server: 'team/github', tool: 'search_docs' } });
  });

  it('initialize, tools/list, prompts/get, resources/read, notifications and responses', async () => {
    expect(
      (await check('/mcp', rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } }))).route,
    ).toMatchObject({ action: 'initialize' });
    expect(await check('/mcp', rpc('tools/list'))).toMatchObject({ allowed: true });
    const note = await check('/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(note).toMatchObject({ allowed: true });
    expect(note.route?.['params']).not.toHaveProperty('id');
    expect((await check('/mcp', rpc('prompts/get', { name: 'summarise', arguments: { topic: 'x' } }))).route).toMatchObject({
      action: 'prompts/get',
      params: { prompt: 'summarise', arguments: ['topic'] },
    });
    expect((await check('/mcp', rpc('resources/read', { uri: 'file:///etc/passwd' }))).route).toMatchObject({
      action: 'resources/read',
      params: { uri: 'file:///etc/passwd' },
    });
    expect(await check('/mcp', { jsonrpc: '2.0', id: 'srv-1', result: { content: [] } })).toMatchObject({
      allowed: true,
      route: { action: 'response', params: { id: 'srv-1' } },
    });
  });

  it('GET opens the stream and DELETE ends the session, each its own action', async () => {
    expect((await check('/mcp', undefined, { method: 'GET', headers: { accept: 'text/event-stream' } })).route).toMatchObject({
      name: 'mcp-stream',
      action: 'open_stream',
    });
    expect((await check('/x/mcp', undefined, { method: 'DELETE' })).route).toMatchObject({
      name: 'mcp-server-session-end',
      action: 'end_session',
      params: { server: 'x' },
    });
  });

  it('a batch is allowed only when every call is; the denied call is the one recorded', async () => {
    expect(await check('/mcp', [tool('search_docs', {}, 1), rpc('tools/list', undefined, 2)])).toMatchObject({ allowed: true });
    const mixed = await check('/mcp', [tool('search_docs', {}, 1), tool('delete_records', {}, 2), rpc('tools/list', undefined, 3)]);
    expect(mixed).toMatchObject({ allowed: false, reason: 'policy_denied', route: { params: { tool: 'delete_records', id: '2' } } });
  });

  it('repeated tool calls with new JSON-RPC ids are cache hits', async () => {
    await check('/mcp', tool('search_docs', { q: 1 }, 100));
    expect(await check('/mcp', tool('search_docs', { q: 2 }, 101))).toMatchObject({ allowed: true, cache: 'hit' });
    // Other argument names or another tool are other inputs.
    expect(await check('/mcp', tool('search_docs', { other: 1 }, 102))).toMatchObject({ cache: 'miss' });
    // A batch is decided call by call, each a hit once known.
    expect(await check('/mcp', [tool('search_docs', { q: 3 }, 103), tool('search_docs', { q: 4 }, 104)])).toMatchObject({ allowed: true, cache: 'hit' });
  });

  it('a policy that reads argument values keeps them in the cache key', async () => {
    const via = await pipelineFor(READS_ARGUMENTS);
    expect(await check('/mcp', tool('search_docs', { q: 1 }, 1), { via })).toMatchObject({ allowed: true });
    expect(await check('/mcp', tool('search_docs', { q: 50 }, 2), { via })).toMatchObject({ allowed: false, reason: 'policy_denied', cache: 'miss' });
    expect(await check('/mcp', tool('search_docs', { q: 1 }, 3), { via })).toMatchObject({ allowed: true, cache: 'hit' });
  });
});

describe('MCP bad input is denied with its reason', () => {
  const cases: Array<[string, string | unknown, string, RegExp]> = [
    ['not JSON', { raw: '{"jsonrpc":' }, 'body_invalid', /./],
    ['no method and no result', { jsonrpc: '2.0', id: 1 }, 'body_invalid', /without "method" must be a response/],
    ['not JSON-RPC 2.0', { id: 1, method: 'tools/list' }, 'body_invalid', /"jsonrpc": "2.0"/],
    ['method not a string', { jsonrpc: '2.0', id: 1, method: 5 }, 'body_invalid', /"method" must be a non-empty string/],
    ['tool name with a control character', tool('search_docs\u0000'), 'body_invalid', /control character/],
    ['tool name missing', rpc('tools/call', { arguments: {} }), 'body_invalid', /tool name/],
    ['arguments not an object', rpc('tools/call', { name: 'search_docs', arguments: ['a'] }), 'body_invalid', /params.arguments/],
    ['params an array', rpc('tools/call', ['search_docs']), 'body_invalid', /"params" of tools\/call must be a JSON object/],
    ['empty batch', [], 'body_invalid', /empty JSON-RPC batch/],
    ['a batch element that is not an object', [tool('search_docs'), 7], 'body_invalid', /batch element 1/],
    ['a batch of 10,000 calls', Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/list' })), 'body_too_many_keys', /./],
    [
      'a batch over routes.jsonrpc_max_batch',
      Array.from({ length: 65 }, (_, i) => rpc('tools/list', undefined, i)),
      'body_invalid',
      /65 calls, more than routes.jsonrpc_max_batch \(64\)/,
    ],
    [
      'duplicate keys',
      { raw: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_docs","name":"delete_records"}}' },
      'body_duplicate_key',
      /./,
    ],
  ];
  for (const [what, body, reason, message] of cases) {
    it(what, async () => {
      const raw = body !== null && typeof body === 'object' && 'raw' in (body as object) ? (body as { raw: string }).raw : undefined;
      const out = await check('/mcp', raw === undefined ? body : undefined, raw === undefined ? {} : { raw });
      expect(out).toMatchObject({ allowed: false, reason });
      expect(out.message).toMatch(message);
    });
  }

  it('routes.jsonrpc_max_batch sets the batch bound: above it the batch is body_invalid naming the key', async () => {
    const via = await pipelineFor(POLICY, { 'routes-jsonrpc-max-batch': '3' });
    const batch = (n: number) => Array.from({ length: n }, (_, i) => rpc('tools/list', undefined, i));
    expect(await check('/mcp', batch(3), { via })).toMatchObject({ allowed: true });
    const over = await check('/mcp', batch(4), { via });
    expect(over).toMatchObject({ allowed: false, reason: 'body_invalid' });
    expect(over.message).toMatch(/4 calls, more than routes\.jsonrpc_max_batch \(3\)/);
    // The default pipeline still takes what the configured one refuses.
    expect(await check('/mcp', batch(4))).toMatchObject({ allowed: true });
    expect(() => loadConfig({ flags: { 'routes-jsonrpc-max-batch': '0' } })).toThrow(/routes\.jsonrpc_max_batch: must be between 1 and 10000/);
    expect(loadConfig().routes.jsonrpc_max_batch).toBe(64);
  });

  it('an id of every JSON type: strings and integers only', async () => {
    expect((await check('/mcp', rpc('tools/list', undefined, 'abc'))).route).toMatchObject({ params: { id: 'abc' } });
    expect((await check('/mcp', rpc('tools/list', undefined, -3))).route).toMatchObject({ params: { id: '-3' } });
    for (const id of [null, true, 1.5, 2 ** 60, {}, [1]]) {
      const out = await check('/mcp', rpc('tools/list', undefined, id));
      expect(out, JSON.stringify(id)).toMatchObject({ allowed: false, reason: 'body_invalid' });
      expect(out.message).toMatch(/JSON-RPC id must be|integer within/);
    }
  });

  it('a content-type that is not JSON', async () => {
    const out = await check('/mcp', undefined, { raw: JSON.stringify(rpc('tools/list')), headers: { 'content-type': 'text/plain' } });
    expect(out).toMatchObject({ allowed: false, reason: 'body_invalid' });
    expect(out.message).toMatch(/not application\/json/);
  });
});

describe('more bad input: sizes, truncation, names', () => {
  it('a body over request.max_body_bytes is request_too_large, before any JSON-RPC is read', async () => {
    const out = await check('/mcp', tool('search_docs', { q: 'x'.repeat(1024 * 1024) }));
    expect(out).toMatchObject({ allowed: false, reason: 'request_too_large' });
  });

  it('a body Envoy sent only in part is body_truncated, with how to fix it', async () => {
    const out = await check('/mcp', tool('search_docs'), { headers: { 'x-envoy-auth-partial-body': 'true' } });
    expect(out).toMatchObject({ allowed: false, reason: 'body_truncated' });
    expect(out.message).toMatch(/with_request_body.max_request_bytes/);
  });

  it('10,000 calls within the key limits still stop at routes.jsonrpc_max_batch, and never reach the policy', async () => {
    const via = await pipelineFor(POLICY, { 'request-max-body-keys': '100000' });
    const batch = Array.from({ length: 10_000 }, (_, i) => rpc('tools/list', undefined, i));
    const out = await check('/mcp', batch, { via });
    expect(out).toMatchObject({ allowed: false, reason: 'body_invalid' });
    expect(out.message).toMatch(/10000 calls, more than routes.jsonrpc_max_batch \(64\)/);
  });

  it('control characters anywhere in a name are refused: C0, DEL and C1, in methods, tools and prompts', async () => {
    for (const bad of ['search\u0000docs', 'search_docs\n', 'search\u007fdocs', 'search\u0085docs', '\u009bsearch_docs']) {
      for (const body of [tool(bad), rpc('prompts/get', { name: bad }), rpc(`tools/${bad}`)]) {
        const out = await check('/mcp', body);
        expect(out, JSON.stringify(body)).toMatchObject({ allowed: false, reason: 'body_invalid' });
        expect(out.message).toMatch(/control character/);
      }
    }
  });

  it('names differing only in case, or by Unicode look-alikes, are other names: each decided as written', async () => {
    const out = await check('/mcp', [tool('search_docs', {}, 1), tool('SEARCH_DOCS', {}, 2)]);
    expect(out).toMatchObject({ allowed: false, reason: 'policy_denied', route: { params: { tool: 'SEARCH_DOCS', id: '2' } } });
    // U+017F (long s) upper-cases to S, the Kelvin sign lower-cases to k: neither is folded.
    for (const alike of ['\u017Fearch_docs', 'search_doc\u212A', 'search_docs\u200b']) {
      expect(await check('/mcp', tool(alike)), alike).toMatchObject({ allowed: false, reason: 'policy_denied', route: { params: { tool: alike } } });
    }
  });

  it('a tool name over 256 characters is refused; 256 is a name', async () => {
    expect((await check('/mcp', tool('t'.repeat(257)))).message).toMatch(/longer than 256 characters/);
    expect(await check('/mcp', tool('t'.repeat(256)))).toMatchObject({ reason: 'policy_denied', route: { params: { tool: 't'.repeat(256) } } });
  });

  it('ids at the edges of the integer range, and a string id, are echoed back exactly in the JSON-RPC error', async () => {
    for (const id of [2 ** 53 - 1, -(2 ** 53 - 1), 0, '', 'id with spaces \u00e9']) {
      const out = await check('/mcp', tool('delete_records', {}, id));
      expect(out.route, JSON.stringify(id)).toMatchObject({ params: { id: String(id) } });
      expect(JSON.parse(out.body)).toEqual({ jsonrpc: '2.0', id, error: { code: -32003, message: 'forbidden by ztauthz: policy_denied' } });
    }
    // 2^53 reads as 2^53 + 1 would: refused (its text is kept, so it is not even a number to the router).
    expect(await check('/mcp', undefined, { raw: '{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/list"}' })).toMatchObject({
      allowed: false,
      reason: 'body_invalid',
      message: expect.stringMatching(/JSON-RPC id must be|integer within/),
    });
    expect(await check('/mcp', tool('search_docs', {}, 2 ** 53))).toMatchObject({
      allowed: false,
      reason: 'body_invalid',
      message: expect.stringMatching(/JSON-RPC id must be|integer within/),
    });
  });
});

describe('A2A routes', () => {
  it('message/send and tasks/get name the task and context', async () => {
    const send = await check(
      '/a2a',
      rpc('message/send', { message: { role: 'user', parts: [{ kind: 'text', text: 'hi' }], messageId: 'm1', taskId: 't-9', contextId: 'c-1' } }),
    );
    expect(send).toMatchObject({ allowed: true, route: { name: 'a2a', api: 'a2a', action: 'message/send', params: { task: 't-9', context: 'c-1' } } });
    expect(await check('/agents/reviewer/a2a', rpc('tasks/get', { id: 't-9' }))).toMatchObject({
      allowed: true,
      route: { name: 'a2a-agent', params: { agent: 'agents/reviewer', task: 't-9' } },
    });
    expect(await check('/a2a', rpc('tasks/cancel', { id: 't-9' }))).toMatchObject({ allowed: false, reason: 'policy_denied' });
  });

  it('the agent card is its own action', async () => {
    expect((await check('/.well-known/agent-card.json', undefined, { method: 'GET' })).route).toMatchObject({
      name: 'a2a-agent-card',
      action: 'get_agent_card',
    });
  });
});
