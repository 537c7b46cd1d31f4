import type { ReasonCode } from './Reason.ts';
import type { JsonObject, JsonValue } from './Json.ts';

export interface HeaderPair {
  readonly key: string;
  readonly value: string;
}

/** A JSON-RPC error object's code and message (the request's id is added per request). */
export interface JsonRpcErrorObject {
  readonly code: number;
  readonly message: string;
}

/** What the service decided for one Check, independent of the wire format. */
export interface Decision {
  readonly allowed: boolean;
  readonly reason: ReasonCode;
  /** Human-readable detail for the decision record (never sent for policy errors). */
  readonly message: string;
  /** HTTP status Envoy sends the client on a denial. */
  readonly httpStatus: number;
  /** Allowed: headers added to the upstream request. Denied: headers sent to the client. */
  readonly headers: readonly HeaderPair[];
  readonly responseHeadersToAdd: readonly HeaderPair[];
  readonly requestHeadersToRemove: readonly string[];
  readonly queryParametersToSet: readonly HeaderPair[];
  readonly queryParametersToRemove: readonly string[];
  /** Denied: body sent to the client. */
  readonly body: string;
  readonly dynamicMetadata: JsonObject | undefined;
  /** The raw policy result, for decision records and `check`; undefined when the policy did not run. */
  readonly result: JsonValue | undefined;
  /**
   * Denied: the policy's answer to an MCP or A2A call (result field
   * `jsonrpc_error`), sent as a JSON-RPC error in place of `body` when the
   * request is a JSON-RPC POST on an agent route.
   */
  readonly jsonRpcError?: JsonRpcErrorObject | undefined;
}

const NONE: readonly never[] = Object.freeze([]);

/** A denial that did not come from the policy (bad input, error, not ready). */
export function denial(reason: ReasonCode, message: string, httpStatus: number, body: string): Decision {
  return {
    allowed: false,
    reason,
    message,
    httpStatus,
    headers: NONE,
    responseHeadersToAdd: NONE,
    requestHeadersToRemove: NONE,
    queryParametersToSet: NONE,
    queryParametersToRemove: NONE,
    body,
    dynamicMetadata: undefined,
    result: undefined,
  };
}
