// The printer behind gofmt.ts's Sprintf: fmt's flags and the formatting of
// each verb for the argument types OPA's builtins pass (fmt/print.go and
// fmt/format.go, big.Int's Format).

import { formatFloat, sharpFloat } from './gofloat.ts';
import { goQuote } from './regotext.ts';

export type GoArg =
  | { readonly t: 'int64'; readonly v: bigint; readonly type?: string }
  | { readonly t: 'float64'; readonly v: number }
  | { readonly t: '*big.Int'; readonly v: bigint }
  | { readonly t: 'string'; readonly v: string; readonly type?: string };

/** The Go type name fmt prints for an argument (a string-kind value may be a json.Number, a bool or nil in templates). */
export const typeName = (a: GoArg): string => ((a.t === 'string' || a.t === 'int64') && a.type !== undefined ? a.type : a.t);

export class GoFmtUnsupported extends Error {}

export interface Flags {
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

export const clear = (): Flags => ({
  plus: false,
  minus: false,
  sharp: false,
  space: false,
  zero: false,
  plusV: false,
  sharpV: false,
  wid: 0,
  widPresent: false,
  prec: 0,
  precPresent: false,
});
const runeCount = (s: string): number => [...s].length;

// --- the printer ---

export class Printer {
  out = '';
  f: Flags = clear();

  padding(n: number): void {
    if (n > 0) this.out += (this.f.zero && !this.f.minus ? '0' : ' ').repeat(n);
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
    digits = digits.padStart(prec, '0');
    if (f.sharp) {
      if (base === 2) digits = `0b${digits}`;
      else if (base === 8 && digits[0] !== '0') digits = `0${digits}`;
      else if (base === 16) digits = `${upper ? '0X' : '0x'}${digits}`;
    }
    if (verb === 'O') digits = `0o${digits}`;
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
    let s = `U+${u.toString(16).toUpperCase().padStart(prec, '0')}`;
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
    num = num[0] === '-' || num[0] === '+' ? num : `+${num}`;
    if (f.space && num[0] === '+' && !f.plus) num = ` ${num.slice(1)}`;
    if (f.sharp) num = sharpFloat(num, verb, prec);
    if (f.plus || num[0] !== '+') {
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

  str(s: string, verb: string, arg: GoArg = { t: 'string', v: s }): void {
    const f = this.f;
    const truncate = (x: string): string => (f.precPresent ? [...x].slice(0, f.prec).join('') : x);
    switch (verb) {
      case 'v':
        if (f.sharpV) return this.quote(s);
        return this.padStr(truncate(s));
      case 's':
        return this.padStr(truncate(s));
      case 'x':
      case 'X':
        return this.hexString(s, verb === 'X');
      case 'q':
        return this.quote(s);
      default:
        return this.badVerb(verb, arg);
    }
  }
  padStr(s: string): void {
    this.pad(s);
  }
  quote(s: string): void {
    const f = this.f;
    const t = f.precPresent ? [...s].slice(0, f.prec).join('') : s;
    if (f.sharp && /^[^`\x00-\x08\x0a-\x1f\x7f\ufeff]*$/u.test(t)) return this.pad(`\`${t}\``);
    this.pad(f.plus ? asciiQuote(goQuote(t)) : goQuote(t));
  }
  hexString(s: string, upper: boolean): void {
    const f = this.f;
    let bytes = [...Buffer.from(s, 'utf8')];
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
    const prefix = upper ? '0X' : '0x';
    let s2 = f.sharp ? prefix : '';
    bytes.forEach((b, i) => {
      if (f.space && i > 0) s2 += f.sharp ? ` ${prefix}` : ' ';
      const h = b.toString(16).padStart(2, '0');
      s2 += upper ? h.toUpperCase() : h;
    });
    this.out += s2;
    if (f.widPresent && f.wid > width && f.minus) this.padding(f.wid - width);
  }

  badVerb(verb: string, arg: GoArg): void {
    if (typeName(arg) === '<nil>') {
      this.out += `%!${verb}(<nil>)`;
      return;
    }
    this.out += `%!${verb}(${typeName(arg)}=`;
    this.print(arg, 'v');
    this.out += ')';
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
    const sign = x < 0n ? '-' : plus ? '+' : f.space ? ' ' : '';
    let prefix = '';
    if (sharp) prefix = { b: '0b', o: '0', x: '0x', X: '0X' }[verb] ?? '';
    if (verb === 'O') prefix = '0o';
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === 'X') digits = digits.toUpperCase();
    let left = 0;
    let zeros = 0;
    let right = 0;
    if (f.precPresent) {
      if (digits.length < f.prec) zeros = f.prec - digits.length;
      else if (digits === '0' && f.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    if (f.widPresent && length < f.wid) {
      const d = f.wid - length;
      if (f.minus) right = d;
      else if (f.zero && !f.precPresent) zeros = d;
      else left = d;
    }
    this.out += ' '.repeat(left) + sign + prefix + '0'.repeat(zeros) + digits + ' '.repeat(right);
  }

  print(arg: GoArg, verb: string): void {
    if (verb === 'T') {
      this.pad(typeName(arg));
      return;
    }
    if (arg.t === 'string' && (arg.type === 'bool' || arg.type === '<nil>')) {
      // fmtBool: %t and %v; nil: %v. Anything else is a bad verb.
      if (verb === 'v' || (verb === 't' && arg.type === 'bool')) return this.pad(arg.v);
      return this.badVerb(verb, arg);
    }
    if (arg.t === 'string' && arg.type !== undefined && arg.type !== 'json.Number' && verb !== 'v' && verb !== 's') return this.badVerb(verb, arg);
    if (verb === 'p') return this.badVerb(verb, arg);
    switch (arg.t) {
      case 'float64':
        switch (verb) {
          case 'v':
            return this.float(arg.v, 'g', -1);
          case 'g':
          case 'G':
            return this.float(arg.v, verb, -1);
          case 'e':
          case 'E':
          case 'f':
            return this.float(arg.v, verb, 6);
          case 'F':
            return this.float(arg.v, 'f', 6);
          case 'b':
          case 'x':
          case 'X':
            throw new GoFmtUnsupported(`%${verb} of a float is not supported by ztauthz`);
          default:
            return this.badVerb(verb, arg);
        }
      case 'int64':
        switch (verb) {
          case 'v':
          case 'd':
            return this.integer(arg.v, 10, true, verb, false);
          case 'b':
            return this.integer(arg.v, 2, true, verb, false);
          case 'o':
          case 'O':
            return this.integer(arg.v, 8, true, verb, false);
          case 'x':
            return this.integer(arg.v, 16, true, verb, false);
          case 'X':
            return this.integer(arg.v, 16, true, verb, true);
          case 'c':
            return this.rune(arg.v, false);
          case 'q':
            return this.rune(arg.v, true);
          case 'U':
            return this.unicode(arg.v);
          default:
            return this.badVerb(verb, arg);
        }
      case '*big.Int':
        return this.bigInt(arg.v, verb);
      case 'string':
        return this.str(arg.v, verb, arg);
    }
  }
}

/** strconv's QuoteToASCII from a Quote result: non-ASCII as \u/\U escapes. */
function asciiQuote(q: string): string {
  let out = '';
  for (const ch of q) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x80) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out;
}
