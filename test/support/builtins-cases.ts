// Non-JWT cases for the differential test (see builtins-jwt-cases.ts).

import type { Case } from './builtins-opa.ts';
import { rego } from './builtins-opa.ts';

/**
 * A value the type checker cannot see through, so that ill-typed arguments
 * reach the builtin at run time (as request input would) instead of failing
 * compilation.
 */
export function dyn(v: unknown): string {
  return `json.unmarshal(${rego(JSON.stringify(v))})`;
}

/** Like dyn, from JSON text (to write int64 literals a JS number cannot hold). */
export function dynJson(text: string): string {
  return `json.unmarshal(${rego(text)})`;
}

const cases = (name: string, exprs: readonly string[]): Case[] => exprs.map((expr) => ({ name: `${name}: ${expr.slice(0, 120)}`, expr }));
const lit = (v: unknown): string => (typeof v === 'string' ? rego(v) : String(v));

const RFC3339 = [
  '2006-01-02T15:04:05Z',
  '2006-01-02T1:04:05Z',
  '2006-01-02T15:04:05,123Z',
  '2006-01-02T15:04:05.1234567891234Z',
  '2006-01-02T15:04:05.123456789+01:30',
  '2006-01-02T15:04:05-07:00',
  '2006-01-02T15:04:05+24:00',
  '2006-01-02T15:04:05+24:60',
  '2006-01-02T15:04:05+25:00',
  '2006-01-02T15:04:05+23:61',
  '2006-02-29T15:04:05Z',
  '2004-02-29T15:04:05Z',
  '1900-02-29T00:00:00Z',
  '2000-02-29T00:00:00Z',
  '2006-01-02t15:04:05Z',
  '2006-01-02T15:04:05z',
  '2006-01-02T24:00:00Z',
  '2006-01-02T23:60:00Z',
  '2006-01-02T23:00:60Z',
  '0000-01-01T00:00:00Z',
  '1677-09-21T00:12:43.145224192Z',
  '1677-09-21T00:12:43.145224191Z',
  '2262-04-11T23:47:16.854775807Z',
  '2262-04-11T23:47:16.854775808Z',
  '2006-01-02T15:04:05.Z',
  '2006-01-02T15:04:05+0100',
  '2006-01-02 15:04:05Z',
  '2006-1-02T15:04:05Z',
  ' 2006-01-02T15:04:05Z',
  '2006-01-02T15:04:05Z ',
  '1970-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999999999Z',
  '2006-13-01T00:00:00Z',
  '2006-00-01T00:00:00Z',
  '2006-04-31T00:00:00Z',
  '',
];

// Instants as Rego number literals. opa-wasm hands builtin arguments over as
// JS numbers, so these are chosen to be exact doubles (multiples of 256 at
// this magnitude); see the "known limitations" test for the others.
const INSTANTS = [
  '0',
  '-1',
  '1136214245123456000',
  '951782400000000000',
  '-2208988800000000000',
  '-9223372036854775808',
  '1710054000000000000',
  '1730613600000000000',
  '1699999999999999744',
];
// Named zones only after 1970: before that, ICU's and the system's tz databases
// are built differently (see the "known limitations" test).
const MODERN = ['0', '1136214245123456000', '951782400000000000', '1710054000000000000', '1730613600000000000', '1699999999999999744'];
const ZONES = [
  'UTC',
  '',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Europe/London',
  'EST',
  'US/Eastern',
  'Etc/GMT+5',
  'GMT+0',
  'Local',
  'america/new_york',
  'Mars/Olympus',
  '+05:00',
  'GMT+5',
];

export function timeCases(): Case[] {
  const timeFns = ['time.date', 'time.clock', 'time.weekday'];
  return [
    ...cases(
      'parse_rfc3339_ns',
      RFC3339.map((s) => `time.parse_rfc3339_ns(${rego(s)})`),
    ),
    // exactness: the result must stay an exact int64 inside the policy
    ...cases('parse_rfc3339_ns exact', [
      `time.parse_rfc3339_ns("2006-01-02T15:04:05.123456789Z") == 1136214245123456789`,
      `time.parse_rfc3339_ns("2006-01-02T15:04:05.123456789Z") % 1000000000`,
      `time.parse_rfc3339_ns("2262-04-11T23:47:16.854775807Z") == 9223372036854775807`,
    ]),
    ...timeFns.flatMap((fn) =>
      cases(
        fn,
        INSTANTS.map((ns) => `${fn}(${ns})`),
      ),
    ),
    ...timeFns.flatMap((fn) =>
      cases(
        fn,
        ZONES.flatMap((tz) => MODERN.map((ns) => `${fn}([${ns}, ${rego(tz)}])`)),
      ),
    ),
    ...timeFns.flatMap((fn) =>
      cases(
        fn,
        INSTANTS.map((ns) => `${fn}([${ns}, "UTC"])`),
      ),
    ),
    ...timeFns.flatMap((fn) =>
      cases(
        fn,
        [dyn(1.5), dyn('x'), dyn([]), dyn(['x']), dyn([0, 5]), dyn([0, 'UTC', 1]), dyn([0, 'UTC', 'RFC3339']), dyn(1e30), dyn(null)].map((a) => `${fn}(${a})`),
      ),
    ),
    ...cases('time.add_date', [
      ...[
        [0, 0, 0],
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 1],
        [-1, -13, -400],
        [0, 11, 30],
        [4, 0, 0],
        [0, 0, 36500],
        [300, 0, 0],
        [-300, 0, 0],
      ].flatMap(([y, m, d]) => ['1138665600000000000', '951782400000000000', '1136214245123456000'].map((ns) => `time.add_date(${ns}, ${y}, ${m}, ${d})`)),
      // Daylight-saving gaps and overlaps in a named zone
      // (add_date is declared number-only, but OPA's implementation takes [ns, tz] too)
      `time.add_date(${dynJson('[1709969400000000000, "America/New_York"]')}, 0, 0, 1)`,
      `time.add_date(${dynJson('[1730525400000000000, "America/New_York"]')}, 0, 0, 1)`,
      `time.add_date(${dynJson('[1730525400000000000, "Australia/Lord_Howe"]')}, 0, 6, 0)`,
      `time.add_date(${dynJson('[1136214245000000000, "Asia/Kolkata"]')}, 0, 1, 0)`,
      `time.add_date(1136214245123456000, 0, 0, 1) % 1000000000`,
      `time.add_date(0, ${dyn(1.5)}, 0, 0)`,
      `time.add_date(0, 0, ${dyn('1')}, 0)`,
      `time.add_date(${dyn(0.5)}, 0, 0, 0)`,
      `time.add_date(0, 1000000000, 0, 0)`,
      `time.add_date(9000000000000000000, 1, 0, 0)`,
    ]),
    ...cases('time.diff', [
      ...[
        ['0', '0'],
        ['0', '1136214245123456000'],
        ['1136214245123456000', '0'],
        ['951782400000000000', '983404800000000000'],
        ['1138665600000000000', '1141084800000000000'],
        ['-2208988800000000000', '1699999999999999744'],
        ['1709969400000000000', '1710055800000000000'],
      ].flatMap(([a, b]) => [`time.diff(${a}, ${b})`, `time.diff([${a}, "America/New_York"], ${b})`, `time.diff(${a}, [${b}, "Asia/Kathmandu"])`]),
      `time.diff(0, ${dyn('x')})`,
    ]),
    ...cases(
      'time.parse_duration_ns',
      [
        '1h',
        '1h30m',
        '1.5h',
        '-1.5h',
        '+5s',
        '0',
        '-0',
        '',
        '1',
        '1x',
        '.5s',
        '5.s',
        '.s',
        '1\u00b5s',
        '1\u03bcs',
        '1us',
        '300ms',
        '2h45m10.5s',
        '9223372036854775807ns',
        '9223372036854775808ns',
        '-9223372036854775808ns',
        '2562047h47m16.854775807s',
        '2562047h47m16.854775808s',
        '1.00000000000000000000001s',
        '0.000000001s',
        '0.0000000001s',
        '1e3s',
        ' 1s',
        '1h 1m',
        '1.0000000000000000000000000000000000001h',
        '-',
        '15m0.000000001s',
        '1.1ms',
        '1d',
        '1.5d',
        '1d2h',
        '1w',
        '2w3d',
        '1y',
        '293y',
        '300y',
        '-1y',
        '1D',
        '1mo',
      ].map((s) => `time.parse_duration_ns(${rego(s)})`),
    ),
  ];
}

export function urlqueryCases(): Case[] {
  const strings = ['', 'a b', 'a+b&c=d/e?f#g', '~-._', "!'()*$,;:@[]", '\u00e9', '\ud83d\ude00', '%', '\u0000\u001f\u007f', '\u2028'];
  const encoded = ['a+b', 'a%20b', '%2B', '%zz', '%4', '%', '%e2%82%ac', '%E2%82', '%FF', 'a%2', '100%', 'plain', '%C0%80', '%ED%A0%80', '%41%42', '++'];
  const objects: unknown[] = [
    { a: '1', b: ['2', '3'] },
    { z: '1', a: '2', '\u00e9': 'x', Z: 'y', '\ud83d\ude00': 'e', '\uffff': 'f' },
    { a: [] },
    {},
    { 'a b': 'c d&e' },
    { a: 1 },
    { a: ['x', 1] },
    { a: null },
    { a: { k: 'v' } },
    { a: true },
  ];
  const queries = [
    'a=1&b=2&a=3',
    '',
    'a',
    'a=',
    '=x',
    'a=1;b=2',
    '%zz=1',
    'a=%zz',
    '&&a=1&&',
    'a=1=2',
    'a+b=c+d',
    'x=%E2%82%AC',
    '__proto__=1',
    `${'&'.repeat(9999)}a=1`,
    `${'&'.repeat(10000)}a=1`,
    'a=1&b=%',
    ';',
  ];
  return [
    ...cases(
      'urlquery.encode',
      strings.map((s) => `urlquery.encode(${rego(s)})`),
    ),
    ...cases(
      'urlquery.decode',
      encoded.map((s) => `urlquery.decode(${rego(s)})`),
    ),
    ...cases('urlquery.encode_object', [
      ...objects.map((o) => `urlquery.encode_object(${dyn(o)})`),
      `urlquery.encode_object({"a": ["y", "x"], "b": {"c"}})`, // (sets of 2+ are in the "known limitations" test)
      `urlquery.encode_object(${dyn('a=b')})`,
    ]),
    ...cases(
      'urlquery.decode_object',
      queries.map((q) => `urlquery.decode_object(${rego(q)})`),
    ),
    ...cases('urlquery type errors', [`urlquery.encode(${dyn(1)})`, `urlquery.decode(${dyn(null)})`, `urlquery.decode_object(${dyn([])})`]),
  ];
}

export function cryptoCases(): Case[] {
  const inputs = ['', 'abc', '\u00e9\ud83d\ude00', 'The quick brown fox jumps over the lazy dog'];
  const digests = ['crypto.md5', 'crypto.sha1', 'crypto.sha256'];
  const hmacs = ['crypto.hmac.md5', 'crypto.hmac.sha1', 'crypto.hmac.sha256', 'crypto.hmac.sha512'];
  return [
    ...digests.flatMap((fn) => cases(fn, [...inputs.map((s) => `${fn}(${rego(s)})`), `${fn}(${dyn(1)})`])),
    ...hmacs.flatMap((fn) =>
      cases(fn, [...inputs.map((s) => `${fn}(${rego(s)}, "key")`), `${fn}("msg", "")`, `${fn}("msg", "\u00e9")`, `${fn}("msg", ${dyn(1)})`]),
    ),
    ...cases('crypto.hmac.equal', [
      ...[
        ['a', 'a'],
        ['a', 'b'],
        ['a', 'ab'],
        ['', ''],
        ['\u00e9', '\u00e9'],
      ].map(([a, b]) => `crypto.hmac.equal(${lit(a)}, ${lit(b)})`),
      `crypto.hmac.equal("a", ${dyn(1)})`,
    ]),
  ];
}

export function encodingCases(): Case[] {
  return [
    ...cases(
      'base64url.encode_no_pad',
      ['', 'a', 'ab', 'abc', '\u00e9', '\u00ff\u00fe?>'].map((s) => `base64url.encode_no_pad(${rego(s)})`),
    ),
    ...cases(
      'hex.encode',
      ['', 'abc', '\u00e9'].map((s) => `hex.encode(${rego(s)})`),
    ),
    ...cases(
      'hex.decode',
      ['', '616263', '6', 'zz', 'FF', 'c3A9', 'e282', '61 62', '0x61'].map((s) => `hex.decode(${rego(s)})`),
    ),
    ...cases('encoding type errors', [`hex.encode(${dyn(1)})`, `base64url.encode_no_pad(${dyn(null)})`]),
  ];
}

export function stringsCases(): Case[] {
  const pairs: [unknown, unknown][] = [
    ['/v1/chat/completions', '/v1/'],
    ['/v1/chat', ['/v2/', '/v1/c']],
    [
      ['/a', '/b'],
      ['/c', '/b'],
    ],
    ['/x', []],
    [[], ''],
    ['', ''],
    ['\u00e9t\u00e9', '\u00e9'],
    ['\ud83d\ude00x', '\ud83d\ude00'],
    ['a', [1]],
    [1, 'a'],
    [null, 'a'],
    ['a', {}],
  ];
  const call = (fn: string, a: unknown, b: unknown): string => `${fn}(${dyn(a)}, ${dyn(b)})`;
  return [
    ...cases(
      'strings.any_prefix_match',
      pairs.map(([a, b]) => call('strings.any_prefix_match', a, b)),
    ),
    ...cases(
      'strings.any_suffix_match',
      pairs.map(([a, b]) => call('strings.any_suffix_match', b, a)),
    ),
    ...cases(
      'strings.any_suffix_match',
      pairs.map(([a, b]) => call('strings.any_suffix_match', a, b)),
    ),
    ...cases('strings sets', [`strings.any_prefix_match({"/b/x", "/a/x"}, {"/a"})`, `strings.any_suffix_match("file.json", {".yaml", ".json"})`]),
  ];
}
