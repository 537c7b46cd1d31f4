// The builtins ztauthz answers in place of opa-wasm's JavaScript ones
// (src/policy/builtins/overrides.ts), compared with `opa eval`: sprintf with
// Go's fmt on the arguments as OPA sees them, regex.split as Go's Split,
// yaml.marshal as go-yaml v2 writes it.
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { createHostBuiltins } from "../src/policy/builtins/index.ts";
import type { Case, Outcome } from "./support/builtins-opa.ts";
import { buildWasm, comparable, opaEvalCases, wasmEvalCases } from "./support/builtins-opa.ts";
import { regexSplitCases, sprintfCases, yamlMarshalCases } from "./support/builtins-override-cases.ts";

const TIMEOUT = 120_000;

async function mismatches(pkg: string, cases: readonly Case[]): Promise<unknown[]> {
  const expected = opaEvalCases(pkg, cases);
  const actual = await wasmEvalCases(buildWasm(pkg, cases), pkg, cases, createHostBuiltins());
  return cases.flatMap((c, i) => {
    const want = comparable(expected[i] as Outcome);
    const got = comparable(actual[i] as Outcome);
    return isDeepStrictEqual(want, got) ? [] : [{ name: c.name, opa: want, ztauthz: got }];
  });
}

describe("builtins answered in place of opa-wasm's, compared with opa eval", () => {
  it("sprintf (Go's fmt: every verb on every kind of argument, error forms)", { timeout: TIMEOUT }, async () => {
    const cases = sprintfCases();
    expect(cases.length).toBeGreaterThan(1000);
    expect(await mismatches("sprintfcases", cases)).toEqual([]);
  });
  it("regex.split (Go's Regexp.Split)", { timeout: TIMEOUT }, async () => {
    expect(await mismatches("splitcases", regexSplitCases())).toEqual([]);
  });
  it("yaml.marshal (go-yaml v2's emitter: key order, quoting, folding, literal blocks)", { timeout: TIMEOUT }, async () => {
    expect(await mismatches("yamlcases", yamlMarshalCases())).toEqual([]);
  });
});

describe("the override table", () => {
  it("names only builtins opa-wasm implements itself (the others reach createHostBuiltins already)", async () => {
    const { HOST_OVERRIDES } = await import("../src/policy/builtins/overrides.ts");
    const { OPA_WASM_JS_BUILTINS } = await import("../src/policy/builtins/index.ts");
    expect(Object.keys(HOST_OVERRIDES).filter((n) => !OPA_WASM_JS_BUILTINS.includes(n))).toEqual([]);
  });
});
