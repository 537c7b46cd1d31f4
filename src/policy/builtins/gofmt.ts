// Go's fmt.Sprintf for the argument types OPA's sprintf passes it: int64,
// float64, *big.Int and string (see sprintf.ts). A port of the parts of
// fmt/print.go, fmt/format.go, strconv's float formatting and big.Int's
// Format those types reach: flags, width, precision, `*`, `%[n]` indexes,
// and the error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA …)`).
// %x/%X/%b of a float64 (hexadecimal floats) are not ported and fail.

import { Printer, clear, typeName, type GoArg } from './goprint.ts';

export { GoFmtUnsupported, type GoArg } from './goprint.ts';

const TOO_LARGE = 1_000_000;

function parseNum(s: string, i: number): [number, boolean, number] {
  let n = 0;
  let isNum = false;
  let j = i;
  for (; j < s.length && s[j]! >= '0' && s[j]! <= '9'; j++) {
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
    if (i >= end || format[i] !== '[') return [argNum, i, false];
    reordered = true;
    const close = format.indexOf(']', i + 1);
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
    if (a.t !== 'int64' || a.v > BigInt(TOO_LARGE) || a.v < -BigInt(TOO_LARGE)) return [0, false];
    return [Number(a.v), true];
  };
  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== '%') i++;
    if (i > lasti) p.out += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = clear();
    const f = p.f;
    for (; i < end; i++) {
      const c = format[i] as string;
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = true;
      else if (c === '+') f.plus = true;
      else if (c === '-') f.minus = true;
      else if (c === ' ') f.space = true;
      else {
        if (c >= 'a' && c <= 'z' && argNum < args.length) {
          if (c === 'v') {
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
    if (i < end && format[i] === '*') {
      i++;
      [f.wid, f.widPresent] = intArg();
      if (!f.widPresent) p.out += '%!(BADWIDTH)';
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
    if (i + 1 < end && format[i] === '.') {
      i++;
      if (afterIndex) goodArgNum = false;
      [argNum, i, afterIndex] = argNumber(i);
      if (i < end && format[i] === '*') {
        i++;
        [f.prec, f.precPresent] = intArg();
        if (f.prec < 0) {
          f.prec = 0;
          f.precPresent = false;
        }
        if (!f.precPresent) p.out += '%!(BADPREC)';
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
      p.out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) as number);
    i += verb.length;
    if (verb === '%') p.out += '%';
    else if (!goodArgNum) p.out += `%!${verb}(BADINDEX)`;
    else if (argNum >= args.length) p.out += `%!${verb}(MISSING)`;
    else {
      if (verb === 'v') {
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
    p.out += '%!(EXTRA ';
    args.slice(argNum).forEach((a, k) => {
      if (k > 0) p.out += ', ';
      p.out += typeName(a) === '<nil>' ? '<nil>' : `${typeName(a)}=`;
      if (typeName(a) === '<nil>') return;
      p.print(a, 'v');
    });
    p.out += ')';
  }
  return p.out;
}
