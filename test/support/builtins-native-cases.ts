// Cases for the builtins the wasm implements itself and ztauthz patches to
// answer with OPA's semantics (src/policy/builtins/wasm-patch.ts, native.ts).
import type { Case } from './builtins-opa.ts';
import { dyn, dynJson } from './builtins-cases.ts';
import { rego } from './builtins-opa.ts';

const cases = (name: string, exprs: readonly string[]): Case[] => exprs.map((expr) => ({ name: `${name}: ${expr.slice(0, 140)}`, expr }));

export function nativeCases(): Case[] {
  const values = [{ c: 1, b: [1, 'x', null, true], a: { z: '<&>', y: 1.5 } }, [], {}, 'é\u2028<', 12345678901234567890, 1e21, 0.1, null, [{ b: 1, a: 2 }]];
  const b64 = ['', 'aGVsbG8=', 'aGVsbG8', 'a-_b', 'Wm/DqwÅ', 'eyJrIjoxfQ', 'YQ==\n', 'YQ=', 'YWJj', '!!', '/w=='];
  return [
    ...cases('json.marshal', [
      ...values.map((v) => `json.marshal(${dyn(v)})`),
      `json.marshal({"s": {3, 1, 2}, "n": ${'12345678901234567891'}})`,
      `json.marshal({1: "a"})`,
    ]),
    ...cases(
      'base64',
      b64.flatMap((s) => [`base64.is_valid(${dyn(s)})`, `base64.decode(${dyn(s)})`, `base64url.decode(${dyn(s)})`]),
    ),
    ...cases('base64 errors', [`base64.is_valid(${dyn(1)})`, `base64.decode(${dyn(1)})`]),
    ...cases('format_int', [
      ...['0', '255', '-255', '12345678901234567890', '1e21', '15.9', '-15.9', '1.5e3', '0.5', '-0.5', '18446744073709551617'].flatMap((n) =>
        [2, 8, 10, 16].map((base) => `format_int(${dynJson(n)}, ${base})`),
      ),
      `format_int(12345678901234567890 + 0.9, 10)`,
      `format_int(${dynJson('123456789012345678901234.5')}, 16)`,
      `format_int(${dynJson('0.99999999999999999999')}, 10)`,
      `format_int(${dynJson('-2.5')}, 2)`,
      `format_int(10, 3)`,
      `format_int(${dyn('1')}, 10)`,
    ]),
    ...cases(
      'indexof',
      [
        ['abcabc', 'c'],
        ['abc', 'x'],
        ['abc', ''],
        ['', ''],
        ['日本語本', '本'],
        ['🦙a🦙b', 'b'],
        ['aaa', 'aa'],
      ].map(([s, t]) => `indexof(${dyn(s)}, ${rego(t)})`),
    ),
  ];
}
