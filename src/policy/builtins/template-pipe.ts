// Pipelines of strings.render_template's text/template subset: commands,
// `|`, parentheses, and the builtin functions that work on OPA's variables
// (and, or, not, len, index, eq, ne, lt, le, gt, ge, print, printf, println,
// html, urlquery), with text/template's rules for their arguments: numbers
// from the variables are json.Number (a string kind: `eq .n 1` fails as
// incompatible types, `eq .n "1"` holds), numbers in the template are int or
// float64. slice, js and call are not supported.

import { goSprintf, type GoArg } from './gofmt.ts';
import { GoLiteral, NO_VALUE, goType, isNum, isObj, sprint, truthy, type Val } from './template-values.ts';

export class TemplateError extends Error {}
export const fail = (m: string): never => {
  throw new TemplateError(m);
};
export const unsupported = (what: string): never =>
  fail(
    `${what} is not supported by ztauthz (a subset of text/template: fields, variables, if, range, with, pipelines, and, or, not, len, index, eq, ne, lt, le, gt, ge, print, printf, println, html, urlquery)`,
  );

export type Arg =
  | { kind: 'field'; root: string; fields: string[] }
  | { kind: 'literal'; value: Val }
  | { kind: 'func'; name: string }
  | { kind: 'pipe'; pipe: Pipe };
export interface Pipe {
  readonly decl: string[];
  readonly cmds: Arg[][];
}

const FUNCS = new Set(['and', 'or', 'not', 'len', 'index', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'print', 'printf', 'println', 'html', 'urlquery']);

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|('(?:[^'\\]|\\.)*')|(\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?)|([+-]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))|([A-Za-z_][A-Za-z0-9_]*)|(:=|=|\||\(|\)|,))/y;

function tokenize(words: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let i = 0;
  while (i < words.length) {
    if (/^\s*$/.test(words.slice(i))) break;
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(words);
    if (!m) return fail(`unexpected ${JSON.stringify(words.slice(i).trim().slice(0, 10))} in command`);
    out.push(m[0].trim());
    i = TOKEN.lastIndex;
  }
  return out;
}

function arg(tok: string, rest: () => Pipe): Arg {
  if (tok.startsWith('"')) {
    try {
      return { kind: 'literal', value: JSON.parse(tok) as string };
    } catch {
      return fail(`bad string literal ${tok}`);
    }
  }
  if (tok.startsWith('`')) return { kind: 'literal', value: tok.slice(1, -1) };
  if (tok.startsWith("'")) return unsupported('a character constant');
  if (tok === '(') return { kind: 'pipe', pipe: rest() };
  if (tok.startsWith('$') || (tok.startsWith('.') && !/^\.\d/.test(tok))) {
    const [root, ...fields] = tok.startsWith('$')
      ? tok.split('.')
      : [
          '.',
          ...tok
            .slice(1)
            .split('.')
            .filter((f) => f !== ''),
        ];
    return { kind: 'field', root: root as string, fields };
  }
  if (tok === 'true' || tok === 'false') return { kind: 'literal', value: tok === 'true' };
  if (tok === 'nil') return fail('nil is not a command');
  if (/^[+-]?(?:0[xX][0-9a-fA-F_]+|[\d_]+)$/.test(tok)) {
    const t = tok.replace(/_/g, '');
    const neg = t.startsWith('-');
    const n = BigInt(t.replace(/^[+-]/, '').replace(/^0(?=\d)/, '0o'));
    return { kind: 'literal', value: new GoLiteral(neg ? -n : n) };
  }
  if (/^[+-]?[\d.]/.test(tok)) return { kind: 'literal', value: new GoLiteral(Number(tok.replace(/_/g, ''))) };
  if (FUNCS.has(tok)) return { kind: 'func', name: tok };
  if (['slice', 'js', 'call'].includes(tok)) return unsupported(`the function ${JSON.stringify(tok)}`);
  return fail(`function ${JSON.stringify(tok)} not defined`);
}

/** A pipeline: `[$v :=] cmd | cmd ...`; range may declare `$i, $v :=`. */
export function parsePipeline(words: string, allowRangeDecl = false): Pipe {
  const toks = tokenize(words);
  let pos = 0;
  const pipe = (inParens: boolean): Pipe => {
    const decl: string[] = [];
    const save = pos;
    const names: string[] = [];
    while (pos < toks.length && /^\$[A-Za-z0-9_]*$/.test(toks[pos] as string)) {
      names.push(toks[pos++] as string);
      if (toks[pos] === ',') pos++;
      else break;
    }
    if (names.length > 0 && (toks[pos] === ':=' || toks[pos] === '=')) {
      if (toks[pos] === '=') unsupported('assignment with =');
      if (names.length > (allowRangeDecl ? 2 : 1)) fail('too many declarations in command');
      decl.push(...names);
      pos++;
    } else pos = save;
    const cmds: Arg[][] = [];
    let cmd: Arg[] = [];
    for (; pos < toks.length; ) {
      const t = toks[pos++] as string;
      if (t === ')') {
        if (!inParens) fail('unexpected right paren');
        break;
      }
      if (t === '|') {
        if (cmd.length === 0) fail('missing command');
        cmds.push(cmd);
        cmd = [];
        continue;
      }
      if (t === ',' || t === ':=' || t === '=') fail(`unexpected ${t} in command`);
      cmd.push(arg(t, () => pipe(true)));
      if (cmd.at(-1)?.kind === 'pipe' && /^\./.test(toks[pos] ?? '')) unsupported('a field of a parenthesised pipeline');
    }
    if (cmd.length === 0) fail('missing value for command');
    cmds.push(cmd);
    return { decl, cmds };
  };
  const p = pipe(false);
  if (pos < toks.length) fail(`unexpected ${toks[pos]} in command`);
  return p;
}

// --- functions ---

type Kind = 'bool' | 'int' | 'float' | 'string';

function basicKind(v: Val): Kind | undefined {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string' || isNum(v)) return 'string';
  if (v instanceof GoLiteral) return typeof v.value === 'bigint' ? 'int' : 'float';
  return undefined;
}
const basicValue = (v: Val): string | number | bigint | boolean => (isNum(v) ? v.num : v instanceof GoLiteral ? v.value : (v as string | boolean));

function compare(op: string, a: Val, b: Val): boolean {
  if (a === NO_VALUE || b === NO_VALUE || a === null || b === null) {
    if (op === 'eq' || op === 'ne') {
      if ((a === NO_VALUE || a === null) && (b === NO_VALUE || b === null)) return op === 'eq';
      return fail('incompatible types for comparison');
    }
    return fail('invalid type for comparison');
  }
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === undefined || kb === undefined) return fail(op === 'eq' || op === 'ne' ? 'non-comparable type' : 'invalid type for comparison');
  if (ka !== kb) return fail('incompatible types for comparison');
  const x = basicValue(a);
  const y = basicValue(b);
  if (op === 'eq') return x === y;
  if (op === 'ne') return x !== y;
  if (ka === 'bool') return fail('invalid type for comparison');
  const lt = ka === 'string' ? Buffer.compare(Buffer.from(x as string), Buffer.from(y as string)) < 0 : x < y;
  const eq = x === y;
  return { lt, le: lt || eq, gt: !lt && !eq, ge: !lt }[op] as boolean;
}

function goArg(v: Val): GoArg {
  if (v instanceof GoLiteral) return typeof v.value === 'bigint' ? { t: 'int64', v: v.value, type: 'int' } : { t: 'float64', v: v.value };
  if (typeof v === 'string') return { t: 'string', v };
  if (typeof v === 'boolean') return { t: 'string', v: String(v), type: 'bool' };
  if (v === NO_VALUE || v === null) return { t: 'string', v: '<nil>', type: '<nil>' };
  return { t: 'string', v: sprint(v), type: goType(v) };
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function goSprint(args: Val[]): string {
  let out = '';
  args.forEach((a, i) => {
    const isStr = typeof a === 'string';
    if (i > 0 && !isStr && typeof args[i - 1] !== 'string') out += ' ';
    out += a === NO_VALUE || a === null ? '<nil>' : sprint(a);
  });
  return out;
}

const HTML: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' };

export function callFunction(name: string, args: Val[]): Val {
  const n = args.length;
  const need = (k: number): void => {
    if (n !== k) fail(`wrong number of args for ${name}: want ${k} got ${n}`);
  };
  switch (name) {
    case 'and':
    case 'or': {
      if (n < 1) fail(`wrong number of args for ${name}: want at least 1 got 0`);
      for (const a of args.slice(0, -1)) if (truthy(a) === (name === 'or')) return a;
      return args[n - 1];
    }
    case 'not':
      need(1);
      return !truthy(args[0]);
    case 'len': {
      need(1);
      const a = args[0];
      if (typeof a === 'string') return new GoLiteral(BigInt(Buffer.byteLength(a)));
      if (isNum(a)) return new GoLiteral(BigInt(a.num.length));
      if (Array.isArray(a)) return new GoLiteral(BigInt(a.length));
      if (isObj(a)) return new GoLiteral(BigInt(Object.keys(a).length));
      return fail(`len of type ${goType(a)}`);
    }
    case 'index': {
      if (n < 1) fail('wrong number of args for index: want at least 1 got 0');
      let v = args[0];
      for (const i of args.slice(1)) {
        if (v === NO_VALUE || v === null) return fail('index of untyped nil');
        if (Array.isArray(v)) {
          if (!(i instanceof GoLiteral) || typeof i.value !== 'bigint') return fail(`cannot index slice/array with type ${goType(i)}`);
          if (i.value < 0n || i.value >= BigInt(v.length)) return fail(`index out of range: ${i.value}`);
          v = v[Number(i.value)];
        } else if (isObj(v)) {
          if (typeof i !== 'string') return fail(`value has type ${goType(i)}; should be string`);
          v = Object.hasOwn(v, i) ? v[i] : null;
        } else return fail(`can't index item of type ${goType(v)}`);
      }
      return v === null ? NO_VALUE : v;
    }
    case 'eq':
      if (n < 2) fail('missing argument for comparison');
      return args.slice(1).some((b) => compare('eq', args[0], b));
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge':
      need(2);
      return compare(name, args[0], args[1]);
    case 'print':
      return goSprint(args);
    case 'println':
      return `${args.map((a) => (a === NO_VALUE || a === null ? '<nil>' : sprint(a))).join(' ')}\n`;
    case 'printf': {
      if (n < 1 || typeof args[0] !== 'string') return fail('printf: the format must be a string');
      return goSprintf(args[0], args.slice(1).map(goArg));
    }
    case 'html':
      return goSprint(args).replace(/[<>&'"\0]/g, (c) => HTML[c] as string);
    case 'urlquery':
      return encodeURIComponent(goSprint(args))
        .replace(/%20/g, '+')
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    default:
      return fail(`function ${JSON.stringify(name)} not defined`);
  }
}
