// Agents for end-to-end tests: a real MCP tool server (the
// @modelcontextprotocol/sdk server over Streamable HTTP, one session per
// client), a minimal A2A agent (JSON-RPC over HTTP POST, and its agent card),
// and a fetch that speaks mTLS with a workload's SVID, so the SDK's own
// client can call through an Envoy mesh sidecar.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { spiffeIdMismatch } from './mesh.ts';
import type { SvidFiles } from './pki.ts';

export interface ToolServer {
  readonly port: number;
  /** Tool calls the server ran, by tool name, in order. */
  readonly ran: string[];
  /** "METHOD mcp-session-id" of every HTTP request that reached the server. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** The tools of policies/library/data.json's "docs" server (read-only and destructive). */
function docsServer(ran: string[]): McpServer {
  const server = new McpServer({ name: 'docs', version: '1.0.0' });
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  server.registerTool('search_docs', { description: 'Search the documents', inputSchema: { q: z.string() } }, async ({ q }) => {
    ran.push('search_docs');
    return text(`3 documents match "${q}"`);
  });
  server.registerTool('fetch_doc', { description: 'Fetch one document', inputSchema: { id: z.string() } }, async ({ id }) => {
    ran.push('fetch_doc');
    return text(`document ${id}`);
  });
  server.registerTool('delete_doc', { description: 'Delete one document', inputSchema: { id: z.string() } }, async ({ id }) => {
    ran.push('delete_doc');
    return text(`deleted ${id}`);
  });
  server.registerTool('purge_index', { description: 'Drop the whole index' }, async () => {
    ran.push('purge_index');
    return text('index purged');
  });
  return server;
}

/** An MCP server on 127.0.0.1 (any path), stateful: the session id the SDK hands out keys the transport. */
export async function startToolServer(): Promise<ToolServer> {
  const ran: string[] = [];
  const requests: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer((req, res) => {
    requests.push(`${req.method} ${String(req.headers['mcp-session-id'] ?? '-')}`);
    void serveMcp(req, res, sessions, ran).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  const port = await listen(http);
  return {
    port,
    ran,
    requests,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await close(http);
    },
  };
}

async function serveMcp(req: IncomingMessage, res: ServerResponse, sessions: Map<string, StreamableHTTPServerTransport>, ran: string[]): Promise<void> {
  const id = req.headers['mcp-session-id'];
  let transport = typeof id === 'string' ? sessions.get(id) : undefined;
  if (!transport) {
    if (id !== undefined || req.method !== 'POST') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      return;
    }
    const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, created),
    });
    created.onclose = () => {
      if (created.sessionId) sessions.delete(created.sessionId);
    };
    await docsServer(ran).connect(created);
    transport = created;
  }
  await transport.handleRequest(req, res);
}

export interface A2aAgent {
  readonly port: number;
  /** JSON-RPC methods the agent answered, in order. */
  readonly received: string[];
  close(): Promise<void>;
}

/**
 * The reviewer agent, A2A over JSON-RPC: message/send returns a completed
 * task, tasks/get that task; the agent card is served at the well-known path.
 * Just enough of the protocol for a client to send a task and read it back.
 */
export async function startA2aAgent(): Promise<A2aAgent> {
  const received: string[] = [];
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.startsWith('/.well-known/agent')) {
        json(res, 200, {
          name: 'reviewer',
          description: 'Reviews documents',
          url: '/reviewer/a2a',
          version: '1.0.0',
          protocolVersion: '0.3.0',
          capabilities: {},
          skills: [{ id: 'review', name: 'Review' }],
        });
        return;
      }
      let call: { id?: unknown; method?: string; params?: { message?: { parts?: Array<{ text?: string }> }; id?: string } };
      try {
        call = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        return;
      }
      received.push(String(call.method));
      const task = (id: string, text: string) => ({
        kind: 'task',
        id,
        contextId: 'ctx-1',
        status: { state: 'completed' },
        artifacts: [{ artifactId: 'a1', parts: [{ kind: 'text', text }] }],
      });
      if (call.method === 'message/send')
        json(res, 200, { jsonrpc: '2.0', id: call.id, result: task('task-1', `reviewed: ${call.params?.message?.parts?.[0]?.text ?? ''}`) });
      else if (call.method === 'tasks/get') json(res, 200, { jsonrpc: '2.0', id: call.id, result: task(call.params?.id ?? '', 'reviewed') });
      else json(res, 200, { jsonrpc: '2.0', id: call.id, error: { code: -32601, message: 'Method not found' } });
    });
  });
  const port = await listen(http);
  return { port, received, close: () => close(http) };
}

/**
 * fetch over HTTPS presenting `svid`, authenticating the server by its
 * SPIFFE ID (as mesh peers do). One connection per request, so a response
 * stream (MCP's SSE) is read as it arrives; aborting the signal drops it.
 */
export function svidFetch(svid: SvidFiles, serverId: string): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    const raw = init?.body;
    const body = raw == null ? undefined : typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(await new Response(raw).arrayBuffer());
    if (body) headers.set('content-length', String(body.length));
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: url.hostname,
          port: url.port,
          method: init?.method ?? 'GET',
          path: url.pathname + url.search,
          headers: Object.fromEntries(headers),
          agent: false,
          ca: readFileSync(svid.caFile, 'utf8'),
          cert: svid.cert,
          key: svid.key,
          checkServerIdentity: (_host: string, cert: PeerCertificate) => spiffeIdMismatch(cert, serverId),
        },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const one of [v ?? []].flat()) h.append(k, one);
          const status = res.statusCode ?? 0;
          const empty = status === 204 || status === 205 || status === 304;
          resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: h }));
        },
      );
      init?.signal?.addEventListener('abort', () => req.destroy(new DOMException('aborted', 'AbortError')), { once: true });
      req.on('error', reject);
      req.end(body);
    });
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
