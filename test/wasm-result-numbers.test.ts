// Numbers the wasm writes in a result that are not JSON (it keeps a number's
// source text: to_number("007") is 007) are read as OPA writes them.
import { describe, expect, it } from 'vitest';
import { canonicalNumbers, parseResultSet } from '../src/policy/WasmEval.ts';

describe('result numbers that are not JSON', () => {
  it('reads leading zeros, a leading plus, bare and trailing points as OPA writes them', () => {
    expect(parseResultSet('[{"result":007}]')).toEqual([{ result: 7 }]);
    expect(parseResultSet('[{"result":[+5,-007.50,.5,5.,0,0.25,1e21,"007 +5 .5"]}]')).toEqual([{ result: [5, -7.5, 0.5, 5, 0, 0.25, 1e21, '007 +5 .5'] }]);
  });

  it('leaves valid JSON, and strings with escapes, alone', () => {
    const text = '[{"result":{"a\\\\"b":"x\\\\\\"007","n":-0.5e-3}}]';
    expect(canonicalNumbers(text)).toBe(text);
    expect(() => parseResultSet('[{"result":}]')).toThrow(SyntaxError);
  });
});
