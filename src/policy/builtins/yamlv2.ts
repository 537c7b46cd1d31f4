// yaml.marshal as OPA answers it: sigs.k8s.io/yaml turns the value into JSON,
// reads that back with go-yaml v2 (numbers become int, uint64 or float64) and
// writes it with go-yaml v2's emitter: block style, keys in its "natural"
// order, sequences under a key not indented, empty collections as [] and {},
// floats as Go's %g, strings plain when they would read back as strings,
// double-quoted when they would read as another type (`"true"`, `"123"`,
// `"n"`), single-quoted when plain is not allowed (`'a: b'`), literal blocks
// for multi-line text, plain and single-quoted text folded past column 80.
// opa-wasm's own yaml.marshal (the yaml package's defaults) differs in most
// of these, so loadHostPolicy answers the wasm with this one (overrides.ts).
// Not ported: the folding of double-quoted strings (they stay on one line).

import { formatFloat } from './gofloat.ts';
import { RegoNumber, RegoObject, RegoSet, type RegoValue } from './regotext.ts';
import { BuiltinError } from './util.ts';

const WIDTH = 80;
const INT = /^[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const RESERVED = new Set([
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'true',
  'True',
  'TRUE',
  'on',
  'On',
  'ON',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'false',
  'False',
  'FALSE',
  'off',
  'Off',
  'OFF',
  '',
  '~',
  'null',
  'Null',
  'NULL',
  '.nan',
  '.NaN',
  '.NAN',
  '.inf',
  '.Inf',
  '.INF',
  '+.inf',
  '+.Inf',
  '+.INF',
  '-.inf',
  '-.Inf',
  '-.INF',
  '<<',
]);
const U64 = 2n ** 64n - 1n;

function fitsInt(s: string): boolean {
  if (!INT.test(s)) return false;
  const neg = s.startsWith('-');
  let body = s.replace(/^[+-]/, '');
  if (/^0[0-7]+$/.test(body)) body = `0o${body.slice(1)}`;
  const n = BigInt(body);
  return neg ? n <= 2n ** 63n : n <= U64;
}

/** go-yaml v2's resolve: would this text, unquoted, read back as something other than a string? */
function resolvesNonString(s: string): boolean {
  if (RESERVED.has(s)) return true;
  const c = s[0] as string;
  if (c === '.') return /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(s.replace(/_/g, ''));
  if (!/[0-9+-]/.test(c)) return false;
  if (/^\d{4}-\d{1,2}-\d{1,2}(?:(?:[Tt]| +)\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d*)?(?:Z|[+-]\d{1,2}(?::\d{2})?)?)?$/.test(s)) return true;
  const plain = s.replace(/_/g, '');
  if (fitsInt(plain)) return true;
  if (FLOAT.test(plain)) return true;
  if (/^-?0b[01]+$/.test(plain)) return true;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s); // base 60, quoted by go-yaml too
}

/** go-yaml v2's is_printable, which looks at up to 3 UTF-8 bytes: characters beyond U+FFFF (emoji) are escaped. */
const isPrintable = (cp: number): boolean =>
  cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff);

interface Analysis {
  multiline: boolean;
  plain: boolean;
  single: boolean;
  block: boolean;
}

/** The emitter's yaml_emitter_analyze_scalar, for block context. */
function analyze(v: string): Analysis {
  if (v.length === 0) return { multiline: false, plain: true, single: true, block: false };
  const cps = [...v].map((c) => c.codePointAt(0) as number);
  let blockIndicators = v.startsWith('---') || v.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let prevSpace = false;
  let prevBreak = false;
  let precededByWs = true;
  const blank = (cp: number | undefined): boolean => cp === undefined || cp === 0x20 || cp === 0x09;
  cps.forEach((cp, i) => {
    const followedByWs = i + 1 >= cps.length || blank(cps[i + 1]) || cps[i + 1] === 0x0a || cps[i + 1] === 0x0d;
    const ch = String.fromCodePoint(cp);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true;
      else if ((ch === '?' || ch === ':' || ch === '-') && followedByWs) blockIndicators = true;
    } else if ((ch === ':' && followedByWs) || (ch === '#' && precededByWs)) blockIndicators = true;
    if (!isPrintable(cp)) special = true;
    const isBreak = cp === 0x0a || cp === 0x0d || cp === 0x85 || cp === 0x2028 || cp === 0x2029;
    if (cp === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (isBreak) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = blank(cp) || isBreak;
  });
  const a: Analysis = { multiline: lineBreaks, plain: true, single: true, block: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.plain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) a.plain = a.single = false;
  if (spaceBreak || special) a.plain = a.single = a.block = false;
  if (lineBreaks || blockIndicators) a.plain = false;
  return a;
}

const ESCAPES: Record<number, string> = {
  0: '0',
  7: 'a',
  8: 'b',
  9: 't',
  10: 'n',
  11: 'v',
  12: 'f',
  13: 'r',
  27: 'e',
  34: '"',
  92: '\\',
  133: 'N',
  160: '_',
  8232: 'L',
  8233: 'P',
};

function doubleQuoted(v: string): string {
  let out = '"';
  for (const ch of v) {
    const cp = ch.codePointAt(0) as number;
    if (!isPrintable(cp) || cp === 0xfeff || cp === 0x22 || cp === 0x5c || cp === 0x85 || cp === 0xa0 || cp === 0x2028 || cp === 0x2029 || cp === 0x0a) {
      const e = ESCAPES[cp];
      if (e !== undefined) out += `\\${e}`;
      else if (cp <= 0xff) out += `\\x${cp.toString(16).toUpperCase().padStart(2, '0')}`;
      else if (cp <= 0xffff) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).toUpperCase().padStart(8, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Plain or single-quoted text from column `col`, broken at a space once past WIDTH (the emitter's rule). */
function folded(text: string, col: number, indent: number, breaks: boolean): string {
  let out = '';
  let column = col;
  let spaces = false;
  const chars = [...text];
  chars.forEach((ch, i) => {
    if (ch === ' ') {
      if (breaks && !spaces && column > WIDTH && i > 0 && i < chars.length - 1 && chars[i + 1] !== ' ') {
        out += `\n${' '.repeat(indent)}`;
        column = indent;
      } else {
        out += ch;
        column++;
      }
      spaces = true;
    } else {
      out += ch;
      column++;
      spaces = false;
    }
  });
  return out;
}

/** A string scalar at column `col`; `indent` is where continuation lines and block content go. */
function stringScalar(s: string, col: number, indent: number, key: boolean): string {
  const a = analyze(s);
  let style: 'plain' | 'single' | 'double' | 'literal';
  if (s.includes('\n')) style = 'literal';
  else if (resolvesNonString(s)) style = 'double';
  else style = 'plain';
  if (key && a.multiline) style = 'double';
  if (style === 'plain' && (!a.plain || (s.length === 0 && key))) style = 'single';
  if (style === 'single' && !a.single) style = 'double';
  if (style === 'literal' && (!a.block || key)) style = 'double';
  switch (style) {
    case 'plain':
      return folded(s, col, indent, !key);
    case 'single':
      return `'${folded(s.replace(/'/g, "''"), col + 1, indent, !key)}'`;
    case 'double':
      return doubleQuoted(s);
    case 'literal': {
      let hints = /^[ \n]/.test(s) ? '2' : '';
      if (!s.endsWith('\n')) hints += '-';
      else if (s.length === 1 || s.endsWith('\n\n')) hints += '+';
      const body = s.endsWith('\n') ? s.slice(0, -1) : s;
      return `|${hints}\n${body
        .split('\n')
        .map((l) => (l === '' ? '' : ' '.repeat(indent) + l))
        .join('\n')}`;
    }
  }
}

type Plain = null | boolean | string | { num: string } | Plain[] | Map<string, Plain>;

/** OPA's ast.JSON of the argument (sets become arrays; objects need string keys). */
function toPlain(v: RegoValue): Plain {
  if (v instanceof RegoNumber) return { num: v.text };
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof RegoSet) return v.items.map(toPlain);
  if (v instanceof RegoObject) {
    const m = new Map<string, Plain>();
    // a key that is not a string becomes its JSON text, as ast.JSON makes it
    for (const [k, x] of v.entries) m.set(typeof k === 'string' ? k : k instanceof RegoNumber ? k.text : JSON.stringify(jsonOf(toPlain(k))), toPlain(x));
    return m;
  }
  return v;
}

function jsonOf(v: Plain): unknown {
  if (Array.isArray(v)) return v.map(jsonOf);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, jsonOf(x)]));
  if (v !== null && typeof v === 'object') return Number(v.num);
  return v;
}

function numberText(t: string): string {
  if (/^-?\d+$/.test(t) && BigInt(t) <= U64 && BigInt(t) >= -(2n ** 63n)) return BigInt(t).toString();
  return formatFloat(Number(t), 'g', -1)
    .replace(/^\+?Inf$/, '.inf')
    .replace(/^-Inf$/, '-.inf');
}

/** go-yaml v2's key order: numbers in digit runs compared by value, letters before other runes. */
function keyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  const letter = (c: string): boolean => /\p{L}/u.test(c);
  const digit = (c: string | undefined): boolean => c !== undefined && /\p{Nd}/u.test(c);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = letter(ar[i]!);
    const bl = letter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && digit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && digit(ar[ai]); ai++) an = an * 10n + BigInt(Number(ar[ai]));
    for (; bi < br.length && digit(br[bi]); bi++) bn = bn * 10n + BigInt(Number(br[bi]));
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

const isEmpty = (v: Plain): boolean => (Array.isArray(v) && v.length === 0) || (v instanceof Map && v.size === 0);
const isCollection = (v: Plain): v is Plain[] | Map<string, Plain> => Array.isArray(v) || v instanceof Map;

function scalar(v: Plain, col: number, indent: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return stringScalar(v, col, indent, false);
  if (Array.isArray(v)) return '[]';
  if (v instanceof Map) return '{}';
  return numberText(v.num);
}

/** Lines of a collection whose first line starts at column `indent` (already positioned). */
function block(v: Plain[] | Map<string, Plain>, indent: number, depth: number): string {
  if (depth > 256) throw new BuiltinError('yaml.marshal', 'nested too deeply');
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const head = i === 0 ? '- ' : `${pad}- `;
      if (isCollection(item) && !isEmpty(item)) lines.push(head + block(item, indent + 2, depth + 1));
      else lines.push(head + scalar(item, indent + 2, indent + 2));
    });
    return lines.join('\n');
  }
  const keys = [...v.keys()].sort((a, b) => (keyLess(a, b) ? -1 : keyLess(b, a) ? 1 : 0));
  keys.forEach((k, i) => {
    const item = v.get(k) as Plain;
    // A key that cannot be a simple key (multi-line, over 128 bytes) is written as a complex key: "? key\n: value".
    if (k.includes('\n') || Buffer.byteLength(k) > 128) {
      const complexKey = `${i === 0 ? '' : pad}? ${stringScalar(k, indent + 2, indent + 2, false)}\n${pad}:`;
      if (isCollection(item) && !isEmpty(item)) lines.push(`${complexKey}\n${pad}  ${block(item, indent + 2, depth + 1)}`);
      else lines.push(`${complexKey} ${scalar(item, indent + 2, indent + 2)}`);
      return;
    }
    const key = stringScalar(k, indent, indent, true);
    const head = `${i === 0 ? '' : pad}${key}:`;
    if (Array.isArray(item) && item.length > 0) lines.push(`${head}\n${pad}${block(item, indent, depth + 1)}`);
    else if (item instanceof Map && item.size > 0) lines.push(`${head}\n${pad}  ${block(item, indent + 2, depth + 1)}`);
    else lines.push(`${head} ${scalar(item, indent + [...key].length + 2, indent + 2)}`);
  });
  return lines.join('\n');
}

export function yamlMarshal(x: RegoValue): string {
  const v = toPlain(x);
  const text = isCollection(v) && !isEmpty(v) ? block(v, 0, 0) : scalar(v, 0, 0);
  return `${text}\n`;
}
