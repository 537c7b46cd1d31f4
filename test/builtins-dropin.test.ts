// The builtins that opa-envoy-plugin has and ztauthz once refused at load,
// compared with `opa eval` on the same expressions (see builtins.test.ts for
// the method); and opa.runtime, which answers ztauthz's own empty runtime.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../src/policy/builtins/index.ts';
import type { Case, Outcome } from './support/builtins-opa.ts';
import { buildWasm, comparable, opaEvalCases, wasmEvalCases } from './support/builtins-opa.ts';
import { awsSignCases, globsCases, graphCases, renderTemplateCases, schemaCases, unsupportedTemplateCases } from './support/builtins-dropin-cases.ts';

const TIMEOUT = 60_000;

interface Compared {
  readonly name: string;
  readonly opa: unknown;
  readonly ztauthz: unknown;
}

/** Every case whose outcome differs from opa eval's (errors compare by kind). */
async function mismatches(pkg: string, cases: readonly Case[]): Promise<Compared[]> {
  const expected = opaEvalCases(pkg, cases);
  const actual = await wasmEvalCases(buildWasm(pkg, cases), pkg, cases, createHostBuiltins());
  return cases.flatMap((c, i) => {
    const want = comparable(expected[i] as Outcome);
    const got = comparable(actual[i] as Outcome);
    return isDeepStrictEqual(want, got) ? [] : [{ name: c.name, opa: want, ztauthz: got }];
  });
}

describe('builtins opa-envoy-plugin has, compared with opa eval', () => {
  it('regex.globs_match (a port of glob-intersection)', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('globcases', globsCases())).toEqual([]);
  });
  it('graph.reachable_paths', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('graphcases', graphCases())).toEqual([]);
  });
  it('strings.render_template', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('tmplcases', renderTemplateCases())).toEqual([]);
  });
  it('providers.aws.sign_req (AWS SigV4, signatures byte for byte)', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('awscases', awsSignCases())).toEqual([]);
  });
  it('json.verify_schema, json.match_schema', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('schemacases', schemaCases())).toEqual([]);
  });
});

describe('documented differences', () => {
  it('strings.render_template: define/template, slice, js, call fail the builtin (undefined) where OPA renders them', { timeout: TIMEOUT }, async () => {
    const cases = unsupportedTemplateCases();
    const opa = opaEvalCases('tmplunsupported', cases);
    expect(opa.every((o) => o.kind === 'value')).toBe(true);
    const ours = await wasmEvalCases(buildWasm('tmplunsupported', cases), 'tmplunsupported', cases, createHostBuiltins({ strictErrors: true }));
    expect(ours.map((o) => (o.kind === 'error' ? /not supported by ztauthz/.test(o.message) : o))).toEqual(cases.map(() => true));
  });

  it('opa.runtime answers an empty environment and configuration (never the process environment)', () => {
    process.env['ZTAUTHZ_SECRET_PROBE'] = 'must-not-leak';
    try {
      expect(createHostBuiltins().builtins['opa.runtime']?.()).toEqual({ env: {}, config: {} });
    } finally {
      delete process.env['ZTAUTHZ_SECRET_PROBE'];
    }
  });
});
