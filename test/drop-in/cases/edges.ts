// Edges of the request: sizes past ztauthz's request.* limits, hosts that
// disagree, enums, TLS session, odd bodies and targets. Each policy echoes
// what it saw, so a refusal on one side shows against the other's input.
import type { DropInCase } from './types.ts';
import { get, post, req } from './request.ts';

const echo = (expr: string): string => `package PKG

result := {"allowed": true, "dynamic_metadata": {"v": ${expr}}}
`;

const manyHeaders = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, String(i)]));

export const EDGE_CASES: DropInCase[] = [
  {
    id: 'edge_sizes',
    about: 'bodies, paths and header sets past ztauthz request.* limits (opa-envoy-plugin has none below gRPC 4 MiB)',
    decision: 'result',
    rego: echo(
      '[count(object.get(input.attributes.request.http, "body", "")), count(input.attributes.request.http.path), count(input.attributes.request.http.headers)]',
    ),
    requests: [
      { name: 'body-1mib-plus', request: post('/big', 'x'.repeat(1024 * 1024 + 1), 'text/plain') },
      { name: 'body-512kib', request: post('/big', 'x'.repeat(512 * 1024), 'text/plain') },
      { name: 'path-9000', request: get(`/${'p'.repeat(9000)}`) },
      { name: 'path-8000', request: get(`/${'p'.repeat(8000)}`) },
      { name: 'headers-250', request: get('/h', manyHeaders(250)) },
      { name: 'headers-150', request: get('/h', manyHeaders(150)) },
      { name: 'header-bytes-200k', request: get('/h', { 'x-big': 'v'.repeat(200 * 1024) }) },
      { name: 'json-1mib-plus', request: post('/big', JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }), 'application/json') },
    ],
  },
  {
    id: 'edge_host',
    about: 'host and :authority that disagree, hosts with ports, case and trailing dots',
    decision: 'result',
    rego: echo('[input.attributes.request.http.host, object.get(input.attributes.request.http.headers, ":authority", "ABSENT")]'),
    requests: [
      { name: 'agree', request: req({ host: 'api.example.com' }) },
      { name: 'disagree', request: req({ host: 'api.example.com', headers: { ':authority': 'admin.example.com' } }) },
      { name: 'case-and-port', request: req({ host: 'API.Example.COM:8443', headers: { ':authority': 'api.example.com:8443' } }) },
      { name: 'trailing-dot', request: req({ host: 'api.example.com.' }) },
      { name: 'ipv6-literal', request: req({ host: '[::1]:8080' }) },
      { name: 'userinfo', request: req({ host: 'user@api.example.com' }) },
      { name: 'empty-host', request: req({ host: '', rawHeaders: { ':method': 'GET', ':path': '/' } }) },
    ],
  },
  {
    id: 'edge_targets',
    about: 'request targets: escapes of unreserved characters, absolute form, asterisk, odd queries',
    decision: 'result',
    rego: echo('[input.parsed_path, input.parsed_query]'),
    requests: [
      { name: 'escaped-unreserved', request: get('/%41pi/%7e') },
      { name: 'lowercase-escape', request: get('/a%2fb') },
      { name: 'escaped-percent', request: get('/100%25') },
      { name: 'escaped-null', request: get('/a%00b') },
      { name: 'absolute-form', request: get('http://other.example/x') },
      { name: 'asterisk', request: req({ method: 'OPTIONS', path: '*' }) },
      { name: 'brackets-query', request: get('/q?a[]=1&a[]=2&b[k]=v') },
      { name: 'encoded-key', request: get('/q?na%20me=v&=empty&k==v=') },
      { name: 'double-question', request: get('/q??a=1') },
      { name: 'unicode-raw', request: get('/café') },
      { name: 'backslash', request: get('/a\\b') },
      { name: 'encoded-dot-segment', request: get('/a/%2e%2e/b') },
    ],
  },
  {
    id: 'edge_bodies',
    about: 'bodies at the edges of the parsers',
    decision: 'result',
    rego: echo('[object.get(input, "parsed_body", "ABSENT"), object.get(input, "truncated_body", "ABSENT")]'),
    requests: [
      { name: 'json-bom', request: post('/b', '\uFEFF{"a":1}', 'application/json') },
      { name: 'json-trailing', request: post('/b', '{"a":1} x', 'application/json') },
      { name: 'json-two-values', request: post('/b', '{"a":1}{"b":2}', 'application/json') },
      { name: 'json-whitespace', request: post('/b', '  \n', 'application/json') },
      { name: 'json-deep', request: post('/b', '['.repeat(200) + ']'.repeat(200), 'application/json') },
      { name: 'json-nan', request: post('/b', '{"a":NaN}', 'application/json') },
      { name: 'json-huge-number', request: post('/b', '{"a":1e400}', 'application/json') },
      { name: 'json-type-params', request: post('/b', '{"a":1}', 'application/json;charset=utf-8;x=y') },
      { name: 'json-suffix-type', request: post('/b', '{"a":1}', 'application/problem+json') },
      { name: 'json-in-text-type', request: post('/b', '{"a":1}', 'text/json') },
      { name: 'form-plus', request: post('/b', 'a=1+2&b=%2B', 'application/x-www-form-urlencoded') },
      { name: 'form-semicolon', request: post('/b', 'a=1;b=2', 'application/x-www-form-urlencoded') },
      {
        name: 'multipart-quoted-boundary',
        request: post('/b', '--a b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--a b--\r\n', 'multipart/form-data; boundary="a b"'),
      },
      { name: 'multipart-unclosed', request: post('/b', '--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n', 'multipart/form-data; boundary=q') },
      { name: 'content-length-not-number', request: post('/b', '{"a":1}', 'application/json', { 'content-length': 'abc' }) },
      { name: 'partial-no-type', request: req({ method: 'POST', body: 'xyz', headers: { 'x-envoy-auth-partial-body': 'true' } }) },
      { name: 'json-trailing-null', request: post('/b', '{"a":1} null x', 'application/json') },
      { name: 'json-trailing-true', request: post('/b', '{"a":1} true', 'application/json') },
      { name: 'json-trailing-string', request: post('/b', '{"a":1} "s"', 'application/json') },
      { name: 'json-trailing-bracket', request: post('/b', '{"a":1}]', 'application/json') },
      { name: 'json-bad-escape', request: post('/b', '{"a":"\\x"}', 'application/json') },
      { name: 'json-control-char', request: post('/b', '{"a":"\u0001"}', 'application/json') },
      { name: 'json-bad-literal', request: post('/b', '{"a":tru}', 'application/json') },
      { name: 'json-missing-colon', request: post('/b', '{"a" 1}', 'application/json') },
      { name: 'json-trailing-comma', request: post('/b', '[1,]', 'application/json') },
      { name: 'json-big-int', request: post('/b', '{"a":12345678901234567891}', 'application/json') },
      { name: 'form-bad-utf8', request: post('/b', 'a=%ff&b=%C3%A9', 'application/x-www-form-urlencoded') },
      { name: 'form-escape-then-semicolon', request: post('/b', 'a=%zz&b=1;c', 'application/x-www-form-urlencoded') },
      { name: 'form-bad-key-escape', request: post('/b', '%g1=1&x=%', 'application/x-www-form-urlencoded') },
      { name: 'form-upper-type', request: post('/b', 'a=1', 'Application/X-WWW-Form-Urlencoded') },
      { name: 'content-length-negative', request: post('/b', '{"a":1}', 'application/json', { 'content-length': '-1' }) },
      { name: 'content-length-plus', request: post('/b', '{"a":1}', 'application/json', { 'content-length': '+99' }) },
      { name: 'content-length-huge', request: post('/b', '{"a":1}', 'application/json', { 'content-length': '99999999999999999999' }) },
      { name: 'partial-empty-json', request: req({ method: 'POST', headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' } }) },
      { name: 'partial-text', request: post('/b', 'abc', 'text/plain', { 'x-envoy-auth-partial-body': 'true' }) },
      { name: 'multipart-lf', request: post('/b', '--q\nContent-Disposition: form-data; name="x"\n\n1\n--q--\n', 'multipart/form-data; boundary=q') },
      {
        name: 'multipart-json-part',
        request: post(
          '/b',
          '--q\r\nContent-Disposition: form-data; name="j"\r\nContent-Type: application/json\r\n\r\n{"k":[1,2]}\r\n--q--\r\n',
          'multipart/form-data; boundary=q',
        ),
      },
      {
        name: 'multipart-json-invalid',
        request: post(
          '/b',
          '--q\r\nContent-Disposition: form-data; name="j"\r\nContent-Type: application/json\r\n\r\n{"k":\r\n--q--\r\n',
          'multipart/form-data; boundary=q',
        ),
      },
      {
        name: 'multipart-json-upper-type',
        request: post(
          '/b',
          '--q\r\nContent-Disposition: form-data; name="j"\r\nContent-Type: Application/JSON\r\n\r\n{"k":1}\r\n--q--\r\n',
          'multipart/form-data; boundary=q',
        ),
      },
      {
        name: 'multipart-lf-two',
        request: post(
          '/b',
          'preamble\n--q\nContent-Disposition: form-data; name="x"\n\n1\n--q\nContent-Disposition: form-data; name="y"\nContent-Type: application/json\n\n[1,{"a":null}]\n--q--\n',
          'multipart/form-data; boundary=q',
        ),
      },
      { name: 'json-lone-surrogate', request: post('/b', '{"a":"x\\ud800y"}', 'application/json') },
      {
        name: 'multipart-bad-params',
        request: post('/b', '--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--q--\r\n', 'multipart/form-data; boundary=q; junk'),
      },
      {
        name: 'raw-and-body',
        request: req({ method: 'POST', body: '{"from":"body"}', rawBody: Buffer.from('{"from":"raw"}'), headers: { 'content-type': 'application/json' } }),
      },
      {
        name: 'raw-invalid-utf8',
        request: req({
          method: 'POST',
          rawBody: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
          headers: { 'content-type': 'application/json' },
        }),
      },
    ],
  },
  {
    id: 'edge_body_numbers',
    about: 'JSON body numbers a double does not carry (beyond 2^53, 1e400), compared and printed by the policy',
    decision: 'result',
    // Compared in the policy (exactly, on both), not printed: sprintf runs in JS in opa-wasm (see bi_sprintf/big).
    rego: echo(
      '[input.parsed_body.n == 12345678901234567891, input.parsed_body.n == 12345678901234567890, input.parsed_body.n > 12345678901234567890, input.parsed_body.n > 1000, input.parsed_body.n > 0, is_number(input.parsed_body.n)]',
    ),
    requests: [
      { name: 'int-beyond-2-53', request: post('/n', '{"n":12345678901234567891}', 'application/json') },
      { name: 'int-below', request: post('/n', '{"n":12345678901234567890}', 'application/json') },
      { name: 'int-in-array', request: post('/n', '{"n":12345678901234567891,"l":[12345678901234567891]}', 'application/json') },
      { name: 'overflow', request: post('/n', '{"n":1e400}', 'application/json') },
      { name: 'underflow', request: post('/n', '{"n":1e-400}', 'application/json') },
      { name: 'safe', request: post('/n', '{"n":9007199254740991}', 'application/json') },
    ],
  },
  {
    id: 'edge_enums_tls',
    about: 'enum fields (socket protocol), tlsSession, destination labels, routeMetadataContext',
    decision: 'result',
    rego: echo(
      '[input.attributes.source.address, object.get(input.attributes, "tlsSession", "ABSENT"), object.get(input.attributes, "routeMetadataContext", "ABSENT")]',
    ),
    requests: [
      {
        name: 'udp',
        request: (() => {
          const r = req() as any;
          r.attributes.source.address.socketAddress.protocol = 'UDP';
          return r;
        })(),
      },
      {
        name: 'named-port',
        request: (() => {
          const r = req() as any;
          r.attributes.source.address.socketAddress = { address: '10.0.0.1', namedPort: 'http' };
          return r;
        })(),
      },
      {
        name: 'pipe',
        request: (() => {
          const r = req() as any;
          r.attributes.source.address = { pipe: { path: '/var/run/envoy.sock', mode: 384 } };
          return r;
        })(),
      },
      {
        name: 'tls-sni',
        request: (() => {
          const r = req() as any;
          r.attributes.tlsSession = { sni: 'api.example.com' };
          return r;
        })(),
      },
      {
        name: 'route-metadata',
        request: (() => {
          const r = req() as any;
          r.attributes.routeMetadataContext = { filterMetadata: { 'x.route': { fields: { tier: { stringValue: 'gold' } } } } };
          return r;
        })(),
      },
    ],
  },
  {
    id: 'edge_header_bytes',
    about: 'header values with bytes that are not UTF-8 (only possible through headerMap raw values)',
    decision: 'result',
    rego: echo('[object.get(input.attributes.request.http, "headers", "ABSENT"), object.get(input.attributes.request.http, "headerMap", "ABSENT")]'),
    requests: [
      { name: 'latin1', request: req({ rawHeaders: null, headerMap: [['x-name', Buffer.from([0x5a, 0x6f, 0xeb])]] }) },
      { name: 'uppercase-name', request: req({ rawHeaders: null, headerMap: [['X-Upper', 'v']] }) },
      { name: 'both-forms', request: req({ headers: { 'x-a': 'map' }, headerMap: [['x-a', 'raw']] }) },
    ],
  },
  {
    id: 'edge_result_headers',
    about: 'result headers: upper-case names, pseudo-headers, duplicates, unicode bodies, 1xx and 3xx statuses',
    decision: 'result',
    rego: `package PKG

v := input.attributes.request.http.headers["x-v"]
result := {"allowed": true, "headers": {"X-Upper": "1", "x-lower": "2"}} if v == "upper"
result := {"allowed": true, "headers": {":authority": "evil.example", "host": "evil.example"}} if v == "pseudo"
result := {"allowed": true, "headers": [{"x-d": "1"}, {"x-d": "2"}, {"x-d": ["3", "4"]}]} if v == "dupes"
result := {"allowed": false, "body": "Zoë ☃ — denied", "headers": {"content-type": "text/plain; charset=utf-8"}} if v == "unicode-body"
result := {"allowed": false, "http_status": 100} if v == "status-100"
result := {"allowed": false, "http_status": 307, "headers": {"location": "/login?next=%2F"}} if v == "status-307"
result := {"allowed": false, "http_status": 418} if v == "status-418"
result := {"allowed": false, "http_status": 511} if v == "status-511"
result := {"allowed": false, "http_status": 599} if v == "status-599"
result := {"allowed": true, "headers": {"x-empty-name": "v", "": "no-name"}} if v == "empty-name"
result := {"allowed": true, "dynamic_metadata": {"deep": [{"a": [{"b": null}]}], "unicode": "ünï"}} if v == "deep-metadata"
`,
    requests: [
      'upper',
      'pseudo',
      'dupes',
      'unicode-body',
      'status-100',
      'status-307',
      'status-418',
      'status-511',
      'status-599',
      'empty-name',
      'deep-metadata',
    ].map((v) => ({
      name: v,
      request: get('/', { 'x-v': v }),
    })),
  },
];
