// `npm run demo` (demo/run.ts) end to end: the same startDemoMesh() and
// calls() the demo prints, over real Envoys (deploy/envoy/mtls-sidecar.yaml),
// one mTLS ztauthz serving deploy/config/library.yaml, and an SVID per
// workload. The eight scripted calls must come out exactly as the demo
// promises, and the call without a client certificate must never reach
// ztauthz.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, NODE } from './support/servers.ts';
import { INFER, SCRIPT, WORKLOADS, formatTable, startDemoMesh, type DemoMesh, type Row, type Workload } from '../demo/mesh.ts';

let mesh: DemoMesh;
let rows: Row[];

beforeAll(async () => {
  mesh = await startDemoMesh();
  rows = await mesh.calls();
});

afterAll(async () => {
  await mesh?.stop();
});

/** What each row says, without the per-run ids. */
const outcome = (r: Row) => ({
  caller: r.caller,
  callee: r.callee,
  route: r.route,
  outcome: r.outcome,
  status: r.status,
  reason: r.reason,
  rule: r.rule,
  body: r.body,
  decisionPath: r.decisionPath,
  reachedService: r.reachedService,
});

const INFER_ROUTE = 'POST /v2/models/fraud-detector/infer';
const FEATURES_ROUTE = 'POST /get-online-features';
const ARTIFACT_ROUTE = 'GET /api/2.0/mlflow-artifacts/artifacts/12/0f5e1c2a9b/artifacts/model/MLmodel';

describe('the demo mesh', () => {
  test('the eight scripted calls: allowed, denied by the policy library, or refused at the TLS handshake', () => {
    expect(rows.map(outcome)).toEqual([
      {
        caller: 'frontend',
        callee: 'model-server',
        route: INFER_ROUTE,
        outcome: 'allowed',
        status: 200,
        reason: 'allowed',
        rule: 'inference.granted',
        body: null,
        decisionPath: 'ztauthz/inference/allow',
        reachedService: true,
      },
      {
        caller: 'trainer',
        callee: 'model-server',
        route: INFER_ROUTE,
        outcome: 'denied',
        status: 403,
        reason: 'policy_denied',
        rule: 'inference.action_not_permitted',
        body: 'ztauthz inference: action not permitted for caller',
        decisionPath: 'ztauthz/inference/allow',
        reachedService: false,
      },
      {
        caller: 'model-server',
        callee: 'feature-store',
        route: FEATURES_ROUTE,
        outcome: 'denied',
        status: 403,
        reason: 'policy_denied',
        rule: 'features.action_not_permitted',
        body: 'ztauthz features: action not permitted for caller',
        decisionPath: 'ztauthz/features/allow',
        reachedService: false,
      },
      {
        caller: 'trainer',
        callee: 'feature-store',
        route: FEATURES_ROUTE,
        outcome: 'allowed',
        status: 200,
        reason: 'allowed',
        rule: 'features.granted',
        body: null,
        decisionPath: 'ztauthz/features/allow',
        reachedService: true,
      },
      {
        caller: 'model-server',
        callee: 'registry',
        route: ARTIFACT_ROUTE,
        outcome: 'allowed',
        status: 200,
        reason: 'allowed',
        rule: 'models.granted',
        body: null,
        decisionPath: 'ztauthz/models/allow',
        reachedService: true,
      },
      {
        caller: 'planner',
        callee: 'docs-mcp',
        route: 'POST /docs/mcp tools/call search_docs',
        outcome: 'allowed',
        status: 200,
        reason: 'allowed',
        rule: 'agents.granted',
        body: null,
        decisionPath: 'ztauthz/agents/allow',
        reachedService: true,
      },
      {
        caller: 'planner',
        callee: 'docs-mcp',
        route: 'POST /docs/mcp tools/call purge_index',
        outcome: 'denied',
        status: 403,
        reason: 'policy_denied',
        rule: 'agents.tool_not_granted',
        body: 'ztauthz agents: tool not granted to caller',
        decisionPath: 'ztauthz/agents/allow',
        reachedService: false,
      },
      {
        caller: '(no client certificate)',
        callee: 'model-server',
        route: INFER_ROUTE,
        outcome: 'tls-refused',
        status: null,
        reason: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        rule: null,
        body: null,
        decisionPath: null,
        reachedService: false,
      },
    ]);
    expect(rows).toHaveLength(SCRIPT.length);
  });

  test('each decided call has exactly one decision record, with the caller the sidecar verified', () => {
    for (const row of rows.slice(0, 7)) {
      const records = mesh.decisionsFor(row.callId);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        decision_id: row.decisionId,
        // The caller from its forwarded certificate; the asking peer is the callee's sidecar (its workload SVID, as in Istio).
        input: { identity: { spiffe_id: WORKLOADS[row.caller as Workload], source: 'certificate', peer: { spiffe_id: WORKLOADS[row.callee] } } },
      });
    }
  });

  test('the call without a client certificate never reached ztauthz: no decision record, even after a later one', async () => {
    const refused = rows[7]!;
    // A later call through the same sidecar is decided and logged; the
    // refused one, made before it, still has no record.
    const later = await mesh.call({ caller: 'frontend', callee: 'model-server', request: INFER });
    expect(later.outcome).toBe('allowed');
    expect(mesh.decisionsFor(later.callId)).toHaveLength(1);
    expect(mesh.decisionsFor(refused.callId)).toEqual([]);
    // The sidecar counted the handshake it refused.
    const stats = await mesh.envoys['model-server'].stats('ssl\\.fail_verify_no_cert$');
    expect(Object.values(stats).reduce((a, b) => a + b, 0)).toBe(1);
  });

  test('the printed table has a line per call and the metrics URL answers', async () => {
    const table = formatTable(rows).split('\n');
    expect(table).toHaveLength(2 + rows.length);
    expect(table[2]).toMatch(/^frontend .* allowed \(200\) .* inference\.granted/);
    expect(table[7]).toMatch(/^planner .* docs-mcp .* tools\/call search_docs .* allowed \(200\) .* agents\.granted/);
    expect(table[9]).toMatch(/^\(no client certificate\) .* tls-refused .*ztauthz never asked/);
    const metrics = await (await fetch(mesh.metricsUrl)).text();
    expect(metrics).toContain('ztauthz_');
  });
});

describe('npm run demo -- --once', () => {
  test('prints the table and the metrics URL, then exits 0', async () => {
    const child = spawn(NODE, [join(ROOT, 'demo/run.ts'), '--once'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^trainer +model-server .* denied \(403\) +policy_denied · inference\.action_not_permitted/m);
    expect(out).toMatch(/^ztauthz metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
  });
});
