// regex.replace and regex.find_n: Go's RE2 syntax run on JavaScript's
// RegExp. Patterns are translated where the two differ in spelling ((?P<n>,
// leading (?i)/(?s)/(?m) flags, \A, \z, \Q…\E, [[:alpha:]], \pL) and matched
// with Go's FindAll rules (an empty match right after a match is skipped);
// replacement templates are expanded as Go's Regexp.Expand. RE2 features
// JavaScript lacks (mid-pattern flag groups, (?U)) make the builtin fail, and
// JavaScript-only syntax (lookaround, backreferences) is refused as RE2 does.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, intOperand, stringOperand } from './util.ts';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

class Unsupported extends Error {}

function translate(pattern: string): { source: string; flags: string } {
  let p = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(p);
  if (lead) {
    if ((lead[1] as string).includes('U')) throw new Unsupported('(?U) is not supported');
    flags = [...new Set(lead[1] as string)].join('');
    p = p.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw new Unsupported('trailing backslash');
      if (n === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        const lit = end < 0 ? p.slice(i + 2) : p.slice(i + 2, end);
        out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? p.length : end + 1;
        continue;
      }
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if ((n === 'p' || n === 'P') && p[i + 2] !== '{') {
        out += `\\${n}{${p[i + 2] ?? ''}}`;
        i++;
      } else if (/[1-9]/.test(n) || n === 'k') throw new Unsupported('backreferences are not RE2');
      else out += `\\${n}`;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && p[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(i));
        if (m && POSIX[m[2] as string] !== undefined) {
          if (m[1] === '^') throw new Unsupported('negated POSIX classes are not supported');
          out += POSIX[m[2] as string];
          i += m[0].length - 1;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += `\\${p[++i]}`;
      continue;
    }
    if (c === '(' && p[i + 1] === '?') {
      if (p.startsWith('(?P<', i)) {
        out += '(?<';
        i += 3;
        continue;
      }
      if (p[i + 2] === '=' || p[i + 2] === '!' || p[i + 2] === '<') throw new Unsupported('lookaround is not RE2');
      if (/^\(\?[imsU-]+\)/.test(p.slice(i))) throw new Unsupported('flag groups inside a pattern are not supported');
    }
    out += c;
  }
  return { source: out, flags };
}

const cache = new Map<string, RegExp>();

function compile(builtin: string, pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  let re: RegExp;
  try {
    const { source, flags } = translate(pattern);
    try {
      re = new RegExp(source, `${flags}gu`);
    } catch {
      re = new RegExp(source, `${flags}g`);
    }
  } catch (e) {
    throw new BuiltinError(builtin, `error parsing regexp: ${(e as Error).message}`);
  }
  if (cache.size >= 256) cache.clear(); // patterns may come from request input
  cache.set(pattern, re);
  return re;
}

/** Go's FindAll: every match, an empty one that touches the previous match skipped. */
function findAll(re: RegExp, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  let pos = 0;
  let prevEnd = -1;
  while (pos <= s.length && (n < 0 || out.length < n)) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) break;
    const start = m.index;
    const end = start + m[0].length;
    const step = (at: number): number => (at < s.length && (s.codePointAt(at) as number) > 0xffff ? 2 : 1);
    if (end === start && start === prevEnd) {
      pos = start + step(start);
      continue;
    }
    out.push(m);
    prevEnd = end;
    pos = end === start ? start + step(start) : end;
  }
  return out;
}

/** Go's Regexp.Expand of a replacement template. */
function expand(template: string, m: RegExpExecArray): string {
  let out = '';
  let t = template;
  for (;;) {
    const i = t.indexOf('$');
    if (i < 0) break;
    out += t.slice(0, i);
    t = t.slice(i + 1);
    if (t.startsWith('$')) {
      out += '$';
      t = t.slice(1);
      continue;
    }
    let name: string | undefined;
    let rest = t;
    const brace = /^\{([A-Za-z0-9_]+)\}/.exec(t);
    const bare = /^[A-Za-z0-9_]+/.exec(t);
    if (brace) [name, rest] = [brace[1] as string, t.slice(brace[0].length)];
    else if (bare && !t.startsWith('{')) [name, rest] = [bare[0], t.slice(bare[0].length)];
    if (name === undefined) {
      out += '$';
      continue;
    }
    t = rest;
    if (/^[0-9]+$/.test(name)) out += m[Number(name)] ?? '';
    else out += m.groups?.[name] ?? '';
  }
  return out + t;
}

/** gorilla/mux's template compiler, as OPA forked it: {…} parts are patterns, the rest literal. */
function templateMatch(t: unknown, v: unknown, ds: unknown, de: unknown): boolean {
  const b = 'regex.template_match';
  const tpl = stringOperand(b, t, 1);
  const value = stringOperand(b, v, 2);
  const start = stringOperand(b, ds, 3);
  const end = stringOperand(b, de, 4);
  if (Buffer.byteLength(start) !== 1) throw new BuiltinError(b, `start delimiter has to be exactly one character long but is ${Buffer.byteLength(start)} long`);
  if (Buffer.byteLength(end) !== 1) throw new BuiltinError(b, `end delimiter has to be exactly one character long but is ${Buffer.byteLength(start)} long`);
  const idxs: number[] = [];
  let level = 0;
  let idx = 0;
  for (let i = 0; i < tpl.length; i++) {
    if (tpl[i] === start) {
      if (++level === 1) idx = i;
    } else if (tpl[i] === end) {
      if (--level === 0) idxs.push(idx, i + 1);
      else if (level < 0) throw new BuiltinError(b, `unbalanced braces in ${JSON.stringify(tpl)}`);
    }
  }
  if (level !== 0) throw new BuiltinError(b, `unbalanced braces in ${JSON.stringify(tpl)}`);
  const quote = (x: string): string => x.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
  let pattern = '^';
  let last = 0;
  for (let i = 0; i < idxs.length; i += 2) {
    const raw = tpl.slice(last, idxs[i]);
    last = idxs[i + 1] as number;
    const part = tpl.slice((idxs[i] as number) + 1, last - 1);
    compile(b, `^${part}$`); // each part must compile on its own, as in OPA
    pattern += `${quote(raw)}(${part})`;
  }
  pattern += `${quote(tpl.slice(last))}$`;
  const re = compile(b, pattern);
  re.lastIndex = 0;
  return re.exec(value) !== null;
}

/**
 * regex.split as Go's Regexp.Split(s, -1). opa-wasm's own regex.split runs
 * String.prototype.split (capture groups spliced in, "" split to []), so
 * loadHostPolicy answers the wasm with this one (overrides.ts).
 */
export function regexSplit(p: unknown, x: unknown): string[] {
  const b = 'regex.split';
  const pattern = stringOperand(b, p, 1);
  const s = stringOperand(b, x, 2);
  const re = compile(b, pattern);
  if (pattern.length > 0 && s.length === 0) return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of findAll(re, s, -1)) {
    end = m.index;
    const mEnd = m.index + m[0].length;
    if (mEnd !== 0) out.push(s.slice(beg, end));
    beg = mEnd;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

export function regexBuiltins(): Record<string, BuiltinFn> {
  return {
    'regex.template_match': templateMatch,
    'regex.replace': (s: unknown, p: unknown, v: unknown) => {
      const b = 'regex.replace';
      const str = stringOperand(b, s, 1);
      const re = compile(b, stringOperand(b, p, 2));
      const template = stringOperand(b, v, 3);
      let out = '';
      let last = 0;
      for (const m of findAll(re, str, -1)) {
        out += str.slice(last, m.index) + expand(template, m);
        last = m.index + m[0].length;
      }
      return out + str.slice(last);
    },
    'regex.find_n': (p: unknown, v: unknown, n: unknown) => {
      const b = 'regex.find_n';
      const re = compile(b, stringOperand(b, p, 1));
      const str = stringOperand(b, v, 2);
      return findAll(re, str, intOperand(b, n, 3)).map((m) => m[0]);
    },
  };
}
