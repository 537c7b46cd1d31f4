// The Check span joins the authorized request's own trace (W3C, B3 single,
// B3 multi), exported over real OTLP/HTTP to a receiver this test runs; the
// OTEL_* environment wins over tracing.* options; tracing off is a no-op.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Observer, decisionRecord } from '../../src/observe/Observer.ts';
import { NOOP_TRACE, resolveTracing, startTracing, type Tracing, type TracingOptions } from '../../src/observe/Tracing.ts';
import { Reason } from '../../src/types/Reason.ts';
import { startOtlpGrpcReceiver, startOtlpReceiver, waitForSpans, type OtlpReceiver, type ReceivedSpan } from './support/otlpReceiver.ts';
import { FRONTEND, deny, observed } from './support/checks.ts';
import { inProcessPipeline } from '../support/servers.ts';
import { checkRequest } from '../support/checkClient.ts';
import { createPipeline } from '../../src/server/Pipeline.ts';
import { CheckRequestType } from '../../src/envoy/ProtoCodec.ts';

const CHECK = 'envoy.service.auth.v3.Authorization/Check';
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const OPTS: TracingOptions = { enabled: true, exporter: 'otlp-http', endpoint: '', samplerRatio: 1, serviceName: 'ztauthz-test', serviceVersion: '0.0.0-test' };

/** One Check through the Observer with an evaluate phase; returns the record. */
function runCheck(observer: Observer, headers: Record<string, string> | undefined, over = {}) {
  const trace = observer.begin(headers, performance.now());
  const value = trace.phase('evaluate', () => 42);
  expect(value).toBe(42);
  return { trace, record: decisionRecord(observer.finish(trace, observed(over))) };
}

function spansOf(r: OtlpReceiver, traceId: string): ReceivedSpan[] {
  return r.spans.filter((s) => s.traceId === traceId);
}

describe('Check spans over OTLP/HTTP (protobuf)', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  let observer: Observer;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = await startTracing({ ...OPTS, endpoint: receiver.url });
    observer = new Observer({ tracing });
  });
  afterAll(async () => {
    await observer.shutdown();
    await receiver.close();
  });

  async function exported(traceId: string, count: number): Promise<ReceivedSpan[]> {
    await observer.flush();
    await waitForSpans(receiver, () => spansOf(receiver, traceId).length >= count);
    return spansOf(receiver, traceId);
  }

  it('W3C traceparent/tracestate: the Check span is a child of the request span, with a phase child of its own', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const { record } = runCheck(observer, { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'envoy=abc,vendor=1' });
    const spans = await exported(traceId, 2);
    const check = spans.find((s) => s.name === CHECK)!;
    const phase = spans.find((s) => s.name === 'ztauthz.evaluate')!;
    expect(check.parentSpanId).toBe(parent);
    expect(check.kind).toBe(2); // SERVER
    expect(check.traceState).toBe('envoy=abc,vendor=1');
    expect(phase.parentSpanId).toBe(check.spanId);
    expect(phase.kind).toBe(1); // INTERNAL
    expect(record.trace_id).toBe(traceId);
    expect(record.span_id).toBe(check.spanId);
    expect(receiver.contentTypes.every((t) => t.includes('protobuf'))).toBe(true);
    expect(check.resource['service.name']).toBe('ztauthz-test');
    expect(check.scope).toBe('ztauthz');
    expect(check.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': CHECK,
      'ztauthz.decision': 'allow',
      'ztauthz.reason': 'allowed',
      'ztauthz.decision_id': record.decision_id,
      'ztauthz.cache': 'miss',
      'ztauthz.identity.spiffe_id': FRONTEND,
      'ztauthz.identity.namespace': 'fraud-web',
      'ztauthz.route.name': 'kserve-v2-infer',
      'ztauthz.route.action': 'infer',
      'ztauthz.route.model': 'fraud-detector',
      'security_rule.version': 'rev-1',
      'security_rule.ruleset.name': 'envoy/authz/allow',
    });
    expect(check.status.code).toBe(0);
  });

  it('B3 single header: same trace, parent = the b3 span id', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    runCheck(observer, { b3: `${traceId}-${parent}-1` }, { cache: 'hit' });
    const check = (await exported(traceId, 2)).find((s) => s.name === CHECK)!;
    expect(check.parentSpanId).toBe(parent);
    expect(check.attributes['ztauthz.cache']).toBe('hit');
  });

  it('B3 multi headers: same trace, parent = x-b3-spanid', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    runCheck(observer, { 'x-b3-traceid': traceId, 'x-b3-spanid': parent, 'x-b3-sampled': '1' });
    const check = (await exported(traceId, 2)).find((s) => s.name === CHECK)!;
    expect(check.parentSpanId).toBe(parent);
  });

  it('traceparent wins when a request carries both W3C and B3 headers', async () => {
    const w3c = hex(16);
    const parent = hex(8);
    runCheck(observer, { traceparent: `00-${w3c}-${parent}-01`, b3: `${hex(16)}-${hex(8)}-1` });
    expect((await exported(w3c, 2)).find((s) => s.name === CHECK)!.parentSpanId).toBe(parent);
  });

  it('errors mark the span failed with error.type = reason code; a policy denial does not', async () => {
    const errTrace = hex(16);
    const denyTrace = hex(16);
    runCheck(observer, { traceparent: `00-${errTrace}-${hex(8)}-01` }, { decision: deny(Reason.policyError) });
    runCheck(observer, { traceparent: `00-${denyTrace}-${hex(8)}-01` }, { decision: deny() });
    const failed = (await exported(errTrace, 2)).find((s) => s.name === CHECK)!;
    const denied = (await exported(denyTrace, 2)).find((s) => s.name === CHECK)!;
    expect(failed.status.code).toBe(2); // ERROR
    expect(failed.attributes['error.type']).toBe('policy_error');
    expect(denied.status.code).toBe(0);
    expect(denied.attributes['ztauthz.decision']).toBe('deny');
    expect(denied.attributes['error.type']).toBeUndefined();
  });

  it('a request the caller did not sample is not recorded, but its trace id still reaches the decision record', async () => {
    const unsampled = hex(16);
    const { trace, record } = runCheck(observer, { traceparent: `00-${unsampled}-${hex(8)}-00` });
    expect(trace.recording).toBe(false);
    expect(record.trace_id).toBe(unsampled);
    expect(record.span_id).toBeUndefined();
    const sentinel = hex(16);
    runCheck(observer, { traceparent: `00-${sentinel}-${hex(8)}-01` });
    await exported(sentinel, 2);
    expect(spansOf(receiver, unsampled)).toEqual([]);
  });

  it('a repeat answered by the request shortcut (no decode) still joins its own trace', async () => {
    const { config, policies, phases, load } = await inProcessPipeline({
      'policy-path': 'test/fixtures/policies/cache-identities',
      'decision-log-enabled': 'false',
    });
    policies.activate(await load());
    const pipeline = createPipeline(config, policies, phases, { observer });
    const request = (traceId: string, parent: string): Uint8Array =>
      CheckRequestType.encode(
        CheckRequestType.fromObject(
          checkRequest({ method: 'POST', path: '/v2/models/churn/infer', principal: FRONTEND, headers: { traceparent: `00-${traceId}-${parent}-01` } }),
        ),
      ).finish();
    expect((await pipeline.check(request(hex(16), hex(8)))).record.cache).toBe('miss');
    const traceId = hex(16);
    const parent = hex(8);
    const repeat = pipeline.check(request(traceId, parent));
    expect(repeat).not.toBeInstanceOf(Promise); // the shortcut answered
    const record = (await repeat).record;
    expect(record.cache).toBe('hit');
    expect(record.trace_id).toBe(traceId);
    const spans = await exported(traceId, 1);
    expect(spans.find((s) => s.name === CHECK)!.parentSpanId).toBe(parent);
  });

  it('no trace headers (or an undecodable request): a new root span', async () => {
    const { record } = runCheck(observer, undefined);
    const spans = await exported(record.trace_id!, 2);
    expect(spans.find((s) => s.name === CHECK)!.parentSpanId).toBe('');
  });

  it('a second tracing SDK in the same process is refused while one runs', async () => {
    await expect(startTracing({ ...OPTS, endpoint: receiver.url })).rejects.toThrow(/already running/);
  });
});

describe('Check spans over OTLP/gRPC', () => {
  it('tracing.exporter: otlp-grpc exports the same span to a gRPC collector', async () => {
    const receiver = await startOtlpGrpcReceiver();
    try {
      const tracing = await startTracing({ ...OPTS, exporter: 'otlp-grpc', endpoint: receiver.url });
      const observer = new Observer({ tracing });
      const traceId = hex(16);
      const parent = hex(8);
      runCheck(observer, { 'x-b3-traceid': traceId, 'x-b3-spanid': parent, 'x-b3-sampled': '1' });
      await observer.shutdown();
      const spans = await waitForSpans(receiver, (s) => s.some((x) => x.traceId === traceId && x.name === CHECK));
      expect(spans.find((s) => s.name === CHECK)!.parentSpanId).toBe(parent);
      expect(receiver.contentTypes[0]).toBe('application/grpc');
    } finally {
      await receiver.close();
    }
  });
});

describe('tracing.sampler_ratio', () => {
  it('ratio 0 traces no new roots but still follows a sampled parent', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const observer = new Observer({ tracing: await startTracing({ ...OPTS, samplerRatio: 0, endpoint: receiver.url }) });
      expect(observer.begin(undefined)).toBe(NOOP_TRACE);
      expect(observer.begin({ 'x-request-id': 'r' })).toBe(NOOP_TRACE);
      const traceId = hex(16);
      const { trace } = runCheck(observer, { traceparent: `00-${traceId}-${hex(8)}-01` });
      expect(trace.recording).toBe(true);
      await observer.shutdown();
      await waitForSpans(receiver, (s) => s.some((x) => x.traceId === traceId && x.name === CHECK));
      expect(new Set(receiver.spans.map((x) => x.traceId))).toEqual(new Set([traceId]));
    } finally {
      await receiver.close();
    }
  });
});

describe('OTEL_* environment over tracing.* options', () => {
  it('resolves: env wins where set, options fill the rest, OTEL_SDK_DISABLED and "none" turn it off', () => {
    expect(resolveTracing(OPTS, {})).toEqual({ enabled: true, protocol: 'http/protobuf', url: undefined, samplerRatio: 1 });
    expect(resolveTracing({ ...OPTS, exporter: 'otlp-grpc', endpoint: 'http://c:4317', samplerRatio: 0.1 }, {})).toEqual({
      enabled: true,
      protocol: 'grpc',
      url: 'http://c:4317',
      samplerRatio: 0.1,
    });
    expect(resolveTracing({ ...OPTS, endpoint: 'http://c:4318' }, {})).toMatchObject({ url: 'http://c:4318/v1/traces' });
    expect(resolveTracing({ ...OPTS, endpoint: 'http://c:4318/custom/path' }, {})).toMatchObject({ url: 'http://c:4318/custom/path' });
    expect(resolveTracing({ ...OPTS, endpoint: 'http://c:4318' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' })).toMatchObject({ url: undefined });
    expect(resolveTracing({ ...OPTS, exporter: 'otlp-grpc' }, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' })).toMatchObject({ protocol: 'http/json' });
    expect(resolveTracing(OPTS, { OTEL_TRACES_SAMPLER: 'always_off' })).toMatchObject({ samplerRatio: undefined });
    expect(resolveTracing(OPTS, { OTEL_TRACES_EXPORTER: 'zipkin' })).toMatchObject({ enabled: true, protocol: 'env' });
    expect(resolveTracing(OPTS, { OTEL_TRACES_EXPORTER: 'none' })).toEqual({ enabled: false, why: 'OTEL_TRACES_EXPORTER' });
    expect(resolveTracing({ ...OPTS, exporter: 'none' }, { OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ enabled: true });
    expect(resolveTracing({ ...OPTS, exporter: 'none' }, {})).toEqual({ enabled: false, why: 'tracing.exporter' });
    expect(resolveTracing(OPTS, { OTEL_SDK_DISABLED: 'true' })).toEqual({ enabled: false, why: 'OTEL_SDK_DISABLED' });
    expect(resolveTracing({ ...OPTS, enabled: false }, { OTEL_TRACES_EXPORTER: 'otlp' })).toEqual({ enabled: false, why: 'tracing.enabled' });
  });

  it('exports to the endpoint and protocol OTEL_* name, not the configured ones', async () => {
    const configured = await startOtlpReceiver();
    const fromEnv = await startOtlpReceiver();
    const env: Record<string, string> = {
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${fromEnv.url}/v1/traces`,
      OTEL_SERVICE_NAME: 'from-env',
    };
    Object.assign(process.env, env);
    try {
      const tracing = await startTracing({ ...OPTS, endpoint: configured.url });
      const observer = new Observer({ tracing });
      const traceId = hex(16);
      runCheck(observer, { traceparent: `00-${traceId}-${hex(8)}-01` });
      await observer.shutdown();
      const spans = await waitForSpans(fromEnv, (s) => s.some((x) => x.traceId === traceId && x.name === CHECK));
      expect(fromEnv.contentTypes[0]).toContain('json');
      expect(spans.find((s) => s.name === CHECK)!.resource['service.name']).toBe('from-env');
      expect(configured.spans).toEqual([]);
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
      await configured.close();
      await fromEnv.close();
    }
  });
});

describe('tracing off', () => {
  it('begin() hands out one shared no-op and the record carries no trace ids', async () => {
    const off = await startTracing({ ...OPTS, enabled: false });
    const observer = new Observer({ tracing: off });
    const a = observer.begin({ traceparent: `00-${hex(16)}-${hex(8)}-01` });
    expect(a).toBe(NOOP_TRACE);
    expect(observer.begin(undefined)).toBe(NOOP_TRACE);
    expect(a.phase('evaluate', () => 'ran')).toBe('ran');
    const record = decisionRecord(observer.finish(a, observed()));
    expect(record.trace_id).toBeUndefined();
    expect(record.span_id).toBeUndefined();
    expect(new Observer().begin(undefined)).toBe(NOOP_TRACE);
  });
});
