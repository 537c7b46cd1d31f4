// Per-call cost of the host builtins: each case is a rule calling one builtin
// once, evaluated through opa-wasm as the engine does; the cost of the same
// evaluation of a rule that calls no builtin is subtracted. Also the cost of
// the host function alone (no wasm, no JSON crossing).
//
//   node bench/builtin-cost.ts [iterations]
//
// Needs opa (.tools/bin/opa) to compile the cases. Prints a table; no assertion.

import { performance } from 'node:perf_hooks';
import { createHostBuiltins } from '../src/policy/builtins/index.ts';
import { loadHostPolicy } from '../src/policy/builtins/load.ts';
import { buildWasm } from '../test/support/builtins-opa.ts';

const N = Number(process.argv[2] ?? 20000);

const CERT = `-----BEGIN CERTIFICATE-----
MIIB8TCCAZagAwIBAgIUDz6kp31RWjUNxllMZPuElIl7wwYwCgYIKoZIzj0EAwIwMjEUMBIGA1UEAwwLc3ZjLmV4YW1wbGUxDTALBgNVBAoMBEFjbWUxCzAJBgNVBAYTAlVTMB4XDTI2MTIwNDE3MzUxMFoXDTI3MDEwMzE3MzUxMFowMjEUMBIGA1UEAwwLc3ZjLmV4YW1wbGUxDTALBgNVBAoMBEFjbWUxCzAJBgNVBAYTAlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE82RSRFAf/ZBon/oosOe2X33Tcx6Hn6qh25GHEV9auXN16u/aN4KPSc5p3vd3UdWp6JObI8c58gXhvv7vqInKwaOBiTCBhjAdBgNVHQ4EFgQUnvX1UBLsCLwWOS6tSsS+JsAb8DkwHwYDVR0jBBgwFoAUnvX1UBLsCLwWOS6tSsS+JsAb8DkwDwYDVR0TAQH/BAUwAwEB/zAzBgNVHREELDAqgglhLmV4YW1wbGWGEHNwaWZmZTovL3RkL25zL3iHBAoAAAGBBWFAYi5jMAoGCCqGSM49BAMCA0kAMEYCIQCcfSOxOuuA5ogH5f2gvqJ04209ItM9syIXVFahRkpGFAIhAMAVcv+jnsmQZ3ebMQJjJWXwTDU2qJfbI597q61Ozuak
-----END CERTIFICATE-----
`;

const SCHEMA = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 2 }, age: { type: 'integer', minimum: 0 } } };

const CASES: [string, string, unknown[]][] = [
  ['(no builtin)', `input.a == "x"`, []],
  ['net.cidr_is_valid', `net.cidr_is_valid(input.a)`, ['10.0.0.0/8']],
  [
    'net.cidr_contains_matches',
    `net.cidr_contains_matches(input.a, input.b)`,
    [
      ['10.0.0.0/8', '192.168.0.0/16'],
      ['10.1.2.3', '192.168.1.1'],
    ],
  ],
  ['net.cidr_merge', `net.cidr_merge(input.a)`, [['10.0.0.0/9', '10.128.0.0/9', '192.168.1.0/24']]],
  ['net.cidr_expand (/28)', `net.cidr_expand(input.a)`, ['10.0.0.0/28']],
  ['semver.compare', `semver.compare(input.a, input.b)`, ['1.2.3-rc.1', '1.2.3']],
  ['units.parse', `units.parse(input.a)`, ['1.5Gi']],
  ['units.parse_bytes', `units.parse_bytes(input.a)`, ['12.5MiB']],
  ['uuid.rfc4122', `uuid.rfc4122(input.a)`, ['k']],
  ['uuid.parse', `uuid.parse(input.a)`, ['c1ee9a58-5d7c-11ee-8c99-0242ac120002']],
  ['rand.intn', `rand.intn(input.a, 100)`, ['k']],
  ['time.format', `time.format([input.a, "UTC", "RFC1123Z"])`, [1136214245123456000]],
  ['time.format (zone)', `time.format([input.a, "America/New_York", "RFC1123Z"])`, [1136214245123456000]],
  ['time.parse_ns', `time.parse_ns("RFC1123Z", input.a)`, ['Mon, 02 Jan 2006 15:04:05 -0700']],
  [
    'json.patch',
    `json.patch(input.a, input.b)`,
    [
      { a: { b: [1, 2] } },
      [
        { op: 'add', path: '/a/b/-', value: 3 },
        { op: 'replace', path: '/a/c', value: 1 },
      ],
    ],
  ],
  ['io.jwt.decode (garbage -> undefined)', `io.jwt.decode(input.a)`, ['garbage']],
  ['regex.replace', `regex.replace(input.a, input.b, input.c)`, ['abc-123 def-456', '(?P<w>[a-z]+)-([0-9]+)', '$2_$w']],
  ['regex.find_n', `regex.find_n("[0-9]+", input.a, -1)`, ['a1b22c333']],
  ['strings.count', `strings.count(input.a, "b")`, ['abcabcabc']],
  ['object.subset', `object.subset(input.a, input.b)`, [{ a: { b: 1, c: [1, 2, 3] }, d: 2 }, { a: { c: [2, 3] } }]],
  ['io.jwt.encode_sign (HS256)', `io.jwt.encode_sign({"alg": "HS256"}, input.a, {"kty": "oct", "k": "c2VjcmV0"})`, [{ sub: 'x', iat: 1 }]],
  ['graphql.is_valid', `graphql.is_valid(input.a, input.b)`, ['{ user(id: 1) { name } }', 'type Query { user(id: ID!): User } type User { name: String }']],
  ['graphql.parse_query', `graphql.parse_query(input.a)`, ['query Q($id: ID) { user(id: $id) { name friends { name } } }']],
  ['crypto.x509.parse_certificates', `crypto.x509.parse_certificates(input.a)`, [CERT]],
  // added for opa-envoy-plugin's policies (docs/builtins.md)
  ['regex.globs_match', `regex.globs_match(input.a, input.b)`, ['api/v[0-9]+/.*', 'api/v1/models/.*']],
  ['graph.reachable_paths', `graph.reachable_paths(input.a, input.b)`, [{ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }, ['a']]],
  [
    'strings.render_template',
    `strings.render_template(input.a, input.b)`,
    ['{{.user}} may {{range .verbs}}{{.}} {{end}}', { user: 'alice', verbs: ['get', 'list'] }],
  ],
  ['json.verify_schema', `json.verify_schema(input.a)`, [SCHEMA]],
  ['json.match_schema (valid)', `json.match_schema(input.a, input.b)`, [{ name: 'bob', age: 3 }, SCHEMA]],
  ['json.match_schema (2 errors)', `json.match_schema(input.a, input.b)`, [{ name: 1 }, SCHEMA]],
  ['opa.runtime', `opa.runtime()`, []],
  [
    'providers.aws.sign_req',
    `providers.aws.sign_req(input.a, input.b, 1709231399123456789)`,
    [
      { method: 'GET', url: 'https://api.example.com/v1/items?a=1' },
      { aws_service: 'execute-api', aws_access_key: 'AKID', aws_secret_access_key: 'secret', aws_region: 'us-east-1' },
    ],
  ],
  // answered in place of opa-wasm's JS builtins (overrides.ts): arguments read as Rego text
  ['sprintf', `sprintf("%s: %d of %v", [input.a, input.b, input.c])`, ['user', 42, ['x', 'y']]],
  ['regex.split', `regex.split("[,;]", input.a)`, ['a,b;c']],
  ['yaml.marshal', `yaml.marshal(input.a)`, [{ b: [1, 'x'], a: { c: true } }]],
  // compiled into the wasm, patched to call the host (wasm-patch.ts)
  ['json.marshal', `json.marshal(input.a)`, [{ b: [1, 'x'], a: { c: true } }]],
  ['base64.decode', `base64.decode(input.a)`, ['aGVsbG8gd29ybGQ=']],
  ['format_int', `format_int(input.a, 16)`, [255]],
  ['indexof', `indexof(input.a, "c")`, ['abcabc']],
];

function time(f: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 2000); i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t0) * 1000) / n; // µs per iteration
}

const cases = CASES.map(([name, expr]) => ({ name, expr }));
const host = createHostBuiltins();
const policy = await loadHostPolicy(buildWasm('cost', cases), undefined, host);
// Rounds over all cases, keeping each one's best: the machine is shared, and
// the best of several rounds is the least disturbed measurement.
const ROUNDS = 5;
const best = CASES.map(() => ({ perEval: Infinity, direct: Infinity }));
for (let r = 0; r < ROUNDS; r++) {
  CASES.forEach(([name, , args], i) => {
    const input = Object.fromEntries(args.map((a, k) => [['a', 'b', 'c'][k] as string, a]));
    const n = Math.ceil((name.startsWith('crypto.x509') ? N / 10 : N) / ROUNDS);
    const perEval = time(() => {
      host.beginEvaluation();
      policy.evaluate(input, `cost/c${i}`);
    }, n);
    const fn = host.builtins[/^([a-z0-9_.]+)/.exec(name)?.[1] as string];
    const direct =
      fn === undefined
        ? NaN
        : time(() => {
            host.beginEvaluation();
            fn(...args);
          }, n);
    const b = best[i] as { perEval: number; direct: number };
    b.perEval = Math.min(b.perEval, perEval);
    b.direct = Math.min(b.direct, direct);
  });
}
const base = best[0]?.perEval ?? 0;
const rows = CASES.map(([name], i) => {
  const b = best[i] as { perEval: number; direct: number };
  return `| ${name} | ${b.perEval.toFixed(1)} | ${i === 0 ? '—' : (b.perEval - base).toFixed(1)} | ${Number.isNaN(b.direct) ? '—' : b.direct.toFixed(1)} |`;
});
console.log(`node ${process.version}, ${N} iterations per case (x509: ${Math.ceil(N / 10)}) in ${ROUNDS} rounds, best round`);
console.log('| rule | µs per evaluation | µs added by the call | µs in the host function alone |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
