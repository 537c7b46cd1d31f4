// A small AI platform on loopback, every hop mutual TLS with SPIFFE
// X509-SVIDs of the trust domain cluster.local, and ONE ztauthz deciding for
// every inbound sidecar:
//
//   caller (its own SVID) --mTLS--> callee's inbound Envoy (deploy/envoy/mtls-sidecar.yaml, unchanged)
//                                     |--mTLS gRPC (the callee's SVID)--> ztauthz serve --config deploy/config/library.yaml
//                                     +--plain HTTP, loopback--> the callee's stub service
//
// Seven workloads, each a stub HTTP service behind its own Envoy and each
// with its own SVID made at start: a frontend, a KServe-v2 model server, a
// Feast feature store, a training job, an MLflow registry, and an agent (the
// planner) with the MCP tool server it calls (docs). As with Istio, a
// sidecar presents its workload's SVID, both to callers and to ztauthz
// (whose --grpc-tls-allowed-peers names the seven).
//
// There is no outbound Envoy per caller: the demo itself plays each caller
// and presents that caller's SVID straight to the callee's inbound Envoy
// (what an outbound sidecar would do with ISTIO_MUTUAL), authenticating the
// callee by its SPIFFE ID.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, spawnServe, type ServeProcess } from '../test/support/servers.ts';
import { startEnvoy, type RunningEnvoy } from '../test/support/envoy.ts';
import { Pki, writeSvid, type Ca, type SvidFiles } from '../test/support/pki.ts';
import { eventually, jsonLines, meshRequest, type Json, type MeshCall } from '../test/support/mesh.ts';
import { listenLoopback } from '../test/support/upstream.ts';

export const TRUST_DOMAIN = 'cluster.local';
const SIDECAR_CONFIG = join(ROOT, 'deploy/envoy/mtls-sidecar.yaml');
const LIBRARY_CONFIG = 'deploy/config/library.yaml';
/** The header that ties a demo call to its decision record (ztauthz logs the input's headers). */
export const CALL_HEADER = 'x-demo-call';

/** The workloads: SPIFFE IDs as policies/library/data.json knows them (the callees-only ones need no grants). */
export const WORKLOADS = {
  frontend: 'spiffe://cluster.local/ns/web/sa/frontend',
  'model-server': 'spiffe://cluster.local/ns/ml-serving/sa/model-server',
  'feature-store': 'spiffe://cluster.local/ns/ml-platform/sa/feature-store',
  trainer: 'spiffe://cluster.local/ns/ml-training/sa/trainer',
  registry: 'spiffe://cluster.local/ns/ml-platform/sa/mlflow-registry',
  planner: 'spiffe://cluster.local/ns/fraud-agents/sa/planner',
  'docs-mcp': 'spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp',
} as const;
export type Workload = keyof typeof WORKLOADS;
const ZTAUTHZ_ID = 'spiffe://cluster.local/ns/ztauthz/sa/ztauthz';

export interface CallSpec {
  /** A workload, or null: a caller without a client certificate. */
  readonly caller: Workload | null;
  readonly callee: Workload;
  readonly request: MeshCall;
  /** What the route column shows, when "METHOD path" does not say it (a JSON-RPC method and tool). */
  readonly label?: string;
}

export type Outcome = 'allowed' | 'denied' | 'tls-refused';

export interface Row {
  readonly caller: string;
  readonly callee: Workload;
  /** "METHOD path" as sent (and the JSON-RPC method and tool, for an agent's call). */
  readonly route: string;
  readonly outcome: Outcome;
  /** The HTTP status, null when no HTTP exchange happened. */
  readonly status: number | null;
  /** Decision record's reason; for a refused handshake, Node's TLS error code. */
  readonly reason: string;
  /** result.dynamic_metadata.rule of the decision, if any. */
  readonly rule: string | null;
  /** The deny body the caller got (the policy's fixed phrase), if any. */
  readonly body: string | null;
  /** The decision path that ran, if any. */
  readonly decisionPath: string | null;
  readonly decisionId: string | null;
  /** Whether the callee's stub service received the request. */
  readonly reachedService: boolean;
  /** The value of the x-demo-call header: the key into the decision log. */
  readonly callId: string;
}

const json = (method: string, path: string, body: unknown): MeshCall => ({
  method,
  path,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export const INFER = json('POST', '/v2/models/fraud-detector/infer', {
  inputs: [{ name: 'amount', shape: [1], datatype: 'FP32', data: [42.5] }],
});
export const TRAINING_FEATURES = json('POST', '/get-online-features', {
  feature_service: 'fraud-training-features',
  entities: { account_id: [1001] },
});
// A file under fraud-detector's run (experiment 12 in data.json), as an MLflow
// client downloads it after get-download-uri.
export const ARTIFACT: MeshCall = { method: 'GET', path: '/api/2.0/mlflow-artifacts/artifacts/12/0f5e1c2a9b/artifacts/model/MLmodel' };

// An agent's MCP tool calls (Streamable HTTP: JSON-RPC in a POST to …/mcp).
const mcpToolCall = (id: number, tool: string, args: Record<string, unknown>): MeshCall => ({
  method: 'POST',
  path: '/docs/mcp',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
  body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }),
});
export const MCP_SEARCH = mcpToolCall(1, 'search_docs', { q: 'chargeback policy' });
export const MCP_PURGE = mcpToolCall(2, 'purge_index', {});

/** The scripted calls, in the order they run and are printed. */
export const SCRIPT: readonly CallSpec[] = [
  { caller: 'frontend', callee: 'model-server', request: INFER },
  { caller: 'trainer', callee: 'model-server', request: INFER },
  { caller: 'model-server', callee: 'feature-store', request: TRAINING_FEATURES },
  { caller: 'trainer', callee: 'feature-store', request: TRAINING_FEATURES },
  { caller: 'model-server', callee: 'registry', request: ARTIFACT },
  { caller: 'planner', callee: 'docs-mcp', request: MCP_SEARCH, label: 'POST /docs/mcp tools/call search_docs' },
  { caller: 'planner', callee: 'docs-mcp', request: MCP_PURGE, label: 'POST /docs/mcp tools/call purge_index' },
  { caller: null, callee: 'model-server', request: INFER },
];

// ---- stub services ---------------------------------------------------------

interface Stub {
  readonly port: number;
  /** x-demo-call values of the requests received. */
  readonly received: string[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, body: string) => { status: number; type?: string; body: string };

const reply = (status: number, value: unknown) => ({ status, body: JSON.stringify(value) });

const HANDLERS: Record<Workload, Handler> = {
  frontend: () => ({ status: 200, type: 'text/html', body: '<h1>fraud check</h1>\n' }),
  'model-server': (req, body) => {
    const m = /^\/v2\/models\/([^/]+)\/(infer|ready)$/.exec(req.url ?? '');
    if (!m) return reply(404, { error: 'not found' });
    if (m[2] === 'ready') return { status: 200, body: '' };
    const inputs = (JSON.parse(body || '{}') as Json)['inputs'] ?? [];
    return reply(200, {
      model_name: m[1],
      model_version: '3',
      id: randomUUID(),
      outputs: [{ name: 'fraud_probability', shape: [inputs.length || 1], datatype: 'FP32', data: [0.07] }],
    });
  },
  'feature-store': (req, body) => {
    if (req.method !== 'POST' || req.url !== '/get-online-features') return reply(404, { error: 'not found' });
    const { entities = {} } = JSON.parse(body || '{}') as Json;
    return reply(200, {
      metadata: { feature_names: ['account_id', 'txn_count_7d', 'chargeback_rate'] },
      results: [
        { values: entities['account_id'] ?? [], statuses: ['PRESENT'] },
        { values: [17], statuses: ['PRESENT'] },
        { values: [0.01], statuses: ['PRESENT'] },
      ],
    });
  },
  trainer: () => reply(200, { job: 'fraud-detector-retrain', state: 'RUNNING' }),
  registry: (req) =>
    req.method === 'GET' && req.url?.startsWith('/api/2.0/mlflow-artifacts/artifacts/')
      ? { status: 200, type: 'application/octet-stream', body: 'artifact_path: model\nflavors:\n  sklearn: {}\n' }
      : reply(404, { error_code: 'RESOURCE_DOES_NOT_EXIST' }),
  planner: () => reply(200, { agent: 'planner', state: 'idle' }),
  // An MCP server answering tools/call with a JSON response (as the SDK's
  // server does with enableJsonResponse); test/agents/mcp-e2e.test.ts runs
  // the real SDK server and client.
  'docs-mcp': (req, body) => {
    if (req.method !== 'POST' || req.url !== '/docs/mcp') return reply(404, { error: 'not found' });
    const call = JSON.parse(body || '{}') as Json;
    if (call['method'] !== 'tools/call') return reply(200, { jsonrpc: '2.0', id: call['id'] ?? null, error: { code: -32601, message: 'Method not found' } });
    const text = call['params']?.name === 'search_docs' ? `3 documents match "${call['params']?.arguments?.q ?? ''}"` : 'done';
    return reply(200, { jsonrpc: '2.0', id: call['id'], result: { content: [{ type: 'text', text }] } });
  },
};

async function startStub(handler: Handler): Promise<Stub> {
  const received: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(String(req.headers[CALL_HEADER] ?? ''));
      const out = handler(req, Buffer.concat(chunks).toString('utf8'));
      res.writeHead(out.status, { 'content-type': out.type ?? 'application/json', 'content-length': Buffer.byteLength(out.body) });
      res.end(out.body);
    });
  });
  return { ...(await listenLoopback(server)), received };
}

// ---- the mesh ----------------------------------------------------------------

export interface DemoMesh {
  /** Runs SCRIPT (each call once, in order) and returns one row per call. */
  calls(): Promise<Row[]>;
  /** One call, outside the script (the test uses it to show the log moved on). */
  call(spec: CallSpec): Promise<Row>;
  /** ztauthz's decision records carrying this x-demo-call value. */
  decisionsFor(callId: string): Json[];
  /** ztauthz's Prometheus endpoint. */
  readonly metricsUrl: string;
  /** Inbound Envoy per workload (admin port for /stats). */
  readonly envoys: Readonly<Record<Workload, RunningEnvoy>>;
  stop(): Promise<void>;
}

export async function startDemoMesh(): Promise<DemoMesh> {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const stop = async (): Promise<void> => {
    const all = cleanups.splice(0).reverse();
    await Promise.allSettled(all.map((fn) => fn()));
  };
  try {
    const pki = new Pki();
    cleanups.push(() => pki.cleanup());
    const ca: Ca = pki.ca(TRUST_DOMAIN);
    const names = Object.keys(WORKLOADS) as Workload[];
    const svid = Object.fromEntries(names.map((n) => [n, writeSvid(pki, ca, WORKLOADS[n], n)])) as Record<Workload, SvidFiles>;
    const ztauthzSvid = writeSvid(pki, ca, ZTAUTHZ_ID, 'ztauthz');

    const stubs = {} as Record<Workload, Stub>;
    for (const n of names) {
      stubs[n] = await startStub(HANDLERS[n]);
      cleanups.push(() => stubs[n].close());
    }

    const ztauthz: ServeProcess = await spawnServe([
      '--config',
      LIBRARY_CONFIG,
      '--grpc-tls-mode',
      'files',
      '--grpc-tls-cert-file',
      ztauthzSvid.certFile,
      '--grpc-tls-key-file',
      ztauthzSvid.keyFile,
      '--grpc-tls-ca-file',
      ztauthzSvid.caFile,
      // Only the seven inbound sidecars may ask.
      '--grpc-tls-allowed-peers',
      names.map((n) => WORKLOADS[n]).join(','),
      '--identity-trust-bundles',
      `${TRUST_DOMAIN}=${ztauthzSvid.caFile}`,
      // Every record with its input (the default keeps it for denials only): calls are found by their x-demo-call header.
      '--decision-log-include-input',
      'all',
    ]);
    cleanups.push(async () => {
      if (ztauthz.child.exitCode === null && ztauthz.child.signalCode === null) await ztauthz.stop('SIGTERM');
    });

    const envoys = {} as Record<Workload, RunningEnvoy>;
    await Promise.all(
      names.map(async (n) => {
        const e = await startEnvoy({
          configFile: SIDECAR_CONFIG,
          vars: {
            UPSTREAM_PORT: stubs[n].port,
            ZTAUTHZ_GRPC_PORT: ztauthz.grpcPort,
            SIDECAR_CERT_FILE: svid[n].certFile,
            SIDECAR_KEY_FILE: svid[n].keyFile,
            TRUST_BUNDLE_FILE: svid[n].caFile,
            TRUST_DOMAIN,
            ZTAUTHZ_SPIFFE_ID: ZTAUTHZ_ID,
          },
        });
        envoys[n] = e;
        cleanups.push(() => e.stop());
      }),
    );

    const decisionsFor = (callId: string): Json[] =>
      jsonLines(ztauthz.stdout()).filter((r) => r['input']?.attributes?.request?.http?.headers?.[CALL_HEADER] === callId);

    const send = async (spec: CallSpec, callId: string) =>
      meshRequest(
        envoys[spec.callee].listenPort,
        { ca: ca.pem, serverId: WORKLOADS[spec.callee], svid: spec.caller === null ? null : svid[spec.caller] },
        { ...spec.request, headers: { ...spec.request.headers, [CALL_HEADER]: callId } },
      );

    const call = async (spec: CallSpec): Promise<Row> => {
      const callId = randomUUID();
      const route = spec.label ?? `${spec.request.method ?? 'GET'} ${spec.request.path}`;
      const base = { caller: spec.caller ?? '(no client certificate)', callee: spec.callee, route, callId };
      let res: Awaited<ReturnType<typeof send>>;
      try {
        res = await send(spec, callId);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        return {
          ...base,
          outcome: 'tls-refused',
          status: null,
          reason: code,
          rule: null,
          body: null,
          decisionPath: null,
          decisionId: null,
          reachedService: stubs[spec.callee].received.includes(callId),
        };
      }
      // Every request that reached a sidecar is decided and logged; the log
      // is another process's stdout, so wait for the line.
      const record = await eventually(`decision record for ${route}`, () => decisionsFor(callId)[0], 10_000);
      const result = (record['result'] ?? {}) as Json;
      return {
        ...base,
        outcome: res.status === 200 && record['allowed'] === true ? 'allowed' : 'denied',
        status: res.status,
        reason: String(record['reason']),
        rule: (result['dynamic_metadata']?.rule as string | undefined) ?? null,
        body: res.status === 200 ? null : denialText(res.body),
        decisionPath: (record['path'] as string | undefined) ?? null,
        decisionId: (record['decision_id'] as string | undefined) ?? null,
        reachedService: stubs[spec.callee].received.includes(callId),
      };
    };

    // Each sidecar's first Check sets up TLS and HTTP/2 to ztauthz within the
    // filter's 0.5 s timeout (deploy/envoy/mtls-sidecar.yaml); on a busy
    // machine that can time out into a 403. Send one decided request through
    // every sidecar before the script (not printed, tagged warmup-*).
    await Promise.all(names.map((n) => warmUp(n)));
    async function warmUp(n: Workload): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        const callId = `warmup-${n}-${attempt}`;
        const res = await send({ caller: 'frontend', callee: n, request: { method: 'GET', path: '/healthz' } }, callId).catch(() => null);
        if (res && decisionsFor(callId).length > 0) return;
        if (attempt >= 20) throw new Error(`the ${n} sidecar never got a decision from ztauthz:\n${envoys[n].logs()}\n${ztauthz.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    return {
      calls: async () => {
        const rows: Row[] = [];
        for (const spec of SCRIPT) rows.push(await call(spec));
        return rows;
      },
      call,
      decisionsFor,
      metricsUrl: `http://127.0.0.1:${ztauthz.httpPort}/metrics`,
      envoys,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- the table -----------------------------------------------------------------

/** A denial's body as text: a JSON-RPC error (an MCP or A2A call's) by its message. */
function denialText(body: string): string | null {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the text itself.
  }
  return body.trim() || null;
}

/** Why, in one cell: the decision's reason, its rule and the deny body; or the TLS failure. */
export function why(row: Row): string {
  if (row.outcome === 'tls-refused') return `TLS handshake refused (${row.reason}); ztauthz never asked`;
  return [row.reason, row.rule, row.body && JSON.stringify(row.body)].filter(Boolean).join(' · ');
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.caller, r.callee, r.route, r.status === null ? r.outcome : `${r.outcome} (${r.status})`, why(r)]);
  const head = ['caller', 'callee', 'route', 'result', 'why (decision reason · rule · body)'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
