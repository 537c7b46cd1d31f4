// Cases for the builtins added so that policies written for opa-envoy-plugin
// load: regex.globs_match, graph.reachable_paths, strings.render_template,
// json.verify_schema and json.match_schema. Each is a Rego expression
// compared with `opa eval` (test/builtins-dropin.test.ts).
import type { Case } from './builtins-opa.ts';
import { dyn } from './builtins-cases.ts';
import { rego } from './builtins-opa.ts';

const cases = (name: string, exprs: readonly string[]): Case[] => exprs.map((expr) => ({ name: `${name}: ${expr.slice(0, 120)}`, expr }));

export function globsCases(): Case[] {
  const pairs: [string, string][] = [
    ['a.a', 'a.*'],
    ['[a-z]+', '[0-9]+'],
    ['abc', 'abc'],
    ['abc', 'abd'],
    ['a*', 'b*'],
    ['a*b', 'a+b'],
    ['a.*', 'b.*'],
    ['.*', ''],
    ['', ''],
    ['a+', ''],
    ['[a-c]+x', 'b*x'],
    ['foo.*bar', 'foo[0-9]+bar'],
    ['foo.*bar', 'foobaz'],
    ['\\.\\*', '.*'],
    ['\\+', 'a'],
    ['[\\]]', ']'],
    ['[a-]', 'a'],
    ['[z-a]', 'a'],
    [']', 'a'],
    ['*a', 'a'],
    ['a\\', 'a'],
    ['[abc', 'a'],
    ['(a|b)', '(a|b)'],
    ['a?', 'a'],
    ['日本.*', '日本語'],
    ['x*y*z*', 'xyz'],
    ['a.b.c', 'a[.]b[.]c'],
    ['urn:.*:read', 'urn:svc:.*'],
    ['api/v[0-9]+/.*', 'api/v1/models/.*'],
    ['a*a*a*a*b', 'a*a*a*a*c'],
    ['[a-]]', 'a'],
  ];
  return cases('regex.globs_match', [
    ...pairs.map(([a, b]) => `regex.globs_match(${dyn(a)}, ${dyn(b)})`),
    `regex.globs_match(${dyn(1)}, "a")`,
    `regex.globs_match("a", ${dyn(null)})`,
  ]);
}

export function graphCases(): Case[] {
  const graphs: [unknown, unknown][] = [
    [{ a: ['b'], b: ['c'], c: [] }, ['a']],
    [{ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }, ['a']],
    [{ a: ['b'], b: ['a'] }, ['a']],
    [{ a: ['b'], b: ['c'], c: ['a'] }, ['a', 'b']],
    [{ a: ['x'], b: [] }, ['a', 'b', 'z']],
    [{ a: [] }, []],
    [{ a: 'b', b: null }, ['a', 'b']],
    [{ '1': ['2'], '2': [] }, ['1', 1]],
    [{ root: ['x', 'y', 'z'], x: ['y'], y: ['z'], z: ['root'] }, ['root']],
    [{ a: ['b', 'b'], b: [] }, ['a', 'a']],
  ];
  return cases('graph.reachable_paths', [
    // sorted: the wasm iterates a set in its own order, opa eval prints it sorted
    ...graphs.map(([g, i]) => `sort(graph.reachable_paths(${dyn(g)}, ${dyn(i)}))`),
    // sets as the graph's edges and as the initial nodes
    `sort(graph.reachable_paths({"a": {"b", "c"}, "b": {"c"}, "c": set()}, {"a"}))`,
    `sort(graph.reachable_paths({"a": {"b"}, "b": {"a"}}, {"a", "b"}))`,
    `count(graph.reachable_paths(${dyn({ a: ['b'], b: [] })}, ["a"])) == 1`,
    `graph.reachable_paths(${dyn({ a: ['b'], b: [] })}, ["a"]) == {["a", "b"]}`,
    `graph.reachable_paths(${dyn(['a'])}, ["a"])`,
    `graph.reachable_paths(${dyn({})}, ${dyn('a')})`,
  ]);
}

const VARS = { name: 'alice', list: ['x', 2, null, true], nested: { user: 'u' } };

/** Templates OPA renders and ztauthz refuses (functions, pipes): its text/template is a subset. */
export function unsupportedTemplateCases(): Case[] {
  return cases(
    'strings.render_template unsupported',
    ['{{slice .name 1 2}}', '{{js .name}}', '{{define "x"}}a{{end}}{{template "x"}}', "{{'a'}}", '{{(.nested).user}}'].map(
      (t) => `strings.render_template(${rego(t)}, ${dyn(VARS)})`,
    ),
  );
}

export function renderTemplateCases(): Case[] {
  const vars = {
    name: 'alice',
    n: 3,
    zero: 0,
    f: 1.5,
    t: true,
    no: false,
    nil: null,
    empty: '',
    list: ['x', 2, null, true],
    none: [],
    obj: { b: 2, a: 'one', c: [1, { d: 1 }] },
    nested: { user: { id: 'u1', roles: ['admin', 'dev'] } },
    users: [{ id: 'a' }, { id: 'b' }],
  };
  const templates = [
    'hello {{.name}}',
    '{{.n}} {{.f}} {{.zero}} {{.t}} {{.no}}',
    '[{{.nil}}] [{{.missing}}] [{{.missing.deeper}}]',
    '{{.empty}}|',
    '{{.list}} {{.none}} {{.obj}}',
    '{{.nested.user.id}} {{.nested.user.roles}}',
    '{{range .list}}<{{.}}>{{end}}',
    '{{range $i, $v := .list}}{{$i}}={{$v}};{{end}}',
    '{{range $k, $v := .obj}}{{$k}}:{{$v}},{{end}}',
    '{{range .none}}x{{else}}empty{{end}}',
    '{{range .missing}}x{{else}}none{{end}}',
    '{{if .t}}yes{{else}}no{{end}}',
    '{{if .no}}yes{{else if .n}}n{{else}}no{{end}}',
    '{{if .zero}}zero is true{{end}}',
    '{{if .nil}}a{{else}}b{{end}} {{if .empty}}a{{else}}b{{end}} {{if .none}}a{{else}}b{{end}}',
    '{{with .nested.user}}{{.id}}{{end}}{{with .missing}}x{{else}}none{{end}}',
    'a  {{- .name -}}  b',
    'a {{/* note */}} b',
    'a {{- /* c */ -}} b',
    '{{$x := .name}}{{$x}} {{$.n}}',
    '{{range .users}}{{.id}}{{$.name}}{{end}}',
    '{{range .list}}{{if .}}{{.}}{{else}}-{{end}}{{end}}',
    '{{range .list}}{{break}}{{end}}x',
    '{{range $v := .list}}{{if $v}}{{continue}}{{end}}[{{$v}}]{{end}}',
    '{{"lit"}} {{42}} {{true}}',
    '{{.name.x}}',
    '{{.nil.x}}',
    '{{range .name}}x{{end}}',
    '{{if .t}}unclosed',
    '{{end}}',
    '{{.a-b}}',
    '{{ .name }}',
    '{{- .name}}',
    '{{$undefined}}',
    '{{template "x"}}',
    '{{range .n}}{{.}}{{end}}',
    'no actions at all',
    '',
    '{{.users}}',
    '{{.nested}}',
    'tab\t{{- .name}}',
    // functions and pipelines
    '{{range .list}}{{if eq 1 1}}y{{end}}{{end}}',
    '{{.name | printf "%s!"}}',
    '{{len .list}} {{len .name}} {{len .obj}} {{len .n}}',
    '{{index .list 0}} {{index .obj "a"}} {{index .nested "user" "id"}}',
    '{{(.name)}}',
    '{{printf "%d-%v-%s-%q" .n .list .name .t}}',
    '{{printf "%d|%5.2f|%x" 42 3.14159 255}}',
    '{{print .name 1 2 "x" .t}}',
    '{{println .name .n}}',
    '{{if eq .name "alice"}}A{{end}}{{if ne .name "bob"}}B{{end}}{{if eq .name "x" "alice"}}C{{end}}',
    '{{if eq .n "3"}}num-as-string{{end}}',
    '{{eq .n 3}}',
    '{{if and .t .name}}both{{end}}{{if or .no .empty}}x{{else}}neither{{end}}{{and .t .n}}{{or .no .zero}}',
    '{{not .t}} {{not .empty}}',
    '{{if lt 1 2}}lt{{end}}{{if ge 2.5 2.5}}ge{{end}}{{if gt "b" "a"}}gt{{end}}{{if le .name "bob"}}le{{end}}',
    '{{lt 1 2.5}}',
    '{{lt true false}}',
    '{{html "<a href=\'x\'>&"}} {{urlquery "a b&c=d/é"}}',
    '{{.name | len | printf "%05d"}}',
    '{{len .name | eq 5}}',
    '{{index .list 9}}',
    '{{index .list "a"}}',
    '{{index .obj 1}}',
    '{{index .missing 0}}',
    '{{len 3}}',
    '{{nosuch .name}}',
    '{{.name .n}}',
    '{{$x := len .list}}{{$x}}',
    '{{range $i, $v := .list}}{{if eq $i 1}}{{$v}}{{end}}{{end}}',
    '{{with $u := .nested.user}}{{$u.id}}{{end}}',
    '{{printf "%v %d %t %s" .nil .missing .t .no}}',
    '{{printf "%s"}}',
    '{{printf .n}}',
    '{{0x1F}} {{1e3}} {{-5}} {{1_000}}',
    '{{eq .nil .missing}}',
    '{{eq .list .list}}',
    '{{and}}',
    '{{printf "%T %T %T %T %T" .n .name .list .obj 1}}',
  ];
  return cases('strings.render_template', [
    ...templates.map((t) => `strings.render_template(${rego(t)}, ${dyn(vars)})`),
    `strings.render_template(${dyn(1)}, {})`,
    `strings.render_template("x", ${dyn([1])})`,
  ]);
}

const SCHEMA = {
  type: 'object',
  required: ['name', 'age'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 2, maxLength: 5, pattern: '^[a-z]+$' },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    role: { enum: ['admin', 'dev'] },
    tags: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2, uniqueItems: true },
    score: { type: 'number', multipleOf: 0.5, exclusiveMinimum: 0 },
    email: { type: 'string', format: 'email' },
  },
};

export function schemaCases(): Case[] {
  const schemas: unknown[] = [
    SCHEMA,
    { type: 'string' },
    { type: 'foo' },
    { type: 'object', properties: { a: { type: 1 } } },
    { minimum: 'x' },
    { required: 'a' },
    { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object', properties: { a: { type: 'integer' } } },
    { $schema: 'http://json-schema.org/draft-07/schema#', if: { type: 'string' }, then: { minLength: 2 } },
    { $schema: 'http://json-schema.org/draft-06/schema#', const: 1 },
    {},
    true,
    [],
    { type: 'string', pattern: '(' },
  ];
  const docs: [unknown, unknown][] = [
    [{ name: 'bob', age: 30 }, SCHEMA],
    [{ name: 'b', age: -1 }, SCHEMA],
    [{ age: 1.5 }, SCHEMA],
    [{ name: 'bob', age: 2, extra: 1 }, SCHEMA],
    [{ name: 'Bob1', age: 200 }, SCHEMA],
    [{ name: 'bob', age: 1, role: 'root' }, SCHEMA],
    [{ name: 'bob', age: 1, tags: [] }, SCHEMA],
    [{ name: 'bob', age: 1, tags: ['a', 'a', 'b'] }, SCHEMA],
    [{ name: 'bob', age: 1, score: 0.3 }, SCHEMA],
    [{ name: 'bob', age: 1, score: 0 }, SCHEMA],
    [{ name: 'bob', age: 1, email: 'not-an-email' }, SCHEMA],
    [{ name: 'bob', age: 1, email: 'a@b.co' }, SCHEMA],
    ['str', SCHEMA],
    [null, SCHEMA],
    [{ name: 1, age: 'x' }, SCHEMA],
    [{ name: 'bob', age: 1, tags: [1] }, SCHEMA],
    [5, { type: ['string', 'null'] }],
    [{ a: { b: 1 } }, { properties: { a: { properties: { b: { type: 'string' } } } } }],
    ['x', { $schema: 'http://json-schema.org/draft-07/schema#', if: { type: 'string' }, then: { minLength: 2 } }],
    [2, { $schema: 'http://json-schema.org/draft-06/schema#', const: 1 }],
    [1, { const: { a: '<b>' } }],
    [1, { maximum: 1e6, minimum: 2e10 }],
    [1, { not: { type: 'integer' } }],
    [{}, { minProperties: 1 }],
    [{ a: 1, b: 2 }, { maxProperties: 1 }],
    [['a'], { contains: { type: 'integer' } }],
    [{ a: 1 }, { dependencies: { a: ['b'] } }],
    [1, false],
    [1, true],
  ];
  return [
    ...cases(
      'json.verify_schema',
      schemas.map((s) => `json.verify_schema(${dyn(s)})[0]`),
    ),
    ...cases('json.verify_schema text', [
      `json.verify_schema(${rego(JSON.stringify(SCHEMA))})`,
      `json.verify_schema("{not json")`,
      `json.verify_schema(${dyn(1)})`,
    ]),
    // errors sorted: OPA lists the errors of different properties in Go's map order, which is random
    ...cases(
      'json.match_schema',
      docs.map(([d, s]) => `[json.match_schema(${dyn(d)}, ${dyn(s)})[0], sort(json.match_schema(${dyn(d)}, ${dyn(s)})[1])]`),
    ),
    ...cases('json.match_schema text', [
      `json.match_schema(${rego(JSON.stringify({ a: 1 }))}, ${rego(JSON.stringify({ properties: { a: { type: 'string' } } }))})`,
      `json.match_schema({"a": 1}, "{bad")`,
      `json.match_schema(${dyn(1)}, {})`,
      `json.match_schema({}, {"type": "foo"})`,
    ]),
  ];
}

export function awsSignCases(): Case[] {
  const cfg = {
    aws_service: 'execute-api',
    aws_access_key: 'AKIDEXAMPLE',
    aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    aws_region: 'us-east-1',
  };
  const ts = '1709231399123456789';
  const reqs: unknown[] = [
    { method: 'GET', url: 'https://api.example.com/v1/items?b=2&a=1' },
    {
      method: 'POST',
      url: 'https://api.example.com/v1/items',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'x', 'X-Custom': 'v' },
      body: { b: 1.5, a: '<&>', n: 12345678901234567890, l: [true, null] },
    },
    { method: 'PUT', url: 'https://bucket.s3.amazonaws.com/some%20key/a b', raw_body: 'hello' },
    { method: 'GET', url: 'https://host:8443/' },
    { method: 'GET', url: 'https://h/', headers: { Host: 'other', authorization: 'drop', n: 1 } },
  ];
  const out = reqs.map((r) => `providers.aws.sign_req(${dyn(r)}, ${dyn(cfg)}, ${ts})`);
  out.push(
    `providers.aws.sign_req(${dyn(reqs[2])}, ${dyn({ ...cfg, aws_service: 's3' })}, ${ts})`,
    `providers.aws.sign_req(${dyn(reqs[0])}, ${dyn({ ...cfg, aws_session_token: 'tok' })}, ${ts})`,
    `providers.aws.sign_req(${dyn(reqs[1])}, ${dyn({ ...cfg, disable_payload_signing: true })}, 0)`,
    `providers.aws.sign_req({"method": "GET", "url": "https://h/", "body": {"s": {3, 1}}}, ${dyn(cfg)}, ${ts})`,
    `providers.aws.sign_req(${dyn(reqs[0])}, ${dyn({ aws_service: 's3' })}, ${ts})`,
    `providers.aws.sign_req(${dyn(reqs[0])}, ${dyn({ ...cfg, aws_region: 1 })}, ${ts})`,
    `providers.aws.sign_req(${dyn({ method: 'GET' })}, ${dyn(cfg)}, ${ts})`,
    `providers.aws.sign_req(${dyn({ method: 'GET', url: 'https://h/', bogus: 1 })}, ${dyn(cfg)}, ${ts})`,
    `providers.aws.sign_req(${dyn(reqs[0])}, ${dyn(cfg)}, ${dyn(1.5)})`,
    `providers.aws.sign_req(${dyn(reqs[0])}, ${dyn({ ...cfg, disable_payload_signing: 'yes' })}, ${ts})`,
  );
  return cases('providers.aws.sign_req', out);
}
