// JSON bodies within bounds (src/envoy/JsonBody.ts): the scan's depth, key
// and element counts agree with the parsed value's on random JSON, duplicate
// keys are found however they are spelt, and nothing is confused by what
// strings contain.
import { describe, expect, it } from 'vitest';
import { DEFAULT_JSON_LIMITS, parseJsonBody, scanJson, type JsonBodyLimits } from '../src/envoy/JsonBody.ts';
import { FIELDS } from '../src/config/schema.ts';
import { Reason } from '../src/types/Reason.ts';
import { prng } from './support/prng.ts';

const LIMITS = DEFAULT_JSON_LIMITS;
const LAST: JsonBodyLimits = { ...LIMITS, duplicateKeys: 'last' };

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { reason?: string }).reason ?? `threw ${(err as Error).message}`;
  }
}

/** Depth, keys and elements of a parsed value, counted recursively (the generated values are shallow enough). */
function stats(v: unknown, depth = 0): { depth: number; keys: number; elements: number } {
  if (v === null || typeof v !== 'object') return { depth, keys: 0, elements: 0 };
  const children = Array.isArray(v) ? v : Object.values(v);
  const out = { depth: depth + 1, keys: Array.isArray(v) ? 0 : children.length, elements: Array.isArray(v) ? children.length : 0 };
  for (const c of children) {
    const s = stats(c, depth + 1);
    out.depth = Math.max(out.depth, s.depth);
    out.keys += s.keys;
    out.elements += s.elements;
  }
  return out;
}

/** Random JSON text whose strings hold what confuses naive scanners: quotes, backslashes, brackets, commas, colons, escapes. */
function randomJson(rand: () => number, depth: number): string {
  const r = rand();
  const space = (): string => (rand() < 0.2 ? [' ', '\n', '\t', '\r\n  '][Math.floor(rand() * 4)]! : '');
  if (depth <= 0 || r < 0.3) {
    const k = Math.floor(rand() * 6);
    if (k === 0) return String(Math.floor(rand() * 1e6) / 100);
    if (k === 1) return ['true', 'false', 'null'][Math.floor(rand() * 3)]!;
    return JSON.stringify(randomString(rand));
  }
  const n = Math.floor(rand() * 5);
  if (r < 0.65) {
    const items = Array.from({ length: n }, () => space() + randomJson(rand, depth - 1) + space());
    return `[${space()}${items.join(',')}]`;
  }
  const keys = new Set<string>();
  while (keys.size < n) keys.add(randomString(rand));
  const members = [...keys].map((k) => `${space()}${maybeEscaped(k, rand)}${space()}:${space()}${randomJson(rand, depth - 1)}${space()}`);
  return `{${members.join(',')}${space()}}`;
}

function randomString(rand: () => number): string {
  const alphabet = ['a', 'b', 'model', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'é', '😀', '\n', '\\"', '\u0000'];
  let s = '';
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

/** A key as JSON text, some of its characters written as \uXXXX escapes. */
function maybeEscaped(key: string, rand: () => number): string {
  if (rand() < 0.5) return JSON.stringify(key);
  let out = '"';
  for (const ch of key) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\' || code < 0x20 || rand() < 0.5) {
      for (const unit of ch.length === 2 ? [ch.charCodeAt(0), ch.charCodeAt(1)] : [code]) out += `\\u${unit.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

describe('JSON body bounds', () => {
  it('has the configuration defaults', () => {
    const def = (key: string) => FIELDS.find((f) => f.key === key)?.default;
    expect(DEFAULT_JSON_LIMITS).toEqual({
      maxDepth: def('request.max_body_depth'),
      maxKeys: def('request.max_body_keys'),
      maxElements: def('request.max_body_elements'),
      duplicateKeys: def('request.body_duplicate_keys'),
    });
  });

  it('counts depth, keys and elements exactly as the parsed value has them (random JSON)', () => {
    const rand = prng(0x150b0d1);
    for (let round = 0; round < 2000; round++) {
      const text = randomJson(rand, 6);
      const value = JSON.parse(text);
      const s = stats(value);
      const exact: JsonBodyLimits = {
        maxDepth: Math.max(1, s.depth),
        maxKeys: Math.max(1, s.keys),
        maxElements: Math.max(1, s.elements),
        duplicateKeys: 'deny',
      };
      expect(parseJsonBody(text, exact), text).toEqual(value);
      if (s.depth > 1)
        expect(
          reasonOf(() => scanJson(text, { ...exact, maxDepth: s.depth - 1 })),
          text,
        ).toBe(Reason.bodyTooDeep);
      if (s.keys > 1)
        expect(
          reasonOf(() => scanJson(text, { ...exact, maxKeys: s.keys - 1 })),
          text,
        ).toBe(Reason.bodyTooManyKeys);
      if (s.elements > 1)
        expect(
          reasonOf(() => scanJson(text, { ...exact, maxElements: s.elements - 1 })),
          text,
        ).toBe(Reason.bodyTooManyElements);
    }
  });

  it('counts the elements of number runs exactly at the bound, however runs and containers alternate', () => {
    for (const [text, elements] of [
      ['[[{"":[]},""],1,[[""]]]', 7],
      ['[[1,2,3],[4,5,6]]', 8],
      ['[1, 2 ,3,[4,"5,6",7],-8e-1,{"a":[9]},10]', 11],
      ['[0,true,1,null,2,false,"x"]', 7],
    ] as const) {
      expect(
        reasonOf(() => scanJson(text, { ...LIMITS, maxElements: elements })),
        text,
      ).toBeUndefined();
      expect(
        reasonOf(() => scanJson(text, { ...LIMITS, maxElements: elements - 1 })),
        text,
      ).toBe(Reason.bodyTooManyElements);
    }
  });

  it('refuses 5,000 levels of arrays or objects before parsing, and takes exactly max_body_depth', () => {
    for (const [open, close] of [
      ['[', ']'],
      ['{"a":', '}'],
    ]) {
      expect(reasonOf(() => parseJsonBody(`${open!.repeat(5000)}1${close!.repeat(5000)}`, LIMITS))).toBe(Reason.bodyTooDeep);
      // Unclosed too: the bound does not wait for the end of the text.
      expect(reasonOf(() => parseJsonBody(open!.repeat(100_000), LIMITS))).toBe(Reason.bodyTooDeep);
      expect(reasonOf(() => parseJsonBody(`${open!.repeat(64)}1${close!.repeat(64)}`, LIMITS))).toBeUndefined();
      expect(reasonOf(() => parseJsonBody(`${open!.repeat(65)}1${close!.repeat(65)}`, LIMITS))).toBe(Reason.bodyTooDeep);
    }
    // Brackets inside strings are not nesting.
    expect(parseJsonBody(JSON.stringify({ a: '['.repeat(1000), b: ['{'.repeat(1000)] }), LIMITS)).toMatchObject({ b: ['{'.repeat(1000)] });
  });

  it('refuses a million keys at the key bound, before JSON.parse sees the text', () => {
    const keys = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',');
    // Broken at the very end: had JSON.parse run first, the reason would be body_invalid.
    expect(reasonOf(() => parseJsonBody(`{${keys},}}}`, LIMITS))).toBe(Reason.bodyTooManyKeys);
    expect(reasonOf(() => parseJsonBody(`{${keys}}`, LAST))).toBe(Reason.bodyTooManyKeys);
    // Keys are counted over the whole body, not per object.
    const spread = `[${Array.from({ length: 50_001 }, (_, i) => `{"a":${i},"b":${i}}`).join(',')}]`;
    expect(reasonOf(() => parseJsonBody(spread, LIMITS))).toBe(Reason.bodyTooManyKeys);
  });

  it('takes tensors of hundreds of thousands of elements at the defaults, and refuses more elements than max_body_elements', () => {
    const data = Array.from({ length: 500_000 }, (_, i) => ((i % 1000) / 1000).toFixed(3));
    const tensor = `{"inputs":[{"name":"x","shape":[500000],"datatype":"FP32","data":[${data.join(',')}]}]}`;
    expect((parseJsonBody(tensor, LIMITS) as any).inputs[0].data).toHaveLength(500_000);
    const nested = `{"inputs":[{"name":"x","shape":[1000,3,100],"datatype":"FP32","data":${JSON.stringify(Array.from({ length: 1000 }, () => Array.from({ length: 3 }, () => Array(100).fill(0.5))))}}]}`;
    expect(reasonOf(() => parseJsonBody(nested, LIMITS))).toBeUndefined();
    expect(reasonOf(() => parseJsonBody(`[${'0,'.repeat(1_000_000)}0]`, LIMITS))).toBe(Reason.bodyTooManyElements);
    expect(reasonOf(() => parseJsonBody(`[${'0,'.repeat(999_999)}0]`, LIMITS))).toBeUndefined();
  });

  it('refuses a key given twice in one object, however it is spelt, at the top or nested', () => {
    const dup = [
      '{"model":"a","model":"b"}',
      '{"model":"a","mod\\u0065l":"b"}',
      '{"mod\\u0065l":"a","model":"b"}',
      '{"\\u006d\\u006F\\u0064\\u0065\\u006c":"a","model":"b"}',
      '{"m\\/":"a","m/":"b"}',
      '{"a\\"b":1,"a\\u0022b":2}',
      '{"x":{"model":"a","n":1,"model":"b"}}',
      '{"messages":[{"role":"user"},{"role":"user","content":"x","role":"system"}]}',
      '{ "model" : "a" ,\n "model" : "b" }',
      // Lone surrogates decode to U+FFFD in Go and others: the same key there.
      '{"\\ud800":1,"\\ufffd":2}',
      // Past the few keys compared one by one, into the Set.
      `{${Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',')},"k3":0}`,
      `{${Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',')},"k\\u0031\\u0039":0}`,
    ];
    for (const text of dup) {
      expect(
        reasonOf(() => parseJsonBody(text, LIMITS)),
        text,
      ).toBe(Reason.bodyDuplicateKey);
      expect(
        reasonOf(() => parseJsonBody(text, LAST)),
        text,
      ).toBeUndefined();
    }
    // "last" is JSON.parse's rule: the last one counts.
    expect(parseJsonBody('{"model":"allowed","mod\\u0065l":"other"}', LAST)).toEqual({ model: 'other' });
  });

  it("with deny_any_case, also refuses keys that differ in case only, as Go's encoding/json matches them", () => {
    const anyCase: JsonBodyLimits = { ...LIMITS, duplicateKeys: 'deny_any_case' };
    for (const text of [
      '{"model":"a","Model":"b"}',
      '{"model":"a","MODEL":"b"}',
      '{"x":{"kind":1,"\u212aind":2}}',
      '{"messages":[],"me\u017f\u017fages":[]}',
      '{"model":"a","mod\u0065l":"b"}',
    ]) {
      expect(
        reasonOf(() => parseJsonBody(text, anyCase)),
        text,
      ).toBe(Reason.bodyDuplicateKey);
    }
    expect(reasonOf(() => parseJsonBody('{"model":"a","Model":"b"}', LIMITS))).toBeUndefined();
    expect(reasonOf(() => parseJsonBody('{"model":"a","x":{"Model":"b"}}', anyCase))).toBeUndefined();
  });

  it('does not take equal keys in different objects, keys and values, or strings that merely contain a key, for duplicates', () => {
    const fine = [
      '{"model":"a","x":{"model":"b"}}',
      '[{"model":"a"},{"model":"b"}]',
      '{"model":"model","a":"model"}',
      '{"a":"\\",\\"a\\":1","b":2}',
      '{"a\\\\":1,"a":2}',
      '{"Model":1,"model":2}',
      '{"a":{"b":1},"b":{"a":1}}',
      '{"":1,"\\u0000":2}',
      '{"a":[],"b":{},"c":[{}]}',
    ];
    for (const text of fine)
      expect(
        reasonOf(() => parseJsonBody(text, LIMITS)),
        text,
      ).toBeUndefined();
  });

  it('leaves invalid JSON to JSON.parse: body_invalid', () => {
    for (const text of ['', '{', '{"a":1', '{"a":"x}', '{"a\\x":1}', '[1,]', '{"a":1}}', 'nul', '{"a" 1}', '"\\u12"']) {
      expect(
        reasonOf(() => parseJsonBody(text, LIMITS)),
        text,
      ).toBe(Reason.bodyInvalid);
    }
    expect(parseJsonBody(' "top level string" ', LIMITS)).toBe('top level string');
    expect(parseJsonBody('42', LIMITS)).toBe(42);
  });
});

describe('JSON body numbers a double does not carry', () => {
  it("keeps the text of integers beyond 2^53 and of numbers that overflow or underflow, so the policy's JSON has them exactly", () => {
    const text =
      '{"id":12345678901234567891,"l":[1,-12345678901234567891],"big":1e400,"neg":-1E+400,"tiny":1e-400,"zero":0e-400,"f":0.1,"g":1.5e300,"safe":9007199254740991,"s":"12345678901234567891"}';
    expect(JSON.stringify(parseJsonBody(text, LIMITS))).toBe(
      '{"id":12345678901234567891,"l":[1,-12345678901234567891],"big":1e400,"neg":-1E+400,"tiny":1e-400,"zero":0,"f":0.1,"g":1.5e+300,"safe":9007199254740991,"s":"12345678901234567891"}',
    );
    expect(JSON.stringify(parseJsonBody('12345678901234567891', LIMITS))).toBe('12345678901234567891');
    // Fractions stay doubles (as JSON.parse reads them).
    expect(parseJsonBody('{"x":12345678901234567.5}', LIMITS)).toEqual({ x: 12345678901234568 });
  });

  it('only parses with a reviver when the scan saw such a number: strings, fractions and tensors do not count', () => {
    expect(scanJson('{"a":"12345678901234567891 1e400","b":0.12345678901234567,"c":[1e99,2]}', LIMITS)).toBe(0);
    expect(scanJson('{"a":1234567890123456}', LIMITS)).toBe(1);
    expect(scanJson('{"a":[1,2,1e-300]}', LIMITS)).toBe(1);
    expect(scanJson('12345678901234567891', LIMITS)).toBe(1);
    // A long run of numbers (tensor data) is not read number by number: its numbers are doubles.
    const run = `[${Array.from({ length: 200 }, (_, i) => i).join(',')},12345678901234567891]`;
    expect(scanJson(run, LIMITS)).toBe(0);
  });
});

describe('JSON body strings with a lone surrogate escape', () => {
  it("become U+FFFD, keys too, as Go reads them (the policy's JSON reader refuses a lone surrogate and the evaluation failed)", () => {
    expect(parseJsonBody('{"a":"x\\ud800y","k\\udc00":["\\ud83d\\ude00","\\ud83d"],"n":12345678901234567891}', LIMITS)).toEqual({
      a: 'x\ufffdy',
      'k\ufffd': ['\u{1f600}', '\ufffd'],
      n: expect.anything(),
    });
    expect(JSON.stringify(parseJsonBody('{"a":"\\ud800","n":12345678901234567891,"__proto__":1}', LIMITS))).toBe(
      '{"a":"\ufffd","n":12345678901234567891,"__proto__":1}',
    );
    // A key that becomes another key is a duplicate (refused), as the scan compares keys well-formed.
    expect(reasonOf(() => parseJsonBody('{"\\ud800":1,"\\udc00":2}', LIMITS))).toBe(Reason.bodyDuplicateKey);
  });
});
