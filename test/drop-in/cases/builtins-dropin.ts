// The builtins added so that opa-envoy-plugin's policies load and answer
// alike (docs/builtins.md), through both servers: globs, graph paths,
// templates with functions, JSON Schema, AWS signatures, Go's sprintf and
// yaml.marshal, exact nanosecond times, and opa.runtime (a deliberate
// difference: no process environment).
import type { DropInCase } from './types.ts';
import { fnCases } from './builtins.ts';

const SCHEMA = '{"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 2}}}';
const AWS = '{"aws_service": "s3", "aws_access_key": "AKID", "aws_secret_access_key": "secret", "aws_region": "eu-west-1"}';

export const DROPIN_BUILTIN_CASES: DropInCase[] = fnCases(
  'bi_dropin',
  'builtins added for opa-envoy-plugin policies',
  {
    globs: 'regex.globs_match(a, b)',
    // sorted: a set's order in the answer is the wasm's, not OPA's (docs/compatibility.md)
    paths: 'sort(graph.reachable_paths({"a": ["b", "c"], "b": ["d"], "c": ["d", "a"], "d": []}, split(a, ",")))',
    render:
      'strings.render_template("{{.user}}: {{range $i, $v := .roles}}{{if $i}}, {{end}}{{$v | printf \\"%q\\"}}{{end}} ({{len .roles}}){{if eq .user \\"\\"}} anonymous{{end}}", {"user": a, "roles": split(b, ",")})',
    schema: `json.match_schema(json.unmarshal(c), ${SCHEMA})`,
    schema_ok: `json.verify_schema(${SCHEMA})`,
    sprintf: 'sprintf("%v %v %q %-6s| %d %v", [s1, {"k": a, "n": [1, 2.5]}, a, b, count(s2), null])',
    split: 'regex.split("[,;]\\\\s*", a)',
    yaml: 'yaml.marshal({"user": a, "roles": split(b, ","), "n": 1.5, "t": true, "when": "2024-01-02", "yes": "no"})',
    aws: `providers.aws.sign_req({"method": "GET", "url": concat("", ["https://bucket.s3.amazonaws.com/", a])}, ${AWS}, 1709231399123456789).headers`,
    time: 'time.format([1709231399123456789, "Europe/Paris", "2006-01-02T15:04:05.000000000Z07:00"])',
    runtime_env: 'opa.runtime().env == {}',
  },
  {
    one: { 'x-a': 'a,b;c', 'x-b': 'admin,dev', 'x-c': '{"name":"x"}' },
    two: { 'x-a': '', 'x-b': '', 'x-c': '{}' },
    three: { 'x-a': 'api/v1/.*', 'x-b': 'api/v[0-9]+/models', 'x-c': '{"name": 5}' },
    four: { 'x-a': 'd', 'x-b': 'x', 'x-c': '{"name":"alice"}' },
  },
  { alone: ['runtime_env'] },
);
