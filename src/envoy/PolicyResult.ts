// Interprets a policy result set with opa-envoy-plugin's rules: exactly one
// result; a boolean, or an object with a boolean `allowed` and optional
// response fields. Anything else is an error, which the pipeline denies.
import type { Decision, HeaderPair, JsonRpcErrorObject } from '../types/Decision.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import { CheckError, Reason } from '../types/Reason.ts';
import { ENVOY_HTTP_STATUSES } from './ProtoCodec.ts';

const NONE: readonly never[] = Object.freeze([]);

export function decisionFromResultSet(resultSet: unknown): Decision {
  if (!Array.isArray(resultSet) || resultSet.length === 0) {
    throw new CheckError(Reason.policyUndefined, 'the decision is undefined for this input');
  }
  if (resultSet.length > 1) {
    throw new CheckError(Reason.resultInvalid, `the decision has ${resultSet.length} results, expected one`);
  }
  const entry = resultSet[0] as { result?: JsonValue } | undefined;
  if (!entry || !('result' in entry) || entry.result === undefined) {
    throw new CheckError(Reason.policyUndefined, 'the decision is undefined for this input');
  }
  return decisionFromResult(entry.result);
}

/**
 * The decisions of a boolean result, one object each: the response encoder
 * keeps its bytes per Decision object, so a policy answering true or false
 * gets them built once, cached or not.
 */
const booleanDecision = (result: boolean): Decision =>
  Object.freeze({
    allowed: result,
    reason: result ? Reason.allowed : Reason.policyDenied,
    message: result ? 'allowed by policy' : 'denied by policy',
    httpStatus: 403,
    headers: NONE,
    responseHeadersToAdd: NONE,
    requestHeadersToRemove: NONE,
    queryParametersToSet: NONE,
    queryParametersToRemove: NONE,
    body: '',
    dynamicMetadata: undefined,
    result,
  });
const ALLOWED = booleanDecision(true);
const DENIED = booleanDecision(false);

/** One of the two decisions every boolean result shares (their response bytes are worth keeping). */
export function isSharedDecision(d: Decision): boolean {
  return d === ALLOWED || d === DENIED;
}

export function decisionFromResult(result: JsonValue): Decision {
  if (typeof result === 'boolean') return result ? ALLOWED : DENIED;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw invalid(`the result must be a boolean or an object, got ${typeName(result)}`);
  }
  const allowed = result['allowed'];
  if (allowed === undefined) throw invalid('the result object has no "allowed" key');
  if (typeof allowed !== 'boolean') throw invalid(`"allowed" must be a boolean, got ${typeName(allowed)}`);

  return {
    allowed,
    reason: allowed ? Reason.allowed : Reason.policyDenied,
    message: allowed ? 'allowed by policy' : 'denied by policy',
    httpStatus: allowed ? 200 : httpStatusOf(result),
    headers: headersOf(result, 'headers'),
    responseHeadersToAdd: headersOf(result, 'response_headers_to_add'),
    requestHeadersToRemove: stringsOf(result, 'request_headers_to_remove'),
    queryParametersToSet: queryParamsOf(result),
    queryParametersToRemove: stringsOf(result, 'query_parameters_to_remove'),
    body: bodyOf(result),
    dynamicMetadata: dynamicMetadataOf(result),
    result,
    jsonRpcError: jsonRpcErrorOf(result),
  };
}

function invalid(message: string): CheckError {
  return new CheckError(Reason.resultInvalid, message);
}

function typeName(v: JsonValue | undefined): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `{name: string | [string]}` or an array of such objects. */
function headersOf(result: JsonObject, field: string): readonly HeaderPair[] {
  const v = result[field];
  if (v === undefined) return NONE;
  const out: HeaderPair[] = [];
  const objects = Array.isArray(v) ? v : [v];
  for (const obj of objects) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw invalid(`"${field}" must be an object or an array of objects`);
    }
    pushPairs(out, obj, field);
  }
  return out;
}

function pushPairs(out: HeaderPair[], obj: JsonObject, field: string): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (typeof value === 'string') {
      out.push({ key, value });
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item !== 'string') throw invalid(`"${field}.${key}" values must be strings`);
        out.push({ key, value: item });
      }
    } else {
      throw invalid(`"${field}.${key}" must be a string or an array of strings`);
    }
  }
}

function queryParamsOf(result: JsonObject): readonly HeaderPair[] {
  const v = result['query_parameters_to_set'];
  if (v === undefined) return NONE;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalid('"query_parameters_to_set" must be an object');
  }
  const out: HeaderPair[] = [];
  pushPairs(out, v, 'query_parameters_to_set');
  return out;
}

function stringsOf(result: JsonObject, field: string): readonly string[] {
  const v = result[field];
  if (v === undefined) return NONE;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw invalid(`"${field}" must be an array of strings`);
  }
  return v as string[];
}

function bodyOf(result: JsonObject): string {
  const v = result['body'];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw invalid(`"body" must be a string, got ${typeName(v)}`);
  return v;
}

/** Longest `jsonrpc_error.message`: it goes to the client once per call of a batch. */
export const MAX_JSONRPC_MESSAGE = 1024;
/** JSON-RPC's code when the policy names none: authorization refused (JsonRpcDenial's JsonRpcCode.forbidden). */
const JSONRPC_FORBIDDEN = -32003;

/**
 * ztauthz's result field `jsonrpc_error: {"message": ..., "code"?: ...}`: the
 * JSON-RPC error a denied MCP or A2A call gets (src/route/JsonRpcDenial.ts).
 * opa-envoy-plugin ignores it, so a policy that sets it stays portable. A
 * malformed one is a result error, like a malformed header: a typo must not
 * silently change what clients get.
 */
function jsonRpcErrorOf(result: JsonObject): JsonRpcErrorObject | undefined {
  const v = result['jsonrpc_error'];
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`"jsonrpc_error" must be an object, got ${typeName(v)}`);
  for (const key of Object.keys(v)) {
    if (key !== 'code' && key !== 'message') throw invalid(`"jsonrpc_error" has the key ${JSON.stringify(key)}; it takes only "code" and "message"`);
  }
  const message = v['message'];
  if (typeof message !== 'string' || message === '' || message.length > MAX_JSONRPC_MESSAGE) {
    throw invalid(`"jsonrpc_error.message" must be a string of 1 to ${MAX_JSONRPC_MESSAGE} characters`);
  }
  const code = v['code'] ?? JSONRPC_FORBIDDEN;
  if (typeof code !== 'number' || !Number.isSafeInteger(code)) throw invalid(`"jsonrpc_error.code" must be an integer, got ${JSON.stringify(code)}`);
  return { code, message };
}

/** Result objects whose http_status the policy wrote as 401.0 or 4.01e2 (see WasmEval.parseResultSet). */
const NON_INTEGER_STATUS = new WeakSet<object>();

export function markNonIntegerStatus(holder: object): void {
  NON_INTEGER_STATUS.add(holder);
}

function httpStatusOf(result: JsonObject): number {
  const v = result['http_status'];
  if (v === undefined) return 403;
  // opa-envoy-plugin reads it with json.Number.Int64, which refuses any literal but an integer's.
  if (NON_INTEGER_STATUS.has(result)) throw invalid(`"http_status" must be written as an integer, got ${JSON.stringify(v)} written as a fraction or exponent`);
  if (typeof v !== 'number' || !Number.isInteger(v) || !ENVOY_HTTP_STATUSES.has(v)) {
    throw invalid(`"http_status" must be an HTTP status Envoy knows, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Deepest dynamic_metadata (the object itself is 1) the CheckResponse can
 * carry: each level is two protobuf messages (Value, Struct or ListValue), and
 * protobufjs, like protoc, refuses to nest messages deeper than 100. A policy
 * may copy request data (parsed_body) into its metadata; too deep is a result
 * error here, inside the pipeline, rather than an encoder exception after it.
 */
export const MAX_DYNAMIC_METADATA_DEPTH = 48;

function dynamicMetadataOf(result: JsonObject): JsonObject | undefined {
  const v = result['dynamic_metadata'];
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalid('"dynamic_metadata" must be an object');
  }
  if (nestsDeeperThan(v, MAX_DYNAMIC_METADATA_DEPTH)) {
    throw invalid(`"dynamic_metadata" nests deeper than ${MAX_DYNAMIC_METADATA_DEPTH} levels, more than a CheckResponse can carry`);
  }
  if (hasNonFiniteNumber(v)) {
    // As opa-envoy-plugin, whose protojson refuses it ("invalid number format"): a body's 1e400 copied into the metadata would be sent as Infinity.
    throw invalid('"dynamic_metadata" holds a number beyond float64 range (e.g. 1e400), which a Struct cannot carry');
  }
  return v;
}

/** Whether a number in the value is not finite (the result's JSON had one beyond float64 range); iterative. */
function hasNonFiniteNumber(root: JsonValue): boolean {
  const stack: JsonValue[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return true;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    for (const child of Array.isArray(v) ? v : Object.values(v))
      if (typeof child === 'number' || (child !== null && typeof child === 'object')) stack.push(child);
  }
  return false;
}

/** Whether arrays and objects nest deeper than `max` (the value itself is level 1); iterative, and stops at the first level past `max`. */
function nestsDeeperThan(root: JsonValue, max: number): boolean {
  const stack: Array<[JsonValue, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
