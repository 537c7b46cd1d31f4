// Existing opa-envoy-plugin policies run unchanged: each example policy is
// evaluated through ztauthz (compiled to wasm, our input builder, our builtins)
// and through `opa eval` (OPA's own interpreter) on the very input ztauthz
// built, and the two must agree on every request.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcessPipeline } from './support/servers.ts';
import { encodeCheckRequestJson } from '../src/envoy/ProtoJson.ts';
import { opaBinary } from '../src/policy/OpaCompiler.ts';
import type { JsonValue } from '../src/types/Json.ts';

interface Case {
  name: string;
  http: Record<string, unknown>;
  allowed: boolean;
}

function b64url(obj: object): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}
/** A JWT whose claims Envoy's jwt_authn already verified; the policy only decodes it. */
function jwt(claims: object): string {
  return `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims)}.c2lnbmF0dXJl`;
}
const now = Math.floor(Date.now() / 1000);
const admin = jwt({ sub: 'alice', role: 'admin', nbf: now - 60, exp: now + 3600 });
const guest = jwt({ sub: 'bob', role: 'guest', nbf: now - 60, exp: now + 3600 });
const expired = jwt({ sub: 'alice', role: 'admin', nbf: now - 7200, exp: now - 3600 });

const POLICIES: Array<{ dir: string; decision: string; cases: Case[] }> = [
  {
    dir: 'policies/examples/header-check',
    decision: 'envoy/authz/allow',
    cases: [
      { name: 'known tenant reads', http: { method: 'GET', path: '/api/items?x=1', headers: { 'x-tenant': 'acme' } }, allowed: true },
      { name: 'unknown tenant', http: { method: 'GET', path: '/api/items', headers: { 'x-tenant': 'initech' } }, allowed: false },
      { name: 'outside /api', http: { method: 'GET', path: '/admin', headers: { 'x-tenant': 'acme' } }, allowed: false },
      { name: 'write with key', http: { method: 'POST', path: '/api/items', headers: { 'x-tenant': 'acme', 'x-api-key': 'acme-key-1' } }, allowed: true },
      { name: 'write with wrong key', http: { method: 'POST', path: '/api/items', headers: { 'x-tenant': 'acme', 'x-api-key': 'guess' } }, allowed: false },
      {
        name: 'write for tenant without key',
        http: { method: 'POST', path: '/api/items', headers: { 'x-tenant': 'globex', 'x-api-key': '' } },
        allowed: false,
      },
    ],
  },
  {
    dir: 'policies/examples/jwt-rbac',
    decision: 'envoy/authz/allow',
    cases: [
      { name: 'guest reads people', http: { method: 'GET', path: '/people', headers: { authorization: `Bearer ${guest}` } }, allowed: true },
      {
        name: 'guest may not create',
        http: {
          method: 'POST',
          path: '/people',
          headers: { authorization: `Bearer ${guest}`, 'content-type': 'application/json' },
          body: '{"firstname":"carol"}',
        },
        allowed: false,
      },
      {
        name: 'admin creates someone else',
        http: {
          method: 'POST',
          path: '/people',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: '{"firstname":"Carol"}',
        },
        allowed: true,
      },
      {
        name: 'admin may not create themself',
        http: {
          method: 'POST',
          path: '/people',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: '{"firstname":"ALICE"}',
        },
        allowed: false,
      },
      { name: 'expired token', http: { method: 'GET', path: '/people', headers: { authorization: `Bearer ${expired}` } }, allowed: false },
      { name: 'no token', http: { method: 'GET', path: '/people' }, allowed: false },
    ],
  },
  {
    dir: 'policies/examples/object-result',
    decision: 'envoy/authz/result',
    cases: [
      { name: 'right key', http: { method: 'GET', path: '/x?debug=1', headers: { 'x-api-key': 'let-me-in', 'x-tenant': 't1' } }, allowed: true },
      { name: 'wrong key', http: { method: 'GET', path: '/x', headers: { 'x-api-key': 'nope' } }, allowed: false },
    ],
  },
];

function opaEval(dir: string, decision: string, inputs: JsonValue[]): JsonValue[] {
  const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-opaeval-'));
  const dataFile = join(tmp, 'inputs.json');
  writeFileSync(dataFile, JSON.stringify({ ztauthz_test_inputs: inputs }));
  const ref = `data.${decision.replace(/\//g, '.')}`;
  const query = `[r | some i in data.ztauthz_test_inputs; r := ${ref} with input as i]`;
  const out = execFileSync(opaBinary(), ['eval', '--format', 'json', '-d', dir, '-d', dataFile, '--ignore', '*_test.rego', query], { encoding: 'utf8' });
  return JSON.parse(out).result[0].expressions[0].value as JsonValue[];
}

describe.each(POLICIES)('opa-envoy-plugin policy $dir', ({ dir, decision, cases }) => {
  it('gives the same results as opa eval, and the expected decisions', async () => {
    const { policies, load, pipeline } = await inProcessPipeline({ policy: dir, 'decision-path': decision, 'request-truncated-body': 'policy' });
    policies.activate(await load());

    const inputs: JsonValue[] = [];
    const ours: JsonValue[] = [];
    for (const c of cases) {
      const bytes = encodeCheckRequestJson({ attributes: { source: { principal: 'spiffe://cluster.local/ns/a/sa/b' }, request: { http: c.http } } });
      const outcome = await pipeline.check(bytes);
      expect(outcome.input, c.name).toBeDefined();
      expect({ name: c.name, allowed: outcome.decision.allowed }).toEqual({ name: c.name, allowed: c.allowed });
      inputs.push(outcome.input!);
      ours.push(outcome.decision.result!);
    }
    expect(ours).toEqual(opaEval(dir, decision, inputs));
  });
});
