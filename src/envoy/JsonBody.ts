// JSON request bodies, parsed with bounds and without ambiguity.
//
// A body is client-chosen text, and everything after parsing (the decision
// cache key and the decision log's JSON.stringify, the policy's own JSON
// reader in wasm, a route's field walk) works on the parsed value. So the
// value is bounded before it exists:
//   - nesting depth (request.max_body_depth): JSON.stringify and the wasm
//     JSON reader recurse once per level, and a few thousand levels exhaust
//     the stack; nothing downstream recurses deeper than this bound.
//   - object keys (request.max_body_keys) and array elements
//     (request.max_body_elements), each counted over the whole body. Every
//     step after parsing costs per member, a key about ten times what an
//     array element costs (a key is a string the policy's wasm hashes; a
//     tensor element is a number), so they have separate bounds: a million
//     keys cost seconds, while a legitimate tensor has hundreds of thousands
//     of elements.
//   - duplicate keys (request.body_duplicate_keys): JSON.parse keeps the last
//     of two equal keys, other parsers the first (or refuse), so a body with
//     `"model"` twice could be authorized for one model and served with the
//     other. Keys are compared after unescaping (`"mod\u0065l"` is "model").
//     "deny" refuses them; "last" keeps JSON.parse's last-wins, which is what
//     opa-envoy-plugin (Go encoding/json) does.
//
// How: one iterative pass over the text (no recursion, so the text's depth
// cannot hurt the scan itself) that tracks depth, counts members and collects
// each object's keys, then V8's JSON.parse, which is native and fast, for the
// value. The scan stops at the first bound crossed, so an oversized body is
// refused after reading only as far as the bound; JSON.parse runs only on
// text that passed. The scan does not validate JSON: on valid JSON its view
// of structure is exact (structural characters outside strings are what they
// look like), and invalid JSON is refused by JSON.parse afterwards (or by a
// bound first; either way a denial).
//
// Why hand-written: the npm candidates are parsers written in JavaScript
// that visit every token (json-dup-key-validator, lossless-json, which
// refuses duplicate keys, jsonc-parser's scanner, clarinet,
// @streamparser/json); the recursive-descent ones also recurse once per
// level, which is the bug being fixed. secure-json-parse and @hapi/bourne only
// guard against __proto__. None bounds keys and elements or returns V8's own
// parse result. Measured (bench/json-body.ts, CPU time): the scan plus
// JSON.parse costs about 1.6 times JSON.parse alone on chat and tool-schema
// requests (+0.8 us on 1 KB, +29 us on 16 KB), and 1.04 times on tensors
// (their number runs are skipped with indexOf, see below).
//
// Numbers: JSON.parse makes every number a double, where opa-envoy-plugin
// keeps the text (12345678901234567891, 1e400). The scan flags numbers a
// double may not carry and only then is the body parsed with a reviver that
// keeps their text (see "numbers a double may not carry" below). Measured
// (bench/json-body.ts, 2026-12-04 18:36): bodies without such a number cost
// what they did (2.07 us on 1 KB, 78 us on 16 KB, 2994 us on a 1 MB tensor);
// with one (a user id of 20 digits) 7.2 us on 1 KB and 305 us on 16 KB,
// against 2.5 and 85 us before.
import { CheckError, Reason } from '../types/Reason.ts';
import type { JsonValue } from '../types/Json.ts';

export interface JsonBodyLimits {
  /** Deepest nesting of arrays and objects; the top-level container is depth 1. */
  readonly maxDepth: number;
  /** Most object keys in the whole body. */
  readonly maxKeys: number;
  /** Most array elements in the whole body. */
  readonly maxElements: number;
  /**
   * "deny": a key given twice in one object (after unescaping) refuses the
   * body; "deny_any_case": also two keys that differ in case only (Go's
   * encoding/json fills a struct field from either); "last": the last one
   * counts (JSON.parse).
   */
  readonly duplicateKeys: 'deny' | 'deny_any_case' | 'last';
}

/** The configuration defaults (request.max_body_depth, max_body_keys, max_body_elements, body_duplicate_keys). */
export const DEFAULT_JSON_LIMITS: JsonBodyLimits = Object.freeze({ maxDepth: 64, maxKeys: 10_000, maxElements: 1_000_000, duplicateKeys: 'deny' });

/** Objects with more keys than this keep them in a Set; fewer are compared one by one (cheaper for the usual few). */
const SMALL_OBJECT_KEYS = 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Parses a JSON body within the limits; throws CheckError body_too_deep, body_too_many_keys, body_too_many_elements, body_duplicate_key or body_invalid. */
export function parseJsonBody(text: string, limits: JsonBodyLimits): JsonValue {
  const numbers = scanJson(text, limits);
  let value: JsonValue;
  try {
    value = (numbers === NUMBERS_MAYBE_INEXACT && RAW_JSON ? JSON.parse(text, keepNumberText) : JSON.parse(text)) as JsonValue;
  } catch (err) {
    throw new CheckError(Reason.bodyInvalid, `body is labelled JSON but does not parse: ${(err as Error).message}`);
  }
  // A lone surrogate escape ("\ud800"): JSON.parse keeps it, the policy's JSON reader refuses it (the evaluation fails), Go's encoding/json makes it U+FFFD. As Go.
  return sawEscape && LONE_SURROGATE_ESCAPE.test(text) ? wellFormed(value) : value;
}

/** scanJson's answer: every number the scan read fits a double (as far as it can tell), or one may not. */
export const NUMBERS_DOUBLE = 0;
export const NUMBERS_MAYBE_INEXACT = 1;

/**
 * The bounds and duplicate check alone, without building the value. Returns
 * normally for text within the limits (which may still be invalid JSON),
 * saying whether a number may not survive JSON.parse (see numberEnd); throws
 * CheckError otherwise.
 */
export function scanJson(text: string, limits: JsonBodyLimits): typeof NUMBERS_DOUBLE | typeof NUMBERS_MAYBE_INEXACT {
  const { maxDepth, maxKeys, maxElements } = limits;
  const checkKeys = limits.duplicateKeys !== 'last';
  const anyCase = limits.duplicateKeys === 'deny_any_case';
  const n = text.length;
  // Per open container: its keys (objects, when checked), or null (arrays, or keys not checked).
  // isObject[d] says what the container at depth d is.
  const keys: Array<string[] | Set<string> | null> = [];
  const isObject: boolean[] = [];
  let depth = 0;
  let keyCount = 0;
  let elementCount = 0;
  // In an object, the next string is a key: right after "{" and after each ",".
  let expectKey = false;
  // Index of the next backslash at or after the scan position (n: none), so a
  // string's escapes are found without looking at its characters.
  let nextBackslash = -1;
  // Runs of numbers and literals in arrays (tensor data), see below: where
  // the next character that ends such a run is (-1: look again), and the runs
  // whose commas are not counted yet, with an upper bound of those commas.
  let nextQuote = -1;
  let nextOpenBrace = -1;
  let nextCloseBrace = -1;
  let nextOpenBracket = -1;
  let nextCloseBracket = -1;
  const runs: number[] = [];
  let runsUpper = 0;
  const commas = { comma: -1 };
  inexact = false;
  sawEscape = false;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c > COMMA && c < OPEN_BRACKET) {
      // Digits, ".", "-", ":", "E": the characters most bodies are mostly made of, skipped first.
      if (c !== COLON && depth > 0 && isObject[depth] !== true) {
        // A number in an array: up to the next quote, bracket or brace there
        // are only numbers, literals, commas and whitespace (in valid JSON),
        // and each comma is one more element. Found with indexOf (native)
        // rather than character by character: tensors are long runs of
        // numbers. Their commas are only counted when an upper bound of them
        // could cross max_body_elements, so at the usual sizes they are not
        // counted at all.
        if (nextQuote < i) nextQuote = indexOrEnd(text, '"', i);
        if (nextOpenBrace < i) nextOpenBrace = indexOrEnd(text, '{', i);
        if (nextCloseBrace < i) nextCloseBrace = indexOrEnd(text, '}', i);
        if (nextOpenBracket < i) nextOpenBracket = indexOrEnd(text, '[', i);
        if (nextCloseBracket < i) nextCloseBracket = indexOrEnd(text, ']', i);
        const end = Math.min(nextQuote, nextOpenBrace, nextCloseBrace, nextOpenBracket, nextCloseBracket);
        // Each comma follows at least one other character of the run.
        runsUpper += (end - i + 1) >> 1;
        runs.push(i, end);
        // A short run (a list of ids, a small vector) is read number by
        // number; a long one (tensor data) is not, which would cost as much
        // as the parse: its numbers are doubles, as JSON.parse gives them.
        if (!inexact && end - i <= SHORT_RUN) runNumbers(text, i, end);
        if (elementCount + runsUpper > maxElements) {
          elementCount += settleRuns(text, runs, commas);
          runsUpper = 0;
          if (elementCount > maxElements) tooManyElements(maxElements);
        }
        i = end;
        continue;
      }
      if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
        // A number that is a member's value or the whole body.
        i = numberEnd(text, i);
        continue;
      }
      i++;
      continue;
    }
    if (c === QUOTE) {
      if (nextBackslash < i) {
        nextBackslash = text.indexOf('\\', i);
        if (nextBackslash < 0) nextBackslash = n;
      }
      let end = text.indexOf('"', i + 1);
      let escaped = false;
      if (end < 0) return NUMBERS_DOUBLE; // unterminated: JSON.parse says so
      if (nextBackslash < end) {
        escaped = true;
        sawEscape = true;
        end = escapedStringEnd(text, i + 1);
        if (end < 0) return NUMBERS_DOUBLE;
        nextBackslash = -1;
      }
      if (expectKey) {
        expectKey = false;
        if (checkKeys) {
          const key = escaped ? unescapeKey(text, i, end) : text.slice(i + 1, end);
          addKey(keys, depth, anyCase ? foldCase(key) : key);
        }
      }
      i = end + 1;
      continue;
    }
    if (c === COMMA) {
      // A comma comes before every member but the first of its container.
      if (isObject[depth] === true) {
        if (++keyCount > maxKeys) tooManyKeys(maxKeys);
        expectKey = true;
      } else if (++elementCount + runsUpper > maxElements) {
        elementCount += settleRuns(text, runs, commas);
        runsUpper = 0;
        if (elementCount > maxElements) tooManyElements(maxElements);
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new CheckError(Reason.bodyTooDeep, `JSON body nests deeper than ${maxDepth} levels (request.max_body_depth)`);
      }
      const object = c === OPEN_BRACE;
      isObject[depth] = object;
      keys[depth] = object && checkKeys ? [] : null;
      expectKey = object;
      // Its first member, if any, is counted here; the others at their commas.
      let j = i + 1;
      while (j < n && isJsonSpace(text.charCodeAt(j))) j++;
      const next = j < n ? text.charCodeAt(j) : -1;
      if (next !== CLOSE_BRACE && next !== CLOSE_BRACKET) {
        if (object) {
          if (++keyCount > maxKeys) tooManyKeys(maxKeys);
        } else if (++elementCount + runsUpper > maxElements) {
          elementCount += settleRuns(text, runs, commas);
          runsUpper = 0;
          if (elementCount > maxElements) tooManyElements(maxElements);
        }
      }
      i = j;
      continue;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) {
        keys[depth] = null;
        isObject[depth--] = false;
      }
      expectKey = false;
    }
    i++;
  }
  scanned.keys = keyCount;
  scanned.elements = elementCount + runsUpper;
  return inexact ? NUMBERS_MAYBE_INEXACT : NUMBERS_DOUBLE;
}

/**
 * What the last scan that reached the end of its text counted: object keys,
 * and array elements (at most; number runs are counted by an upper bound).
 * For budgets over several JSON texts (multipart JSON parts).
 */
export const scanned = { keys: 0, elements: 0 };

// --- numbers a double may not carry ---
//
// opa-envoy-plugin keeps a body's numbers as their text (Go json.Number), and
// so can the policy here: its input reaches the wasm as JSON text
// (WasmEval.ts, JSON.stringify), and JSON.rawJSON makes JSON.stringify write
// a number's own text. JSON.parse with a reviver that reads each number's
// source (context.source) costs 4 to 20 times JSON.parse alone, so the
// reviver runs only when the scan saw a number that may need it: an integer
// of 16 digits or more (2^53 has 16) or an exponent of three digits (1e400,
// 1e-400). The reviver then keeps the text of integers beyond 2^53 and of
// numbers that overflow to Infinity or underflow to 0; fractions stay
// doubles, as JSON.parse reads them.

/** Set by numberEnd during a scan. */
let inexact = false;
/** Set by a scan that met a string with an escape. */
let sawEscape = false;

/** A \u escape of a surrogate (paired or not: wellFormed tells). */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** The value with every string and key well-formed (lone surrogates as U+FFFD); depth is bounded by the scan. */
function wellFormed(v: JsonValue): JsonValue {
  if (typeof v === 'string') return v.toWellFormed();
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(wellFormed);
  if (RAW_JSON && (JSON as unknown as { isRawJSON(x: unknown): boolean }).isRawJSON(v)) return v;
  // Object.fromEntries makes "__proto__" an own key, like JSON.parse; keys that become equal were refused by the duplicate check (it compares them well-formed), or the last wins, as body_duplicate_keys: last says.
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toWellFormed(), wellFormed(x as JsonValue)])) as JsonValue;
}

const MINUS = 0x2d;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const PLUS = 0x2b;
/** Array runs up to this many characters are read number by number. */
const SHORT_RUN = 512;

const RAW_JSON = typeof (JSON as { rawJSON?: unknown }).rawJSON === 'function';
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** The index past the number (or number-like run) starting at `from`; sets `inexact` for one a double may not carry. */
function numberEnd(text: string, from: number): number {
  const n = text.length;
  let i = from;
  let digits = 0;
  let fraction = false;
  let exponentDigits = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (exponentDigits >= 0) exponentDigits++;
      else digits++;
    } else if (c === DOT) fraction = true;
    else if (c === LOWER_E || c === UPPER_E) exponentDigits = 0;
    else if (c !== MINUS && c !== PLUS) break;
  }
  if (exponentDigits >= 3 || (digits >= 16 && !fraction && exponentDigits < 0)) inexact = true;
  return i;
}

/** numberEnd over each number of an array run [from, to). */
function runNumbers(text: string, from: number, to: number): void {
  for (let i = from; i < to && !inexact; ) {
    const c = text.charCodeAt(i);
    if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) i = numberEnd(text, i);
    else i++;
  }
}

/** JSON text that JSON.stringify wrote from a value with such numbers, parsed back into one (the http.send evaluation worker's input). */
export function parseKeepingNumberText(text: string): unknown {
  return RAW_JSON ? JSON.parse(text, keepNumberText) : JSON.parse(text);
}

/** JSON.parse reviver: a number a double does not carry keeps its text (JSON.rawJSON), which JSON.stringify writes back. */
function keepNumberText(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || (Number.isSafeInteger(value) && value !== 0)) return value;
  const source = context?.source;
  if (source === undefined) return value;
  if (!Number.isFinite(value)) return rawJSON(source);
  if (value === 0) return /[1-9]/.test(source.split(/[eE]/)[0]!) ? rawJSON(source) : value;
  return Number.isInteger(value) && !/[.eE]/.test(source) ? rawJSON(source) : value;
}

/** text.indexOf(ch, from), or the text's length when there is none. */
function indexOrEnd(text: string, ch: string, from: number): number {
  const at = text.indexOf(ch, from);
  return at < 0 ? text.length : at;
}

/**
 * The elements of the runs not counted yet: the commas in the ranges
 * [from, to) given as pairs, in order, which are then forgotten. `next` carries
 * the next comma found so far from call to call, so no stretch of text is
 * searched twice however the ranges fall (a search that ends past a range is
 * the answer for the ranges up to that comma).
 */
function settleRuns(text: string, ranges: number[], next: { comma: number }): number {
  let count = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    const from = ranges[r] as number;
    const to = ranges[r + 1] as number;
    if (next.comma < from) next.comma = indexOrEnd(text, ',', from);
    while (next.comma < to) {
      count++;
      next.comma = indexOrEnd(text, ',', next.comma + 1);
    }
  }
  ranges.length = 0;
  return count;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the closing quote of the string whose contents start at `from`, stepping over escapes; -1 when unterminated. */
function escapedStringEnd(text: string, from: number): number {
  const n = text.length;
  let i = from;
  while (i < n) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let b = q - 1;
    while (b >= from && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    i = q + 1;
  }
  return -1;
}

/**
 * A key's value with its escapes decoded. Lone surrogates (`"\ud800"`) become
 * U+FFFD, as Go's encoding/json and others decode them, so two keys a backend
 * would see as one are one here too. A bad escape is left to JSON.parse.
 */
function unescapeKey(text: string, quote: number, end: number): string {
  try {
    return (JSON.parse(text.slice(quote, end + 1)) as string).toWellFormed();
  } catch {
    // Not a valid string: JSON.parse of the whole body refuses it. A key no valid key can equal.
    return `\u0000invalid ${quote}`;
  }
}

function addKey(keys: Array<string[] | Set<string> | null>, depth: number, key: string): void {
  const seen = keys[depth];
  if (seen === null || seen === undefined) return; // malformed text (a string key outside an object): JSON.parse refuses it
  if (Array.isArray(seen)) {
    for (let k = 0; k < seen.length; k++) if (seen[k] === key) duplicate(key);
    if (seen.length < SMALL_OBJECT_KEYS) {
      seen.push(key);
      return;
    }
    const set = new Set(seen);
    set.add(key);
    keys[depth] = set;
    return;
  }
  if (seen.has(key)) duplicate(key);
  seen.add(key);
}

/**
 * A key with case folded, for deny_any_case. Go's encoding/json matches a
 * key to a struct field with bytes.EqualFold (Unicode simple folding: "kind",
 * "KIND" and "\u212Aind", with KELVIN SIGN, are one field); upper then lower
 * case maps each such family to one string. It also joins a few
 * strings Go keeps apart ("ß" and "ss"): more refusals, never fewer.
 */
function foldCase(key: string): string {
  return key.toUpperCase().toLowerCase();
}

function duplicate(key: string): never {
  const shown = key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}…` : JSON.stringify(key);
  throw new CheckError(
    Reason.bodyDuplicateKey,
    `JSON body has the key ${shown} twice in one object (request.body_duplicate_keys; deny_any_case compares keys without case): parsers disagree on which one counts`,
  );
}

function tooManyKeys(max: number): never {
  throw new CheckError(Reason.bodyTooManyKeys, `JSON body has more than ${max} object keys (request.max_body_keys)`);
}

function tooManyElements(max: number): never {
  throw new CheckError(Reason.bodyTooManyElements, `JSON body has more than ${max} array elements (request.max_body_elements)`);
}
