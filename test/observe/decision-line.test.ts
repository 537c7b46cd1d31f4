// A record no mask finds anything in is written without pino
// (observe/UnmaskedLine.ts): its line must be the one pino writes, byte for
// byte, whatever the record holds (escapes, control characters, lone
// surrogates, long strings, numbers JSON has no form for, absent fields).
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DecisionLog, type DecisionRecord } from '../../src/observe/DecisionLog.ts';
import { maskPaths } from '../../src/observe/MaskPaths.ts';
import { fixedRecordValue } from '../../src/observe/UnmaskedLine.ts';
import { DEFAULT_MASK } from './support/checks.ts';

/** pino as DecisionLog configures it, its line taken as DecisionLog takes it. */
function pinoLine(record: object, mask: readonly string[]): string {
  let line = '';
  const redact = maskPaths(mask).map((m) => m.redactPath);
  const logger = pino(
    { base: null, timestamp: false, formatters: { level: () => ({}) }, ...(redact.length ? { redact: { paths: redact, remove: true } } : {}) },
    { write: (l: string) => (line = l.charCodeAt(1) === 44 ? `{${l.slice(2)}` : l) },
  );
  logger.info(record);
  return line;
}

const base: DecisionRecord = {
  decision_id: '6a1b0f3e-2f1c-4a57-9d1b-1f2e3d4c5b6a',
  trace_id: undefined,
  span_id: undefined,
  timestamp: '2026-12-05T08:35:58.296Z',
  path: 'envoy/authz/allow',
  revision: 'sha256:3de69ddac6c83e05',
  allowed: true,
  reason: 'allowed',
  message: 'allowed by policy',
  dry_run: false,
  http_status: 200,
  result: true,
  input: { attributes: { request: { http: { headers: { 'x-request-id': 'r' } } } } },
  identity: {
    spiffe_id: 'spiffe://cluster.local/ns/a/sa/b',
    trust_domain: 'cluster.local',
    namespace: 'a',
    service_account: 'b',
    source: 'principal',
    peer: null,
    user: null,
  },
  route: { name: 'kserve-v2-infer', api: 'kserve-v2', action: 'infer', model: 'm', version: null },
  cache: 'miss',
  behavior: { first_seen_route: false, learning: true },
  metrics: { timer_check_ns: 13866114, timer_eval_ns: 332723, timer_server_handler_ns: 13866114, timer_rego_query_eval_ns: 332723 },
};

const variants: Array<Partial<DecisionRecord>> = [
  {},
  { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' },
  { message: 'quote " and backslash \\ and é and \u2028' },
  { message: 'a control character \u0001 in a short string' },
  { message: 'a lone surrogate \ud800 in a short string' },
  { message: `a long one ${'x"\\'.repeat(60)}\ud800` },
  { allowed: false, reason: 'policy_denied', http_status: 403, result: { allowed: false, body: 'no\n', headers: { 'x-a': 'b' } } },
  { result: undefined, identity: null, route: null, behavior: undefined },
  { metrics: { timer_check_ns: Number.NaN, timer_eval_ns: Number.POSITIVE_INFINITY } },
  { result: [1.5, -0, 1e21, 'x', null, { nested: [true] }] },
];

describe('a decision line written without pino', () => {
  it('is the line pino writes, with and without the input, for every kind of value', () => {
    const log = new DecisionLog({ enabled: false, output: '/dev/null', includeInput: 'denied', mask: DEFAULT_MASK });
    for (const v of variants) {
      const record = { ...base, ...v } as DecisionRecord;
      const { input, ...withoutInput } = record;
      expect(log.format(record, false)).toBe(pinoLine(withoutInput, DEFAULT_MASK));
      // The input goes through pino as well when a mask finds something in it: compare with and without such a field.
      expect(log.format(record, true)).toBe(pinoLine(record, DEFAULT_MASK));
      const secret = { ...record, input: { attributes: { request: { http: { headers: { authorization: 'Bearer x', 'x-request-id': 'r' } } } } } };
      expect(log.format(secret as DecisionRecord, true)).toBe(
        pinoLine(secret, DEFAULT_MASK).replace(/}\n$/, ',"erased":["/input/attributes/request/http/headers/authorization"]}\n'),
      );
      void input;
    }
  });

  it('a mask on a field outside the input still masks it', () => {
    const mask = ['/identity/spiffe_id'];
    const log = new DecisionLog({ enabled: false, output: '/dev/null', includeInput: 'denied', mask });
    const line = JSON.parse(log.format(base, false));
    expect(line.identity).not.toHaveProperty('spiffe_id');
    expect(line.erased).toEqual(['/identity/spiffe_id']);
    expect(log.format({ ...base, identity: null }, false)).toBe(pinoLine({ ...base, identity: null, input: undefined }, mask));
  });

  it('values that never change are written from their text made once, the same text', () => {
    const log = new DecisionLog({ enabled: false, output: '/dev/null', includeInput: 'denied', mask: DEFAULT_MASK });
    const identity = fixedRecordValue(Object.freeze({ ...base.identity! }));
    const record = { ...base, identity };
    const { input, ...withoutInput } = record;
    void input;
    expect(log.format(record, false)).toBe(pinoLine(withoutInput, DEFAULT_MASK));
    expect(log.format({ ...record, decision_id: 'another' }, false)).toBe(pinoLine({ ...withoutInput, decision_id: 'another' }, DEFAULT_MASK));
  });
});
