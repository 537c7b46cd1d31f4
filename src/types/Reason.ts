// Stable reason codes. They appear in decision records, in the
// `ztauthz_checks_total{reason}` metric label and in denial bodies, so they are
// part of the public contract: add new ones, never rename.
export const Reason = {
  /** The policy allowed the request. */
  allowed: 'allowed',
  /** The policy denied the request. */
  policyDenied: 'policy_denied',
  /** The CheckRequest has no attributes or no attributes.request.http. */
  requestEmpty: 'request_empty',
  /** The CheckRequest could not be decoded (bad protobuf). */
  requestMalformed: 'request_malformed',
  /** A string field of the CheckRequest holds bytes that are not UTF-8. */
  requestInvalidUtf8: 'request_invalid_utf8',
  /** Headers, path or body exceed the configured limits. */
  requestTooLarge: 'request_too_large',
  /** The body is labelled JSON (or form/multipart) but does not parse. */
  bodyInvalid: 'body_invalid',
  /** Envoy sent part of the body only; denied unless request.truncated_body is "policy". */
  bodyTruncated: 'body_truncated',
  /** The JSON body nests arrays and objects deeper than request.max_body_depth. */
  bodyTooDeep: 'body_too_deep',
  /** The JSON body has more object keys (a form body more names) than request.max_body_keys. */
  bodyTooManyKeys: 'body_too_many_keys',
  /** The JSON body has more array elements (a form body more values) than request.max_body_elements. */
  bodyTooManyElements: 'body_too_many_elements',
  /** The JSON body has a key twice in one object (after unescaping): ambiguous, refused unless request.body_duplicate_keys is "last". */
  bodyDuplicateKey: 'body_duplicate_key',
  /** The request target is ambiguous or malformed (encoded slashes, dot segments, ...): refused, not repaired. */
  pathRejected: 'path_rejected',
  /** The host is malformed, or host and :authority disagree. */
  hostRejected: 'host_rejected',
  /** A route reads fields from the body but Envoy sent none. */
  bodyMissing: 'body_missing',
  /** No route matches and routes.unmatched is "deny", or the path does not fit the route context_extensions names. */
  routeUnmatched: 'route_unmatched',
  /** context_extensions names a route or entrypoint that does not exist (a deployment error). */
  routeUnknown: 'route_unknown',
  /** A bearer token was present but invalid (with jwt.invalid: deny): 401 before the policy runs. */
  tokenInvalid: 'token_invalid',
  /** A token's issuer keys could not be fetched: nobody can be verified, so nobody is. */
  tokenKeysUnavailable: 'token_keys_unavailable',
  /** Policy evaluation threw (builtin error, out of memory, ...). */
  policyError: 'policy_error',
  /** The decision path is undefined for this input. */
  policyUndefined: 'policy_undefined',
  /** The policy result is not a boolean or a valid result object. */
  resultInvalid: 'result_invalid',
  /** The caller's deadline had passed before the decision was made. */
  deadlineExceeded: 'deadline_exceeded',
  /** No policy is loaded yet. */
  notReady: 'not_ready',
  /** A bug: an exception nobody anticipated. Still a denial. */
  internalError: 'internal_error',
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

export const ALL_REASONS: readonly ReasonCode[] = Object.values(Reason);

/** Request-shaped failures: the request could not be turned into policy input (HTTP 400, as opa-envoy-plugin). */
export function isRequestReason(reason: ReasonCode): boolean {
  return (
    reason === Reason.requestEmpty ||
    reason === Reason.requestMalformed ||
    reason === Reason.requestInvalidUtf8 ||
    reason === Reason.requestTooLarge ||
    reason === Reason.bodyInvalid ||
    reason === Reason.bodyTruncated ||
    reason === Reason.bodyTooDeep ||
    reason === Reason.bodyTooManyKeys ||
    reason === Reason.bodyTooManyElements ||
    reason === Reason.bodyDuplicateKey ||
    reason === Reason.pathRejected ||
    reason === Reason.hostRejected ||
    reason === Reason.bodyMissing
  );
}

/** An error carrying a stable reason code; thrown by phases, turned into a denial by the pipeline. */
export class CheckError extends Error {
  readonly reason: ReasonCode;
  /** What the client gets, when a phase knows better than the default for its reason (e.g. a 401 challenge). */
  readonly response:
    | { readonly httpStatus: number; readonly headers: ReadonlyArray<{ key: string; value: string }>; readonly body?: string | undefined }
    | undefined;
  constructor(reason: ReasonCode, message: string, response?: CheckError['response']) {
    super(message);
    this.name = 'CheckError';
    this.reason = reason;
    this.response = response;
  }
}
