// Whole policies in the styles users run on opa-envoy-plugin (OPA's Envoy and
// Istio tutorials, gRPC services behind Envoy, data-driven multi-tenant rules,
// an AI gateway), each with the requests that exercise its branches. The
// project's own policies: facts from the tutorials, not their code.
import type { DropInCase } from './types.ts';
import { get, jwtOf, post, req } from './request.ts';
import { token } from '../../support/builtins-keys.ts';

const FAR = 4102444800; // 2100-01-01
const bearer = (claims: object) => `Bearer ${token({ alg: 'HS256', typ: 'JWT' }, claims, 'tutorial-secret')}`;
const guest = bearer({ sub: 'bob', role: 'guest', nbf: 1600000000, exp: FAR });
const admin = bearer({ sub: 'alice', role: 'admin', nbf: 1600000000, exp: FAR });
const expired = bearer({ sub: 'alice', role: 'admin', nbf: 1600000000, exp: 1700000000 });
const forged = `Bearer ${token({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', role: 'admin', nbf: 1600000000, exp: FAR }, 'wrong-secret')}`;

/** A gRPC message as Envoy forwards it with pack_as_bytes: 5-byte frame header, then the protobuf. */
const grpcFrame = (msg: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
const grpcCall = (path: string, msg: Buffer, headers: Record<string, string> = {}) =>
  req({ method: 'POST', path, protocol: 'HTTP/2', rawBody: grpcFrame(msg), headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers } });

export const TUTORIAL_CASES: DropInCase[] = [
  {
    id: 'tut_jwt_rbac',
    about: 'JWT RBAC: decode_verify with a shared secret, validity against the clock, method/path/role rules, a body check',
    group: 'clock',
    rego: `package PKG

default allow := false

allow if {
  token_ok
  permitted
}

bearer := t if {
  [scheme, t] := split(input.attributes.request.http.headers.authorization, " ")
  scheme == "Bearer"
}

claims := payload if {
  [verified, _, payload] := io.jwt.decode_verify(bearer, {"secret": "tutorial-secret"})
  verified
}

token_ok if {
  now := time.now_ns() / 1000000000
  claims.nbf <= now
  now < claims.exp
}

permitted if {
  input.attributes.request.http.method == "GET"
  claims.role in {"guest", "admin"}
  glob.match("/people*", ["/"], input.parsed_path[0])
}

permitted if {
  input.attributes.request.http.method == "POST"
  claims.role == "admin"
  input.parsed_path == ["people"]
  lower(input.parsed_body.firstname) != claims.sub
}
`,
    requests: [
      { name: 'guest-reads', request: get('/people', { authorization: guest }) },
      { name: 'guest-reads-one', request: get('/people/7', { authorization: guest }) },
      { name: 'guest-creates', request: post('/people', '{"firstname":"Carol"}', 'application/json', { authorization: guest }) },
      { name: 'admin-creates', request: post('/people', '{"firstname":"Carol"}', 'application/json', { authorization: admin }) },
      { name: 'admin-creates-self', request: post('/people', '{"firstname":"ALICE"}', 'application/json', { authorization: admin }) },
      { name: 'admin-deletes', request: req({ method: 'DELETE', path: '/people/7', headers: { authorization: admin } }) },
      { name: 'expired', request: get('/people', { authorization: expired }) },
      { name: 'forged', request: get('/people', { authorization: forged }) },
      { name: 'basic-auth', request: get('/people', { authorization: 'Basic YWxpY2U6cHc=' }) },
      { name: 'no-token', request: get('/people') },
    ],
  },
  {
    id: 'tut_jwt_decode_only',
    about: 'a token Envoy jwt_authn already verified: decoded only, claims into headers for the upstream',
    decision: 'result',
    rego: `package PKG

default result := {"allowed": false, "http_status": 401, "body": "missing token", "headers": {"www-authenticate": "Bearer realm=\\"api\\""}}

token := io.jwt.decode(trim_prefix(input.attributes.request.http.headers.authorization, "Bearer "))

result := {
  "allowed": true,
  "headers": {"x-user": token[1].sub, "x-groups": concat(",", token[1].groups)},
  "request_headers_to_remove": ["authorization"],
} if "readers" in token[1].groups

result := {"allowed": false, "http_status": 403, "body": sprintf("user %s may not read", [token[1].sub])} if {
  not "readers" in token[1].groups
}
`,
    requests: [
      { name: 'reader', request: get('/doc', { authorization: `Bearer ${jwtOf({ alg: 'RS256' }, { sub: 'ann', groups: ['readers', 'staff'] })}` }) },
      { name: 'not-reader', request: get('/doc', { authorization: `Bearer ${jwtOf({ alg: 'RS256' }, { sub: 'ben', groups: ['staff'] })}` }) },
      { name: 'no-groups', request: get('/doc', { authorization: `Bearer ${jwtOf({ alg: 'RS256' }, { sub: 'cy', groups: [] })}` }) },
      { name: 'missing', request: get('/doc') },
    ],
  },
  {
    id: 'tut_malformed_token',
    about: 'the common decode-only rule with a default deny, fed tokens that do not decode',
    rego: `package PKG

default allow := false
allow if {
  [_, payload, _] := io.jwt.decode(trim_prefix(input.attributes.request.http.headers.authorization, "Bearer "))
  payload.role == "admin"
}
`,
    requests: [
      { name: 'admin', request: get('/', { authorization: `Bearer ${jwtOf({ alg: 'none' }, { role: 'admin' })}` }) },
      { name: 'user', request: get('/', { authorization: `Bearer ${jwtOf({ alg: 'none' }, { role: 'user' })}` }) },
      { name: 'garbage', request: get('/', { authorization: 'Bearer garbage' }) },
      { name: 'not-json', request: get('/', { authorization: 'Bearer eyJh.eyJh.c2ln' }) },
      { name: 'no-header', request: get('/') },
    ],
  },
  {
    id: 'tut_istio_custom',
    about: 'Istio CUSTOM provider sample: a header decides, the check result goes back as headers',
    decision: 'result',
    rego: `package PKG

allowed_by_header if input.attributes.request.http.headers["x-ext-authz"] == "allow"

result := {"allowed": true, "headers": {"x-ext-authz-check-result": "allowed"}} if allowed_by_header

result := {
  "allowed": false,
  "http_status": 403,
  "headers": {"x-ext-authz-check-result": "denied"},
  "body": "denied by ext_authz for not found header \`x-ext-authz: allow\` in the request",
} if not allowed_by_header
`,
    requests: [
      { name: 'allow', request: get('/headers', { 'x-ext-authz': 'allow' }) },
      { name: 'deny-value', request: get('/headers', { 'x-ext-authz': 'deny' }) },
      { name: 'deny-missing', request: get('/headers') },
      { name: 'principal', request: get('/ip', { 'x-ext-authz': 'allow' }, { sourcePrincipal: 'spiffe://cluster.local/ns/foo/sa/sleep' }) },
    ],
  },
  {
    id: 'tut_grpc_service',
    about: 'a gRPC service behind Envoy: method from the path, raw protobuf body, HTTP/2',
    decision: 'result',
    data: { methods: { 'helloworld.Greeter': ['SayHello'], 'admin.Ops': [] } },
    rego: `package PKG

service := input.parsed_path[0]
method := input.parsed_path[1]

default result := {"allowed": false, "http_status": 403}
result := {"allowed": true, "dynamic_metadata": {"service": service, "method": method, "body": object.get(input, "parsed_body", "ABSENT"), "raw": input.attributes.request.http.rawBody}} if {
  method in data.PKG.methods[service]
  input.attributes.request.http.headers["content-type"] == "application/grpc"
}
`,
    requests: [
      { name: 'say-hello', request: grpcCall('/helloworld.Greeter/SayHello', Buffer.from([0x0a, 0x03, 0x42, 0x6f, 0x62])) },
      { name: 'say-goodbye', request: grpcCall('/helloworld.Greeter/SayGoodbye', Buffer.from([0x0a, 0x00])) },
      { name: 'admin', request: grpcCall('/admin.Ops/Drain', Buffer.alloc(0)) },
      {
        name: 'grpc-web',
        request: grpcCall('/helloworld.Greeter/SayHello', Buffer.from([0x0a, 0x01, 0x41]), { 'content-type': 'application/grpc-web+proto' }),
      },
    ],
  },
  {
    id: 'tut_deny_messages',
    about: 'deny rules collecting messages, the result built from them',
    decision: 'result',
    rego: `package PKG

deny contains "https required" if input.attributes.request.http.headers["x-forwarded-proto"] != "https"
deny contains "bad user agent" if contains(lower(object.get(input.attributes.request.http.headers, "user-agent", "")), "sqlmap")
deny contains sprintf("method %s not allowed", [input.attributes.request.http.method]) if not input.attributes.request.http.method in {"GET", "POST"}
deny contains "body too large" if to_number(object.get(input.attributes.request.http.headers, "content-length", "0")) > 1024

result := {"allowed": count(deny) == 0, "body": concat("; ", sort(deny)), "http_status": 400}
`,
    requests: [
      { name: 'clean', request: get('/', { 'x-forwarded-proto': 'https' }) },
      { name: 'http', request: get('/', { 'x-forwarded-proto': 'http' }) },
      { name: 'many', request: req({ method: 'PUT', headers: { 'x-forwarded-proto': 'http', 'user-agent': 'SQLMap/1.0', 'content-length': '5000' } }) },
      { name: 'no-proto-header', request: get('/') },
    ],
  },
  {
    id: 'tut_tenants',
    about: 'data-driven multi-tenant routing with glob paths and per-tenant headers',
    decision: 'result',
    data: {
      tenants: {
        acme: { paths: ['/api/acme/**', '/public/*'], plan: 'gold', hosts: ['acme.example.com'] },
        globex: { paths: ['/api/globex/*'], plan: 'free', hosts: ['globex.example.com', '*.globex.example.com'] },
      },
    },
    rego: `package PKG

tenant := data.PKG.tenants[input.attributes.request.http.headers["x-tenant"]]

host_ok if {
  some pattern in tenant.hosts
  glob.match(pattern, ["."], input.attributes.request.http.host)
}

path_ok if {
  some pattern in tenant.paths
  glob.match(pattern, ["/"], split(input.attributes.request.http.path, "?")[0])
}

default result := {"allowed": false, "http_status": 404, "body": "no such tenant route"}
result := {"allowed": true, "headers": {"x-plan": tenant.plan}, "response_headers_to_add": {"x-tenant-plan": tenant.plan}} if {
  host_ok
  path_ok
}
`,
    requests: [
      { name: 'acme-deep', request: req({ path: '/api/acme/a/b/c', host: 'acme.example.com', headers: { 'x-tenant': 'acme' } }) },
      { name: 'acme-public', request: req({ path: '/public/logo.png?v=2', host: 'acme.example.com', headers: { 'x-tenant': 'acme' } }) },
      { name: 'acme-public-deep', request: req({ path: '/public/a/b', host: 'acme.example.com', headers: { 'x-tenant': 'acme' } }) },
      { name: 'globex-sub', request: req({ path: '/api/globex/x', host: 'eu.globex.example.com', headers: { 'x-tenant': 'globex' } }) },
      { name: 'globex-deep', request: req({ path: '/api/globex/x/y', host: 'globex.example.com', headers: { 'x-tenant': 'globex' } }) },
      { name: 'wrong-host', request: req({ path: '/api/acme/x', host: 'evil.example.com', headers: { 'x-tenant': 'acme' } }) },
      { name: 'unknown-tenant', request: req({ path: '/api/acme/x', host: 'acme.example.com', headers: { 'x-tenant': 'initech' } }) },
      { name: 'host-with-port', request: req({ path: '/api/acme/x', host: 'acme.example.com:443', headers: { 'x-tenant': 'acme' } }) },
    ],
  },
  {
    id: 'tut_query_rewrite',
    about: 'rewriting the upstream query: tenant pinned, debug parameters stripped',
    decision: 'result',
    rego: `package PKG

tenant := input.attributes.request.http.headers["x-tenant"]
debug_params := {k | some k, _ in input.parsed_query; startswith(k, "debug")}

result := {
  "allowed": true,
  "query_parameters_to_set": {"tenant": tenant},
  "query_parameters_to_remove": sort(debug_params),
} if tenant

default result := {"allowed": false, "http_status": 400, "body": "x-tenant required"}
`,
    requests: [
      { name: 'plain', request: get('/search?q=x', { 'x-tenant': 't1' }) },
      { name: 'debug', request: get('/search?q=x&debug=1&debug_sql=on', { 'x-tenant': 't1' }) },
      { name: 'spoofed-tenant', request: get('/search?tenant=t2', { 'x-tenant': 't1' }) },
      { name: 'no-tenant', request: get('/search?q=x') },
    ],
  },
  {
    id: 'tut_ai_gateway',
    about: 'an AI gateway: model allow-list per caller from the JSON body, token budget header',
    decision: 'result',
    data: {
      callers: {
        'spiffe://cluster.local/ns/web/sa/frontend': { models: ['gpt-small', 'llama-3-8b'], max_tokens: 1024 },
        'spiffe://cluster.local/ns/ml/sa/batch': { models: ['llama-3-70b'], max_tokens: 8192 },
      },
    },
    rego: `package PKG

caller := data.PKG.callers[input.attributes.source.principal]
model := input.parsed_body.model

default result := {"allowed": false, "http_status": 403, "body": "model not allowed"}
result := {"allowed": true, "headers": {"x-model": model, "x-max-tokens": format_int(caller.max_tokens, 10)}} if {
  input.attributes.request.http.method == "POST"
  input.parsed_path == ["v1", "chat", "completions"]
  model in caller.models
  object.get(input.parsed_body, "max_tokens", 0) <= caller.max_tokens
}
result := {"allowed": false, "http_status": 413, "body": "max_tokens over budget"} if {
  model in caller.models
  input.parsed_body.max_tokens > caller.max_tokens
}
`,
    requests: [
      {
        name: 'frontend-small',
        request: post(
          '/v1/chat/completions',
          '{"model":"gpt-small","messages":[{"role":"user","content":"hi"}]}',
          'application/json',
          {},
          { sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' },
        ),
      },
      {
        name: 'frontend-big-model',
        request: post(
          '/v1/chat/completions',
          '{"model":"llama-3-70b"}',
          'application/json',
          {},
          { sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' },
        ),
      },
      {
        name: 'frontend-over-budget',
        request: post(
          '/v1/chat/completions',
          '{"model":"gpt-small","max_tokens":4096}',
          'application/json',
          {},
          { sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' },
        ),
      },
      {
        name: 'batch',
        request: post(
          '/v1/chat/completions',
          '{"model":"llama-3-70b","max_tokens":8000}',
          'application/json',
          {},
          { sourcePrincipal: 'spiffe://cluster.local/ns/ml/sa/batch' },
        ),
      },
      {
        name: 'unknown-caller',
        request: post('/v1/chat/completions', '{"model":"gpt-small"}', 'application/json', {}, { sourcePrincipal: 'spiffe://cluster.local/ns/x/sa/y' }),
      },
      {
        name: 'kserve-path',
        request: post('/v2/models/fraud/infer', '{"inputs":[]}', 'application/json', {}, { sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' }),
      },
      {
        name: 'no-body',
        request: req(
          { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } },
          { sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' },
        ),
      },
    ],
  },
  {
    id: 'tut_repeated_headers',
    about: 'headers Envoy joined with "," split back into lists; cookies',
    decision: 'result',
    rego: `package PKG

h := input.attributes.request.http.headers
forwarded := [trim_space(x) | some x in split(object.get(h, "x-forwarded-for", ""), ",")]
cookies := {k: v | some pair in split(object.get(h, "cookie", ""), ";"); [k, v] := split(trim_space(pair), "=")}

default result := {"allowed": false}
result := {"allowed": true, "dynamic_metadata": {"hops": count(forwarded), "client": forwarded[0], "session": cookies.session}} if {
  count(forwarded) <= 3
  cookies.session
}
`,
    requests: [
      { name: 'one-hop', request: get('/', { 'x-forwarded-for': '203.0.113.7', cookie: 'session=abc; theme=dark' }) },
      { name: 'three-hops', request: get('/', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1, 10.0.0.2', cookie: 'session=xyz' }) },
      { name: 'four-hops', request: get('/', { 'x-forwarded-for': 'a, b, c, d', cookie: 'session=xyz' }) },
      { name: 'no-session', request: get('/', { 'x-forwarded-for': '203.0.113.7', cookie: 'theme=dark' }) },
    ],
  },
  {
    id: 'tut_method_path_table',
    about: 'an allow table of method and path patterns in data, with regex paths',
    data: {
      rules: [
        { method: 'GET', path: '^/api/v[0-9]+/items(/[0-9]+)?$' },
        { method: 'POST', path: '^/api/v1/items$' },
        { method: '*', path: '^/healthz$' },
      ],
    },
    rego: `package PKG

default allow := false
allow if {
  some rule in data.PKG.rules
  rule.method in {"*", input.attributes.request.http.method}
  regex.match(rule.path, split(input.attributes.request.http.path, "?")[0])
}
`,
    requests: [
      { name: 'list', request: get('/api/v2/items') },
      { name: 'one', request: get('/api/v1/items/42?x=1') },
      { name: 'bad-id', request: get('/api/v1/items/abc') },
      { name: 'create', request: req({ method: 'POST', path: '/api/v1/items' }) },
      { name: 'create-v2', request: req({ method: 'POST', path: '/api/v2/items' }) },
      { name: 'health-delete', request: req({ method: 'DELETE', path: '/healthz' }) },
    ],
  },
];
