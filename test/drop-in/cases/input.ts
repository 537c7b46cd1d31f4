// The input contract: each policy hands a part of its input back in
// dynamic_metadata (any JSON object), so the two inputs are compared field by
// field, and decides on it, as policies written for opa-envoy-plugin do.
import type { DropInCase } from './types.ts';
import { get, metadata, post, req } from './request.ts';
import { Pki, envoyLegacyUrlEncode } from '../../support/pki.ts';

/** An X509-SVID and a plain certificate, URL-encoded as Envoy forwards source.certificate. */
const certs = (() => {
  const pki = new Pki();
  try {
    const ca = pki.ca('cluster.local');
    return {
      svid: envoyLegacyUrlEncode(pki.leaf(ca, { uris: ['spiffe://cluster.local/ns/web/sa/frontend'] })),
      dnsOnly: envoyLegacyUrlEncode(pki.leaf(ca, { uris: [], dns: ['web.example.com'] })),
    };
  } finally {
    pki.cleanup();
  }
})();

/** A policy that allows and echoes `expr` as dynamic_metadata.v. */
const echo = (expr: string, extra = ''): string => `package PKG

result := {"allowed": true, "dynamic_metadata": {"v": v}}
v := ${expr}
${extra}`;

export const INPUT_CASES: DropInCase[] = [
  {
    id: 'in_method',
    about: 'attributes.request.http.method',
    rego: `package PKG

default allow := false
allow if input.attributes.request.http.method in {"GET", "HEAD"}
`,
    requests: [
      { name: 'get', request: req({ method: 'GET' }) },
      { name: 'head', request: req({ method: 'HEAD' }) },
      { name: 'post', request: req({ method: 'POST' }) },
      { name: 'lowercase-get', request: req({ method: 'get' }) },
      { name: 'delete', request: req({ method: 'DELETE', path: '/x' }) },
    ],
  },
  {
    id: 'in_method_echo',
    about: 'method, scheme, protocol, host as the policy sees them',
    decision: 'result',
    rego: echo('[h.method, h.scheme, h.protocol, h.host]', 'h := input.attributes.request.http'),
    requests: [
      { name: 'http11', request: req({ method: 'PUT', scheme: 'http', protocol: 'HTTP/1.1', host: 'a.example' }) },
      { name: 'h2', request: req({ method: 'PATCH', scheme: 'https', protocol: 'HTTP/2', host: 'B.Example:8443' }) },
      { name: 'h3', request: req({ method: 'OPTIONS', scheme: 'https', protocol: 'HTTP/3', host: 'c.example.' }) },
    ],
  },
  {
    id: 'in_path_raw',
    about: 'attributes.request.http.path, raw with its query',
    decision: 'result',
    rego: echo('input.attributes.request.http.path'),
    requests: [
      { name: 'root', request: get('/') },
      { name: 'query', request: get('/api/v1/items?limit=10&sort=name') },
      { name: 'encoded', request: get('/files/a%20b.txt') },
      { name: 'trailing-slash', request: get('/api/') },
      { name: 'plus', request: get('/search?q=a+b') },
    ],
  },
  {
    id: 'in_parsed_path',
    about: 'parsed_path',
    decision: 'result',
    rego: echo('input.parsed_path'),
    requests: [
      { name: 'root', request: get('/') },
      { name: 'one', request: get('/people') },
      { name: 'two-with-query', request: get('/people/42?x=1') },
      { name: 'trailing-slash', request: get('/people/') },
      { name: 'percent-space', request: get('/files/a%20b') },
      { name: 'percent-unreserved', request: get('/%7Euser/docs') },
      { name: 'utf8-escape', request: get('/caf%C3%A9') },
      { name: 'double-slash', request: get('//admin/x') },
      { name: 'dot-segment', request: get('/a/../admin') },
      { name: 'encoded-slash', request: get('/a%2Fb') },
      { name: 'semicolon', request: get('/a;b=c/d') },
      { name: 'no-leading-slash', request: req({ path: 'relative/x' }) },
      { name: 'empty', request: req({ path: '' }) },
      { name: 'fragment', request: get('/a#frag') },
    ],
  },
  {
    id: 'in_parsed_path_rules',
    about: 'routing on parsed_path the way the tutorials do',
    rego: `package PKG

default allow := false
allow if input.parsed_path == ["health"]
allow if {
  input.parsed_path[0] == "api"
  input.parsed_path[1] == "v1"
  count(input.parsed_path) <= 4
}
allow if {
  ["users", id] = input.parsed_path
  id == input.attributes.request.http.headers["x-user-id"]
}
`,
    requests: [
      { name: 'health', request: get('/health') },
      { name: 'api', request: get('/api/v1/things/1') },
      { name: 'api-too-deep', request: get('/api/v1/a/b/c') },
      { name: 'own-user', request: get('/users/7', { 'x-user-id': '7' }) },
      { name: 'other-user', request: get('/users/8', { 'x-user-id': '7' }) },
      { name: 'nothing', request: get('/admin') },
    ],
  },
  {
    id: 'in_parsed_query',
    about: 'parsed_query',
    decision: 'result',
    rego: echo('input.parsed_query'),
    requests: [
      { name: 'none', request: get('/p') },
      { name: 'empty-after-mark', request: get('/p?') },
      { name: 'one', request: get('/p?a=1') },
      { name: 'repeated', request: get('/p?a=1&a=2&b=3') },
      { name: 'no-value', request: get('/p?flag') },
      { name: 'empty-value', request: get('/p?flag=') },
      { name: 'plus-and-escape', request: get('/p?q=a+b%26c&r=%2F') },
      { name: 'semicolon', request: get('/p?a=1;b=2') },
      { name: 'bad-escape', request: get('/p?a=%zz&b=2') },
      { name: 'utf8', request: get('/p?name=%C3%A9t%C3%A9') },
    ],
  },
  {
    id: 'in_query_rules',
    about: 'deciding on parsed_query',
    rego: `package PKG

default allow := false
allow if {
  input.parsed_query.token == ["s3cret"]
  not input.parsed_query.debug
}
`,
    requests: [
      { name: 'token', request: get('/x?token=s3cret') },
      { name: 'token-debug', request: get('/x?token=s3cret&debug=1') },
      { name: 'two-tokens', request: get('/x?token=s3cret&token=other') },
      { name: 'no-token', request: get('/x') },
    ],
  },
  {
    id: 'in_headers',
    about: 'headers: present, absent, case, repeated (joined by Envoy)',
    decision: 'result',
    rego: echo(
      '[object.get(hs, "x-a", "ABSENT"), object.get(hs, "X-A", "ABSENT"), object.get(hs, "x-multi", "ABSENT"), count(hs)]',
      'hs := object.get(input.attributes.request.http, "headers", {})',
    ),
    requests: [
      { name: 'present', request: get('/', { 'x-a': 'one' }) },
      { name: 'absent', request: get('/') },
      { name: 'repeated-joined', request: get('/', { 'x-multi': 'a,b', 'x-a': '' }) },
      { name: 'no-headers-at-all', request: req({ rawHeaders: null }) },
      { name: 'only-pseudo', request: req({ rawHeaders: { ':method': 'GET', ':path': '/' } }) },
    ],
  },
  {
    id: 'in_headers_all',
    about: 'the whole headers map',
    decision: 'result',
    rego: echo('object.get(input.attributes.request.http, "headers", null)'),
    requests: [
      { name: 'typical', request: get('/a', { 'user-agent': 'curl/8', accept: '*/*', 'x-request-id': 'r-1' }) },
      { name: 'none', request: req({ rawHeaders: null }) },
      { name: 'empty-value', request: get('/a', { 'x-empty': '' }) },
      { name: 'utf8-value', request: get('/a', { 'x-name': 'Zoë' }) },
    ],
  },
  {
    id: 'in_header_map',
    about: 'headers sent as headerMap (Envoy encode_raw_headers)',
    decision: 'result',
    rego: echo('[object.get(h, "headers", null), object.get(h, "headerMap", null)]', 'h := input.attributes.request.http'),
    requests: [
      {
        name: 'single',
        request: req({
          rawHeaders: null,
          headerMap: [
            [':method', 'GET'],
            ['x-a', '1'],
          ],
        }),
      },
      {
        name: 'repeated',
        request: req({
          rawHeaders: null,
          headerMap: [
            ['x-a', '1'],
            ['x-a', '2'],
            ['cookie', 'a=1'],
            ['cookie', 'b=2'],
          ],
        }),
      },
    ],
  },
  {
    id: 'in_header_auth',
    about: 'an API key header, the header-check tutorial shape',
    data: { keys: { 'k-alice': 'alice', 'k-bob': 'bob' } },
    rego: `package PKG

default allow := false
user := data.PKG.keys[input.attributes.request.http.headers["x-api-key"]]
allow if {
  user
  input.attributes.request.http.method == "GET"
}
allow if user == "alice"
`,
    requests: [
      { name: 'alice-get', request: get('/', { 'x-api-key': 'k-alice' }) },
      { name: 'alice-post', request: req({ method: 'POST', headers: { 'x-api-key': 'k-alice' } }) },
      { name: 'bob-get', request: get('/', { 'x-api-key': 'k-bob' }) },
      { name: 'bob-post', request: req({ method: 'POST', headers: { 'x-api-key': 'k-bob' } }) },
      { name: 'unknown', request: get('/', { 'x-api-key': 'k-eve' }) },
      { name: 'missing', request: get('/') },
      { name: 'uppercase-name', request: get('/', { 'X-API-KEY': 'k-alice' }) },
    ],
  },
  {
    id: 'in_body',
    about: 'body, size and rawBody as the policy sees them',
    decision: 'result',
    rego: echo('[object.get(h, "body", "NOBODY"), object.get(h, "size", "NOSIZE"), object.get(h, "rawBody", "NORAW")]', 'h := input.attributes.request.http'),
    requests: [
      { name: 'text', request: post('/b', 'hello', 'text/plain') },
      { name: 'none', request: req({ method: 'POST' }) },
      { name: 'raw', request: req({ method: 'POST', rawBody: Buffer.from([0, 1, 2, 255]), size: 4 }) },
      { name: 'raw-text', request: req({ method: 'POST', rawBody: Buffer.from('{"a":1}'), headers: { 'content-type': 'application/json' } }) },
      { name: 'empty-string', request: req({ method: 'POST', body: '' }) },
      { name: 'size-only', request: req({ method: 'POST', size: 1234 }) },
    ],
  },
  {
    id: 'in_parsed_body_json',
    about: 'parsed_body from JSON bodies',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      { name: 'object', request: post('/j', '{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}', 'application/json') },
      { name: 'array', request: post('/j', '[1,2,3]', 'application/json') },
      { name: 'charset', request: post('/j', '{"a":"é"}', 'application/json; charset=utf-8') },
      { name: 'bigint', request: post('/j', '{"n":12345678901234567890}', 'application/json') },
      { name: 'float', request: post('/j', '{"n":1e3,"m":0.1}', 'application/json') },
      { name: 'scalar', request: post('/j', '42', 'application/json') },
      { name: 'invalid', request: post('/j', '{"a":', 'application/json') },
      { name: 'empty', request: post('/j', '', 'application/json') },
      { name: 'vendor-json', request: post('/j', '{"a":1}', 'application/vnd.api+json') },
      { name: 'uppercase-type', request: post('/j', '{"a":1}', 'Application/JSON') },
      { name: 'no-content-type', request: req({ method: 'POST', body: '{"a":1}' }) },
      { name: 'raw-json', request: req({ method: 'POST', rawBody: Buffer.from('{"r":true}'), headers: { 'content-type': 'application/json' } }) },
      { name: 'duplicate-keys', request: post('/j', '{"a":1,"a":2}', 'application/json') },
    ],
  },
  {
    id: 'in_parsed_body_form',
    about: 'parsed_body from urlencoded forms',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      { name: 'simple', request: post('/f', 'a=1&b=two&a=3', 'application/x-www-form-urlencoded') },
      { name: 'escapes', request: post('/f', 'q=a+b%21&e=', 'application/x-www-form-urlencoded') },
      { name: 'charset', request: post('/f', 'x=1', 'application/x-www-form-urlencoded; charset=UTF-8') },
      { name: 'empty', request: post('/f', '', 'application/x-www-form-urlencoded') },
      { name: 'bad-escape', request: post('/f', 'a=%zz', 'application/x-www-form-urlencoded') },
    ],
  },
  {
    id: 'in_parsed_body_multipart',
    about: 'parsed_body from multipart/form-data',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      {
        name: 'two-fields',
        request: post(
          '/m',
          '--XyZ\r\nContent-Disposition: form-data; name="user"\r\n\r\nalice\r\n--XyZ\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--XyZ--\r\n',
          'multipart/form-data; boundary=XyZ',
        ),
      },
      {
        name: 'file-and-field',
        request: post(
          '/m',
          '--b1\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b1\r\nContent-Disposition: form-data; name="up"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--b1--\r\n',
          'multipart/form-data; boundary=b1',
        ),
      },
      { name: 'no-boundary', request: post('/m', '--x\r\n\r\n', 'multipart/form-data') },
      {
        name: 'repeated-name',
        request: post(
          '/m',
          '--q\r\nContent-Disposition: form-data; name="t"\r\n\r\n1\r\n--q\r\nContent-Disposition: form-data; name="t"\r\n\r\n2\r\n--q--\r\n',
          'multipart/form-data; boundary=q',
        ),
      },
    ],
  },
  {
    id: 'in_parsed_body_other',
    about: 'parsed_body for other content types',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      { name: 'text', request: post('/o', 'just text', 'text/plain') },
      { name: 'xml', request: post('/o', '<a/>', 'application/xml') },
      { name: 'no-body', request: get('/o') },
      { name: 'octets', request: req({ method: 'POST', rawBody: Buffer.from([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } }) },
    ],
  },
  {
    id: 'in_truncated',
    about: 'truncated_body: Envoy partial-body marker and content-length beyond the body',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      { name: 'partial-header', request: post('/t', '{"a":1', 'application/json', { 'x-envoy-auth-partial-body': 'true' }) },
      { name: 'content-length-larger', request: post('/t', '{"a":1}', 'application/json', { 'content-length': '100' }) },
      { name: 'content-length-equal', request: post('/t', '{"a":1}', 'application/json', { 'content-length': '7' }) },
      { name: 'partial-false', request: post('/t', '{"a":1}', 'application/json', { 'x-envoy-auth-partial-body': 'false' }) },
      { name: 'form-truncated', request: post('/t', 'a=1', 'application/x-www-form-urlencoded', { 'content-length': '50' }) },
    ],
  },
  {
    id: 'in_body_rules',
    about: 'deciding on parsed_body (the tutorial "create only if ..." shape)',
    rego: `package PKG

default allow := false
allow if input.attributes.request.http.method == "GET"
allow if {
  input.attributes.request.http.method == "POST"
  input.parsed_body.role != "admin"
  count(input.parsed_body.name) > 0
}
`,
    requests: [
      { name: 'get', request: get('/people') },
      { name: 'post-user', request: post('/people', '{"name":"carol","role":"user"}', 'application/json') },
      { name: 'post-admin', request: post('/people', '{"name":"carol","role":"admin"}', 'application/json') },
      { name: 'post-noname', request: post('/people', '{"name":"","role":"user"}', 'application/json') },
      { name: 'post-form', request: post('/people', 'name=carol&role=user', 'application/x-www-form-urlencoded') },
      { name: 'post-invalid-json', request: post('/people', '{"name":', 'application/json') },
    ],
  },
  {
    id: 'in_time',
    about: 'attributes.request.time',
    group: 'volatile',
    decision: 'result',
    rego: echo('object.get(input.attributes.request, "time", "ABSENT")'),
    requests: [
      { name: 'whole-seconds', request: req({}, { time: 1767225600 }) },
      { name: 'nanos', request: req({}, { time: { seconds: 1767225600, nanos: 123456789 } }) },
      { name: 'absent', request: req({}, { time: null }) },
      { name: 'epoch', request: req({}, { time: { seconds: 0, nanos: 0 } }) },
    ],
  },
  {
    id: 'in_time_rule',
    about: 'a business-hours rule on the request time',
    group: 'volatile',
    rego: `package PKG

default allow := false
t := input.attributes.request.time
ns := t.seconds * 1000000000 + object.get(t, "nanos", 0) if is_object(t)
ns := time.parse_rfc3339_ns(t) if is_string(t)
allow if {
  [h, _, _] := time.clock([ns, "UTC"])
  h >= 9
  h < 17
}
`,
    requests: [
      { name: 'morning', request: req({}, { time: 1767258000 }) },
      { name: 'night', request: req({}, { time: 1767225600 }) },
    ],
  },
  {
    id: 'in_time_seconds',
    about: 'request.time read the way opa-envoy-plugin gives it (seconds)',
    group: 'volatile',
    rego: `package PKG

default allow := false
allow if input.attributes.request.time.seconds < 1767225600
`,
    requests: [
      { name: 'before', request: req({}, { time: 1767225599 }) },
      { name: 'after', request: req({}, { time: 1767225601 }) },
    ],
  },
  {
    id: 'vol_source_port',
    about: 'a policy on the client port (in cache.ignore by default)',
    group: 'volatile',
    rego: `package PKG

default allow := false
allow if input.attributes.source.address.socketAddress.portValue >= 1024
`,
    requests: [
      { name: 'high', request: req({}, { sourcePort: 40000 }) },
      { name: 'low', request: req({}, { sourcePort: 80 }) },
    ],
  },
  {
    id: 'vol_request_id',
    about: 'a policy on x-request-id and traceparent (in cache.ignore by default)',
    group: 'volatile',
    rego: `package PKG

default allow := false
allow if {
  startswith(input.attributes.request.http.headers["x-request-id"], "trusted-")
  not contains(object.get(input.attributes.request.http.headers, "traceparent", ""), "deadbeef")
}
`,
    requests: [
      { name: 'trusted', request: get('/', { 'x-request-id': 'trusted-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }) },
      { name: 'untrusted', request: get('/', { 'x-request-id': 'other-2', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }) },
      { name: 'trusted-again', request: get('/', { 'x-request-id': 'trusted-3', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }) },
      { name: 'bad-trace', request: get('/', { 'x-request-id': 'trusted-4', traceparent: '00-deadbeefdeadbeefdeadbeefdeadbeef-b7ad6b7169203331-01' }) },
    ],
  },
  {
    id: 'vol_any_header',
    about: 'a WAF-style rule over every header value',
    group: 'volatile',
    rego: `package PKG

default allow := false
allow if {
  every _, value in input.attributes.request.http.headers {
    not contains(lower(value), "<script")
  }
}
`,
    requests: [
      { name: 'clean', request: get('/', { 'x-b3-traceid': 'abc' }) },
      { name: 'script-in-trace', request: get('/', { 'x-b3-traceid': '<script>alert(1)</script>' }) },
      { name: 'script-in-agent', request: get('/', { 'user-agent': '<SCRIPT>' }) },
    ],
  },
  {
    id: 'in_source_dest',
    about: 'source and destination addresses and principals',
    decision: 'result',
    rego: echo('[input.attributes.source, input.attributes.destination, object.get(input, "source_principal", "ABSENT")]'),
    requests: [
      { name: 'plain', request: req() },
      {
        name: 'principals',
        request: req({}, { sourcePrincipal: 'spiffe://cluster.local/ns/a/sa/web', destinationPrincipal: 'spiffe://cluster.local/ns/b/sa/api' }),
      },
      { name: 'dns-principal', request: req({}, { sourcePrincipal: 'client.example.com' }) },
      { name: 'ipv6', request: req({}, { sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::1', destinationPort: 443 }) },
      { name: 'labels', request: req({}, { sourceLabels: { app: 'web', version: 'v2' } }) },
    ],
  },
  {
    id: 'in_source_principal_rule',
    about: 'an Istio-style SPIFFE principal allowlist',
    data: { allowed: ['spiffe://cluster.local/ns/default/sa/frontend'] },
    rego: `package PKG

default allow := false
allow if input.attributes.source.principal in data.PKG.allowed
allow if startswith(input.source_principal, "spiffe://cluster.local/ns/admin/")
`,
    requests: [
      { name: 'frontend', request: req({}, { sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/frontend' }) },
      { name: 'admin-ns', request: req({}, { sourcePrincipal: 'spiffe://cluster.local/ns/admin/sa/ops' }) },
      { name: 'other', request: req({}, { sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/batch' }) },
      { name: 'none', request: req() },
    ],
  },
  {
    id: 'in_source_port_rule',
    about: 'socketAddress.portValue and the address',
    rego: `package PKG

default allow := false
allow if {
  net.cidr_contains("10.0.0.0/8", input.attributes.source.address.socketAddress.address)
  input.attributes.destination.address.socketAddress.portValue == 8080
}
`,
    requests: [
      { name: 'inside', request: req() },
      { name: 'outside', request: req({}, { sourceAddress: '192.168.1.1' }) },
      { name: 'other-port', request: req({}, { destinationPort: 9090 }) },
    ],
  },
  {
    id: 'in_certificate',
    about: 'source.certificate (URL-encoded PEM as Envoy sends it) and the principal beside it',
    decision: 'result',
    rego: echo('[object.get(input.attributes.source, "certificate", "ABSENT"), object.get(input, "source_principal", "ABSENT")]'),
    requests: [
      { name: 'absent', request: req() },
      { name: 'garbage', request: req({}, { sourceCertificate: '-----BEGIN%20CERTIFICATE-----%0Anot-a-cert%0A-----END%20CERTIFICATE-----%0A' }) },
      { name: 'svid', request: req({}, { sourceCertificate: certs.svid, sourcePrincipal: 'spiffe://cluster.local/ns/web/sa/frontend' }) },
      { name: 'svid-other-principal', request: req({}, { sourceCertificate: certs.svid, sourcePrincipal: 'spiffe://cluster.local/ns/x/sa/y' }) },
      { name: 'dns-cert', request: req({}, { sourceCertificate: certs.dnsOnly, sourcePrincipal: 'web.example.com' }) },
    ],
  },
  {
    id: 'in_context_extensions',
    about: 'contextExtensions (per-route settings)',
    decision: 'result',
    rego: echo('object.get(input.attributes, "contextExtensions", "ABSENT")'),
    requests: [
      { name: 'absent', request: req() },
      { name: 'two', request: req({}, { contextExtensions: { service: 'payments', tier: 'gold' } }) },
      { name: 'empty-value', request: req({}, { contextExtensions: { x: '' } }) },
    ],
  },
  {
    id: 'in_context_extensions_rule',
    about: 'per-route policy selection through contextExtensions',
    data: { services: { payments: ['POST'], catalog: ['GET', 'HEAD'] } },
    rego: `package PKG

default allow := false
svc := input.attributes.contextExtensions.service
allow if input.attributes.request.http.method in data.PKG.services[svc]
`,
    requests: [
      { name: 'payments-post', request: req({ method: 'POST' }, { contextExtensions: { service: 'payments' } }) },
      { name: 'payments-get', request: req({ method: 'GET' }, { contextExtensions: { service: 'payments' } }) },
      { name: 'catalog-head', request: req({ method: 'HEAD' }, { contextExtensions: { service: 'catalog' } }) },
      { name: 'unknown', request: req({ method: 'GET' }, { contextExtensions: { service: 'x' } }) },
      { name: 'none', request: req({ method: 'GET' }) },
    ],
  },
  {
    id: 'in_metadata',
    about: 'metadataContext.filterMetadata (e.g. jwt_authn payloads)',
    decision: 'result',
    rego: echo('object.get(input.attributes, "metadataContext", "ABSENT")'),
    requests: [
      { name: 'absent', request: req() },
      {
        name: 'jwt-payload',
        request: req(
          {},
          { metadataContext: metadata({ 'envoy.filters.http.jwt_authn': { jwt_payload: { sub: 'alice', groups: ['a', 'b'], n: 3, ok: true, none: null } } }) },
        ),
      },
      { name: 'empty-struct', request: req({}, { metadataContext: metadata({ 'x.filter': {} }) }) },
    ],
  },
  {
    id: 'in_metadata_rule',
    about: 'deciding on a verified JWT payload in filter metadata',
    rego: `package PKG

default allow := false
payload := input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].jwt_payload
allow if "admin" in payload.groups
allow if {
  payload.sub == "svc"
  payload.level >= 2
}
`,
    requests: [
      { name: 'admin', request: req({}, { metadataContext: metadata({ 'envoy.filters.http.jwt_authn': { jwt_payload: { sub: 'a', groups: ['admin'] } } }) }) },
      { name: 'svc-level-2', request: req({}, { metadataContext: metadata({ 'envoy.filters.http.jwt_authn': { jwt_payload: { sub: 'svc', level: 2 } } }) }) },
      { name: 'svc-level-1', request: req({}, { metadataContext: metadata({ 'envoy.filters.http.jwt_authn': { jwt_payload: { sub: 'svc', level: 1 } } }) }) },
      { name: 'none', request: req() },
    ],
  },
  {
    id: 'in_version',
    about: 'input.version',
    decision: 'result',
    rego: echo('object.get(input, "version", "ABSENT")'),
    requests: [{ name: 'plain', request: req() }],
  },
  {
    id: 'in_top_keys',
    about: 'the top-level keys of input and of attributes.request.http',
    decision: 'result',
    rego: echo('[sort(object.keys(input)), sort(object.keys(input.attributes)), sort(object.keys(input.attributes.request.http))]'),
    requests: [
      { name: 'get', request: get('/a?b=c') },
      { name: 'post-json', request: post('/a', '{}', 'application/json') },
      { name: 'principal', request: req({}, { sourcePrincipal: 'spiffe://td/x' }) },
    ],
  },
  {
    id: 'in_query_fragment_fields',
    about: 'http.query and http.fragment fields (Envoy leaves them empty; a client may set them)',
    decision: 'result',
    rego: echo('[object.get(h, "query", "ABSENT"), object.get(h, "fragment", "ABSENT"), input.parsed_query]', 'h := input.attributes.request.http'),
    requests: [
      { name: 'set', request: req({ path: '/q?a=1', query: 'b=2', fragment: 'f' }) },
      { name: 'unset', request: req({ path: '/q?a=1' }) },
    ],
  },
  {
    id: 'in_no_http',
    about: 'a CheckRequest without attributes.request.http',
    rego: `package PKG

allow := true
`,
    requests: [{ name: 'no-http', request: req({}, { noHttp: true }) }],
  },
];
