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
      'ztauthz writes proto3 empty strings onto the wire (denied_response.body "", a header value "") where Go leaves zero values out, so a decoder sees "" against absent. Same meaning for Envoy. Cause: responseBody and headerOptions in src/envoy/CheckResponse.ts set body and header values even when empty, and protobufjs writes a field that is set even when it holds the default.',
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
      'An allow without headers or other changes: opa-envoy-plugin sends no http_response (a boolean true) where ztauthz always sends an empty ok_response. Envoy treats the two alike. Cause: responseBody in src/envoy/CheckResponse.ts always sets okResponse (with empty lists).',
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
      'A plain denial (a boolean false): opa-envoy-plugin sends only status PERMISSION_DENIED, ztauthz adds denied_response {status: 403}. Envoy answers 403 with an empty body either way. Cause: responseBody in src/envoy/CheckResponse.ts sets deniedResponse for every denial.',
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
      'ztauthz puts its reason code in status.message of every answer that is not OK (policy_denied, path_rejected, body_invalid, ...); opa-envoy-plugin leaves it empty except on its own 400s ("request_parse_error: ..."). Envoy only logs it. Cause: responseBody in src/envoy/CheckResponse.ts sets status.message to decision.reason.',
    setAside: (a) =>
      onResponse(a, (r) => {
        if (r['status']?.message !== undefined) delete r['status'].message;
      }),
  },
];

const REFUSED: Record<string, string> = {
  bi_strings_indexof_n: 'indexof_n',
  bi_strings_count: 'strings.count',
  bi_numbers_range_step: 'numbers.range_step',
  bi_collections_json_patch: 'json.patch',
  bi_collections_obj_subset: 'object.subset',
  bi_regex_find_n: 'regex.find_n',
  bi_regex_replace: 'regex.replace',
  bi_regex_template: 'regex.template_match',
  bi_regex_globs: 'regex.globs_match',
  bi_glob_quote: 'glob.quote_meta',
  bi_encoding_json_indent: 'json.marshal_with_options',
  bi_x509: 'crypto.x509.parse_certificates',
  bi_x509_verify: 'crypto.x509.parse_and_verify_certificates',
  bi_x509_key_pem_keys: 'crypto.parse_private_keys',
  bi_net_is_valid: 'net.cidr_is_valid',
  bi_net_matches: 'net.cidr_contains_matches',
  bi_net_merge: 'net.cidr_merge',
  bi_net_expand: 'net.cidr_expand',
  bi_time_format: 'time.format',
  bi_time_format_layout: 'time.format (with a layout)',
  bi_time_parse_ns: 'time.parse_ns',
  bi_units_semver_bytes: 'units.parse_bytes',
  bi_units_semver_units: 'units.parse',
  bi_units_semver_semver_valid: 'semver.is_valid',
  bi_units_semver_semver_cmp: 'semver.compare',
  bi_uuid_graphql_uuid_len: 'uuid.rfc4122',
  bi_uuid_graphql_uuid_same: 'uuid.rfc4122',
  bi_uuid_graphql_uuid_parse: 'uuid.parse',
  bi_uuid_graphql_gql_valid: 'graphql.is_valid',
  bi_uuid_graphql_gql_schema_valid: 'graphql.schema_is_valid',
  bi_uuid_graphql_gql_parse: 'graphql.parse_query',
  bi_misc_render: 'strings.render_template',
  bi_misc_schema_ok: 'json.verify_schema',
  bi_misc_match_schema: 'json.match_schema',
  bi_misc_rego_parse: 'rego.parse_module',
};
const refusedEntries = Object.fromEntries(
  Object.entries(REFUSED).map(([id, b]) => [
    `${id}/*`,
    `Refused at load: "policy uses builtins ztauthz does not provide: ${b}". opa build -t wasm leaves ${b.split(' ')[0]} to the host, and neither opa-wasm's JS builtins nor src/policy/builtins/ implement it; opa-envoy-plugin evaluates it. Fix: a host implementation in src/policy/builtins/ (tested against opa eval).`,
  ]),
);

const BUILTIN_ERROR =
  'A builtin error: opa-envoy-plugin (topdown, non-strict builtin errors) makes the failing expression undefined and evaluates on, so the rule or key is just missing; ztauthz aborts the whole evaluation (gRPC error), because opa-wasm turns a throwing host builtin (src/policy/builtins/*) or a failing native one into an evaluation error. Fix: catch builtin errors in the host builtins and in the wasm abort path and return undefined, as OPA does without strict-builtin-errors.';
const SPRINTF_JS =
  'sprintf: opa-wasm implements it in JS (node_modules/@open-policy-agent/opa-wasm/src/builtins/strings.js, sprintf-js), not with Go fmt: ';
const BASE64_WASM = 'base64 in the wasm (OPA\'s native wasm builtins, not src/policy/builtins) is lenient where Go is strict: ';
const BAD_UTF8 =
  'A builtin produced bytes that are not UTF-8 (base64url.decode / hex.decode of arbitrary bytes) and the policy returned them in dynamic_metadata: opa-envoy-plugin fails the check (gRPC UNKNOWN "proto: invalid UTF-8 in string"), ztauthz sends the string with U+FFFD replacement characters (the wasm result is decoded lossily as UTF-8).';

const PATH_REJECTED =
  'ztauthz refuses the request target (400 path_rejected, src/route/CanonicalPath.ts) where opa-envoy-plugin evaluates the policy on it: a deliberate hardening against path-confusion bypasses (README, Canonical paths), but a policy that allowed it before now sees a 400.';
const TIME_RFC3339 =
  'attributes.request.time: ztauthz gives RFC 3339 text ("2026-01-01T00:00:00Z"), opa-envoy-plugin the Timestamp as an object {"seconds": N, "nanos": N} (zero fields left out, so the epoch is {}). Cause: fixTimestamp in src/envoy/CheckRequest.ts follows protojson; opa-envoy-plugin walks the message with protoreflect (envoyauth/protomap.go). A policy reading request.time.seconds is undefined in ztauthz.';
const EXTRA_INPUT_KEYS =
  'ztauthz adds input.identity, input.route, input.canonical and input.behavior (src/server/Pipeline.ts); a policy that iterates input or counts its keys sees them. Documented as ztauthz keys, but not invisible.';
const BAD_JSON =
  'A body labelled JSON that does not parse: both answer 400 (status PERMISSION_DENIED, denied_response 400) with the reason as body, but the bodies differ: opa-envoy-plugin "request_parse_error: <Go encoding/json error>" (e.g. "unexpected EOF"), ztauthz "body_invalid: body is labelled JSON but does not parse: <JSON.parse error>" (src/envoy/RequestBody.ts). A BOM, trailing text, two values, only whitespace and NaN are all refused by both.';

const NO_PROTO_DESCRIPTOR =
  'gRPC bodies: opa-envoy-plugin with proto-descriptor decodes the first message of an application/grpc raw_body (gRPC-Web too: it matches the content type by substring) into parsed_body by the service and method in the path, int64 as strings as protojson writes them; ztauthz has no such setting and gives parsed_body null. Needs a policy-side descriptor (e.g. request.proto_descriptor) and a protobufjs decode in src/envoy/RequestBody.ts. ';

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
  'edge_targets/lowercase-escape': PATH_REJECTED + ' (/a%2fb: opa-envoy-plugin gives ["a","b"].)',
  'edge_targets/escaped-percent': PATH_REJECTED + ' (/100%25: opa-envoy-plugin gives ["100%"].)',
  'edge_targets/escaped-null': PATH_REJECTED + ' (/a%00b: opa-envoy-plugin gives ["a\\u0000b"].)',
  'edge_targets/absolute-form': PATH_REJECTED + ' (http://other.example/x: opa-envoy-plugin gives ["http:","","other.example","x"].)',
  'edge_targets/unicode-raw': PATH_REJECTED + ' (a raw non-ASCII /café: opa-envoy-plugin gives ["café"].)',
  'edge_targets/backslash': PATH_REJECTED + ' (/a\\b: opa-envoy-plugin gives ["a\\\\b"].)',
  'edge_targets/encoded-dot-segment': PATH_REJECTED + ' (/a/%2e%2e/b: opa-envoy-plugin gives ["a","..","b"].)',
  'edge_targets/asterisk':
    'OPTIONS * (asterisk-form target): opa-envoy-plugin gives parsed_path ["*"], ztauthz [] (the ASTERISK target in src/route/CanonicalPath.ts has no segments).',
  'edge_host/disagree':
    'host "api.example.com" with an :authority header "admin.example.com": ztauthz denies 400 host_rejected (src/route/ canonical host check), opa-envoy-plugin evaluates. Deliberate hardening, but a policy that allowed it before now sees a 400. (Envoy itself sends the two equal.)',
  'edge_host/userinfo': 'host "user@api.example.com": ztauthz denies 400 host_rejected ("not a valid host name"), opa-envoy-plugin evaluates.',
  'edge_host/empty-host':
    'Proto3 zero values sent explicitly (http.host ""): opa-envoy-plugin drops them, so input.attributes.request.http.host is undefined (here: undefined decision, gRPC error), ztauthz keeps host "". Same cause as in_body/empty-string.',
  // --- gRPC bodies (proto-descriptor) ---
  'grpc_body/hello': NO_PROTO_DESCRIPTOR + 'Here ztauthz gives null for {"name":"bob","count":"3",...}.',
  'grpc_body/empty-message': NO_PROTO_DESCRIPTOR + 'An empty message is {} in opa-envoy-plugin.',
  'grpc_body/grpc-web': NO_PROTO_DESCRIPTOR + 'application/grpc-web+proto is decoded too.',
  'grpc_body/truncated-frame': NO_PROTO_DESCRIPTOR + 'A frame declaring more bytes than arrived gives truncated_body true in opa-envoy-plugin.',
  'grpc_body/short-frame': NO_PROTO_DESCRIPTOR + 'Fewer than 5 bytes: opa-envoy-plugin answers 400 "request_parse_error: less than 5 bytes".',
  'grpc_body/bad-protobuf': NO_PROTO_DESCRIPTOR + 'Bytes that are not the message: opa-envoy-plugin answers 400 "request_parse_error: proto: cannot parse invalid wire-format data".',
  'grpc_body/three-segments': NO_PROTO_DESCRIPTOR + 'A path that is not /Service/Method: opa-envoy-plugin answers 400 "request_parse_error: invalid parsed path".',
  'grpc_rule/bob': NO_PROTO_DESCRIPTOR + 'So a policy on a message field denies in ztauthz what opa-envoy-plugin allows.',
  // --- headers ---
  'in_headers_all/none':
    'A request without headers: opa-envoy-plugin has no attributes.request.http.headers key, ztauthz an empty object. Cause: foldHeaderMap in src/envoy/CheckRequest.ts always sets http.headers (the contract says only populated fields appear).',
  'in_header_map/single':
    'Headers sent as headerMap (encode_raw_headers): ztauthz folds them into attributes.request.http.headers, opa-envoy-plugin v1.19.1-envoy does not (headers absent; headerMap left as is, rawValue base64). Cause: foldHeaderMap in src/envoy/CheckRequest.ts (a documented ztauthz choice; policies written against opa-envoy-plugin must read headerMap themselves).',
  'edge_header_bytes/latin1':
    'A headerMap raw value that is not UTF-8: opa-envoy-plugin passes headerMap through (rawValue base64) and evaluates, ztauthz denies 400 request_invalid_utf8 while folding it into headers (foldHeaderMap in src/envoy/CheckRequest.ts).',
  'edge_header_bytes/uppercase-name':
    'headerMap with an upper-case name: ztauthz folds it into headers lower-cased ("x-upper"), opa-envoy-plugin leaves headers absent and headerMap as sent. Same cause as in_header_map/single.',
  'edge_enums_tls/udp':
    'Enum fields: opa-envoy-plugin gives socketAddress.protocol as its number (1), ztauthz as its name ("UDP"). Cause: PROTOJSON_OBJECT in src/envoy/ProtoCodec.ts converts with enums: String (protojson); opa-envoy-plugin walks the message with protoreflect.',
  'in_header_map/repeated': 'Same as in_header_map/single: ztauthz folds headerMap into headers ("1,2"), opa-envoy-plugin leaves headers absent.',
  // --- body ---
  'in_body/empty-string':
    'Proto3 zero values sent explicitly on the wire (body "", size 0): opa-envoy-plugin drops them (protoreflect sees them as unpopulated), ztauthz keeps them as body "" and size 0. Cause: protobufjs decode keeps every field present on the wire and src/envoy/CheckRequest.ts converts with toObject; zero scalars would have to be dropped.',
  'in_parsed_body_json/invalid': BAD_JSON,
  'in_parsed_body_json/duplicate-keys':
    'Deliberate (safety): a JSON body with a key twice in one object. opa-envoy-plugin decides on the last value (Go encoding/json), ztauthz refuses it 400 body_duplicate_key, since a backend that keeps the first would serve what was not authorized. request.body_duplicate_keys: last restores last-wins.',
  'edge_bodies/json-deep':
    'Deliberate (safety): a JSON body nested deeper than request.max_body_depth (64). ztauthz refuses it 400 body_too_deep before parsing; opa-envoy-plugin fails the Check itself with gRPC INTERNAL "Response message parsing error: maximum nesting depth exceeded" (its result cannot be encoded), which an Envoy with failure_mode_allow lets through.',
  'in_body_rules/post-invalid-json': BAD_JSON,
  'in_parsed_body_json/uppercase-type':
    'content-type "Application/JSON": opa-envoy-plugin matches the media type case-sensitively and leaves parsed_body null; ztauthz lower-cases it (bodyKind in src/envoy/RequestBody.ts) and parses the body.',
  'in_parsed_body_form/bad-escape':
    'An urlencoded body with a bad escape (a=%zz): opa-envoy-plugin answers 400 "request_parse_error: invalid URL escape", ztauthz allows with parsed_body {} (parseQueryString in src/envoy/QueryString.ts drops pairs with a bad escape, as Go\'s URL.Query() does, but opa-envoy-plugin parses form bodies with url.ParseQuery and fails on the error).',
  'edge_bodies/json-bom': BAD_JSON,
  'edge_bodies/json-trailing': BAD_JSON,
  'edge_bodies/json-two-values': BAD_JSON,
  'edge_bodies/json-whitespace': BAD_JSON,
  'edge_bodies/json-nan': BAD_JSON,
  'edge_bodies/multipart-unclosed':
    'A multipart body without its closing boundary: both answer 400, with different bodies (opa-envoy-plugin "request_parse_error: unexpected EOF", ztauthz "body_invalid: multipart body has no closing boundary").',
  'edge_bodies/content-length-not-number':
    'content-length "abc": both answer 400, with different bodies (opa-envoy-plugin "request_parse_error: strconv.ParseInt: parsing \\"abc\\": invalid syntax", ztauthz "body_invalid: content-length is not a number").',
  'edge_bodies/json-huge-number':
    'A JSON body with 1e400: opa-envoy-plugin keeps the number (and here fails the check because the policy echoes it into dynamic_metadata, "proto: invalid number format"), ztauthz parses it with JSON.parse into Infinity and hands the policy null. A policy comparing it (> 1000) decides differently. Cause: JSON.parse in src/envoy/RequestBody.ts.',
  'edge_bodies/form-semicolon':
    'An urlencoded body with ";" (a=1;b=2): opa-envoy-plugin answers 400 "request_parse_error: invalid semicolon separator in query" (Go url.ParseQuery), ztauthz drops the pair and evaluates with parsed_body {} (parseQueryString in src/envoy/QueryString.ts).',
  'edge_bodies/partial-no-type':
    'x-envoy-auth-partial-body: true on a body without content-type: opa-envoy-plugin sets truncated_body true, ztauthz false. Cause: parseBody in src/envoy/RequestBody.ts returns "not parsed" for an unknown content type before it looks at truncation.',
  'in_parsed_body_multipart/no-boundary':
    'multipart/form-data without a boundary parameter: opa-envoy-plugin gives parsed_body null (and evaluates), ztauthz denies 400 body_invalid "multipart body without a boundary" (parseMultipart in src/envoy/RequestBody.ts).',
  // --- time ---
  'in_time/whole-seconds': TIME_RFC3339,
  'in_time/nanos': TIME_RFC3339,
  'in_time/epoch': TIME_RFC3339,
  'in_time_seconds/before':
    TIME_RFC3339 + ' Here the policy allows when request.time.seconds is before a deadline: opa-envoy-plugin allows, ztauthz denies (the rule is undefined on a string).',
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
  // --- builtins: refused at load ---
  ...refusedEntries,
  // --- builtins: errors ---
  'bi_sprintf_format_int_2/big': BUILTIN_ERROR + ' Here format_int on 12345678901234567890 (native wasm: "strings: get uint failed"), which opa formats exactly.',
  'bi_sprintf_format_int_2/exp': BUILTIN_ERROR + ' Here format_int(1e21, 2): "strings: get uint failed".',
  'bi_sprintf_format_int_16/big': BUILTIN_ERROR + ' Here format_int(12345678901234567890, 16).',
  'bi_sprintf_format_int_16/exp': BUILTIN_ERROR + ' Here format_int(1e21, 16).',
  'bi_sprintf_format_int_frac/big': BUILTIN_ERROR + ' Here format_int(12345678901234567890 + 0.9, 10).',
  'bi_sprintf_format_int_frac/exp': BUILTIN_ERROR + ' Here format_int(1e21 + 0.9, 10).',
  'bi_regex_split/invalid': BUILTIN_ERROR + ' Here regex.split("(", ...): JS "Invalid regular expression".',
  'bi_regex_split/case-flag': 'regex.split with "(?i)abc": RE2 accepts the flag group, the JS RegExp of opa-wasm\'s regex.split (src/builtins/regex.js) does not, and the error aborts the evaluation (see the builtin-error entries).',
  'bi_encoding_hex_decode/json': BUILTIN_ERROR + ' Here hex.decode("zz") (src/policy/builtins/encoding.ts throws).',
  'bi_urlquery/bad-escape': BUILTIN_ERROR + ' Here urlquery.decode("%zz") (src/policy/builtins/urlquery.ts throws), which also loses every other key of the answer.',
  'tut_malformed_token/garbage':
    BUILTIN_ERROR +
    ' The everyday shape: "default allow := false; allow if io.jwt.decode(bearer) ..." with the header "Authorization: Bearer garbage". opa-envoy-plugin denies (403); ztauthz with on_error grpc_error answers a gRPC error, so an Envoy with failure_mode_allow: true ALLOWS the request (with the default on_error deny it is a 403 with reason policy_error).',
  'tut_malformed_token/not-json': BUILTIN_ERROR + ' As tut_malformed_token/garbage, with a token whose sections are not JSON.',
  'bi_jwt_decode/garbage': BUILTIN_ERROR + ' Here io.jwt.decode("not.a.jwt") (src/policy/builtins/jwt.ts).',
  'bi_jwt_decode/empty': BUILTIN_ERROR + ' Here io.jwt.decode("").',
  'bi_jwt_decode/two-parts': BUILTIN_ERROR + ' Here io.jwt.decode of a token with two sections.',
  'bi_jwt_verify/garbage': BUILTIN_ERROR + ' Here io.jwt.decode_verify("x.y.z", ...): opa gives undefined for the keys that decode and the verify_* results, ztauthz fails the whole check.',
  'bi_time/invalid': BUILTIN_ERROR + ' Here time.parse_rfc3339_ns("yesterday") (src/policy/builtins/time.ts).',
  'bi_time/far': BUILTIN_ERROR + ' Here time.add_date past year 2262 ("time outside of valid range").',
  'bi_sprintf_q/*': SPRINTF_JS + 'the %q verb is not supported ("[sprintf] unexpected placeholder") and the error aborts the evaluation.',
  // --- builtins: other results ---
  'bi_sprintf/big': SPRINTF_JS + '%v and %d of 12345678901234567890 print 12345678901234567000 (a float64); opa prints the exact integer.',
  'bi_sprintf/exp': SPRINTF_JS + '%v of 1e21 prints "1e+21" (opa "1e21"), %d of it "1" (opa "%!d(string=1e21)"), and big quotients lose digits.',
  'bi_sprintf/float': SPRINTF_JS + '%d of 3.5 prints "3"; Go prints "%!d(float64=3.5)".',
  'bi_sprintf_v_set/*': SPRINTF_JS + '%v of the set {1, 2, 3} prints "1,2,3"; opa "{1, 2, 3}".',
  'bi_sprintf_v_object/*': SPRINTF_JS + '%v of an object prints "[object Object]"; opa the Rego text {"k": [1, "x", null, true]}.',
  'bi_sprintf_missing_arg/*': SPRINTF_JS + 'a missing argument prints "undefined"; Go "%!s(MISSING)".',
  'bi_sprintf_pad/big': SPRINTF_JS + '%05d of 12345678901234567890 prints 12345678901234567000.',
  'bi_sprintf_pad/float': SPRINTF_JS + '%05d of 3.5 prints "00003"; Go "%!d(float64=003.5)".',
  'bi_sprintf_pad/exp': SPRINTF_JS + '%05d of 1e21 prints "00001"; Go "%!d(string=01e21)".',
  'bi_sprintf_f2/small': SPRINTF_JS + '%.2f of the integer 6 prints "6.00"; Go "%!f(int64=06)".',
  'bi_sprintf_f2/exp': SPRINTF_JS + '%.2f of a big integer prints a rounded float; Go "%!f(big.Int=...)".',
  'bi_sprintf_f2/quote': SPRINTF_JS + '%.2f of the integer 0 prints "0.00"; Go "%!f(int64=00)".',
  'bi_numbers_as_string/big':
    'Integer arithmetic beyond 2^53: 9007199254740993 * 2 is 18014398509481986 in opa (arbitrary precision), 18014398509481984 in the wasm (float64), shown with sprintf %v.',
  'bi_numbers_as_string/huge': 'Integer arithmetic beyond 2^64: the product of two 20-digit integers prints as 1.219326311370218e+39 in ztauthz, exactly in opa.',
  'bi_types/number':
    'to_number("007"): the wasm keeps the number as its source text "007", which is not JSON, so reading the result fails ("Unexpected number in JSON") and the check fails with a gRPC error; opa gives 7. The wasm writes the number in its source form and opa-wasm JSON.parses the wasm\'s JSON text (node_modules/@open-policy-agent/opa-wasm/src/opa.js); ztauthz must canonicalise such numbers (or to_number must be a host builtin).',
  'bi_regex_split/groups': 'regex.split runs on JS String.prototype.split (opa-wasm src/builtins/regex.js): capture groups are spliced into the result (["", "k1", "v1", ";", ...]); Go returns ["", ";", ""].',
  'bi_regex_split/empty': 'regex.split("x*", ""): JS split gives [], Go [""].',
  'bi_regex_split/lookahead': 'regex.split("a(?=b)", ...): JS accepts the lookahead and splits, RE2 refuses the pattern (opa: undefined).',
  'bi_encoding_b64_valid/json': BASE64_WASM + 'base64.is_valid("eyJrIjoxfQ") (no padding) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/yaml': BASE64_WASM + 'base64.is_valid("a-_b") (URL alphabet) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/unicode': BASE64_WASM + 'base64.is_valid("Wm/DqwÅ") (a non-alphabet character) is true in ztauthz, false in opa.',
  'bi_encoding_b64_valid/empty': BASE64_WASM + 'base64.is_valid("") is false in ztauthz, true in opa.',
  'bi_encoding_b64_decode/json': BASE64_WASM + 'base64.decode of unpadded input succeeds in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/yaml': BASE64_WASM + 'base64.decode("a-_b") succeeds in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/unicode': BASE64_WASM + 'base64.decode skips the non-alphabet "Å" in ztauthz, is an error (undefined) in opa.',
  'bi_encoding_b64_decode/empty': BASE64_WASM + 'base64.decode("") is undefined in ztauthz, "" in opa.',
  'bi_encoding_b64url_decode/empty': BASE64_WASM + 'base64url.decode("") is undefined in ztauthz, "" in opa.',
  'bi_encoding_b64url_decode/yaml': BAD_UTF8,
  'bi_encoding_hex_decode/yaml': BAD_UTF8,
  'bi_encoding_json_marshal/*':
    'json.marshal of an object literal: opa writes keys sorted ({"a":…,"b":…,"c":…}), ztauthz in reverse order of the literal ({"c":…,"b":…,"a":…}). Anything hashed, compared or signed over json.marshal differs. Likely cause (not yet confirmed): OPA\'s native wasm json.marshal writes objects in their hash-table order instead of sorting keys.',
  'bi_encoding_yaml_marshal/*': 'yaml.marshal: opa-wasm\'s JS implementation (src/builtins/yaml.js) indents sequences ("b:\\n  - 1") and keeps insertion order; opa (Go yaml) writes "b:\\n- 1" with sorted keys.',
  'bi_strings_indexof/empty-needle': 'indexof("abc", ""): opa gives undefined (an "empty search character" error, non-strict), ztauthz 0.',
  // --- ztauthz's decision cache (cache.ignore) ---
  'cache:in_time/nanos':
    'Decision cache: request.time is in cache.ignore by default, so with the cache on a policy that reads it gets the answer cached for an earlier request with another time (here the echo of 00:00:00Z). opa-envoy-plugin has no cache. A policy reading an ignored field needs a cache.ignore without it.',
  'cache:in_time/absent': 'Decision cache: as cache:in_time/nanos (a request without time gets the cached answer of one with a time).',
  'cache:in_time/epoch': 'Decision cache: as cache:in_time/nanos.',
  'cache:in_time_rule/night':
    'Decision cache: a business-hours rule on request.time: the night request is ALLOWED from the cached morning decision (request.time is in cache.ignore). A wrong allow.',
  'cache:vol_source_port/low':
    'Decision cache: source.address.socketAddress.portValue is in cache.ignore, so a policy that denies low client ports ALLOWS port 80 from the cached answer for port 40000. The contract is documented (cache.ignore), but nothing at load time warns that the policy reads an ignored field.',
  'cache:vol_request_id/untrusted': 'Decision cache: x-request-id is in cache.ignore, so a policy keyed on it ALLOWS "other-2" from the cached answer for "trusted-1". A wrong allow.',
  'cache:vol_request_id/bad-trace': 'Decision cache: traceparent is in cache.ignore, so a policy that rejects a trace id ALLOWS it from the cached answer. A wrong allow.',
  'cache:vol_any_header/script-in-trace':
    'Decision cache: a WAF-style rule over every header value ALLOWS "<script>" in x-b3-traceid (in cache.ignore) from the cached answer for a clean request, the exact case the README warns about. Static analysis of the policy (it iterates input.attributes.request.http.headers) could catch it at load.',
};
