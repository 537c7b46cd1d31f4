// The wasm gets only the input fields the policy's plan may read
// (src/policy/InputProjection.ts). Each policy here is evaluated twice from
// the same compiled bundle: with its plan (the input projected) and without
// (the whole input, as before): the result sets, errors included, must be
// the same, also where a projection that trusted dots alone would not be
// (a rule defined twice, an input value used as a key).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPolicySource } from '../src/policy/PolicySource.ts';
import { PolicyEngine } from '../src/policy/PolicyEngine.ts';
import { inputProjection } from '../src/policy/InputProjection.ts';
import type { JsonObject } from '../src/types/Json.ts';

const ENTRY = 'envoy/authz/allow';
const OPTS = { requiredEntrypoints: [ENTRY], maxMemoryPages: 256 };
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-projection-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** The policy loaded with its plan (projected input) and without it (whole input), and the projection itself. */
async function both(body: string): Promise<{ projected: PolicyEngine; whole: PolicyEngine; json: ((input: object) => string) | undefined }> {
  const dir = join(tmp, `p${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'policy.rego'), `package envoy.authz\n\nimport rego.v1\n\n${body}\n`);
  const files = await readPolicySource(dir, { entrypoints: [ENTRY] });
  const projected = await PolicyEngine.load(files, OPTS);
  const whole = await PolicyEngine.load({ ...files, plan: undefined }, OPTS);
  return { projected, whole, json: inputProjection(projected.inputReads, projected.entrypoints) };
}

function outcome(engine: PolicyEngine, input: JsonObject): unknown {
  try {
    return engine.evaluate(input, ENTRY);
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

async function sameAnswers(body: string, inputs: readonly JsonObject[]): Promise<unknown[]> {
  const { projected, whole } = await both(body);
  const answers = inputs.map((input) => outcome(whole, input));
  expect(inputs.map((input) => outcome(projected, input))).toEqual(answers);
  return answers;
}

const request = (http: JsonObject, extra: JsonObject = {}): JsonObject => ({
  attributes: {
    source: { address: { socketAddress: { address: '10.0.0.1', portValue: 40001 } }, principal: 'spiffe://cluster.local/ns/a/sa/b' },
    request: { http: { method: 'GET', path: '/x', headers: { 'x-request-id': 'r1', traceparent: 't', 'content-type': 'application/json' }, ...http } },
  },
  parsed_path: ['x'],
  parsed_query: {},
  identity: { spiffe_id: 'spiffe://cluster.local/ns/a/sa/b', namespace: 'a' },
  ...extra,
});

describe('the input a policy is given', () => {
  it('holds only the fields the plan dots into, and whole what it uses whole', async () => {
    const { json } = await both(`default allow := false
allow if {
  input.attributes.request.http.method == "GET"
  input.parsed_path[0] == "x"
  input.attributes.request.http.headers["content-type"] == "application/json"
}`);
    expect(JSON.parse(json!(request({})))).toEqual({
      attributes: { request: { http: { method: 'GET', headers: { 'content-type': 'application/json' } } } },
      parsed_path: ['x'],
    });
  });

  it('is the whole input when the policy uses it whole', async () => {
    expect((await both('allow if count(input) > 0')).json).toBeUndefined();
    expect((await both('allow if json.marshal(input) != ""')).json).toBeUndefined();
    expect((await both('allow if { some k; input[k] == 1 }')).json).toBeUndefined();
    expect((await both('allow if object.get(input, ["a", "b"], 0) == 1')).json).toBeUndefined();
  });
});

describe('gives the answers the whole input gives', () => {
  it('for dots, absent fields, arrays and non-object values where an object was expected', async () => {
    await sameAnswers(
      `default allow := false
allow if input.attributes.request.http.method == "GET"
allow if input.parsed_path[1] == "y"
allow if input.attributes.request.http.headers.authorization
allow if input.attributes.request.http.path.nope
allow if not input.identity.user`,
      [
        request({}),
        request({ method: 'POST' }),
        request({ method: 'POST' }, { parsed_path: ['x', 'y'] }),
        request({ method: 'POST', headers: { authorization: 'Bearer x' } }),
        request({ method: 'POST' }, { identity: { user: { sub: 'u' } } }),
        request({ method: 'POST' }, { identity: 'not an object' }),
        request({ method: 'POST', path: { nope: true } }, { identity: { user: null } }),
      ],
    );
  });

  it('for iteration, builtins and comparisons of subtrees', async () => {
    await sameAnswers(
      `default allow := false
allow if { some name, value in input.attributes.request.http.headers; startswith(name, "x-"); value == "ok" }
allow if count(input.attributes.source) == 3
allow if input.identity == {"spiffe_id": "s"}
allow if object.get(input.attributes.request.http, "method", "") == "PUT"
allow if walk(input.parsed_query, [["k"], "v"])`,
      [
        request({}),
        request({ headers: { 'x-a': 'ok' } }),
        request({}, { identity: { spiffe_id: 's' } }),
        request({}, { identity: { spiffe_id: 's', extra: 1 } }),
        request({ method: 'PUT' }),
        request({}, { parsed_query: { k: 'v' } }),
      ],
    );
  });

  it('for a rule defined twice whose values come from the input (a conflict is an error)', async () => {
    const answers = await sameAnswers(
      `pick := input.a if input.c == 1
pick := input.b if input.c == 1
allow if pick.x == 1`,
      [
        { a: { x: 1, y: 1 }, b: { x: 1, y: 2 }, c: 1 },
        { a: { x: 1, y: 1 }, b: { x: 1, y: 1 }, c: 1 },
      ],
    );
    expect(answers[0]).toHaveProperty('threw');
    expect(answers[1]).toEqual([{ result: true }]);
  });

  it('for an input value used as a key', async () => {
    const answers = await sameAnswers(
      `granted := {{"team": "a", "tier": "gold"}: true}
default allow := false
allow if granted[input.who]
allow if input.who.team == "z"`,
      [{ who: { team: 'a', tier: 'gold' } }, { who: { team: 'a', tier: 'silver' } }],
    );
    expect(answers).toEqual([[{ result: true }], [{ result: false }]]);
  });

  it('for with, functions and numbers kept as their text', async () => {
    await sameAnswers(
      `default allow := false
f(x) := x.team
allow if f(input.who) == "a"
allow if input.parsed_body.n == 12345678901234567890
b_team if input.who.team == "b"
allow if {
  input.flag
  b_team with input.who as {"team": "b"}
}`,
      [
        { who: { team: 'a' } },
        { who: { team: 'c' }, parsed_body: { n: (JSON as unknown as { rawJSON(t: string): JsonObject }).rawJSON('12345678901234567890') } },
        { who: { team: 'c' }, parsed_body: { n: 12345678901234567000 } },
        { who: { team: 'c' }, flag: true },
      ],
    );
  });
});
