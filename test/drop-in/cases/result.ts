// The result contract: booleans, result objects and everything they may say,
// the malformed results that must be errors, and the server settings
// (dry-run, skip-request-body-parse) that change answers.
import type { DropInCase } from './types.ts';
import { get, post, req } from './request.ts';

/** A policy whose decision is `result := <expr>`, chosen per request by the x-variant header. */
const variants = (id: string, about: string, results: Record<string, string>, extra = ''): DropInCase => ({
  id,
  about,
  decision: 'result',
  rego: `package PKG

variant := input.attributes.request.http.headers["x-variant"]
${Object.entries(results)
  .map(([k, v]) => `result := ${v} if variant == ${JSON.stringify(k)}`)
  .join('\n')}
${extra}`,
  requests: Object.keys(results).map((k) => ({ name: k, request: get('/r', { 'x-variant': k }) })),
});

export const RESULT_CASES: DropInCase[] = [
  {
    id: 'res_bool',
    about: 'boolean results: true, false, default false',
    rego: `package PKG

default allow := false
allow if input.attributes.request.http.headers["x-ok"] == "yes"
`,
    requests: [
      { name: 'true', request: get('/', { 'x-ok': 'yes' }) },
      { name: 'false', request: get('/', { 'x-ok': 'no' }) },
      { name: 'no-header', request: get('/') },
    ],
  },
  {
    id: 'res_bool_undefined',
    about: 'a boolean rule without a default: undefined is an error',
    rego: `package PKG

allow if input.attributes.request.http.method == "GET"
`,
    requests: [
      { name: 'defined', request: get('/') },
      { name: 'undefined', request: req({ method: 'POST' }) },
    ],
  },
  variants('res_object_allow', 'allowed objects with upstream headers, header removal and response headers', {
    plain: '{"allowed": true}',
    'headers-string': '{"allowed": true, "headers": {"x-user": "alice", "x-tier": "gold"}}',
    'headers-list': '{"allowed": true, "headers": {"x-group": ["a", "b"]}}',
    'headers-array': '{"allowed": true, "headers": [{"x-a": "1"}, {"x-b": "2", "x-a": "3"}]}',
    'headers-empty': '{"allowed": true, "headers": {}}',
    'headers-empty-list': '{"allowed": true, "headers": {"x-none": []}}',
    remove: '{"allowed": true, "request_headers_to_remove": ["authorization", "cookie"]}',
    'remove-empty': '{"allowed": true, "request_headers_to_remove": []}',
    'response-headers': '{"allowed": true, "response_headers_to_add": {"x-served-by": "authz", "set-cookie": ["a=1", "b=2"]}}',
    'response-headers-array': '{"allowed": true, "response_headers_to_add": [{"x-a": "1"}, {"x-b": "2"}]}',
    all: '{"allowed": true, "headers": {"x-u": "u"}, "request_headers_to_remove": ["x-secret"], "response_headers_to_add": {"x-r": "r"}}',
    'allow-with-body': '{"allowed": true, "body": "ignored?", "http_status": 401}',
    'unknown-field': '{"allowed": true, "foo": "bar"}',
  }),
  variants('res_object_query', 'query_parameters_to_set and query_parameters_to_remove', {
    set: '{"allowed": true, "query_parameters_to_set": {"tenant": "acme"}}',
    'set-list': '{"allowed": true, "query_parameters_to_set": {"tag": ["a", "b"]}}',
    'set-array': '{"allowed": true, "query_parameters_to_set": [{"a": "1"}]}',
    remove: '{"allowed": true, "query_parameters_to_remove": ["debug", "token"]}',
    both: '{"allowed": true, "query_parameters_to_set": {"x": "1"}, "query_parameters_to_remove": ["y"]}',
    'set-on-deny': '{"allowed": false, "query_parameters_to_set": {"x": "1"}}',
  }),
  variants('res_object_deny', 'denials with status, body and headers', {
    plain: '{"allowed": false}',
    body: '{"allowed": false, "body": "go away"}',
    'status-401': '{"allowed": false, "http_status": 401}',
    'status-401-float': '{"allowed": false, "http_status": 401.0}',
    'status-429-headers': '{"allowed": false, "http_status": 429, "headers": {"retry-after": "30"}, "body": "slow down"}',
    'status-302': '{"allowed": false, "http_status": 302, "headers": {"location": "https://login.example/"}}',
    'status-500': '{"allowed": false, "http_status": 500}',
    'status-200': '{"allowed": false, "http_status": 200}',
    'header-list': '{"allowed": false, "headers": {"www-authenticate": ["Bearer", "Basic"]}}',
    'json-body': '{"allowed": false, "body": json.marshal({"error": "denied", "code": 7}), "headers": {"content-type": "application/json"}}',
    'deny-with-removal': '{"allowed": false, "request_headers_to_remove": ["x"], "response_headers_to_add": {"x-r": "1"}}',
  }),
  variants('res_object_invalid', 'results that break the contract', {
    'no-allowed': '{"headers": {"x": "1"}}',
    'allowed-string': '{"allowed": "true"}',
    'allowed-number': '{"allowed": 1}',
    'status-string': '{"allowed": false, "http_status": "401"}',
    'status-unknown': '{"allowed": false, "http_status": 999}',
    'status-fraction': '{"allowed": false, "http_status": 401.5}',
    'status-zero': '{"allowed": false, "http_status": 0}',
    'body-number': '{"allowed": false, "body": 42}',
    'headers-number': '{"allowed": true, "headers": {"x-n": 5}}',
    'headers-string': '{"allowed": true, "headers": "x-a: 1"}',
    'remove-string': '{"allowed": true, "request_headers_to_remove": "authorization"}',
    'remove-numbers': '{"allowed": true, "request_headers_to_remove": [1, 2]}',
    'metadata-string': '{"allowed": true, "dynamic_metadata": "x"}',
    'query-set-number': '{"allowed": true, "query_parameters_to_set": {"a": 1}}',
    'string-result': '"allow"',
    'number-result': '1',
    'array-result': '[true]',
    'null-result': 'null',
  }),
  variants('res_dynamic_metadata', 'dynamic_metadata on allow and deny', {
    allow: '{"allowed": true, "dynamic_metadata": {"user": "alice", "n": 3, "f": 1.5, "ok": true, "nil": null, "list": [1, "a"], "obj": {"k": {"d": 1}}}}',
    deny: '{"allowed": false, "dynamic_metadata": {"reason": "no-role"}}',
    empty: '{"allowed": true, "dynamic_metadata": {}}',
    'own-decision-id': '{"allowed": true, "dynamic_metadata": {"decision_id": "mine", "x": 1}}',
    'big-number': '{"allowed": true, "dynamic_metadata": {"big": 12345678901234567890, "neg": -0.000001}}',
  }),
  {
    id: 'res_conflict',
    about: 'complete rules with conflicting values are an evaluation error',
    rego: `package PKG

allow := true if input.attributes.request.http.headers["x-a"]
allow := false if input.attributes.request.http.headers["x-b"]
`,
    requests: [
      { name: 'one', request: get('/', { 'x-a': '1' }) },
      { name: 'other', request: get('/', { 'x-b': '1' }) },
      { name: 'conflict', request: get('/', { 'x-a': '1', 'x-b': '1' }) },
      { name: 'neither', request: get('/') },
    ],
  },
  {
    id: 'res_partial_set',
    about: 'a partial set at the decision path',
    decision: 'allow',
    rego: `package PKG

allow contains "x" if input.attributes.request.http.headers["x-a"]
`,
    requests: [
      { name: 'member', request: get('/', { 'x-a': '1' }) },
      { name: 'empty-set', request: get('/') },
    ],
  },
  {
    id: 'res_eval_error',
    about: 'runtime errors: division by zero, a builtin type error, object.get on a non-object',
    decision: 'result',
    rego: `package PKG

h := input.attributes.request.http.headers
n := to_number(h["x-n"])
result := {"allowed": true, "dynamic_metadata": {"q": 10 / n}} if h["x-op"] == "div"
result := {"allowed": true, "dynamic_metadata": {"u": upper(json.unmarshal(h["x-n"]))}} if h["x-op"] == "upper-number"
result := {"allowed": count(h["x-list"]) > 2} if h["x-op"] == "count"
`,
    requests: [
      { name: 'div-ok', request: get('/', { 'x-op': 'div', 'x-n': '4' }) },
      { name: 'div-zero', request: get('/', { 'x-op': 'div', 'x-n': '0' }) },
      { name: 'to-number-bad', request: get('/', { 'x-op': 'div', 'x-n': 'abc' }) },
      { name: 'upper-number', request: get('/', { 'x-op': 'upper-number', 'x-n': '1' }) },
      { name: 'count-string', request: get('/', { 'x-op': 'count', 'x-list': 'abcd' }) },
    ],
  },
  {
    id: 'res_with_else',
    about: 'else chains building the result (tutorial style)',
    decision: 'result',
    rego: `package PKG

default result := {"allowed": false, "http_status": 403, "body": "forbidden"}
result := {"allowed": true, "headers": {"x-role": role}} if role
result := {"allowed": false, "http_status": 401, "body": "no token", "headers": {"www-authenticate": "Bearer"}} if not input.attributes.request.http.headers.authorization

role := "admin" if input.attributes.request.http.headers.authorization == "Bearer admin"
else := "reader" if startswith(input.attributes.request.http.headers.authorization, "Bearer ")
`,
    requests: [
      { name: 'admin', request: get('/', { authorization: 'Bearer admin' }) },
      { name: 'reader', request: get('/', { authorization: 'Bearer x' }) },
      { name: 'basic', request: get('/', { authorization: 'Basic eDp5' }) },
      { name: 'none', request: get('/') },
    ],
  },
  {
    id: 'res_header_values',
    about: 'header values from input: unicode, empty, long, with commas',
    decision: 'result',
    rego: `package PKG

v := input.attributes.request.http.headers["x-v"]
result := {"allowed": true, "headers": {"x-echo": v}, "response_headers_to_add": {"x-echo": v}}
`,
    requests: [
      { name: 'ascii', request: get('/', { 'x-v': 'hello' }) },
      { name: 'unicode', request: get('/', { 'x-v': 'Zoë ☃' }) },
      { name: 'empty', request: get('/', { 'x-v': '' }) },
      { name: 'commas', request: get('/', { 'x-v': 'a, b ,c' }) },
      { name: 'long', request: get('/', { 'x-v': 'x'.repeat(2000) }) },
    ],
  },
  // --- server settings ---
  {
    id: 'cfg_dry_run',
    about: 'dry-run: denials and errors answered as OK',
    group: 'dry_run',
    config: { dryRun: true },
    decision: 'result',
    rego: `package PKG

v := input.attributes.request.http.headers["x-v"]
result := {"allowed": true, "headers": {"x-a": "1"}} if v == "allow"
result := {"allowed": false, "http_status": 401, "body": "no", "headers": {"x-d": "1"}} if v == "deny"
result := {"allowed": false} if v == "deny-plain"
result := {"nope": 1} if v == "invalid"
result := 1 / 0 if v == "error"
`,
    requests: [
      { name: 'allow', request: get('/', { 'x-v': 'allow' }) },
      { name: 'deny', request: get('/', { 'x-v': 'deny' }) },
      { name: 'deny-plain', request: get('/', { 'x-v': 'deny-plain' }) },
      { name: 'invalid', request: get('/', { 'x-v': 'invalid' }) },
      { name: 'error', request: get('/', { 'x-v': 'error' }) },
      { name: 'undefined', request: get('/', { 'x-v': 'other' }) },
      { name: 'bad-json-body', request: post('/', '{"a"', 'application/json', { 'x-v': 'allow' }) },
      { name: 'bad-path', request: get('//a/../b', { 'x-v': 'deny' }) },
    ],
  },
  {
    id: 'cfg_dry_run_bool',
    about: 'dry-run with a boolean policy',
    group: 'dry_run',
    config: { dryRun: true },
    rego: `package PKG

default allow := false
allow if input.attributes.request.http.method == "GET"
`,
    requests: [
      { name: 'get', request: get('/') },
      { name: 'post', request: req({ method: 'POST' }) },
    ],
  },
  {
    id: 'cfg_skip_body',
    about: 'skip-request-body-parse: parsed_body and truncated_body absent, bodies never refused',
    group: 'skip_body',
    config: { skipBodyParse: true },
    decision: 'result',
    rego: `package PKG

result := {"allowed": true, "dynamic_metadata": {"keys": sort(object.keys(input)), "body": object.get(input.attributes.request.http, "body", null)}}
`,
    requests: [
      { name: 'json', request: post('/s', '{"a":1}', 'application/json') },
      { name: 'bad-json', request: post('/s', '{"a":', 'application/json') },
      { name: 'truncated', request: post('/s', '{"a":1}', 'application/json', { 'x-envoy-auth-partial-body': 'true' }) },
      { name: 'multipart-no-boundary', request: post('/s', 'x', 'multipart/form-data') },
      { name: 'no-body', request: get('/s') },
    ],
  },
  {
    id: 'cfg_skip_body_rule',
    about: 'skip-request-body-parse with a policy that reads parsed_body',
    group: 'skip_body',
    config: { skipBodyParse: true },
    rego: `package PKG

default allow := false
allow if input.parsed_body.ok == true
allow if not input.parsed_body
`,
    requests: [
      { name: 'json-ok', request: post('/s', '{"ok":true}', 'application/json') },
      { name: 'get', request: get('/s') },
    ],
  },
];
