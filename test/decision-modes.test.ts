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

describe('decision records at the default configuration (include_input denied)', () => {
  let server: RunningServer;
  let client: CheckClient;
  const log = join(mkdtempSync(join(tmpdir(), 'ztauthz-dl-')), 'decisions.log');

  beforeAll(async () => {
    server = await startInProcess({ 'decision-log-enabled': 'true', 'decision-log-output': log });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('every decision has its line; denials carry the input, allows do not; repeated allows are answered by the shortcut', async () => {
    const headers = { authorization: 'Bearer secret-token', 'x-keep': 'visible' };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const principal of [FRONTEND, TRAINER]) {
        const res = await client.check(checkRequest({ ...INFER, principal, headers: { ...headers, 'x-request-id': `r${i}` } }));
        ids.push(res.dynamicMetadata!.fields['decision_id']!.stringValue!);
      }
    }
    const records = await readLog(log, 6);
    expect(records.map((r) => r.decision_id)).toEqual(ids);
    for (const r of records) {
      expect(r.revision).toMatch(/^sha256:/);
      expect(r.route).toMatchObject({ name: 'kserve-v2-infer' });
      if (r.allowed) {
        expect(r).toMatchObject({ identity: { spiffe_id: FRONTEND }, result: { allowed: true } });
        expect(r.input).toBeUndefined();
      } else {
        expect(r).toMatchObject({ identity: { spiffe_id: TRAINER }, reason: 'policy_denied' });
        expect(r.input.attributes.request.http.headers['x-keep']).toBe('visible');
        expect(r.input.attributes.request.http.headers).not.toHaveProperty('authorization');
      }
    }
    expect(records.map((r) => r.cache)).toEqual(['miss', 'miss', 'hit', 'hit', 'hit', 'hit']);
    // The two repeated allows skipped decoding; the repeated denials took the full path (their records need the input).
    expect(/^ztauthz_request_shortcuts_total (\d+)$/m.exec(await server.metrics.registry.metrics())?.[1]).toBe('2');
    expect(JSON.stringify(records)).not.toContain('secret-token');
  });

  it('the input a record is serialised from later is the input the policy saw (nothing changes it after the Check)', async () => {
    const { DecisionLog } = await import('../src/observe/DecisionLog.ts');
    const { Observer } = await import('../src/observe/Observer.ts');
    const file = join(mkdtempSync(join(tmpdir(), 'ztauthz-dl-')), 'later.log');
    const { config, policies, phases, load } = await inProcessPipeline();
    const { createPipeline } = await import('../src/server/Pipeline.ts');
    policies.activate(await load());
    const decisionLog = new DecisionLog({ enabled: true, output: file, includeInput: config.decision_log.include_input, mask: [] });
    const pipeline = createPipeline(config, policies, phases, { observer: new Observer({ decisionLog }) });
    const outcome = await pipeline.check(
      encodeCheckRequestJson({ attributes: { source: { principal: TRAINER }, request: { http: { ...INFER, headers: { 'x-keep': 'v' } } } } }),
    );
    expect(outcome.decision.allowed).toBe(false);
    const atAnswer = JSON.parse(JSON.stringify(outcome.input));
    await decisionLog.close();
    const [record] = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(record.input).toEqual(atAnswer);
    expect(JSON.parse(JSON.stringify(outcome.input))).toEqual(atAnswer);
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
