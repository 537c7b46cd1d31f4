// Go's reading of JSON bodies (src/envoy/GoJson.ts), for compat: opa-envoy:
// the error texts of OPA's util.UnmarshalJSON (Go encoding/json's Decoder,
// then one Token()). The expected texts were produced by Go 1.26 running
// util.UnmarshalJSON's code on each input; 3,000 random mutations of valid
// bodies agreed with it too when this was written.
import { describe, expect, it } from 'vitest';
import { goUnmarshalJson } from '../src/envoy/GoJson.ts';

/** [body, Go's error (null: accepted)] */
const GO: Array<[string, string | null]> = [
  ['{"a":', 'unexpected EOF'],
  ['', 'EOF'],
  ['  \n', 'EOF'],
  ['\ufeff{"a":1}', "invalid character '\u00ef' looking for beginning of value"],
  ['{"a":1} x', "invalid character 'x' looking for beginning of value"],
  ['{"a":1}{"b":2}', "error: invalid character '{' after top-level value"],
  ['{"a":NaN}', "invalid character 'N' looking for beginning of value"],
  ['{} null x', null],
  ['{} true', "error: invalid character '%!s(bool=true)' after top-level value"],
  ['{} "s"', "error: invalid character 's' after top-level value"],
  ['{} 5', "error: invalid character '5' after top-level value"],
  ['{} ]', "invalid character ']' looking for beginning of value"],
  ['[1,]', "invalid character ']' looking for beginning of value"],
  ['{"a" 1}', "invalid character '1' after object key"],
  ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
  ['{,}', "invalid character ',' looking for beginning of object key string"],
  ['"\\x"', "invalid character 'x' in string escape code"],
  ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
  ['"a\nb"', "invalid character '\\n' in string literal"],
  ['-a', "invalid character 'a' in numeric literal"],
  ['1.x', "invalid character 'x' after decimal point in numeric literal"],
  ['1ex', "invalid character 'x' in exponent of numeric literal"],
  ['trx', "invalid character 'x' in literal true (expecting 'u')"],
  ['nulx', "invalid character 'x' in literal null (expecting 'l')"],
  ['falsx', "invalid character 'x' in literal false (expecting 'e')"],
  ['01', "error: invalid character '1' after top-level value"],
  ['[1 2]', "invalid character '2' after array element"],
  ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
  ["'", "invalid character '\\'' looking for beginning of value"],
  ['\u007f', "invalid character '\\x7f' looking for beginning of value"],
  ['\u00a0', "invalid character '\u00c2' looking for beginning of value"],
  ['{}}', "invalid character '}' looking for beginning of value"],
  ['{"a":-0.5e-3}', null],
  ['[[]] ', null],
];

describe("goUnmarshalJson (opa-envoy-plugin's JSON body errors)", () => {
  it.each(GO)('%j -> %s', (body, error) => {
    const verdict = goUnmarshalJson(Buffer.from(body, 'utf8'));
    if (error === null) expect(verdict).toHaveProperty('valueEnd');
    else expect(verdict).toEqual({ error });
  });

  it('keeps the first value when a null follows it, whatever comes after (the one Token() OPA reads is nil)', () => {
    const text = '{"a":[1]}  null, garbage';
    const verdict = goUnmarshalJson(Buffer.from(text));
    expect(verdict).toEqual({ valueEnd: 9 });
  });

  it("refuses nesting beyond Go's 10,000 levels", () => {
    expect(goUnmarshalJson(Buffer.from('['.repeat(10_001)))).toEqual({ error: "invalid character '[' exceeded max depth" });
  });
});
