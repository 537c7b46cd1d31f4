import { describe, expect, it } from 'vitest';
import { decisionFromResult, decisionFromResultSet } from '../src/envoy/PolicyResult.ts';
import { ResponseEncoder, checkResponseToJson } from '../src/envoy/CheckResponse.ts';
import { Reason } from '../src/types/Reason.ts';
import { parseResultSet } from '../src/policy/WasmEval.ts';

describe('policy result contract (opa-envoy-plugin)', () => {
  it('refuses an http_status written as 401.0 or 4.01e2, as opa-envoy-plugin (json.Number.Int64) does', () => {
    for (const text of ['401.0', '4.01e2', '401e0', '401E0']) {
      expect(() => decisionFromResultSet(parseResultSet(`[{"result":{"allowed":false,"http_status":${text}}}]`)), text).toThrow(
        expect.objectContaining({ reason: Reason.resultInvalid }),
      );
    }
    expect(decisionFromResultSet(parseResultSet('[{"result":{"allowed":false,"http_status":401}}]')).httpStatus).toBe(401);
    // Only the result's own http_status counts, and only on a denial.
    expect(decisionFromResultSet(parseResultSet('[{"result":{"allowed":false,"dynamic_metadata":{"http_status":1.5}}}]')).httpStatus).toBe(403);
    expect(decisionFromResultSet(parseResultSet('[{"result":{"allowed":true,"http_status":200.0}}]')).allowed).toBe(true);
  });

  it("refuses dynamic_metadata holding a number beyond float64 range (a body's 1e400 copied in), as opa-envoy-plugin's protojson does", () => {
    for (const text of ['{"n":1e400}', '{"l":[1,{"m":-1e999}]}']) {
      expect(() => decisionFromResultSet(parseResultSet(`[{"result":{"allowed":true,"dynamic_metadata":${text}}}]`)), text).toThrow(
        expect.objectContaining({ reason: Reason.resultInvalid }),
      );
    }
    expect(
      decisionFromResultSet(parseResultSet('[{"result":{"allowed":true,"dynamic_metadata":{"n":1e300,"i":12345678901234567891}}}]')).dynamicMetadata,
    ).toEqual({ n: 1e300, i: 12345678901234567891 });
  });

  it('takes booleans', () => {
    expect(decisionFromResult(true)).toMatchObject({ allowed: true, reason: 'allowed' });
    expect(decisionFromResult(false)).toMatchObject({ allowed: false, reason: 'policy_denied', httpStatus: 403, body: '' });
    // One frozen object per boolean: the response encoder's template is built once for it.
    expect(decisionFromResult(true)).toBe(decisionFromResult(true));
    expect(Object.isFrozen(decisionFromResult(false))).toBe(true);
  });

  it('reads every field of the object form', () => {
    const d = decisionFromResult({
      allowed: true,
      headers: [{ 'x-a': '1' }, { 'x-b': ['2', '3'] }],
      response_headers_to_add: { 'x-r': 'r' },
      request_headers_to_remove: ['authorization'],
      query_parameters_to_set: { q: ['1', '2'], p: 'x' },
      query_parameters_to_remove: ['debug'],
      dynamic_metadata: { tier: 'gold' },
    });
    expect(d.headers).toEqual([
      { key: 'x-a', value: '1' },
      { key: 'x-b', value: '2' },
      { key: 'x-b', value: '3' },
    ]);
    expect(d.responseHeadersToAdd).toEqual([{ key: 'x-r', value: 'r' }]);
    expect(d.requestHeadersToRemove).toEqual(['authorization']);
    expect(d.queryParametersToSet).toEqual([
      { key: 'q', value: '1' },
      { key: 'q', value: '2' },
      { key: 'p', value: 'x' },
    ]);
    expect(d.queryParametersToRemove).toEqual(['debug']);
    const json = checkResponseToJson(new ResponseEncoder({ dryRun: false }).encode(d, 'id-1', false));
    expect(json['status']).toEqual({});
    expect(json['okResponse']).toMatchObject({
      headers: [{ header: { key: 'x-a', value: '1' } }, { header: { key: 'x-b', value: '2' } }, { header: { key: 'x-b', value: '3' } }],
      headersToRemove: ['authorization'],
      responseHeadersToAdd: [{ header: { key: 'x-r', value: 'r' } }],
      queryParametersToSet: [
        { key: 'q', value: '1' },
        { key: 'q', value: '2' },
        { key: 'p', value: 'x' },
      ],
      queryParametersToRemove: ['debug'],
    });
    expect(json['dynamicMetadata']).toEqual({ tier: 'gold', decision_id: 'id-1' });
  });

  it("reads ztauthz's jsonrpc_error: a message, and a code (-32003 when left out)", () => {
    expect(decisionFromResult({ allowed: false, jsonrpc_error: { message: 'no' } }).jsonRpcError).toEqual({ code: -32003, message: 'no' });
    expect(decisionFromResult({ allowed: false, jsonrpc_error: { code: -32042, message: 'x'.repeat(1024) } }).jsonRpcError).toEqual({
      code: -32042,
      message: 'x'.repeat(1024),
    });
    expect(decisionFromResult({ allowed: false, body: 'no' }).jsonRpcError).toBeUndefined();
  });

  it('turns a denial object into a denied response with status, headers and body', () => {
    const d = decisionFromResult({ allowed: false, http_status: 401, body: 'no', headers: { 'www-authenticate': 'Bearer' } });
    const json = checkResponseToJson(new ResponseEncoder({ dryRun: false }).encode(d, 'id-2', false));
    expect(json['status']).toEqual({ code: 7, message: 'policy_denied' });
    expect(json['deniedResponse']).toEqual({
      status: { code: 'Unauthorized' },
      headers: [{ header: { key: 'www-authenticate', value: 'Bearer' } }],
      body: 'no',
    });
  });

  it('answers OK in dry run without applying a denial', () => {
    const d = decisionFromResult({ allowed: false, http_status: 401, headers: { 'x-deny': '1' } });
    const json = checkResponseToJson(new ResponseEncoder({ dryRun: true }).encode(d, 'id-3', false));
    expect(json['status']).toEqual({});
    expect(json['okResponse']).toEqual({});
    expect(json['deniedResponse']).toBeUndefined();
  });

  it.each([
    [[], Reason.policyUndefined],
    [[{}], Reason.policyUndefined],
    [[{ result: true }, { result: true }], Reason.resultInvalid],
    [[{ result: 'yes' }], Reason.resultInvalid],
    [[{ result: null }], Reason.resultInvalid],
    [[{ result: [true] }], Reason.resultInvalid],
    [[{ result: {} }], Reason.resultInvalid],
    [[{ result: { allowed: 'true' } }], Reason.resultInvalid],
    [[{ result: { allowed: false, http_status: 999 } }], Reason.resultInvalid],
    [[{ result: { allowed: false, http_status: 418 } }], Reason.resultInvalid],
    [[{ result: { allowed: false, http_status: '401' } }], Reason.resultInvalid],
    [[{ result: { allowed: true, headers: 'x' } }], Reason.resultInvalid],
    [[{ result: { allowed: true, headers: { a: 1 } } }], Reason.resultInvalid],
    [[{ result: { allowed: true, request_headers_to_remove: 'x' } }], Reason.resultInvalid],
    [[{ result: { allowed: false, body: 5 } }], Reason.resultInvalid],
    [[{ result: { allowed: true, dynamic_metadata: [] } }], Reason.resultInvalid],
    [[{ result: { allowed: true, query_parameters_to_set: ['a'] } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: 'no' } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: {} } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: { message: '' } } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: { message: 'x'.repeat(1025) } } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: { message: 'x', code: -32003.5 } } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: { message: 'x', code: '-32003' } } }], Reason.resultInvalid],
    [[{ result: { allowed: false, jsonrpc_error: { message: 'x', data: {} } } }], Reason.resultInvalid],
  ])('refuses result set %j as %s', (resultSet, reason) => {
    expect(() => decisionFromResultSet(resultSet)).toThrow(expect.objectContaining({ reason }));
  });
});
