// Hostile request bodies over real gRPC, end to end: thousands of levels of
// nesting, a key twice, a million keys. Each is a denial CheckResponse with
// its own reason (never a gRPC error such as INTERNAL "Maximum call stack size
// exceeded"), written to the decision log, while legitimate large bodies pass
// at the defaults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest, type CheckResult } from './support/checkClient.ts';
import type { RunningServer } from '../src/server/Server.ts';
import { CheckRequestType, CheckResponseType } from '../src/envoy/ProtoCodec.ts';
import { loadConfig } from '../src/config/load.ts';
import { buildPhases, createPipeline } from '../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const JSON_HEADERS = { 'content-type': 'application/json' };

const infer = (body: string, path = '/v2/models/fraud-detector/infer') =>
  checkRequest({ method: 'POST', path, principal: FRONTEND, headers: JSON_HEADERS, body });
const chat = (body: string) => infer(body, '/v1/chat/completions');

function expectDenied(res: CheckResult, reason: string, httpStatus = 'BadRequest'): void {
  expect(res.status?.code).toBe(grpc.status.PERMISSION_DENIED);
  expect(res.status?.message).toBe(reason);
  expect(res.deniedResponse?.status?.code).toBe(httpStatus);
  expect(res.deniedResponse?.body).toMatch(new RegExp(`^${reason}: `));
}

const DUPLICATES: Array<[string, string]> = [
  ['plain, top level', '{"model":"gpt-4o","messages":[],"model":"gpt-4o-mini"}'],
  ['escaped, top level', '{"model":"gpt-4o","messages":[],"mod\\u0065l":"gpt-4o-mini"}'],
  ['plain, nested', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi","role":"system"}]}'],
  ['escaped, nested', '{"model":"gpt-4o","metadata":{"tenant":"a","ten\\u0061nt":"b"},"messages":[]}'],
];

describe('hostile JSON bodies over gRPC, at the defaults', () => {
  let server: RunningServer;
  let client: CheckClient;
  let logFile: string;

  beforeAll(async () => {
    logFile = join(mkdtempSync(join(tmpdir(), 'ztauthz-body-')), 'decisions.log');
    // The decision log on: its masking and serialisation were where the deep bodies failed.
    server = await startInProcess({ 'decision-log-enabled': 'true', 'decision-log-output': logFile });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  for (const [shape, open, close] of [
    ['arrays', '[', ']'],
    ['objects', '{"a":', '}'],
  ] as const) {
    it(`a body of ${shape} nested 5,000 deep is body_too_deep`, async () => {
      expectDenied(await client.check(infer(`{"inputs":${open.repeat(5000)}1${close.repeat(5000)}}`)), 'body_too_deep');
    });
  }

  it('a body nested exactly request.max_body_depth (64) deep is decided by the policy', async () => {
    const res = await client.check(infer(`{"inputs":${'['.repeat(63)}1${']'.repeat(63)}}`));
    expect(res.status?.code ?? 0).toBe(0);
  });

  for (const [shape, body] of DUPLICATES) {
    it(`a key twice (${shape}) is body_duplicate_key`, async () => {
      expectDenied(await client.check(chat(body)), 'body_duplicate_key');
    });
  }

  it('passes a KServe v2 tensor of ~110,000 floats (1 MiB) and an OpenAI request with tool schemas', async () => {
    const values: string[] = [];
    let size = 200;
    for (let i = 0; size < 1024 * 1024 - 16; i++) {
      const s = (((i * 7919) % 100000) / 100000 - 0.5).toFixed(6);
      values.push(s);
      size += s.length + 1;
    }
    const tensor = `{"id":"t","inputs":[{"name":"input-0","shape":[1,${values.length}],"datatype":"FP32","data":[${values.join(',')}]}]}`;
    expect(Buffer.byteLength(tensor)).toBeLessThanOrEqual(1024 * 1024);
    expect((await client.check(infer(tensor))).status?.code ?? 0).toBe(0);

    const tool = (i: number) => ({
      type: 'function',
      function: {
        name: `lookup_${i}`,
        parameters: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            filter: { type: 'object', properties: { since: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } },
          },
          required: ['id'],
        },
      },
    });
    const body = JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say "hi"\n' }],
      tools: Array.from({ length: 128 }, (_, i) => tool(i)),
    });
    expect((await client.check(chat(body))).status?.code ?? 0).toBe(0);
  });

  it('a metadata Struct nested 2,000 deep is request_malformed, refused by decoding', async () => {
    let v: unknown = 1;
    for (let i = 0; i < 2000; i++) v = i % 2 ? [v] : { a: v };
    const json = {
      attributes: {
        source: { principal: FRONTEND },
        request: { http: { method: 'GET', path: '/' } },
        metadataContext: { filterMetadata: { 'envoy.filters.http.jwt_authn': {} } },
      },
    };
    const limit = protobuf.util.recursionLimit;
    let bytes: Uint8Array;
    try {
      // The encoder refuses to write what the decoder would refuse to read; a client is not bound by that.
      protobuf.util.recursionLimit = 1e6;
      const msg = CheckRequestType.fromObject(json) as any;
      msg.attributes.metadataContext.filterMetadata['envoy.filters.http.jwt_authn'] = { fields: { claims: toValue(v) } };
      bytes = CheckRequestType.encode(msg).finish();
    } finally {
      protobuf.util.recursionLimit = limit;
    }
    const raw = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const res = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest(
        '/envoy.service.auth.v3.Authorization/Check',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        (err, r) => (err ? reject(err) : resolve(r!)),
      ),
    );
    raw.close();
    const decoded = CheckResponseType.toObject(CheckResponseType.decode(res)) as any;
    expect(decoded.status).toEqual({ code: 7, message: 'request_malformed' });
    expect(decoded.deniedResponse.status.code).toBe(400);
    expect(decoded.deniedResponse.body).toMatch(/nests messages deeper than 100 levels/);
  });

  it('keeps serving, and every refusal is in the decision log and the metrics', async () => {
    expect((await client.check(checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: FRONTEND }))).status?.code ?? 0).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    for (const reason of ['body_too_deep', 'body_duplicate_key', 'request_malformed']) {
      expect(metrics).toMatch(new RegExp(`ztauthz_checks_total\\{decision="deny",reason="${reason}",route="[^"]+"\\} [1-9]`));
    }
    // Records are written asynchronously; wait for the last Check's.
    let records: Array<{ reason: string; http_status: number; input?: unknown }> = [];
    for (let i = 0; i < 50 && records.length < 10; i++) {
      await new Promise((r) => setTimeout(r, 20));
      records = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    }
    const deep = records.filter((r) => r.reason === 'body_too_deep');
    expect(deep).toHaveLength(2);
    for (const r of deep) expect(r.http_status).toBe(400);
    expect(records.filter((r) => r.reason === 'body_duplicate_key')).toHaveLength(DUPLICATES.length);
  });
});

describe('a million keys with raised body limits', () => {
  let server: RunningServer;
  let client: CheckClient;

  beforeAll(async () => {
    server = await startInProcess({ 'request-max-body-bytes': String(32 << 20), 'grpc-max-recv-msg-bytes': String(48 << 20) });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('is refused by the key bound (body_too_many_keys), as are its elements in an array by theirs, and a million form names', async () => {
    const keys = `{${Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',')}}`;
    expectDenied(await client.check(infer(keys), 30_000), 'body_too_many_keys');
    const elements = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1500000],"data":[${'0,'.repeat(1_499_999)}0]}]}`;
    expectDenied(await client.check(infer(elements), 30_000), 'body_too_many_elements');
    // The same as a form: a million names took 22 s of a Check before forms were bounded.
    const form = Array.from({ length: 1_000_000 }, (_, i) => `k${i}=1`).join('&');
    const formRequest = checkRequest({
      method: 'POST',
      path: '/v2/models/fraud-detector/infer',
      principal: FRONTEND,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expectDenied(await client.check(formRequest, 30_000), 'body_too_many_keys');
  });
});

describe('request.body_duplicate_keys: last', () => {
  it('lets a key twice through, and the last one is what the route and the policy see', async () => {
    const server = await startInProcess({ 'request-body-duplicate-keys': 'last' });
    const client = new CheckClient(server.grpcPort);
    try {
      for (const [, body] of DUPLICATES) expect((await client.check(chat(body))).status?.code ?? 0).toBe(0);
    } finally {
      client.close();
      await server.stop(1000);
    }

    const config = loadConfig({ flags: { 'decision-log-enabled': 'false', 'request-body-duplicate-keys': 'last' } });
    const policies = new PolicyStore();
    const phases = buildPhases(config, policies);
    policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
    const pipeline = createPipeline(config, policies, phases);
    const bytes = encodeCheckRequestJson({
      attributes: {
        source: { principal: FRONTEND },
        request: {
          http: { method: 'POST', path: '/v1/chat/completions', headers: JSON_HEADERS, body: '{"model":"gpt-4o","messages":[],"mod\\u0065l":"gpt-4o-mini"}' },
        },
      },
    });
    const outcome = await pipeline.check(bytes);
    expect(outcome.decision.allowed).toBe(true);
    expect(outcome.input?.['parsed_body']).toEqual({ model: 'gpt-4o-mini', messages: [] });
    expect(outcome.input?.['route']).toMatchObject({ name: expect.any(String), model: 'gpt-4o-mini' });
  });
});

/** Plain JSON -> google.protobuf.Value object form (test values are a few thousand levels deep: iterative). */
function toValue(root: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let src = root;
  let dst = out;
  for (;;) {
    if (Array.isArray(src)) {
      const next: Record<string, unknown> = {};
      dst['listValue'] = { values: [next] };
      src = src[0];
      dst = next;
    } else if (src !== null && typeof src === 'object') {
      const next: Record<string, unknown> = {};
      dst['structValue'] = { fields: { a: next } };
      src = (src as Record<string, unknown>)['a'];
      dst = next;
    } else {
      dst['numberValue'] = src as number;
      return out;
    }
  }
}
