// Agents in a real mesh, every hop mutual TLS with SPIFFE X509-SVIDs:
//
//   the SDK's MCP client (planner's SVID, a user's token) --mTLS--> Envoy (docs-mcp's SVID,
//     deploy/envoy/mtls-sidecar.yaml unchanged, with_request_body)
//       --mTLS gRPC--> ztauthz serve --config deploy/config/library.yaml
//       --HTTP--> a real MCP server (@modelcontextprotocol/sdk, Streamable HTTP)
//
// and the same for an A2A agent (the reviewer) behind its own sidecar. The
// policy library's agents family decides from the caller's SVID, the callee's
// (the sidecar's), the end user's token scopes, the JSON-RPC method and the tool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ROOT, spawnServe, type ServeProcess } from '../support/servers.ts';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.ts';
import { Pki, writeSvid, type Ca, type SvidFiles } from '../support/pki.ts';
import { eventually, meshRequest, type MeshCall, type MeshResponse } from '../support/mesh.ts';
import { startA2aAgent, startToolServer, svidFetch, type A2aAgent, type ToolServer } from '../support/agents.ts';

const TRUST_DOMAIN = 'cluster.local';
const ID = {
  planner: 'spiffe://cluster.local/ns/fraud-agents/sa/planner',
  reviewer: 'spiffe://cluster.local/ns/fraud-agents/sa/reviewer',
  docsMcp: 'spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp',
  assistant: 'spiffe://cluster.local/ns/recs-agents/sa/assistant',
  ztauthz: 'spiffe://cluster.local/ns/ztauthz/sa/ztauthz',
} as const;

let pki: Pki;
let ca: Ca;
let svid: Record<keyof typeof ID, SvidFiles>;
let tools: ToolServer;
let agent: A2aAgent;
let ztauthz: ServeProcess;
let docsSidecar: RunningEnvoy;
let reviewerSidecar: RunningEnvoy;
let signingKey: CryptoKey;
const ISSUER = 'https://idp.fraud.example';
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  pki = new Pki();
  cleanups.push(() => pki.cleanup());
  ca = pki.ca(TRUST_DOMAIN);
  svid = Object.fromEntries(
    Object.entries(ID).map(([name, id]) => [
      name,
      writeSvid(
        pki,
        ca,
        id,
        name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      ),
    ]),
  ) as Record<keyof typeof ID, SvidFiles>;
  const keys = await generateKeyPair('ES256');
  signingKey = keys.privateKey;
  const jwks = join(pki.dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  [tools, agent] = await Promise.all([startToolServer(), startA2aAgent()]);
  cleanups.push(
    () => tools.close(),
    () => agent.close(),
  );
  ztauthz = await spawnServe([
    '--config',
    'deploy/config/library.yaml',
    '--grpc-tls-mode',
    'files',
    '--grpc-tls-cert-file',
    svid.ztauthz.certFile,
    '--grpc-tls-key-file',
    svid.ztauthz.keyFile,
    '--grpc-tls-ca-file',
    svid.ztauthz.caFile,
    // Each workload's sidecar holds that workload's SVID, as in Istio.
    '--grpc-tls-allowed-peers',
    `${ID.docsMcp},${ID.reviewer}`,
    '--identity-trust-bundles',
    `${TRUST_DOMAIN}=${svid.ztauthz.caFile}`,
    // The end user the agent acts for: a bearer token from the mesh's identity provider.
    '--jwt-issuers',
    JSON.stringify([{ issuer: ISSUER, audiences: ['ztauthz'], jwks_file: jwks }]),
  ]);
  cleanups.push(async () => {
    if (ztauthz.child.exitCode === null && ztauthz.child.signalCode === null) await ztauthz.stop('SIGKILL');
  });
  const sidecarOf = async (who: SvidFiles, upstreamPort: number): Promise<RunningEnvoy> => {
    const e = await startEnvoy({
      configFile: join(ROOT, 'deploy/envoy/mtls-sidecar.yaml'),
      vars: {
        UPSTREAM_PORT: upstreamPort,
        ZTAUTHZ_GRPC_PORT: ztauthz.grpcPort,
        SIDECAR_CERT_FILE: who.certFile,
        SIDECAR_KEY_FILE: who.keyFile,
        TRUST_BUNDLE_FILE: who.caFile,
        TRUST_DOMAIN,
        ZTAUTHZ_SPIFFE_ID: ID.ztauthz,
      },
    });
    cleanups.push(() => e.stop());
    return e;
  };
  [docsSidecar, reviewerSidecar] = await Promise.all([sidecarOf(svid.docsMcp, tools.port), sidecarOf(svid.reviewer, agent.port)]);
  // The first Check pays for Envoy's TLS and HTTP/2 connection to ztauthz and
  // the first evaluations, within the filter's 0.5 s timeout: retry until one
  // is decided (ztauthz's answers carry x-ztauthz-policy) before testing.
  await Promise.all([
    warmUp(() => toDocs(svid.planner, rpcPost('/docs/mcp', { jsonrpc: '2.0', id: 0, method: 'ping' }))),
    warmUp(() => toReviewer(svid.planner, { method: 'GET', path: '/.well-known/agent-card.json' })),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(cleanups.reverse().map((stop) => stop()));
});

async function warmUp(send: () => Promise<MeshResponse>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await send();
    if (res.headers['x-ztauthz-policy'] !== undefined || res.status !== 403) return;
    if (attempt >= 10) throw new Error(`nothing got through the sidecar (last ${res.status} ${res.body}):\n${ztauthz.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const toDocs = (who: SvidFiles, c: MeshCall) => meshRequest(docsSidecar.listenPort, { ca: ca.pem, serverId: ID.docsMcp, svid: who }, c);
const toReviewer = (who: SvidFiles, c: MeshCall) => meshRequest(reviewerSidecar.listenPort, { ca: ca.pem, serverId: ID.reviewer, svid: who }, c);
const rpcPost = (path: string, body: unknown, headers: Record<string, string> = {}): MeshCall => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  body: JSON.stringify(body),
});

/** A user's access token with these OAuth scopes. */
function userToken(scope: string): Promise<string> {
  return new SignJWT({ scope })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience('ztauthz')
    .setSubject('alice')
    .setExpirationTime('5m')
    .sign(signingKey);
}

/**
 * The SDK's client as `who` (on behalf of a user, with a token), connected (initialize, notifications/initialized)
 * through the docs sidecar; `sent` collects the bodies it POSTs.
 */
async function mcpClient(who: SvidFiles, token?: string, sent?: string[]): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const viaSidecar = svidFetch(who, ID.docsMcp);
  const transport = new StreamableHTTPClientTransport(new URL(`https://127.0.0.1:${docsSidecar.listenPort}/docs/mcp`), {
    fetch: (input, init) => {
      if (sent && typeof init?.body === 'string') sent.push(init.body);
      return viaSidecar(input, init);
    },
    ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
  });
  const client = new Client({ name: 'planner', version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

describe('MCP through Envoy and ztauthz with the policy library', () => {
  it('the planner lists the tools and a granted tool call returns its result', async () => {
    const { client } = await mcpClient(svid.planner);
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['delete_doc', 'fetch_doc', 'purge_index', 'search_docs']);
    const result = await client.callTool({ name: 'search_docs', arguments: { q: 'chargebacks' } });
    expect(result.content).toEqual([{ type: 'text', text: '3 documents match "chargebacks"' }]);
    expect(tools.ran).toContain('search_docs');
  });

  it("the session's SSE stream (GET) and its end (DELETE) are their own actions, allowed to an agent reaching the server", async () => {
    const { transport } = await mcpClient(svid.planner);
    const session = transport.sessionId!;
    // The SDK opens the stream by itself after initialization.
    await eventually('the GET stream at the server', () => tools.requests.find((r) => r === `GET ${session}`));
    await transport.terminateSession();
    expect(tools.requests).toContain(`DELETE ${session}`);
    // Another tenant's agent cannot end it.
    const res = await toDocs(svid.assistant, { method: 'DELETE', path: '/docs/mcp', headers: { 'mcp-session-id': session } });
    expect([res.status, res.body]).toEqual([403, 'ztauthz agents: tenant mismatch\n']);
  });

  it("a denied tool call fails in the client with ztauthz's reason, and never reaches the server", async () => {
    const sent: string[] = [];
    const { client } = await mcpClient(svid.planner, undefined, sent);
    const before = tools.ran.length;
    const denied = client.callTool({ name: 'purge_index', arguments: {} });
    await expect(denied).rejects.toBeInstanceOf(StreamableHTTPError);
    await expect(denied).rejects.toMatchObject({ code: 403, message: expect.stringContaining('ztauthz agents: tool not granted to caller') });
    // The SDK reports a refused POST by its status and body: here ztauthz's JSON-RPC error for this call, with the id the SDK gave it.
    const call = sent.map((b) => JSON.parse(b) as { id?: number; params?: { name?: string } }).find((m) => m.params?.name === 'purge_index');
    const body = JSON.stringify({ jsonrpc: '2.0', id: call?.id, error: { code: -32003, message: 'ztauthz agents: tool not granted to caller' } });
    expect(call?.id).toEqual(expect.any(Number));
    await expect(denied).rejects.toMatchObject({ message: `Streamable HTTP error: Error POSTing to endpoint: ${body}` });
    // A destructive tool the planner is granted still needs a user with the destructive scope.
    await expect(client.callTool({ name: 'delete_doc', arguments: { id: 'd1' } })).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('user not permitted to use this tool'),
    });
    // The session goes on: the next granted call works, and is the only one the server ran.
    expect((await client.callTool({ name: 'search_docs', arguments: { q: 'x' } })).isError).toBeFalsy();
    expect(tools.ran.slice(before)).toEqual(['search_docs']);
  });

  it("on behalf of a user: the token's scopes open fetch_doc, and delete_doc only with the destructive scope", async () => {
    const before = tools.ran.length;
    const reader = (await mcpClient(svid.planner, await userToken('openid docs:read'))).client;
    expect((await reader.callTool({ name: 'fetch_doc', arguments: { id: 'd1' } })).content).toEqual([{ type: 'text', text: 'document d1' }]);
    await expect(reader.callTool({ name: 'delete_doc', arguments: { id: 'd1' } })).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('user not permitted to use this tool'),
    });
    const writer = (await mcpClient(svid.planner, await userToken('docs:write'))).client;
    await expect(writer.callTool({ name: 'delete_doc', arguments: { id: 'd1' } })).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('destructive tool needs the destructive scope'),
    });
    const admin = (await mcpClient(svid.planner, await userToken('docs:write mcp:destructive'))).client;
    expect((await admin.callTool({ name: 'delete_doc', arguments: { id: 'd1' } })).content).toEqual([{ type: 'text', text: 'deleted d1' }]);
    expect(tools.ran.slice(before)).toEqual(['fetch_doc', 'delete_doc']);
    // The user's grant is not the workload's: the reviewer, with the same token, still may not.
    const reviewer = (await mcpClient(svid.reviewer, await userToken('docs:write mcp:destructive'))).client;
    await expect(reviewer.callTool({ name: 'delete_doc', arguments: { id: 'd2' } })).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('tool not granted to caller'),
    });
  });

  it('a batch with one forbidden call is refused whole', async () => {
    const { transport } = await mcpClient(svid.planner);
    const before = tools.ran.length;
    const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
    const res = await toDocs(
      svid.planner,
      rpcPost('/docs/mcp', [call(50, 'search_docs'), call(51, 'purge_index')], {
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }),
    );
    // JSON-RPC 2.0 answers a batch with an array: the denied call carries the reason, the other was refused with it.
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual([
      { jsonrpc: '2.0', id: 50, error: { code: -32003, message: 'batch refused: ztauthz agents: tool not granted to caller' } },
      { jsonrpc: '2.0', id: 51, error: { code: -32003, message: 'ztauthz agents: tool not granted to caller' } },
    ]);
    expect(res.headers['x-ztauthz-policy']).toBe('agents');
    expect(tools.ran.length).toBe(before);
  });

  it("the raw answer to a denied call is a JSON-RPC error with the call's id; a body that is not JSON-RPC gets -32700 or -32600", async () => {
    const { transport } = await mcpClient(svid.planner);
    const session = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' };
    const denied = await toDocs(
      svid.planner,
      rpcPost('/docs/mcp', { jsonrpc: '2.0', id: 'call-7', method: 'tools/call', params: { name: 'purge_index', arguments: {} } }, session),
    );
    expect([denied.status, denied.headers['content-type']]).toEqual([403, 'application/json']);
    expect(JSON.parse(denied.body)).toEqual({ jsonrpc: '2.0', id: 'call-7', error: { code: -32003, message: 'ztauthz agents: tool not granted to caller' } });
    const notJson = await toDocs(svid.planner, { ...rpcPost('/docs/mcp', null, session), body: '{"jsonrpc":"2.0","id":8,' });
    expect([notJson.status, notJson.headers['content-type']]).toEqual([400, 'application/json']);
    expect(JSON.parse(notJson.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/^body_invalid: /) } });
    const notRpc = await toDocs(svid.planner, rpcPost('/docs/mcp', { jsonrpc: '2.0', id: 9, method: 'tools/call', params: {} }, session));
    expect(notRpc.status).toBe(400);
    expect(JSON.parse(notRpc.body)).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32600, message: expect.stringMatching(/tool name/) } });
  });

  it('an agent of another tenant cannot even initialize; the reviewer is granted only search_docs', async () => {
    await expect(mcpClient(svid.assistant)).rejects.toMatchObject({ code: 403, message: expect.stringContaining('ztauthz agents: tenant mismatch') });
    const { client } = await mcpClient(svid.reviewer);
    expect((await client.callTool({ name: 'search_docs', arguments: { q: 'y' } })).content).toEqual([{ type: 'text', text: '3 documents match "y"' }]);
    await expect(client.callTool({ name: 'fetch_doc', arguments: { id: 'd1' } })).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('tool not granted to caller'),
    });
  });
});

describe('A2A through Envoy and ztauthz with the policy library', () => {
  const send = (id: number, method: string, params: unknown) => ({ jsonrpc: '2.0', id, method, params });
  const message = { message: { role: 'user', messageId: 'm-1', parts: [{ kind: 'text', text: 'please review d1' }] } };
  const a2aDenial = (id: number, reason: string) => ({ jsonrpc: '2.0', id, error: { code: -32003, message: `ztauthz agents: ${reason}` } });

  it('the planner reads the agent card, sends a task and reads it back', async () => {
    const card = await toReviewer(svid.planner, { method: 'GET', path: '/.well-known/agent-card.json' });
    expect(card.status).toBe(200);
    expect(JSON.parse(card.body)).toMatchObject({ name: 'reviewer' });
    const sent = await toReviewer(svid.planner, rpcPost('/reviewer/a2a', send(1, 'message/send', message)));
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.body)).toMatchObject({
      id: 1,
      result: { kind: 'task', id: 'task-1', status: { state: 'completed' }, artifacts: [{ parts: [{ text: 'reviewed: please review d1' }] }] },
    });
    // A bare /a2a names no agent: the callee's SVID (the reviewer's sidecar) does.
    const got = await toReviewer(svid.planner, rpcPost('/a2a', send(2, 'tasks/get', { id: 'task-1' })));
    expect(JSON.parse(got.body)).toMatchObject({ id: 2, result: { id: 'task-1' } });
  });

  it('methods and callers the library does not grant are refused before the agent', async () => {
    const before = agent.received.length;
    const push = await toReviewer(
      svid.planner,
      rpcPost('/reviewer/a2a', send(3, 'tasks/pushNotificationConfig/set', { taskId: 'task-1', pushNotificationConfig: { url: 'https://attacker.example/' } })),
    );
    expect([push.status, push.headers['content-type']]).toEqual([403, 'application/json']);
    expect(JSON.parse(push.body)).toEqual(a2aDenial(3, 'action not permitted for caller'));
    // The reviewer calls tools but sends no tasks; a workload outside data.json is unknown.
    const self = await toReviewer(svid.reviewer, rpcPost('/reviewer/a2a', send(4, 'message/send', message)));
    expect([self.status, JSON.parse(self.body)]).toEqual([403, a2aDenial(4, 'action not permitted for caller')]);
    const stranger = await toReviewer(svid.docsMcp, rpcPost('/reviewer/a2a', send(5, 'message/send', message)));
    expect([stranger.status, JSON.parse(stranger.body)]).toEqual([403, a2aDenial(5, 'unknown workload')]);
    expect(agent.received.length).toBe(before);
  });
});
