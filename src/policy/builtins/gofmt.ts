// Go's fmt.Sprintf for the argument types OPA's sprintf passes it: int64,
// float64, *big.Int and string (see sprintf.ts). A port of the parts of
// fmt/print.go, fmt/format.go, strconv's float formatting and big.Int's
// Format those types reach: flags, width, precision, `*`, `%[n]` indexes,
// and the error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA …)`).
// %x/%X/%b of a float64 (hexadecimal floats) are not ported and fail.

import { goQuote } from "./regotext.ts";

export type GoArg =
  | { readonly t: "int64"; readonly v: bigint }
  | { readonly t: "float64"; readonly v: number }
  | { readonly t: "*big.Int"; readonly v: bigint }
  | { readonly t: "string"; readonly v: string };

export class GoFmtUnsupported extends Error {}

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

const clear = (): Flags => ({ plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false, wid: 0, widPresent: false, prec: 0, precPresent: false });
const runeCount = (s: string): number => [...s].length;

// --- exact decimal digits of a double (strconv's decimal, rounded half to even) ---

interface Digits {
  d: string;
  dp: number;
}

function exactDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: "", dp: 0 };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const bits = buf.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = e - 1075;
  if (e === 0) exp = -1074;
  else mant |= 1n << 52n;
  let d: string;
  let dp: number;
  if (exp >= 0) {
    d = (mant << BigInt(exp)).toString();
    dp = d.length;
  } else {
    d = (mant * 5n ** BigInt(-exp)).toString();
    dp = d.length + exp;
  }
  const trimmed = d.replace(/0+$/, "");
  return { d: trimmed, dp };
}

function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0) return { d: "", dp: 0 };
  if (nd >= x.d.length) return x;
  let up: boolean;
  if (x.d[nd] === "5" && nd + 1 === x.d.length) up = nd > 0 && Number(x.d[nd - 1]) % 2 === 1;
  else up = (x.d[nd] as string) >= "5";
  if (!up) {
    const d = x.d.slice(0, nd).replace(/0+$/, "");
    return d === "" ? { d: "", dp: 0 } : { d, dp: x.dp };
  }
  let i = nd - 1;
  while (i >= 0 && x.d[i] === "9") i--;
  if (i < 0) return { d: "1", dp: x.dp + 1 };
  return { d: x.d.slice(0, i) + String(Number(x.d[i]) + 1), dp: x.dp };
}

/** Shortest digits that read back as v: JavaScript's and Go's algorithms agree on them. */
function shortestDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: "", dp: 0 };
  const [m, e] = a.toExponential().split("e") as [string, string];
  const d = m.replace(".", "").replace(/0+$/, "");
  return { d, dp: Number(e) + 1 };
}

function fmtE(neg: boolean, x: Digits, prec: number, verb: string): string {
  let s = neg ? "-" : "";
  s += x.d.length === 0 ? "0" : x.d[0];
  if (prec > 0) s += "." + x.d.slice(1, prec + 1).padEnd(prec, "0");
  const exp = x.d.length === 0 ? 0 : x.dp - 1;
  const ae = Math.abs(exp);
  return `${s}${verb}${exp < 0 ? "-" : "+"}${ae < 10 ? `0${ae}` : String(ae)}`;
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let s = neg ? "-" : "";
  s += x.dp > 0 ? x.d.slice(0, x.dp).padEnd(x.dp, "0") : "0";
  if (prec > 0) {
    s += ".";
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      s += j >= 0 && j < x.d.length ? x.d[j] : "0";
    }
  }
  return s;
}

/** strconv.FormatFloat(v, verb, prec, 64) for e, E, f, g, G. */
export function formatFloat(v: number, verb: string, prec: number): string {
  const neg = v < 0 || Object.is(v, -0);
  const shortest = prec < 0;
  let x: Digits;
  if (shortest) {
    x = shortestDigits(v);
    if (verb === "e" || verb === "E") prec = Math.max(x.d.length - 1, 0);
    else if (verb === "f") prec = Math.max(x.d.length - x.dp, 0);
    else prec = x.d.length;
  } else {
    const exact = exactDigits(v);
    if (verb === "e" || verb === "E") x = roundDigits(exact, prec + 1);
    else if (verb === "f") x = roundDigits(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      x = roundDigits(exact, prec);
    }
  }
  if (verb === "e" || verb === "E") return fmtE(neg, x, prec, verb);
  if (verb === "f") return fmtF(neg, x, prec);
  let eprec = prec;
  if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
  if (shortest) eprec = 6;
  const exp = x.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > x.d.length) prec = x.d.length;
    return fmtE(neg, x, prec - 1, verb === "g" ? "e" : "E");
  }
  if (prec > x.dp) prec = x.d.length;
  return fmtF(neg, x, Math.max(prec - x.dp, 0));
}

// --- the printer ---

class Printer {
  out = "";
  f: Flags = clear();

  padding(n: number): void {
    if (n > 0) this.out += (this.f.zero && !this.f.minus ? "0" : " ").repeat(n);
  }
  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.out += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (!this.f.minus) {
      this.padding(width);
      this.out += s;
    } else {
      this.out += s;
      this.padding(width);
    }
  }
  withoutZero(f: () => void): void {
    const z = this.f.zero;
    this.f.zero = false;
    f();
    this.f.zero = z;
  }

  integer(u: bigint, base: number, signed: boolean, verb: string, upper: boolean): void {
    const f = this.f;
    const negative = signed && u < 0n;
    const abs = negative ? -u : u;
    let prec = 0;
    if (f.precPresent) {
      prec = f.prec;
      if (prec === 0 && abs === 0n) {
        this.withoutZero(() => this.padding(f.wid));
        return;
      }
    } else if (f.zero && !f.minus && f.widPresent) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    let digits = abs.toString(base);
    if (upper) digits = digits.toUpperCase();
    digits = digits.padStart(prec, "0");
    if (f.sharp) {
      if (base === 2) digits = `0b${digits}`;
      else if (base === 8 && digits[0] !== "0") digits = `0${digits}`;
      else if (base === 16) digits = `${upper ? "0X" : "0x"}${digits}`;
    }
    if (verb === "O") digits = `0o${digits}`;
    if (negative) digits = `-${digits}`;
    else if (f.plus) digits = `+${digits}`;
    else if (f.space) digits = ` ${digits}`;
    this.withoutZero(() => this.pad(digits));
  }

  rune(c: bigint, quoted: boolean): void {
    let cp = c < 0n || c > 0x10ffffn ? 0xfffd : Number(c);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const ch = String.fromCodePoint(cp);
    if (!quoted) return this.pad(ch);
    const q = ch === "'" ? "\\'" : ch === '"' ? '"' : goQuote(ch).slice(1, -1);
    this.pad(this.f.plus ? `'${asciiQuote(q)}'` : `'${q}'`);
  }

  unicode(c: bigint): void {
    const u = BigInt.asUintN(64, c);
    let prec = 4;
    if (this.f.precPresent && this.f.prec > 4) prec = this.f.prec;
    let s = `U+${u.toString(16).toUpperCase().padStart(prec, "0")}`;
    if (this.f.sharp && u <= 0x10ffffn && !(u >= 0xd800n && u <= 0xdfffn)) {
      const ch = String.fromCodePoint(Number(u));
      if (goQuote(ch) === `"${ch}"`) s += ` '${ch}'`;
    }
    this.withoutZero(() => this.pad(s));
  }

  float(v: number, verb: string, prec: number): void {
    const f = this.f;
    if (f.precPresent) prec = f.prec;
    let num = formatFloat(v, verb, prec);
    num = num[0] === "-" || num[0] === "+" ? num : `+${num}`;
    if (f.space && num[0] === "+" && !f.plus) num = ` ${num.slice(1)}`;
    if (f.sharp) num = sharpFloat(num, verb, prec);
    if (f.plus || num[0] !== "+") {
      if (f.zero && !f.minus && f.widPresent && f.wid > num.length) {
        this.out += num[0];
        this.padding(f.wid - num.length);
        this.out += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  str(s: string, verb: string): void {
    const f = this.f;
    const truncate = (x: string): string => (f.precPresent ? [...x].slice(0, f.prec).join("") : x);
    switch (verb) {
      case "v":
        if (f.sharpV) return this.quote(s);
        return this.padStr(truncate(s));
      case "s":
        return this.padStr(truncate(s));
      case "x":
      case "X":
        return this.hexString(s, verb === "X");
      case "q":
        return this.quote(s);
      default:
        return this.badVerb(verb, { t: "string", v: s });
    }
  }
  padStr(s: string): void {
    this.pad(s);
  }
  quote(s: string): void {
    const f = this.f;
    const t = f.precPresent ? [...s].slice(0, f.prec).join("") : s;
    if (f.sharp && /^[^`\x00-\x08\x0a-\x1f\x7f\ufeff]*$/u.test(t)) return this.pad(`\`${t}\``);
    this.pad(f.plus ? asciiQuote(goQuote(t)) : goQuote(t));
  }
  hexString(s: string, upper: boolean): void {
    const f = this.f;
    let bytes = [...Buffer.from(s, "utf8")];
    if (f.precPresent && f.prec < bytes.length) bytes = bytes.slice(0, f.prec);
    const length = bytes.length;
    let width = 2 * length;
    if (width > 0) {
      if (f.space) {
        if (f.sharp) width *= 2;
        width += length - 1;
      } else if (f.sharp) width += 2;
    } else {
      if (f.widPresent) this.padding(f.wid);
      return;
    }
    if (f.widPresent && f.wid > width && !f.minus) this.padding(f.wid - width);
    const prefix = upper ? "0X" : "0x";
    let s2 = f.sharp ? prefix : "";
    bytes.forEach((b, i) => {
      if (f.space && i > 0) s2 += f.sharp ? ` ${prefix}` : " ";
      const h = b.toString(16).padStart(2, "0");
      s2 += upper ? h.toUpperCase() : h;
    });
    this.out += s2;
    if (f.widPresent && f.wid > width && f.minus) this.padding(f.wid - width);
  }

  badVerb(verb: string, arg: GoArg): void {
    this.out += `%!${verb}(${arg.t}=`;
    this.print(arg, "v");
    this.out += ")";
  }

  bigInt(x: bigint, verb: string): void {
    const f = this.f;
    const base = { b: 2, o: 8, O: 8, d: 10, s: 10, v: 10, x: 16, X: 16 }[verb];
    if (base === undefined) {
      this.out += `%!${verb}(big.Int=${x.toString()})`;
      return;
    }
    const plus = f.plus || f.plusV;
    const sharp = f.sharp || f.sharpV;
    const sign = x < 0n ? "-" : plus ? "+" : f.space ? " " : "";
    let prefix = "";
    if (sharp) prefix = { b: "0b", o: "0", x: "0x", X: "0X" }[verb] ?? "";
    if (verb === "O") prefix = "0o";
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === "X") digits = digits.toUpperCase();
    let left = 0;
    let zeros = 0;
    let right = 0;
    if (f.precPresent) {
      if (digits.length < f.prec) zeros = f.prec - digits.length;
      else if (digits === "0" && f.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    if (f.widPresent && length < f.wid) {
      const d = f.wid - length;
      if (f.minus) right = d;
      else if (f.zero && !f.precPresent) zeros = d;
      else left = d;
    }
    this.out += " ".repeat(left) + sign + prefix + "0".repeat(zeros) + digits + " ".repeat(right);
  }

  print(arg: GoArg, verb: string): void {
    if (verb === "T") {
      this.pad(arg.t);
      return;
    }
    if (verb === "p") return this.badVerb(verb, arg);
    switch (arg.t) {
      case "float64":
        switch (verb) {
          case "v":
            return this.float(arg.v, "g", -1);
          case "g":
          case "G":
            return this.float(arg.v, verb, -1);
          case "e":
          case "E":
          case "f":
            return this.float(arg.v, verb, 6);
          case "F":
            return this.float(arg.v, "f", 6);
          case "b":
          case "x":
          case "X":
            throw new GoFmtUnsupported(`%${verb} of a float is not supported by ztauthz`);
          default:
            return this.badVerb(verb, arg);
        }
      case "int64":
        switch (verb) {
          case "v":
          case "d":
            return this.integer(arg.v, 10, true, verb, false);
          case "b":
            return this.integer(arg.v, 2, true, verb, false);
          case "o":
          case "O":
            return this.integer(arg.v, 8, true, verb, false);
          case "x":
            return this.integer(arg.v, 16, true, verb, false);
          case "X":
            return this.integer(arg.v, 16, true, verb, true);
          case "c":
            return this.rune(arg.v, false);
          case "q":
            return this.rune(arg.v, true);
          case "U":
            return this.unicode(arg.v);
          default:
            return this.badVerb(verb, arg);
        }
      case "*big.Int":
        return this.bigInt(arg.v, verb);
      case "string":
        return this.str(arg.v, verb);
    }
  }
}

/** strconv's QuoteToASCII from a Quote result: non-ASCII as \u/\U escapes. */
function asciiQuote(q: string): string {
  let out = "";
  for (const ch of q) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x80) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out;
}

/** The # flag on floats: keep the decimal point, and for %g/%v trailing zeros up to the precision. */
function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = verb === "v" || verb === "g" || verb === "G" ? (prec === -1 ? 6 : prec) : 0;
  let tail = "";
  let body = num;
  const e = body.search(/[eE]/);
  if (e >= 0) {
    tail = body.slice(e);
    body = body.slice(0, e);
  }
  let sawNonzero = false;
  for (const c of body.slice(1)) {
    if (c === ".") continue;
    if (c !== "0") sawNonzero = true;
    if (sawNonzero) digits--;
  }
  if (!body.includes(".")) {
    if (body.length === 2 && body[1] === "0") digits--;
    body += ".";
  }
  if (digits > 0) body += "0".repeat(digits);
  return body + tail;
}

const TOO_LARGE = 1_000_000;

function parseNum(s: string, i: number): [number, boolean, number] {
  let n = 0;
  let isNum = false;
  let j = i;
  for (; j < s.length && s[j]! >= "0" && s[j]! <= "9"; j++) {
    if (n > TOO_LARGE) return [0, false, s.length];
    n = n * 10 + Number(s[j]);
    isNum = true;
  }
  return [n, isNum, j];
}

/** fmt.Sprintf(format, args...). */
export function goSprintf(format: string, args: readonly GoArg[]): string {
  const p = new Printer();
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;
  const end = format.length;
  const argNumber = (i: number): [number, number, boolean] => {
    if (i >= end || format[i] !== "[") return [argNum, i, false];
    reordered = true;
    const close = format.indexOf("]", i + 1);
    if (close < 0 || end - i < 3) {
      goodArgNum = false;
      return [argNum, i + 1, false];
    }
    const [n, ok, ni] = parseNum(format, i + 1);
    if (!ok || ni !== close) {
      goodArgNum = false;
      return [argNum, close + 1, false];
    }
    if (n - 1 >= 0 && n - 1 < args.length) return [n - 1, close + 1, true];
    goodArgNum = false;
    return [argNum, close + 1, true];
  };
  const intArg = (): [number, boolean] => {
    if (argNum >= args.length) return [0, false];
    const a = args[argNum++]!;
    if (a.t !== "int64" || a.v > BigInt(TOO_LARGE) || a.v < -BigInt(TOO_LARGE)) return [0, false];
    return [Number(a.v), true];
  };
  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== "%") i++;
    if (i > lasti) p.out += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = clear();
    const f = p.f;
    for (; i < end; i++) {
      const c = format[i] as string;
      if (c === "#") f.sharp = true;
      else if (c === "0") f.zero = true;
      else if (c === "+") f.plus = true;
      else if (c === "-") f.minus = true;
      else if (c === " ") f.space = true;
      else {
        if (c >= "a" && c <= "z" && argNum < args.length) {
          if (c === "v") {
            f.sharpV = f.sharp;
            f.sharp = false;
            f.plusV = f.plus;
            f.plus = false;
          }
          p.print(args[argNum]!, c);
          argNum++;
          i++;
          continue formatLoop;
        }
        break;
      }
    }
    [argNum, i, afterIndex] = argNumber(i);
    if (i < end && format[i] === "*") {
      i++;
      [f.wid, f.widPresent] = intArg();
      if (!f.widPresent) p.out += "%!(BADWIDTH)";
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      afterIndex = false;
    } else {
      [f.wid, f.widPresent, i] = parseNum(format, i);
      if (afterIndex && f.widPresent) goodArgNum = false;
    }
    if (i + 1 < end && format[i] === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      [argNum, i, afterIndex] = argNumber(i);
      if (i < end && format[i] === "*") {
        i++;
        [f.prec, f.precPresent] = intArg();
        if (f.prec < 0) {
          f.prec = 0;
          f.precPresent = false;
        }
        if (!f.precPresent) p.out += "%!(BADPREC)";
        afterIndex = false;
      } else {
        [f.prec, f.precPresent, i] = parseNum(format, i);
        if (!f.precPresent) {
          f.prec = 0;
          f.precPresent = true;
        }
      }
    }
    if (!afterIndex) [argNum, i, afterIndex] = argNumber(i);
    if (i >= end) {
      p.out += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) as number);
    i += verb.length;
    if (verb === "%") p.out += "%";
    else if (!goodArgNum) p.out += `%!${verb}(BADINDEX)`;
    else if (argNum >= args.length) p.out += `%!${verb}(MISSING)`;
    else {
      if (verb === "v") {
        f.sharpV = f.sharp;
        f.sharp = false;
        f.plusV = f.plus;
        f.plus = false;
      }
      p.print(args[argNum]!, verb);
      argNum++;
    }
  }
  if (!reordered && argNum < args.length) {
    p.f = clear();
    p.out += "%!(EXTRA ";
    args.slice(argNum).forEach((a, k) => {
      if (k > 0) p.out += ", ";
      p.out += `${a.t}=`;
      p.print(a, "v");
    });
    p.out += ")";
  }
  return p.out;
}
