// The fail-closed guarantee around the whole Check: whatever throws, in any
// phase or observer, the answer is a PERMISSION_DENIED CheckResponse (never a
// gRPC error, which an Envoy with failure_mode_allow would let through), the
// decision is recorded as that denial, and the server keeps serving.
// Faults are injected into the real server's real parts, one at a time.
// Decision records are built and serialised after the answer (DecisionLog
// flushes once per turn of the event loop), so a fault there cannot change
// the answer any more: the record is replaced by a minimal one with
// log_error, and counted; queueing the record is still part of the Check.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest, type CheckResult } from './support/checkClient.ts';
import type { RunningServer } from '../src/server/Server.ts';
import { IdentifyPhase } from '../src/check/IdentifyPhase.ts';
import { RoutePhase } from '../src/check/RoutePhase.ts';
import { EvaluatePhase } from '../src/check/EvaluatePhase.ts';
import { ResponseEncoder } from '../src/envoy/CheckResponse.ts';
import { Metrics } from '../src/observe/Metrics.ts';
import { DecisionLog } from '../src/observe/DecisionLog.ts';
import { BehaviorSignals } from '../src/observe/BehaviorSignals.ts';
import { Observer } from '../src/observe/Observer.ts';
import { RawRequestKeyer } from '../src/envoy/RawRequestKey.ts';
import { RequestShortcut } from '../src/cache/RequestShortcut.ts';
import { PolicyStore } from '../src/policy/PolicyStore.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
/** The demo policy allows this one: every injected fault must turn it into a denial. */
const allowed = (n: number) => checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: FRONTEND, headers: { 'x-n': String(n) } });

function boom(): never {
  throw new Error('injected fault');
}
function overflow(): never {
  // What a request-chosen recursion depth produces.
  throw new RangeError('Maximum call stack size exceeded');
}
const brokenTrace = { recording: true, traceId: undefined, spanId: undefined, phase: boom, setAttributes: boom, setError: boom, end: boom };

/** Each fault: where it is injected, on the real class. */
const FAULTS: ReadonlyArray<{ name: string; inject: () => void; recorded: boolean }> = [
  { name: 'policy store', inject: () => vi.spyOn(PolicyStore.prototype, 'current', 'get').mockImplementation(boom), recorded: true },
  { name: 'identify', inject: () => vi.spyOn(IdentifyPhase.prototype, 'identify').mockImplementation(boom), recorded: true },
  {
    name: 'identify (async rejection)',
    inject: () => vi.spyOn(IdentifyPhase.prototype, 'identify').mockImplementation(() => Promise.reject(new Error('injected'))),
    recorded: true,
  },
  { name: 'canonicalise', inject: () => vi.spyOn(RoutePhase.prototype, 'canonicalise').mockImplementation(boom), recorded: true },
  { name: 'route select', inject: () => vi.spyOn(RoutePhase.prototype, 'select').mockImplementation(boom), recorded: true },
  { name: 'evaluate', inject: () => vi.spyOn(EvaluatePhase.prototype, 'evaluate').mockImplementation(overflow), recorded: true },
  { name: 'response encoding', inject: () => vi.spyOn(ResponseEncoder.prototype, 'encode').mockImplementationOnce(boom), recorded: true },
  { name: 'metrics', inject: () => vi.spyOn(Metrics.prototype, 'recordCheck').mockImplementationOnce(boom), recorded: true },
  { name: 'decision log write (queueing the record)', inject: () => vi.spyOn(DecisionLog.prototype, 'write').mockImplementationOnce(boom), recorded: true },
  { name: 'behaviour (observe)', inject: () => vi.spyOn(BehaviorSignals.prototype, 'observe').mockImplementationOnce(boom), recorded: true },
  { name: 'behaviour (settle)', inject: () => vi.spyOn(BehaviorSignals.prototype, 'settle').mockImplementationOnce(boom), recorded: true },
  { name: 'tracing', inject: () => vi.spyOn(Observer.prototype, 'begin').mockImplementation(() => brokenTrace), recorded: true },
  // The observer broken for good: the denial is still answered, just not recorded.
  { name: 'the whole observer', inject: () => vi.spyOn(Observer.prototype, 'finish').mockImplementation(boom), recorded: false },
];

function expectDenied(res: CheckResult): void {
  expect(res.status?.code).toBe(7);
  expect(res.okResponse).toBeUndefined();
  expect(res.deniedResponse?.status?.code).toBe('Forbidden');
}

async function records(file: string): Promise<any[]> {
  await new Promise((r) => setTimeout(r, 30));
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.decision_id);
}

describe('a fault anywhere in a Check is a recorded denial', () => {
  let server: RunningServer;
  let client: CheckClient;
  const log = join(mkdtempSync(join(tmpdir(), 'ztauthz-fc-')), 'decisions.log');
  let n = 0;

  beforeAll(async () => {
    server = await startInProcess({ 'decision-log-enabled': 'true', 'decision-log-output': log, 'tracing-enabled': 'true', 'tracing-exporter': 'none' });
    client = new CheckClient(server.grpcPort);
    expect((await client.check(allowed(n++))).status?.code ?? 0).toBe(0);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });
  afterEach(() => vi.restoreAllMocks());

  for (const fault of FAULTS) {
    it(`${fault.name}: PERMISSION_DENIED, recorded, and the next Check is answered`, async () => {
      fault.inject();
      const res = await client.check(allowed(n++));
      expectDenied(res);
      expect(res.deniedResponse?.body).toBe('internal_error');
      const id = res.dynamicMetadata?.fields['decision_id']?.stringValue;
      vi.restoreAllMocks();
      const rec = (await records(log)).find((r) => r.decision_id === id);
      if (fault.recorded) expect(rec).toMatchObject({ allowed: false, reason: 'internal_error', http_status: 403 });
      else expect(rec).toBeUndefined();
      // Still serving, and still allowing what the policy allows.
      expect((await client.check(allowed(n++))).status?.code ?? 0).toBe(0);
    });
  }
});

describe('a record that fails to serialise after the answer', () => {
  let server: RunningServer;
  let client: CheckClient;
  const log = join(mkdtempSync(join(tmpdir(), 'ztauthz-fc-late-')), 'decisions.log');
  const errors = async () => (await server.metrics.decisionLogErrors.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    server = await startInProcess({ 'decision-log-enabled': 'true', 'decision-log-output': log });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });
  afterEach(() => vi.restoreAllMocks());

  it('leaves the answer as the policy made it; the record is replaced by a minimal one with log_error, and counted', async () => {
    // Serialising (masking, JSON.stringify of the input) runs out of stack, as a request-chosen depth could make it.
    vi.spyOn(DecisionLog.prototype, 'format').mockImplementationOnce(overflow);
    const res = await client.check(allowed(1));
    // Answered before the record was serialised: the policy's allow, not an internal_error.
    expect(res.status?.code ?? 0).toBe(0);
    const id = res.dynamicMetadata?.fields['decision_id']?.stringValue;
    const rec = (await records(log)).find((r) => r.decision_id === id);
    expect(rec).toMatchObject({
      allowed: true,
      reason: 'allowed',
      http_status: 200,
      path: 'envoy/authz/allow',
      log_error: expect.stringMatching(/could not be serialised: RangeError: Maximum call stack/),
    });
    expect(rec.revision).toMatch(/^sha256:/);
    expect(rec).not.toHaveProperty('input');
    expect(rec).not.toHaveProperty('result');
    expect(await errors()).toBe(1);
    // A denial too: its answer stays the denial, and the next records are whole again.
    vi.spyOn(DecisionLog.prototype, 'format').mockImplementationOnce(boom);
    const denied = await client.check(
      checkRequest({ method: 'POST', path: '/v2/models/fraud-detector/infer', principal: 'spiffe://cluster.local/ns/ml-training/sa/trainer' }),
    );
    expect(denied.deniedResponse?.body).not.toBe('internal_error');
    vi.restoreAllMocks();
    const next = await client.check(allowed(2));
    const all = await records(log);
    expect(all.find((r) => r.decision_id === denied.dynamicMetadata?.fields['decision_id']?.stringValue)).toMatchObject({
      allowed: false,
      reason: 'policy_denied',
      log_error: expect.stringContaining('injected fault'),
    });
    expect(all.find((r) => r.decision_id === next.dynamicMetadata?.fields['decision_id']?.stringValue)).toMatchObject({
      allowed: true,
      identity: { spiffe_id: FRONTEND },
    });
    expect(await errors()).toBe(2);
  });
});

describe('the shortcut path (at defaults: allowed records go without input) fails closed too', () => {
  let server: RunningServer;
  let client: CheckClient;
  const log = join(mkdtempSync(join(tmpdir(), 'ztauthz-fc-sc-')), 'decisions.log');

  beforeAll(async () => {
    server = await startInProcess({ 'decision-log-enabled': 'true', 'decision-log-output': log });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['raw key', () => vi.spyOn(RawRequestKeyer.prototype, 'key').mockImplementationOnce(boom)],
    ['shortcut table', () => vi.spyOn(RequestShortcut.prototype, 'get').mockImplementationOnce(boom)],
    ['cached decision', () => vi.spyOn(EvaluatePhase.prototype, 'cached').mockImplementationOnce(boom)],
    ['metrics on a hit', () => vi.spyOn(Metrics.prototype, 'recordCheck').mockImplementationOnce(boom)],
    ['decision log write on a hit', () => vi.spyOn(DecisionLog.prototype, 'write').mockImplementationOnce(boom)],
  ])('%s', async (_name, inject) => {
    const req = allowed(1);
    const shortcuts = async () => Number(/^ztauthz_request_shortcuts_total (\d+)$/m.exec(await server.metrics.registry.metrics())?.[1] ?? 0);
    // Twice: the second is answered by the shortcut.
    expect((await client.check(req)).status?.code ?? 0).toBe(0);
    const before = await shortcuts();
    expect((await client.check(req)).status?.code ?? 0).toBe(0);
    expect(await shortcuts()).toBe(before + 1);
    inject();
    expectDenied(await client.check(req));
    vi.restoreAllMocks();
    expect((await client.check(req)).status?.code ?? 0).toBe(0);
  });
});

describe('in grpc_error mode a fault is a gRPC error (opa-envoy-plugin behaviour, chosen by the operator)', () => {
  it('answers INTERNAL, not OK', async () => {
    const server = await startInProcess({ 'decision-log-enabled': 'false', 'decision-on-error': 'grpc_error' });
    const client = new CheckClient(server.grpcPort);
    try {
      vi.spyOn(EvaluatePhase.prototype, 'evaluate').mockImplementation(overflow);
      await expect(client.check(allowed(1))).rejects.toMatchObject({ code: 13 });
    } finally {
      vi.restoreAllMocks();
      client.close();
      await server.stop(1000);
    }
  });
});
