// Where ztauthz is known NOT to answer as opa-envoy-plugin v1.19.1-envoy does.
// differential.test.ts fails when an unlisted pair differs, when a listed pair
// answers the same (a fix: remove its entry), and when a global difference no
// longer matters anywhere (remove it too).
import type { Answer } from './harness.ts';

export interface GlobalDifference {
  readonly id: string;
  readonly reason: string;
  /** Removes this difference from an answer (applied to both sides alike). */
  setAside(a: Answer): Answer;
}

type Res = Record<string, any>;
const onResponse = (a: Answer, f: (r: Res) => void): Answer => {
  if (!('response' in a)) return a;
  const r = structuredClone(a.response) as Res;
  f(r);
  return { response: r };
};
const isOk = (r: Res) => !r['status']?.code;

/**
 * Differences in how every answer of a kind is encoded, which would otherwise
 * be listed under most pairs. Each is its own finding (see the reasons).
 */
export const GLOBAL_DIFFERENCES: readonly GlobalDifference[] = [
  {
    id: 'error_code',
    reason:
      'Evaluation errors, undefined decisions and invalid results: opa-envoy-plugin answers gRPC UNKNOWN (a plain Go error), ztauthz with decision.on_error grpc_error answers INTERNAL. Envoy treats both as a failed check (failure_mode_allow / status_on_error). Cause: answer() in src/server/AuthorizationService.ts falls back to grpc.status.INTERNAL for every reason not in ERROR_CODES.',
    setAside: (a) => ('grpcError' in a && (a.grpcError === 'UNKNOWN' || a.grpcError === 'INTERNAL') ? { grpcError: 'UNKNOWN or INTERNAL', message: '' } : a),
  },
  {
    id: 'explicit_empty_strings',
    reason:
      'ztauthz writes proto3 empty strings onto the wire (denied_response.body "", a header value "") where Go leaves zero values out, so a decoder sees "" against absent. Same meaning for Envoy. Cause: src/envoy/CheckResponse.ts sets the fields unconditionally.',
    setAside: (a) =>
      onResponse(a, (r) => {
        const strip = (v: any): void => {
          if (Array.isArray(v)) v.forEach(strip);
          else if (v && typeof v === 'object') {
            for (const k of Object.keys(v)) {
              if (v[k] === '') delete v[k];
              else strip(v[k]);
            }
          }
        };
        strip(r['okResponse']);
        strip(r['deniedResponse']);
      }),
  },
  {
    id: 'empty_ok_response',
    reason:
      'An allow without headers or other changes: opa-envoy-plugin sends no http_response (a boolean true) where ztauthz always sends an empty ok_response. Envoy treats the two alike. Cause: src/envoy/CheckResponse.ts encodes okResponse for every allow.',
    setAside: (a) =>
      onResponse(a, (r) => {
        if (isOk(r) && r['okResponse'] && Object.keys(r['okResponse']).length === 0) {
          delete r['okResponse'];
          delete r['httpResponse'];
        }
      }),
  },
  {
    id: 'bare_denied_response',
    reason:
      'A plain denial (a boolean false): opa-envoy-plugin sends only status PERMISSION_DENIED, ztauthz adds denied_response {status: 403}. Envoy answers 403 with an empty body either way. Cause: ztauthz encodes a denied_response for every denial.',
    setAside: (a) =>
      onResponse(a, (r) => {
        const d = r['deniedResponse'];
        if (d && d.status?.code === 'Forbidden' && Object.keys(d).every((k) => k === 'status' || (k === 'body' && d.body === ''))) {
          delete r['deniedResponse'];
          delete r['httpResponse'];
        }
      }),
  },
  {
    id: 'status_message',
    reason:
      'ztauthz puts its reason code in status.message of every answer that is not OK (policy_denied, path_rejected, body_invalid, ...); opa-envoy-plugin leaves it empty except on its own 400s ("request_parse_error: ..."). Envoy only logs it.',
    setAside: (a) =>
      onResponse(a, (r) => {
        if (r['status']?.message !== undefined) delete r['status'].message;
      }),
  },
];

/**
 * Pair by pair: `<case id>/<request name>`, `<case id>/*` for every pair of a
 * case, and `cache:<case id>/<request name>` where ztauthz with its decision
 * cache on answers otherwise than with it off.
 */
const PATH_REJECTED =
  'ztauthz refuses the request target (400 path_rejected, src/route/CanonicalPath.ts) where opa-envoy-plugin evaluates the policy on it: a deliberate hardening against path-confusion bypasses (README, Canonical paths), but a policy that allowed it before now sees a 400.';
const TIME_RFC3339 =
  'attributes.request.time: ztauthz gives RFC 3339 text ("2026-01-01T00:00:00Z"), opa-envoy-plugin the Timestamp as an object {"seconds": N, "nanos": N} (zero fields left out, so the epoch is {}). Cause: fixTimestamp in src/envoy/CheckRequest.ts follows protojson; opa-envoy-plugin walks the message with protoreflect (envoyauth/protomap.go). A policy reading request.time.seconds is undefined in ztauthz.';
const EXTRA_INPUT_KEYS =
  'ztauthz adds input.identity, input.route, input.canonical and input.behavior (src/server/Pipeline.ts); a policy that iterates input or counts its keys sees them. Documented as ztauthz keys, but not invisible.';
const BAD_JSON =
  'A body labelled JSON that does not parse: both answer 400 (status PERMISSION_DENIED, denied_response 400) but with different bodies: opa-envoy-plugin "request_parse_error: unexpected EOF", ztauthz "body_invalid: body is labelled JSON but does not parse: Unexpected end of JSON input" (src/envoy/RequestBody.ts).';

/**
 * Pair by pair: `<case id>/<request name>`, `<case id>/*` for every pair of a
 * case, and `cache:<case id>/<request name>` where ztauthz with its decision
 * cache on answers otherwise than with it off.
 */
export const EXPECTED_DIFFERENCES: Readonly<Record<string, string>> = {
  // --- request target (parsed_path / parsed_query) ---
  'in_parsed_path/utf8-escape':
    PATH_REJECTED + ' Here a plain percent-encoded UTF-8 segment (/caf%C3%A9, parsed_path ["café"] in opa-envoy-plugin) is refused as "encoded non-ASCII byte", which breaks ordinary non-ASCII URLs.',
  'in_parsed_path/double-slash': PATH_REJECTED + ' (//admin/x: opa-envoy-plugin gives ["admin","x"] at v1.19.1-envoy.)',
  'in_parsed_path/dot-segment': PATH_REJECTED + ' (/a/../admin: opa-envoy-plugin gives ["a","..","admin"].)',
  'in_parsed_path/encoded-slash': PATH_REJECTED + ' (/a%2Fb: opa-envoy-plugin gives ["a","b"], decoding %2F into a separator.)',
  'in_parsed_path/semicolon': PATH_REJECTED + ' (/a;b=c/d: opa-envoy-plugin gives ["a;b=c","d"].)',
  'in_parsed_path/no-leading-slash': PATH_REJECTED + ' (relative/x: opa-envoy-plugin gives ["relative","x"].)',
  'in_parsed_path/empty': PATH_REJECTED + ' (an empty path: opa-envoy-plugin gives [""].)',
  'in_parsed_path/fragment': PATH_REJECTED + ' (/a#frag: opa-envoy-plugin keeps the fragment in the segment, ["a#frag"].)',
  'in_parsed_query/semicolon':
    'Both refuse a query with ";" with a 400, but with different bodies: opa-envoy-plugin "request_parse_error: invalid semicolon separator in query" (Go url.ParseQuery), ztauthz "path_rejected: ..." (src/route/CanonicalPath.ts).',
  'in_parsed_query/bad-escape':
    'Both refuse a bad %-escape in the query with a 400, but with different bodies: opa-envoy-plugin "request_parse_error: invalid URL escape \\"%zz\\"", ztauthz "path_rejected: path rejected: bad percent-encoding at byte 5".',
  // --- headers ---
  'in_headers_all/none':
    'A request without headers: opa-envoy-plugin has no attributes.request.http.headers key, ztauthz an empty object. Cause: foldHeaderMap in src/envoy/CheckRequest.ts always sets http.headers (the contract says only populated fields appear).',
  'in_header_map/single':
    'Headers sent as headerMap (encode_raw_headers): ztauthz folds them into attributes.request.http.headers, opa-envoy-plugin v1.19.1-envoy does not (headers absent; headerMap left as is, rawValue base64). Cause: foldHeaderMap in src/envoy/CheckRequest.ts (a documented ztauthz choice; policies written against opa-envoy-plugin must read headerMap themselves).',
  'in_header_map/repeated': 'Same as in_header_map/single: ztauthz folds headerMap into headers ("1,2"), opa-envoy-plugin leaves headers absent.',
  // --- body ---
  'in_body/empty-string':
    'Proto3 zero values sent explicitly on the wire (body "", size 0): opa-envoy-plugin drops them (protoreflect sees them as unpopulated), ztauthz keeps them as body "" and size 0. Cause: protobufjs decode keeps every field present on the wire and src/envoy/CheckRequest.ts converts with toObject; zero scalars would have to be dropped.',
  'in_parsed_body_json/invalid': BAD_JSON,
  'in_body_rules/post-invalid-json': BAD_JSON,
  'in_parsed_body_json/uppercase-type':
    'content-type "Application/JSON": opa-envoy-plugin matches the media type case-sensitively and leaves parsed_body null; ztauthz lower-cases it (bodyKind in src/envoy/RequestBody.ts) and parses the body.',
  'in_parsed_body_form/bad-escape':
    'An urlencoded body with a bad escape (a=%zz): opa-envoy-plugin answers 400 "request_parse_error: invalid URL escape", ztauthz allows with parsed_body {} (parseQueryString in src/envoy/QueryString.ts drops the pair silently).',
  'in_parsed_body_multipart/no-boundary':
    'multipart/form-data without a boundary parameter: opa-envoy-plugin gives parsed_body null (and evaluates), ztauthz denies 400 body_invalid "multipart body without a boundary" (parseMultipart in src/envoy/RequestBody.ts).',
  // --- time ---
  'in_time/whole-seconds': TIME_RFC3339,
  'in_time/nanos': TIME_RFC3339,
  'in_time/epoch': TIME_RFC3339,
  // --- input document ---
  'in_top_keys/*': EXTRA_INPUT_KEYS,
  'cfg_skip_body/*': EXTRA_INPUT_KEYS,
  'in_no_http/no-http':
    'A CheckRequest without attributes.request.http: opa-envoy-plugin evaluates the policy (here: undefined decision, gRPC UNKNOWN), ztauthz denies 400 request_empty without evaluating (src/envoy/CheckRequest.ts), even with decision.on_error grpc_error.',
  // --- result ---
  'res_object_deny/status-401-float':
    'http_status 401.0: opa-envoy-plugin refuses it (gRPC error "error converting JSON number to int: strconv.ParseInt: parsing \\"401.0\\""), ztauthz accepts it as 401 (src/envoy/PolicyResult.ts checks the numeric value). Rego computes 401.0 from arithmetic such as 400 + 1.0 or x * 1.0.',
  'cfg_dry_run/bad-json-body':
    'dry-run and a request whose body does not parse: opa-envoy-plugin still answers its 400 (request_parse_error happens before dry-run applies), ztauthz answers OK (dry-run covers its body_invalid denial too).',
  // --- ztauthz's decision cache (cache.ignore) ---
  'cache:in_time/nanos':
    'Decision cache: request.time is in cache.ignore by default, so with the cache on a policy that reads it gets the answer cached for an earlier request with another time (here the echo of 00:00:00Z). opa-envoy-plugin has no cache. A policy reading an ignored field needs a cache.ignore without it.',
  'cache:in_time/absent': 'Decision cache: as cache:in_time/nanos (a request without time gets the cached answer of one with a time).',
  'cache:in_time/epoch': 'Decision cache: as cache:in_time/nanos.',
  'cache:in_time_rule/night':
    'Decision cache: a business-hours rule on request.time: the night request is ALLOWED from the cached morning decision (request.time is in cache.ignore). A wrong allow.',
};
