// regex.globs_match: OPA answers with github.com/yashtewari/glob-intersection
// (v0.2.0), whose "globs" are a small regex dialect: literals, `.`, `[...]`
// classes with ranges, the flags `+` and `*`, and `\` escapes. Anything else
// (groups, `?`, anchors) is a literal character there, so this is a port of
// that package, not a regex engine: its tokenizer, its simplification and
// its intersection walk, with its error texts.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, stringOperand } from './util.ts';

const Kind = { Char: 0, Dot: 1, Set: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];
const Flag = { None: 0, Plus: 1, Star: 2 } as const;
type Flag = (typeof Flag)[keyof typeof Flag];

interface Token {
  readonly kind: Kind;
  flag: Flag;
  /** Char: its code point. */
  readonly rune?: number;
  /** Set: its code points. */
  readonly runes?: ReadonlySet<number>;
}

class Invalid extends Error {}

function invalid(input: readonly number[], pos: number, message: string): Invalid {
  return new Invalid(`input:${String.fromCodePoint(...input)}, pos:${pos}, ${message}: the input provided is invalid`);
}

const END = Symbol('end');

/** One rune at i, unescaping a backslash: [next index, rune, escaped]. */
function nextRune(input: readonly number[], i: number): [number, number, boolean] | typeof END {
  if (i >= input.length) return END;
  if (input[i] === 0x5c) {
    if (i === input.length - 1) throw invalid(input, i, 'input ends with a \\ (escape) character');
    return [i + 2, input[i + 1] as number, true];
  }
  return [i + 1, input[i] as number, false];
}

function nextSet(input: readonly number[], start: number): [number, Token] {
  const runes = new Set<number>();
  let prev = 0;
  let prevExists = false;
  let i = start;
  for (let r = nextRune(input, i); r !== END; r = nextRune(input, i)) {
    let [ni, c, escaped] = r;
    i = ni;
    if (!escaped && c === 0x2d) {
      if (!prevExists) throw invalid(input, i, "range character '-' must be preceded by a Unicode character");
      if (i >= input.length - 1) throw invalid(input, i, "range character '-' must be followed by a Unicode character");
      const n = nextRune(input, i);
      if (n === END) throw invalid(input, i, "range character '-' must be followed by a Unicode character");
      [ni, c, escaped] = n;
      i = ni;
      if (!escaped && (c === 0x5d || c === 0x2d)) throw invalid(input, i, "range character '-' cannot be followed by a special symbol");
      if (c < prev) throw invalid(input, i, `range is out of order: '${String.fromCodePoint(c)}' comes before '${String.fromCodePoint(prev)}' in Unicode`);
      if (c - prev > 0x10ffff) throw invalid(input, i, 'range too large');
      for (let x = prev; x <= c; x++) runes.add(x);
      prevExists = false;
    } else if (!escaped && c === 0x5d) {
      return [i, { kind: Kind.Set, flag: Flag.None, runes }];
    } else {
      runes.add(c);
      prev = c;
      prevExists = true;
    }
  }
  throw invalid(input, i, 'found [ without matching ]');
}

function tokenize(input: readonly number[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (let r = nextRune(input, i); r !== END; r = nextRune(input, i)) {
    const [ni, c, escaped] = r;
    i = ni;
    let token: Token;
    if (!escaped && c === 0x2e) token = { kind: Kind.Dot, flag: Flag.None };
    else if (!escaped && c === 0x5d) throw invalid(input, i, "set-close ']' with no preceding '['");
    else if (!escaped && c === 0x5b) [i, token] = nextSet(input, i);
    else if (!escaped && (c === 0x2b || c === 0x2a)) throw invalid(input, i, `flag '${String.fromCodePoint(c)}' must be preceded by a non-flag`);
    else token = { kind: Kind.Char, flag: Flag.None, rune: c };
    const f = nextRune(input, i);
    if (f !== END && !f[2] && (f[1] === 0x2b || f[1] === 0x2a)) {
      token.flag = f[1] === 0x2b ? Flag.Plus : Flag.Star;
      i = f[0];
    }
    tokens.push(token);
  }
  return tokens;
}

function equalIgnoringFlag(a: Token, b: Token): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === Kind.Char) return a.rune === b.rune;
  if (a.kind === Kind.Set) return a.runes!.size === b.runes!.size && [...a.runes!].every((r) => b.runes!.has(r));
  return true;
}

/** Adjacent equal flagged tokens become one (x*x+ is x+). */
function simplify(tokens: Token[]): Token[] {
  if (tokens.length === 0) return tokens;
  const out = [tokens[0] as Token];
  let latest = tokens[0] as Token;
  for (const t of tokens.slice(1)) {
    if (t.flag !== Flag.None && latest.flag !== Flag.None && equalIgnoringFlag(t, latest)) {
      (out[out.length - 1] as Token).flag = t.flag === Flag.Plus || latest.flag === Flag.Plus ? Flag.Plus : Flag.Star;
      continue;
    }
    latest = t;
    out.push(t);
  }
  return out;
}

function match(a: Token, b: Token): boolean {
  const [t1, t2] = a.kind > b.kind ? [b, a] : [a, b];
  if (t1.kind === Kind.Char) {
    if (t2.kind === Kind.Char) return t1.rune === t2.rune;
    if (t2.kind === Kind.Dot) return true;
    return t2.runes!.has(t1.rune!);
  }
  if (t1.kind === Kind.Dot) return true;
  for (const r of t1.runes!) if (t2.runes!.has(r)) return true;
  return false;
}

function trim(g1: Token[], g2: Token[]): [Token[], Token[]] | undefined {
  let l = 0;
  for (; l < g1.length && l < g2.length && g1[l]!.flag === Flag.None && g2[l]!.flag === Flag.None; l++) {
    if (!match(g1[l]!, g2[l]!)) return undefined;
  }
  if (l > 0) l--;
  let r1 = g1.length - 1;
  let r2 = g2.length - 1;
  for (; r1 >= 0 && r1 >= l && r2 >= 0 && r2 >= l && g1[r1]!.flag === Flag.None && g2[r2]!.flag === Flag.None; r1--, r2--) {
    if (!match(g1[r1]!, g2[r2]!)) return undefined;
  }
  if (r1 < g1.length - 1) {
    r1++;
    r2++;
  }
  return [g1.slice(l, r1 + 1), g2.slice(l, r2 + 1)];
}

// The walk below is recursive, as the Go original; inputs are bounded (see
// MAX_GLOB) so that its depth is too, and so is its work (MAX_STEPS): some
// pairs of starred globs take exponential time in the original.
let steps = 0;
class TooHard extends Error {}

function intersectNormal(g1: Token[], g2: Token[]): boolean {
  if (++steps > MAX_STEPS) throw new TooHard();
  let i = 0;
  let j = 0;
  for (; i < g1.length && j < g2.length; i++, j++) {
    if (g1[i]!.flag === Flag.None && g2[j]!.flag === Flag.None) {
      if (!match(g1[i]!, g2[j]!)) return false;
    } else return intersectSpecial(g1.slice(i), g2.slice(j));
  }
  return i === g1.length && j === g2.length;
}

function intersectSpecial(g1: Token[], g2: Token[]): boolean {
  if (g1[0]!.flag !== Flag.None) return g1[0]!.flag === Flag.Plus ? intersectPlus(g1, g2) : intersectStar(g1, g2);
  return g2[0]!.flag === Flag.Plus ? intersectPlus(g2, g1) : intersectStar(g2, g1);
}

function intersectPlus(plussed: Token[], other: Token[]): boolean {
  if (!match(plussed[0]!, other[0]!)) return false;
  if (intersectStar(plussed, other.slice(1))) return true;
  return other[0]!.flag !== Flag.None && intersectNormal(plussed.slice(1), other);
}

function intersectStar(starred: Token[], other: Token[]): boolean {
  const star = starred[0]!;
  const next = starred[1];
  for (let i = 0; i < other.length; i++) {
    const t = other[i]!;
    if (next !== undefined && match(t, next)) {
      if (intersectNormal(starred.slice(1), other.slice(i))) return true;
      if (!match(t, star)) return false;
    } else if (!match(t, star)) return false;
  }
  return next === undefined;
}

/** Longest glob accepted (in code points): the intersection walk is recursive and, on hostile globs, exponential. */
export const MAX_GLOB = 512;
/** Intersection steps allowed per call, far above what real globs need (a few per token). */
export const MAX_STEPS = 200_000;

export function globsIntersect(lhs: string, rhs: string): boolean {
  const a = [...lhs].map((c) => c.codePointAt(0) as number);
  const b = [...rhs].map((c) => c.codePointAt(0) as number);
  const g1 = simplify(tokenize(a));
  const g2 = simplify(tokenize(b));
  const trimmed = trim(g1, g2);
  steps = 0;
  return trimmed !== undefined && intersectNormal(trimmed[0], trimmed[1]);
}

function globsMatch(x: unknown, y: unknown): boolean {
  const b = 'regex.globs_match';
  const lhs = stringOperand(b, x, 1);
  const rhs = stringOperand(b, y, 2);
  if ([...lhs].length > MAX_GLOB || [...rhs].length > MAX_GLOB) throw new BuiltinError(b, `globs longer than ${MAX_GLOB} characters are not accepted`);
  try {
    return globsIntersect(lhs, rhs);
  } catch (e) {
    if (e instanceof Invalid) throw new BuiltinError(b, e.message);
    if (e instanceof TooHard) throw new BuiltinError(b, `intersection needs more than ${MAX_STEPS} steps`);
    throw e;
  }
}

export function globsBuiltins(): Record<string, BuiltinFn> {
  return { 'regex.globs_match': globsMatch };
}
