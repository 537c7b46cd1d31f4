// The CheckResponse bytes a Check sends: the per-Decision template with the
// Check's decision id appended must be exactly what protobufjs writes for
// the whole response, however often a template is reused.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ResponseEncoder, checkResponseToJson, encodeCheckResponse, toCheckResponse } from '../src/envoy/CheckResponse.ts';
import { MAX_DYNAMIC_METADATA_DEPTH, decisionFromResult } from '../src/envoy/PolicyResult.ts';
import type { Decision } from '../src/types/Decision.ts';
import type { JsonObject, JsonValue } from '../src/types/Json.ts';
import { Reason } from '../src/types/Reason.ts';
import { denial } from '../src/types/Decision.ts';
import { prng } from './support/prng.ts';

function protobufjsBytes(d: Decision, id: string, dryRun: boolean, compat = false): string {
  return Buffer.from(encodeCheckResponse(toCheckResponse(d, id, { dryRun, compat }))).toString('hex');
}

/** A random policy result in the opa-envoy-plugin object form. */
function randomResult(next: () => number): JsonObject {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const text = (n: number): string => Array.from({ length: Math.floor(next() * n) }, () => pick(['a', 'z', '-', 'é', '✓', '\u0000', ' ', '9'])).join('');
  const value = (depth: number): JsonValue => {
    const k = Math.floor(next() * (depth > 2 ? 4 : 6));
    if (k === 0) return null;
    if (k === 1) return next() < 0.5;
    if (k === 2) return Math.round(next() * 1e6) / 100;
    if (k === 3) return text(300);
    if (k === 4) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, () => [text(8) || 'k', value(depth + 1)]));
  };
  const headers = (): JsonObject => Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, (_, i) => [`x-h${i}`, text(200)]));
  const r: JsonObject = { allowed: next() < 0.6 };
  if (next() < 0.5) r['headers'] = headers();
  if (next() < 0.3) r['response_headers_to_add'] = headers();
  if (next() < 0.3) r['request_headers_to_remove'] = ['authorization', text(10) || 'x'];
  if (next() < 0.3) r['query_parameters_to_set'] = { q: text(20) };
  if (next() < 0.2) r['query_parameters_to_remove'] = ['debug'];
  if (next() < 0.4) r['body'] = text(400);
  if (next() < 0.4) r['http_status'] = pick([401, 403, 429, 503]);
  if (next() < 0.7) r['dynamic_metadata'] = Object.fromEntries(Array.from({ length: Math.floor(next() * 6) }, () => [text(12) || 'm', value(0)]));
  return r;
}

describe('CheckResponse encoding', () => {
  it('writes the bytes protobufjs writes for the whole response, fresh or from a reused template', () => {
    const next = prng(7);
    let compared = 0;
    for (let i = 0; i < 2000; i++) {
      const d = decisionFromResult(randomResult(next));
      for (const [dryRun, compat] of [
        [false, i % 2 === 1],
        [true, i % 2 === 0],
      ] as const) {
        const encoder = new ResponseEncoder({ dryRun, compat });
        // Made for one Check (encoded whole), then served from the cache twice (its template), with an
        // id of another length in between (the length prefixes change): no id or byte may leak between them.
        const ids = [randomUUID(), `${'é'.repeat(100)}-${i}`, randomUUID()];
        for (const [n, id] of ids.entries()) {
          expect(Buffer.from(encoder.encode(d, id, n > 0)).toString('hex')).toBe(protobufjsBytes(d, id, dryRun, compat));
          compared++;
        }
      }
    }
    expect(compared).toBe(12_000);
  });

  it('covers length prefixes of more than one byte and errors without a policy result', () => {
    const big = decisionFromResult({ allowed: true, dynamic_metadata: { blob: 'x'.repeat(70_000) }, headers: { 'x-big': 'y'.repeat(300) } });
    const encoder = new ResponseEncoder({ dryRun: false });
    for (const d of [big, denial(Reason.requestMalformed, 'bad', 400, 'request_malformed: bad')]) {
      const id = randomUUID();
      expect(Buffer.from(encoder.encode(d, id, true)).toString('hex')).toBe(protobufjsBytes(d, id, false));
    }
    // The shared boolean decisions keep a template even when not from the cache.
    for (const d of [decisionFromResult(true), decisionFromResult(false), decisionFromResult(true)]) {
      const id = randomUUID();
      expect(Buffer.from(encoder.encode(d, id, false)).toString('hex')).toBe(protobufjsBytes(d, id, false));
    }
  });

  it('encodes dynamic_metadata as deep as the result check lets through (48 levels); deeper is result_invalid, not an encoder error', () => {
    const encoder = new ResponseEncoder({ dryRun: false });
    for (const kind of ['object', 'array', 'mixed'] as const) {
      const nested = (levels: number): JsonValue => {
        let v: JsonValue = 'leaf';
        for (let i = 0; i < levels; i++) v = kind === 'object' || (kind === 'mixed' && i % 2) ? { a: v } : [v];
        return v;
      };
      // The metadata object itself is level 1.
      const d = decisionFromResult({ allowed: true, dynamic_metadata: { x: nested(MAX_DYNAMIC_METADATA_DEPTH - 1) } });
      for (const reused of [false, true]) expect(checkResponseToJson(encoder.encode(d, 'id', reused))['dynamicMetadata']).toMatchObject({ decision_id: 'id' });
      expect(() => decisionFromResult({ allowed: true, dynamic_metadata: { x: nested(MAX_DYNAMIC_METADATA_DEPTH) } })).toThrow(
        expect.objectContaining({ reason: Reason.resultInvalid }),
      );
      expect(() => decisionFromResult({ allowed: false, dynamic_metadata: { x: nested(5000) } })).toThrow(
        expect.objectContaining({ reason: Reason.resultInvalid }),
      );
    }
  });

  it('shapes answers as opa-envoy-plugin does: status alone for a boolean, no proto3 empty strings, the reason in status.message unless compat', () => {
    const json = (d: Decision, opts: { dryRun: boolean; compat?: boolean }) => {
      const out = checkResponseToJson(new ResponseEncoder(opts).encode(d, 'id', false));
      delete out['dynamicMetadata'];
      return out;
    };
    expect(json(decisionFromResult(true), { dryRun: false })).toEqual({ status: {} });
    expect(json(decisionFromResult(false), { dryRun: false })).toEqual({ status: { code: 7, message: 'policy_denied' } });
    expect(json(decisionFromResult(false), { dryRun: false, compat: true })).toEqual({ status: { code: 7 } });
    expect(json(decisionFromResult(false), { dryRun: true })).toEqual({ status: {}, okResponse: {} });
    // A result object always carries its ok_response (empty or not), a denial its denied_response.
    expect(json(decisionFromResult({ allowed: true }), { dryRun: false })).toEqual({ status: {}, okResponse: {} });
    expect(json(decisionFromResult({ allowed: false, body: '', headers: { 'x-e': '' } }), { dryRun: false, compat: true })).toEqual({
      status: { code: 7 },
      deniedResponse: { status: { code: 'Forbidden' }, headers: [{ header: { key: 'x-e' } }] },
    });
    expect(json(decisionFromResult({ allowed: true, query_parameters_to_set: { q: '' } }), { dryRun: false })).toEqual({
      status: {},
      okResponse: { queryParametersToSet: [{ key: 'q' }] },
    });
    // ztauthz's own 400s: with compat status.message is the body, as opa-envoy-plugin's request_parse_error.
    const bad = denial(Reason.bodyInvalid, 'x', 400, 'body_invalid: x');
    expect(json(bad, { dryRun: false, compat: true })['status']).toEqual({ code: 7, message: 'body_invalid: x' });
    expect(json(bad, { dryRun: false })['status']).toEqual({ code: 7, message: 'body_invalid' });
  });

  it("puts the Check's own decision_id over one the policy's dynamic metadata carries", () => {
    const d = decisionFromResult({ allowed: true, dynamic_metadata: { decision_id: 'forged', tier: 'gold' } });
    const encoder = new ResponseEncoder({ dryRun: false });
    for (const id of ['id-1', 'id-2']) {
      expect(checkResponseToJson(encoder.encode(d, id, true))['dynamicMetadata']).toEqual({ tier: 'gold', decision_id: id });
    }
  });
});
