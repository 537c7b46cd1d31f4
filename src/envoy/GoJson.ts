// How opa-envoy-plugin reads a JSON body (OPA's util.UnmarshalJSON: Go
// encoding/json's Decoder, one value, then one Token() to look for more), for
// compat: opa-envoy. Used only where JSON.parse refused the text, so its cost
// is on the error path alone. It answers what Go's Decoder answers:
//   - the error text of its scanner ("invalid character 'x' looking for
//     beginning of value", "unexpected EOF", "EOF" for no value at all), and
//     OPA's "error: invalid character '…' after top-level value" for a second
//     value after the first;
//   - or that the text is accepted after all: a first value followed by
//     `null` (the Token() OPA looks at is nil, so it finds nothing more) is
//     the first value, whatever comes after the null.
// The states are those of Go's src/encoding/json/scanner.go, byte by byte.

export type GoJsonVerdict = { readonly error: string } | { readonly valueEnd: number };

/** The scanner's states (Go's step functions). */
const S = {
  BeginValueOrEmpty: 0,
  BeginValue: 1,
  BeginStringOrEmpty: 2,
  BeginString: 3,
  EndValue: 4,
  EndTop: 5,
  InString: 6,
  InStringEsc: 7,
  EscU: 8,
  EscU1: 9,
  EscU12: 10,
  EscU123: 11,
  Neg: 12,
  One: 13,
  Zero: 14,
  Dot: 15,
  Dot0: 16,
  E: 17,
  ESign: 18,
  E0: 19,
  T: 20,
  Tr: 21,
  Tru: 22,
  F: 23,
  Fa: 24,
  Fal: 25,
  Fals: 26,
  N: 27,
  Nu: 28,
  Nul: 29,
} as const;
type S = (typeof S)[keyof typeof S];

const OBJ_KEY = 0;
const OBJ_VALUE = 1;
const ARR_VALUE = 2;
/** Go's maxNestingDepth. */
const MAX_DEPTH = 10000;

const CONTINUE = 0;
const END = 1; // the value ended before this byte
const END_CONTAINER = 2; // the byte closed the top-level container
const ERROR = 3;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Go's quoteChar: a byte as strconv.Quote shows the rune of the same value, in single quotes. */
export function goQuoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return `'"'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 92: '\\\\' };
  if (named[c] !== undefined) return `'${named[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

class Scanner {
  step: S = S.BeginValue;
  stack: number[] = [];
  err = '';

  private fail(c: number, context: string): number {
    this.err = `invalid character ${goQuoteChar(c)} ${context}`;
    return ERROR;
  }

  private push(ps: number, c: number): number {
    this.stack.push(ps);
    if (this.stack.length > MAX_DEPTH) return this.fail(c, 'exceeded max depth');
    return CONTINUE;
  }

  private endValue(c: number): number {
    const n = this.stack.length;
    if (n === 0) {
      this.step = S.EndTop;
      return END; // Go's stateEndTop: scanEnd whatever the byte (a non-space one is Token()'s business)
    }
    if (isSpace(c)) {
      this.step = S.EndValue;
      return CONTINUE;
    }
    switch (this.stack[n - 1]) {
      case OBJ_KEY:
        if (c === 0x3a) {
          this.stack[n - 1] = OBJ_VALUE;
          this.step = S.BeginValue;
          return CONTINUE;
        }
        return this.fail(c, 'after object key');
      case OBJ_VALUE:
        if (c === 0x2c) {
          this.stack[n - 1] = OBJ_KEY;
          this.step = S.BeginString;
          return CONTINUE;
        }
        if (c === 0x7d) return this.pop();
        return this.fail(c, 'after object key:value pair');
      default:
        if (c === 0x2c) {
          this.step = S.BeginValue;
          return CONTINUE;
        }
        if (c === 0x5d) return this.pop();
        return this.fail(c, 'after array element');
    }
  }

  private pop(): number {
    this.stack.pop();
    this.step = S.EndValue;
    return this.stack.length === 0 ? END_CONTAINER : CONTINUE;
  }

  private beginValue(c: number): number {
    if (isSpace(c)) return CONTINUE;
    switch (c) {
      case 0x7b:
        this.step = S.BeginStringOrEmpty;
        return this.push(OBJ_KEY, c);
      case 0x5b:
        this.step = S.BeginValueOrEmpty;
        return this.push(ARR_VALUE, c);
      case 0x22:
        this.step = S.InString;
        return CONTINUE;
      case 0x2d:
        this.step = S.Neg;
        return CONTINUE;
      case 0x30:
        this.step = S.Zero;
        return CONTINUE;
      case 0x74:
        this.step = S.T;
        return CONTINUE;
      case 0x66:
        this.step = S.F;
        return CONTINUE;
      case 0x6e:
        this.step = S.N;
        return CONTINUE;
    }
    if (c >= 0x31 && c <= 0x39) {
      this.step = S.One;
      return CONTINUE;
    }
    return this.fail(c, 'looking for beginning of value');
  }

  private literal(c: number, want: number, next: S, context: string): number {
    if (c === want) {
      this.step = next;
      return CONTINUE;
    }
    return this.fail(c, context);
  }

  private beginString(c: number): number {
    if (isSpace(c)) return CONTINUE;
    if (c === 0x22) {
      this.step = S.InString;
      return CONTINUE;
    }
    return this.fail(c, 'looking for beginning of object key string');
  }

  private zero(c: number): number {
    if (c === 0x2e) {
      this.step = S.Dot;
      return CONTINUE;
    }
    if (c === 0x65 || c === 0x45) {
      this.step = S.E;
      return CONTINUE;
    }
    return this.endValue(c);
  }

  private eSign(c: number): number {
    if (isDigit(c)) {
      this.step = S.E0;
      return CONTINUE;
    }
    return this.fail(c, 'in exponent of numeric literal');
  }

  feed(c: number): number {
    switch (this.step) {
      case S.BeginValueOrEmpty:
        if (isSpace(c)) return CONTINUE;
        if (c === 0x5d) return this.endValue(c);
        return this.beginValue(c);
      case S.BeginValue:
        return this.beginValue(c);
      case S.BeginStringOrEmpty:
        if (isSpace(c)) return CONTINUE;
        if (c === 0x7d) {
          this.stack[this.stack.length - 1] = OBJ_VALUE;
          return this.endValue(c);
        }
        return this.beginString(c);
      case S.BeginString:
        return this.beginString(c);
      case S.EndValue:
        return this.endValue(c);
      case S.EndTop:
        return END;
      case S.InString:
        if (c === 0x22) {
          this.step = S.EndValue;
          return CONTINUE;
        }
        if (c === 0x5c) {
          this.step = S.InStringEsc;
          return CONTINUE;
        }
        if (c < 0x20) return this.fail(c, 'in string literal');
        return CONTINUE;
      case S.InStringEsc:
        if ('bfnrt\\/"'.includes(String.fromCharCode(c))) {
          this.step = S.InString;
          return CONTINUE;
        }
        if (c === 0x75) {
          this.step = S.EscU;
          return CONTINUE;
        }
        return this.fail(c, 'in string escape code');
      case S.EscU:
      case S.EscU1:
      case S.EscU12:
      case S.EscU123:
        if (isHex(c)) {
          this.step = this.step === S.EscU123 ? S.InString : ((this.step + 1) as S);
          return CONTINUE;
        }
        return this.fail(c, 'in \\u hexadecimal character escape');
      case S.Neg:
        if (c === 0x30) {
          this.step = S.Zero;
          return CONTINUE;
        }
        if (c >= 0x31 && c <= 0x39) {
          this.step = S.One;
          return CONTINUE;
        }
        return this.fail(c, 'in numeric literal');
      case S.One:
        if (isDigit(c)) return CONTINUE;
        return this.zero(c);
      case S.Zero:
        return this.zero(c);
      case S.Dot:
        if (isDigit(c)) {
          this.step = S.Dot0;
          return CONTINUE;
        }
        return this.fail(c, 'after decimal point in numeric literal');
      case S.Dot0:
        if (isDigit(c)) return CONTINUE;
        if (c === 0x65 || c === 0x45) {
          this.step = S.E;
          return CONTINUE;
        }
        return this.endValue(c);
      case S.E:
        if (c === 0x2b || c === 0x2d) {
          this.step = S.ESign;
          return CONTINUE;
        }
        return this.eSign(c);
      case S.ESign:
        return this.eSign(c);
      case S.E0:
        if (isDigit(c)) return CONTINUE;
        return this.endValue(c);
      case S.T:
        return this.literal(c, 0x72, S.Tr, "in literal true (expecting 'r')");
      case S.Tr:
        return this.literal(c, 0x75, S.Tru, "in literal true (expecting 'u')");
      case S.Tru:
        return this.literal(c, 0x65, S.EndValue, "in literal true (expecting 'e')");
      case S.F:
        return this.literal(c, 0x61, S.Fa, "in literal false (expecting 'a')");
      case S.Fa:
        return this.literal(c, 0x6c, S.Fal, "in literal false (expecting 'l')");
      case S.Fal:
        return this.literal(c, 0x73, S.Fals, "in literal false (expecting 's')");
      case S.Fals:
        return this.literal(c, 0x65, S.EndValue, "in literal false (expecting 'e')");
      case S.N:
        return this.literal(c, 0x75, S.Nu, "in literal null (expecting 'u')");
      case S.Nu:
        return this.literal(c, 0x6c, S.Nul, "in literal null (expecting 'l')");
      case S.Nul:
        return this.literal(c, 0x6c, S.EndValue, "in literal null (expecting 'l')");
    }
  }
}

/**
 * One value from `from` as Go's Decoder.readValue reads it: the index just
 * past it, or Go's error ("EOF" when only whitespace is left).
 */
function readValue(b: Uint8Array, from: number): { end: number } | { error: string } {
  const s = new Scanner();
  for (let i = from; i < b.length; i++) {
    const v = s.feed(b[i]!);
    if (v === END) return { end: i };
    if (v === END_CONTAINER) return { end: i + 1 };
    if (v === ERROR) return { error: s.err };
  }
  // At the end: a value a space would complete is whole; else Go's io.ErrUnexpectedEOF, or io.EOF when nothing but space was read.
  const v = s.feed(0x20);
  if (v === END || v === END_CONTAINER) return { end: b.length };
  for (let i = from; i < b.length; i++) if (!isSpace(b[i]!)) return { error: 'unexpected EOF' };
  return { error: 'EOF' };
}

/** OPA's util.UnmarshalJSON on these bytes: its error text, or where the value it keeps ends. */
export function goUnmarshalJson(b: Uint8Array): GoJsonVerdict {
  const first = readValue(b, 0);
  if ('error' in first) return first;
  // decoder.Token(): skip space; at the end nothing follows.
  let i = first.end;
  while (i < b.length && isSpace(b[i]!)) i++;
  if (i === b.length) return { valueEnd: first.end };
  const c = b[i]!;
  if (c === 0x7b || c === 0x5b) return { error: `error: invalid character '${String.fromCharCode(c)}' after top-level value` };
  if (c === 0x7d || c === 0x5d || c === 0x2c || c === 0x3a) return { error: `invalid character ${goQuoteChar(c)} looking for beginning of value` };
  const second = readValue(b, i);
  if ('error' in second) return second;
  const token = Buffer.from(b.subarray(i, second.end)).toString('utf8');
  if (token === 'null') return { valueEnd: first.end };
  // fmt's %s of the token: a string's value, a json.Number's text, a bool as %!s(bool=…).
  const shown = token === 'true' || token === 'false' ? `%!s(bool=${token})` : token.startsWith('"') ? goStringValue(token) : token;
  return { error: `error: invalid character '${shown}' after top-level value` };
}

/** A JSON string token's value as Go decodes it (invalid UTF-8 and lone surrogates as U+FFFD). */
function goStringValue(token: string): string {
  try {
    return (JSON.parse(token) as string).toWellFormed();
  } catch {
    return token.slice(1, -1);
  }
}
