// Cases for the builtins ztauthz answers in place of opa-wasm's JavaScript
// ones (src/policy/builtins/overrides.ts): sprintf with Go's fmt, and
// regex.split with Go's Regexp.Split. Compared with `opa eval`.
import type { Case } from './builtins-opa.ts';
import { dyn, dynJson } from './builtins-cases.ts';
import { rego } from './builtins-opa.ts';

const cases = (name: string, exprs: readonly string[]): Case[] => exprs.map((expr) => ({ name: `${name}: ${expr.slice(0, 140)}`, expr }));

/** Arguments of every kind sprintf sees: literals, numbers from JSON (dynamic), big and odd numbers, composites. */
const ARGS = [
  '42',
  '-17',
  '0',
  '3.5',
  '-0.25',
  '1e21',
  '1e-7',
  '1.5e300',
  '100000',
  '1234567.0',
  '0.000012345',
  '123456789.125',
  dynJson('12345678901234567890'),
  dynJson('-98765432109876543210'),
  dynJson('9007199254740993'),
  'to_number("007")',
  'to_number("42") / 3',
  'to_number("3.5") / 3',
  'to_number("1") / 10',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775808',
  rego('hello'),
  rego(''),
  rego('say "hi"\t\n'),
  rego('héllo 日本 🦙'),
  rego('\u0001\u007f'),
  rego('`back`'),
  rego("a'b"),
  'true',
  'false',
  'null',
  '[1, "x", null, true, 2.5]',
  '{"k": [1, "x", null, true], "a": {"z": 1}}',
  '{3, 1, 2}',
  'set()',
  '{}',
  '[]',
  '{"b", "a", [1]}',
  dyn({ n: 1, s: 'x' }),
  dyn([1, 2]),
  '{1: "one"}',
];

const VERBS = [
  '%v',
  '%d',
  '%s',
  '%q',
  '%x',
  '%X',
  '%f',
  '%.2f',
  '%e',
  '%g',
  '%5d',
  '%-5d|',
  '%05d',
  '%+d',
  '%t',
  '%c',
  '%U',
  '%o',
  '%b',
  '%8.3f',
  '%-8s|',
  '%.3s',
  '%#x',
  '%#v',
  '%+v',
  '% d',
  '%10.4e',
  '%G',
  '%E',
  '%.0f',
  '%#o',
  '%T',
  '%08.3f',
  '%+.1e',
  '%x',
];

export function sprintfCases(): Case[] {
  const out: Case[] = [];
  for (const verb of VERBS) {
    for (const a of ARGS) {
      if (/%[xXbo]|%#[xo]/.test(verb) && /\.\d|e-|e2|e3|\/ 3|\/ 10/.test(a)) continue; // hexadecimal floats are not ported
      out.push({ name: `sprintf ${verb} ${a}`, expr: `sprintf(${rego(verb)}, [${a}])` });
    }
  }
  out.push(
    ...cases('sprintf forms', [
      `sprintf("%s %s", ["a"])`,
      `sprintf("%s", ["a", "b", 1])`,
      `sprintf("%d%%", [5])`,
      `sprintf("%", [])`,
      `sprintf("%z", [1])`,
      `sprintf("%[2]s %[1]s", ["a", "b"])`,
      `sprintf("%[3]s", ["a"])`,
      `sprintf("%[x]s", ["a"])`,
      `sprintf("%*d", [5, 42])`,
      `sprintf("%-*d|", [5, 42])`,
      `sprintf("%.*f", [2, 3.14159])`,
      `sprintf("%*d", ["x", 42])`,
      `sprintf("no verbs", [])`,
      `sprintf("%!", [1])`,
      `sprintf("%é", [1])`,
      `sprintf("%d items: %v", [3, ["a", "b"]])`,
      `sprintf("%s=%v", ["k", {"a": 1}])`,
      `sprintf("%v", [{"a", "b"}])`,
      `sprintf("%.1f%%", [99.95])`,
      `sprintf("%.2f", [0.125])`,
      `sprintf("%.2f", [0.375])`,
      `sprintf("%.0f", [2.5])`,
      `sprintf("%.0f", [3.5])`,
      `sprintf("%.3g", [1234.5678])`,
      `sprintf("%6.2f|%-6.2f|", [3.14159, 2.5])`,
      `sprintf("%x", ["hello"])`,
      `sprintf("% x", ["hi"])`,
      `sprintf("%# x", ["hi"])`,
      `sprintf("%q", [97])`,
      `sprintf("%c", [128512])`,
      `sprintf("%#U", [128512])`,
      `sprintf("%+q", ["日本"])`,
      `sprintf("%#q", ["x"])`,
      `sprintf("%s", ${dyn('x')})`,
      `sprintf(${dyn(1)}, [])`,
      `sprintf("%v", [input.missing])`,
    ]),
  );
  return out;
}

export function regexSplitCases(): Case[] {
  const pairs: [string, string][] = [
    [',', 'a,b,c'],
    [',', ''],
    ['x*', ''],
    ['', 'abc'],
    ['', ''],
    ['(;)', 'k1=v1;k2=v2'],
    [';', ';a;'],
    ['a(?=b)', 'ab'],
    ['(?i)abc', 'xABCy'],
    ['\\s+', ' a  b  '],
    ['[0-9]', 'a1b2c3'],
    ['x*', 'axbxxc'],
    ['b*', 'abc'],
    ['日', 'a日b'],
    ['(', 'a'],
    ['\\d+', '12ab34'],
  ];
  return cases(
    'regex.split',
    pairs.map(([p, s]) => `regex.split(${dyn(p)}, ${dyn(s)})`),
  );
}

export function yamlMarshalCases(): Case[] {
  const values: unknown[] = [
    { b: [1, 'x'], a: { c: true } },
    { s: 'true', n: '123', e: '', colon: 'a: b', hash: 'a #b', yes: 'yes', tilde: '~', quote: "it's", dq: 'say "x"' },
    { multi: 'l1\nl2', trail: 'l1\n', two: 'a\n\nb', lead: ' x', lspace: '  indented\nline' },
    { long: 'word '.repeat(30).trim(), longer: `${'abc '.repeat(40)}end`, single: `'${'q '.repeat(45)}'` },
    { f: 1.5, big: 1e21, neg: -0.25, i: 42, z: 0, nul: null, t: true, emptyA: [], emptyO: {} },
    { nested: [[1, 2], { k: 'v', j: [1] }, [], {}], deep: { a: { b: { c: [{ d: 1 }] } } } },
    { dash: '- x', star: '*x', amp: '&a', bang: '!x', pct: '%x', at: '@x', q: '?x', ques: '? x', brace: '{x}', comma: 'a,b', tab: 'a\tb' },
    {
      date: '2024-01-02',
      time: '2024-01-02T10:00:00Z',
      hex: '0x1F',
      oct: '0o17',
      octal: '017',
      bin: '0b101',
      under: '1_000',
      sci: '1e5',
      dot: '.5',
      inf: '.inf',
      sexa: '1:30',
    },
    { uni: 'Zoë 日本', emoji: '🦙', nbsp: 'a\u00a0b', ctrl: 'a\u0001b', esc: 'back\\slash' },
    { a10: 1, a2: 2, a1: 3, B: 4, b: 5, _x: 6, '1': 7, '10': 8, '9': 9, '': 10, 'key with space': 11, 'k: v': 12, 'multi\nkey': 13 },
    [1, 'two', null],
    'plain',
    'true',
    '',
    5,
    1.25,
    null,
    [],
    {},
    [[[]]],
  ];
  return [
    ...cases(
      'yaml.marshal',
      values.map((v) => `yaml.marshal(${dyn(v)})`),
    ),
    ...cases('yaml.marshal literal', [
      `yaml.marshal({"s": {1, 2}, "n": 12345678901234567890, "m": 1.0, "x": 1e400 / 1e400})`,
      `yaml.marshal({1: "a"})`,
      `yaml.marshal({"f": 1234567.5, "g": 100000.5, "h": 0.00001})`,
    ]),
  ];
}

/** Nanosecond times beyond 2^53 reach the time builtins exactly (overrides.ts EXACT_ARGUMENTS). */
export function exactTimeCases(): Case[] {
  const ns = '1709231399123456789';
  return cases('exact ns', [
    `time.format(${ns})`,
    `time.format([${ns}, "Asia/Tokyo", "2006-01-02T15:04:05.999999999Z07:00"])`,
    `time.format(${dynJson(ns)})`,
    `time.date(${ns})`,
    `time.clock([${ns}, "America/New_York"])`,
    `time.weekday(${ns})`,
    `time.add_date(${ns}, 0, 0, 1)`,
    `time.diff(${ns}, 1709231399123456788)`,
    `time.format(9223372036854775807)`,
    `time.format(-9223372036854775808)`,
    `time.format(9223372036854775808)`,
    `time.format(1.5)`,
    `time.format(${dyn('x')})`,
  ]);
}
