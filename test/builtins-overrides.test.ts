// The builtins ztauthz answers in place of opa-wasm's JavaScript ones
// (src/policy/builtins/overrides.ts), compared with `opa eval`: sprintf with
// Go's fmt on the arguments as OPA sees them, regex.split as Go's Split,
// yaml.marshal as go-yaml v2 writes it.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../src/policy/builtins/index.ts';
import type { Case, Outcome } from './support/builtins-opa.ts';
import { buildWasm, comparable, opaEvalCases, wasmEvalCases } from './support/builtins-opa.ts';
import { exactTimeCases, regexSplitCases, sprintfCases, yamlMarshalCases } from './support/builtins-override-cases.ts';
import { nativeCases } from './support/builtins-native-cases.ts';

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
    expect(await mismatches('sprintfcases', cases)).toEqual([]);
  });
  it("regex.split (Go's Regexp.Split)", { timeout: TIMEOUT }, async () => {
    expect(await mismatches('splitcases', regexSplitCases())).toEqual([]);
  });
  it('time.* on nanosecond times beyond 2^53, read exactly', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('exacttimecases', exactTimeCases())).toEqual([]);
  });
  it('json.marshal, base64.*, format_int, indexof: compiled into the wasm, patched to be answered by the host', { timeout: TIMEOUT }, async () => {
    expect(await mismatches('nativecases', nativeCases())).toEqual([]);
  });
  it("yaml.marshal (go-yaml v2's emitter: key order, quoting, folding, literal blocks)", { timeout: TIMEOUT }, async () => {
    expect(await mismatches('yamlcases', yamlMarshalCases())).toEqual([]);
  });
});

describe('the override table', () => {
  it('names only builtins opa-wasm implements itself (the others reach createHostBuiltins already)', async () => {
    const { HOST_OVERRIDES } = await import('../src/policy/builtins/overrides.ts');
    const { OPA_WASM_JS_BUILTINS } = await import('../src/policy/builtins/index.ts');
    expect(Object.keys(HOST_OVERRIDES).filter((n) => !OPA_WASM_JS_BUILTINS.includes(n))).toEqual([]);
  });
});

describe("patching the wasm's own builtins", () => {
  it('rewrites json.marshal, base64, format_int and indexof of a compiled policy into host calls, and leaves other modules alone', {
    timeout: TIMEOUT,
  }, async () => {
    const { patchNativeBuiltins } = await import('../src/policy/builtins/wasm-patch.ts');
    const wasm = buildWasm('patchprobe', [
      { name: 'm', expr: `json.marshal({"b": 1, "a": 2})` },
      { name: 'f', expr: `format_int(255, 16)` },
      { name: 'i', expr: `indexof("abc", "c")` },
      { name: 'b', expr: `base64.decode("YQ==")` },
    ]);
    const patched = patchNativeBuiltins(new Uint8Array(wasm));
    expect([...patched.ids.values()].sort()).toEqual(['base64.decode', 'format_int', 'indexof', 'json.marshal']);
    const W = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(W.validate(patched.bytes)).toBe(true);
    // an empty module (no code, no names): unchanged
    const empty = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(patchNativeBuiltins(empty).bytes).toBe(empty);
    expect(() => patchNativeBuiltins(Uint8Array.from([1, 2, 3, 4]))).toThrow(/not a wasm module/);
  });
});
