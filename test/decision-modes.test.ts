// Dry run, opa-envoy-plugin's gRPC-error mode, deadlines, and the decision
// record each Check leaves behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcessPipeline, startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import type { RunningServer } from '../src/server/Server.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';

const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';
const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const INFER = { method: 'POST', path: '/v2/models/fraud-detector/infer' };

async function readLog(file: string, count: number): Promise<any[]> {
  for (let i = 0; i < 100; i++) {
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    if (lines.length >= count) return lines.map((l) => JSON.parse(l));
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`decision log ${file} has fewer than ${count} lines`);
}

describe('dry run', () => {
  let server: RunningServer;
  let client: CheckClient;
  const log = join(mkdtempSync(join(tmpdir(), 'ztauthz-dl-')), 'decisions.log');

  beforeAll(async () => {
    server = await startInProcess({ 'dry-run': 'true', 'decision-log-enabled': 'true', 'decision-log-output': log });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('answers OK to a denied request and records the real decision, masked', async () => {
    const res = await client.check(
      checkRequest({ ...INFER, principal: TRAINER, headers: { authorization: 'Bearer secret-token', cookie: 'session=abc', 'x-keep': 'visible' } }),
    );
    expect(res.status?.code ?? 0).toBe(0);
    expect(res.deniedResponse).toBeUndefined();
    const [record] = await readLog(log, 1);
    expect(record).toMatchObject({ allowed: false, reason: 'policy_denied', dry_run: true, http_status: 403, path: 'envoy/authz/allow' });
    expect(record.decision_id).toBe(res.dynamicMetadata?.fields['decision_id']?.stringValue);
    expect(record.revision).toMatch(/^sha256:/);
    expect(record.metrics.timer_check_ns).toBeGreaterThan(0);
    const headers = record.input.attributes.request.http.headers;
    expect(headers).not.toHaveProperty('authorization');
    expect(headers).not.toHaveProperty('cookie');
    expect(headers['x-keep']).toBe('visible');
    expect(JSON.stringify(record)).not.toContain('secret-token');
  });
});

describe('decision.on_error', () => {
  const conflict = checkRequest({ headers: { 'x-conflict': '1', 'x-bad-result': '1' } });

  it('deny (default): an evaluation error is a 403 CheckResponse', async () => {
    const server = await startInProcess({ policy: 'test/fixtures/policies/eval-error' });
    const client = new CheckClient(server.grpcPort);
    try {
      const res = await client.check(conflict);
      expect(res.status).toEqual({ code: grpc.status.PERMISSION_DENIED, message: 'policy_error' });
      expect(res.deniedResponse?.status?.code).toBe('Forbidden');
    } finally {
      client.close();
      await server.stop(1000);
    }
  });

  it('grpc_error: an evaluation error is a gRPC error, input errors stay 400 denials', async () => {
    const server = await startInProcess({ policy: 'test/fixtures/policies/eval-error', 'decision-on-error': 'grpc_error' });
    const client = new CheckClient(server.grpcPort);
    try {
      // UNKNOWN, as opa-envoy-plugin answers a failed evaluation (a plain Go error).
      await expect(client.check(conflict)).rejects.toMatchObject({ code: grpc.status.UNKNOWN, details: expect.stringMatching(/^policy_error: /) });
      const res = await client.check({});
      expect(res.deniedResponse?.status?.code).toBe('BadRequest');
    } finally {
      client.close();
      await server.stop(1000);
    }
  });
});

describe('deadlines and readiness', () => {
  it('denies when the deadline passed before evaluation, and when no policy is loaded', async () => {
    const { policies, load, pipeline } = await inProcessPipeline();
    const bytes = encodeCheckRequestJson({ attributes: { source: { principal: FRONTEND }, request: { http: INFER } } });
    expect((await pipeline.check(bytes)).decision).toMatchObject({ allowed: false, reason: 'not_ready' });
    policies.activate(await load());
    expect((await pipeline.check(bytes)).decision).toMatchObject({ allowed: true });
    expect((await pipeline.check(bytes, { deadline: Date.now() - 1 })).decision).toMatchObject({ allowed: false, reason: 'deadline_exceeded' });
  });
});
