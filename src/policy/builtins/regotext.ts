// Rego values as the wasm writes them with opa_value_dump: JSON plus sets
// (`{1, 2}`, `set()`), non-string object keys, and numbers kept as their
// source text (`007`, `1e21`, 20-digit integers), which JSON.parse would
// reject or round. Builtins that need OPA's exact view of their arguments
// (sprintf) read them through this parser instead of opa-wasm's JSON copy.
// regoString prints a value as OPA's ast Value.String() does.

export class RegoNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
export class RegoSet {
  readonly items: RegoValue[];
  constructor(items: RegoValue[]) {
    this.items = items;
  }
}
export class RegoObject {
  readonly entries: [RegoValue, RegoValue][];
  constructor(entries: [RegoValue, RegoValue][]) {
    this.entries = entries;
  }
}
export type RegoValue = null | boolean | string | RegoNumber | RegoValue[] | RegoSet | RegoObject;

/** Deepest nesting read; the wasm's values are bounded by its memory, this bounds our recursion. */
const MAX_DEPTH = 512;

// A hand-written scanner (char codes, no regex per character): it runs on
// every sprintf and nanosecond time call.
export function parseRegoText(text: string): RegoValue {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const expect = (c: string): void => {
    ws();
    if (text[i] !== c) throw new Error(`rego value: expected ${c} at ${i}`);
    i++;
  };
  const str = (): string => {
    const start = i++;
    let escaped = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 92) {
        escaped = true;
        i++;
      } else if (c === 34) break;
    }
    if (i >= n) throw new Error(`rego value: unterminated string at ${start}`);
    i++;
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  const num = (): RegoNumber => {
    const start = i;
    if (text.charCodeAt(i) === 45) i++;
    const digits = (): void => {
      for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i));
    };
    const d0 = i;
    digits();
    if (i === d0) throw new Error(`rego value: unexpected ${JSON.stringify(text.slice(start, start + 10))} at ${start}`);
    if (text.charCodeAt(i) === 46) {
      i++;
      digits();
    }
    const e = text.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 43 || sign === 45) i++;
      digits();
    }
    return new RegoNumber(text.slice(start, i));
  };
  const value = (depth: number): RegoValue => {
    if (depth > MAX_DEPTH) throw new Error('rego value: nested too deeply');
    ws();
    const c = text[i];
    if (c === '"') return str();
    if (c === '[') {
      i++;
      return list(']', depth);
    }
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return new RegoObject([]);
      }
      const first = value(depth + 1);
      ws();
      if (text[i] === ':') {
        i++;
        const entries: [RegoValue, RegoValue][] = [[first, value(depth + 1)]];
        for (ws(); text[i] === ','; ws()) {
          i++;
          const k = value(depth + 1);
          expect(':');
          entries.push([k, value(depth + 1)]);
        }
        expect('}');
        return new RegoObject(entries);
      }
      const items = [first];
      for (; text[i] === ','; ws()) {
        i++;
        items.push(value(depth + 1));
      }
      expect('}');
      return new RegoSet(items);
    }
    if (text.startsWith('set()', i)) {
      i += 5;
      return new RegoSet([]);
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    return num();
  };
  const list = (close: string, depth: number): RegoValue[] => {
    const out: RegoValue[] = [];
    ws();
    if (text[i] === close) {
      i++;
      return out;
    }
    out.push(value(depth + 1));
    for (ws(); text[i] === ','; ws()) {
      i++;
      out.push(value(depth + 1));
    }
    expect(close);
    return out;
  };
  const v = value(0);
  ws();
  if (i !== n) throw new Error(`rego value: trailing text at ${i}`);
  return v;
}

/**
 * The text OPA would hold for a number the wasm computed: the wasm writes
 * doubles with 17 significant digits (1.16666666666666667), Go the shortest
 * that reads back (1.1666666666666667).
 */
export function canonicalNumber(text: string): string {
  if (!/[.eE]/.test(text)) return text;
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  if (digits.length < 17) return text;
  const n = Number(text);
  return Number.isFinite(n) ? String(n).replace(/e\+?/, 'e') : text;
}

const RANK = (v: RegoValue): number => {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (v instanceof RegoNumber) return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  if (v instanceof RegoObject) return 5;
  return 6;
};

function compareNumbers(a: string, b: string): number {
  const ints = /^-?\d+$/;
  if (ints.test(a) && ints.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Number(a) - Number(b);
}

/** OPA's value order (ast.Compare): null < booleans < numbers < strings < arrays < objects < sets. */
export function compareRego(a: RegoValue, b: RegoValue): number {
  const ra = RANK(a);
  const rb = RANK(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'boolean') return Number(a) - Number(b);
  if (a instanceof RegoNumber) return compareNumbers(a.text, (b as RegoNumber).text);
  if (typeof a === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b as string));
  if (Array.isArray(a)) return compareLists(a, b as RegoValue[]);
  if (a instanceof RegoObject) {
    const x = sortedEntries(a);
    const y = sortedEntries(b as RegoObject);
    for (let k = 0; k < Math.min(x.length, y.length); k++) {
      const c = compareRego(x[k]![0], y[k]![0]) || compareRego(x[k]![1], y[k]![1]);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  }
  if (a instanceof RegoSet) return compareLists(sortedItems(a), sortedItems(b as RegoSet));
  return 0;
}

function compareLists(a: readonly RegoValue[], b: readonly RegoValue[]): number {
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const c = compareRego(a[k]!, b[k]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const sortedEntries = (o: RegoObject): [RegoValue, RegoValue][] => [...o.entries].sort((x, y) => compareRego(x[0], y[0]));
const sortedItems = (s: RegoSet): RegoValue[] => [...s.items].sort(compareRego);

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0xd800 && cp <= 0xdfff)
      out += '\\ufffd'; // a lone surrogate is invalid UTF-8 in Go
    else if (PRINTABLE.test(ch)) out += ch;
    else {
      const esc: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
      if (esc[ch] !== undefined) out += esc[ch];
      else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}

/** OPA's Value.String(): Go-quoted strings, sorted objects and sets, `set()`. */
export function regoString(v: RegoValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return goQuote(v);
  if (v instanceof RegoNumber) return canonicalNumber(v.text);
  if (Array.isArray(v)) return `[${v.map(regoString).join(', ')}]`;
  if (v instanceof RegoObject)
    return `{${sortedEntries(v)
      .map(([k, x]) => `${regoString(k)}: ${regoString(x)}`)
      .join(', ')}}`;
  const items = sortedItems(v);
  return items.length === 0 ? 'set()' : `{${items.map(regoString).join(', ')}}`;
}

/** Go's encoding/json text of ast.JSON(v): sorted keys, <, > and & escaped, numbers as written. */
export function goJsonMarshal(v: RegoValue): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (v instanceof RegoNumber) return canonicalNumber(v.text);
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (Array.isArray(v)) return `[${v.map(goJsonMarshal).join(',')}]`;
  if (v instanceof RegoSet) return `[${[...v.items].sort(compareRego).map(goJsonMarshal).join(',')}]`;
  const entries = v.entries.map(([k, x]) => [typeof k === 'string' ? k : goJsonMarshal(k), x] as const);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return `{${entries.map(([k, x]) => `${goJsonMarshal(k)}:${goJsonMarshal(x)}`).join(',')}}`;
}
