// Denials of MCP and A2A calls (JSON-RPC over HTTP POST) as JSON-RPC 2.0
// error responses, so agent clients report them as the error of the call:
//
//   {"jsonrpc":"2.0","id":7,"error":{"code":-32003,"message":"ztauthz agents: tool not granted to caller"}}
//
// with content-type application/json and the denial's HTTP status (Streamable
// HTTP: a refused POST is an HTTP error whose body MAY be a JSON-RPC error).
// The ids are filled in here, per request, after the decision: decisions are
// cached without the per-call id (cache.md), so no policy can put it there.
//
// Once ztauthz has read the calls, every call with an id gets an error (an
// array for a batch, as JSON-RPC 2.0 answers a batch); a batch is refused
// whole, so the call that was denied carries the reason and the others
// "batch refused: <reason>". A body ztauthz could not read as calls (not JSON,
// not JSON-RPC) gets one error, with the message's id when it is a single
// request whose id can be read, else null (JSON-RPC 2.0: the id "MUST be Null"
// when it cannot be detected; the MCP TypeScript SDK's server answers an
// invalid batch the same way). So does a body of notifications and responses
// only, which no JSON-RPC response answers (MCP: "a JSON-RPC error response
// that has no id").
import type { Decision, JsonRpcErrorObject } from '../types/Decision.ts';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { RouteMatch } from '../types/Route.ts';
import { Reason, isRequestReason, type ReasonCode } from '../types/Reason.ts';

/**
 * The codes ztauthz answers with: JSON-RPC 2.0's own for a body that is not
 * JSON (-32700) or not a valid request (-32600) and for a failure of ztauthz
 * itself (-32603); authorization refusals take -32003 from the range JSON-RPC
 * leaves to implementations (-32000..-32099), one MCP does not define.
 */
export const JsonRpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  internalError: -32603,
  forbidden: -32003,
} as const;

/** Reasons of a body that did not parse (thrown while the input was built): -32700. */
const PARSE_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  Reason.bodyInvalid,
  Reason.bodyDuplicateKey,
  Reason.bodyTooDeep,
  Reason.bodyTooManyKeys,
  Reason.bodyTooManyElements,
]);

/** Refusals that are authorization's answer, not a failure to decide: -32003. */
const FORBIDDEN_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([Reason.policyDenied, Reason.tokenInvalid, Reason.routeUnmatched]);

/** A string id of at most 256 characters or an integer within ±2^53: what readJsonRpc accepts as an id. */
function isId(v: JsonValue | undefined): v is string | number {
  return (typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isSafeInteger(v));
}

/** The id of a JSON-RPC request (a `method` and an id), or undefined for notifications, responses and anything else. */
function requestId(m: JsonValue): string | number | undefined {
  if (m === null || typeof m !== 'object' || Array.isArray(m) || !Object.hasOwn(m, 'method')) return undefined;
  const id = m['id'];
  return isId(id) ? id : undefined;
}

const response = (id: JsonValue, error: JsonRpcErrorObject) => ({ jsonrpc: '2.0', id, error: { code: error.code, message: error.message } });

/**
 * The body of a denied JSON-RPC POST. `perCall`: ztauthz read the body as
 * calls, so each request gets its error; `denied` is the index of the call
 * that was denied in a batch (the others get "batch refused: ..."); without
 * it every call gets `error`.
 */
export function jsonRpcErrorBody(parsed: JsonValue | undefined, error: JsonRpcErrorObject, perCall: boolean, denied?: number): string {
  if (perCall && Array.isArray(parsed)) {
    const others = denied === undefined ? error : { code: error.code, message: `batch refused: ${error.message}` };
    const errors = parsed.flatMap((m, i) => {
      const id = requestId(m);
      return id === undefined ? [] : [response(id, i === denied ? error : others)];
    });
    if (errors.length > 0) return JSON.stringify(errors);
  }
  const id = parsed !== undefined && !Array.isArray(parsed) ? requestId(parsed) : undefined;
  return JSON.stringify(response(id ?? null, error));
}

/** The denial with a JSON-RPC error body (content-type application/json, any other content-type dropped); status and other headers kept. */
export function asJsonRpcDenial(decision: Decision, parsed: JsonValue | undefined, error: JsonRpcErrorObject, perCall: boolean, denied?: number): Decision {
  const headers = decision.headers.filter((h) => h.key.toLowerCase() !== 'content-type');
  return {
    ...decision,
    body: jsonRpcErrorBody(parsed, error, perCall, denied),
    headers: [...headers, { key: 'content-type', value: 'application/json' }],
  };
}

/**
 * What a policy's denial of a JSON-RPC call says: the result's own
 * `jsonrpc_error` (the policy library's), else, when the policy gave no body,
 * ztauthz's "forbidden by ztauthz: policy_denied"; undefined when the policy
 * wrote a body of its own, which is sent as written (as opa-envoy-plugin would).
 */
export function policyJsonRpcError(decision: Decision): JsonRpcErrorObject | undefined {
  if (decision.jsonRpcError) return decision.jsonRpcError;
  if (decision.body === '') return { code: JsonRpcCode.forbidden, message: `forbidden by ztauthz: ${decision.reason}` };
  return undefined;
}

/**
 * The error for one of ztauthz's own denials (the policy did not decide):
 * `parsed` says whether the body had been parsed when it happened, since a
 * body_invalid before that is JSON that does not parse and after it JSON
 * that is not JSON-RPC. Request errors carry their body text (the reason and
 * what is wrong); the others name only the reason, as their text bodies do.
 */
export function ownJsonRpcError(decision: Decision, parsed: boolean): JsonRpcErrorObject {
  const reason = decision.reason;
  if (isRequestReason(reason)) {
    const code = !parsed && PARSE_REASONS.has(reason) ? JsonRpcCode.parseError : JsonRpcCode.invalidRequest;
    return { code, message: decision.body.trim() || reason };
  }
  if (FORBIDDEN_REASONS.has(reason)) return { code: JsonRpcCode.forbidden, message: `forbidden by ztauthz: ${reason}` };
  return { code: JsonRpcCode.internalError, message: `ztauthz could not decide: ${reason}` };
}

/**
 * The policy's denial of a JSON-RPC POST as a JSON-RPC error (its
 * jsonrpc_error, or ztauthz's when it gave no body), with the ids of this
 * request; `denied` (input.route after the calls were decided) is the call
 * that was denied. A body of the policy's own is left as written.
 */
export function policyJsonRpcDenial(decision: Decision, parsed: JsonValue | undefined, calls: readonly RouteMatch[], denied: RouteMatch | null): Decision {
  const error = policyJsonRpcError(decision);
  if (!error) return decision;
  const index = denied ? calls.indexOf(denied) : -1;
  return asJsonRpcDenial(decision, parsed, error, true, calls.length > 1 && index >= 0 ? index : undefined);
}

/**
 * ztauthz's own denial (bad body, no route, token, policy error...) of an
 * MCP or A2A call as a JSON-RPC error: per call when the calls were read
 * (`calls`), else when `isJsonRpc` says the method and path are an agent
 * route's. `input` is undefined when the failure came before the body was
 * parsed. Returns the denial as it was when anything here fails: it stands
 * either way.
 */
export function ownJsonRpcDenial(
  decision: Decision,
  input: JsonObject | undefined,
  calls: readonly RouteMatch[] | undefined,
  isJsonRpc: () => boolean,
): Decision {
  try {
    if (!calls && !isJsonRpc()) return decision;
    return asJsonRpcDenial(decision, input?.['parsed_body'], ownJsonRpcError(decision, input !== undefined), calls !== undefined);
  } catch {
    return decision;
  }
}
