// Go's strconv.FormatFloat for the verbs fmt uses (e, E, f, g, G), from the
// double's exact decimal expansion rounded half to even as strconv's decimal
// does, or its shortest round-trip digits (which JavaScript and Go agree on);
// and fmt's # flag on floats.

// --- exact decimal digits of a double (strconv's decimal, rounded half to even) ---

interface Digits {
  d: string;
  dp: number;
}

function exactDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: '', dp: 0 };
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
  const trimmed = d.replace(/0+$/, '');
  return { d: trimmed, dp };
}

function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0) return { d: '', dp: 0 };
  if (nd >= x.d.length) return x;
  let up: boolean;
  if (x.d[nd] === '5' && nd + 1 === x.d.length) up = nd > 0 && Number(x.d[nd - 1]) % 2 === 1;
  else up = (x.d[nd] as string) >= '5';
  if (!up) {
    const d = x.d.slice(0, nd).replace(/0+$/, '');
    return d === '' ? { d: '', dp: 0 } : { d, dp: x.dp };
  }
  let i = nd - 1;
  while (i >= 0 && x.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  return { d: x.d.slice(0, i) + String(Number(x.d[i]) + 1), dp: x.dp };
}

/** Shortest digits that read back as v: JavaScript's and Go's algorithms agree on them. */
function shortestDigits(v: number): Digits {
  const a = Math.abs(v);
  if (a === 0) return { d: '', dp: 0 };
  const [m, e] = a.toExponential().split('e') as [string, string];
  const d = m.replace('.', '').replace(/0+$/, '');
  return { d, dp: Number(e) + 1 };
}

function fmtE(neg: boolean, x: Digits, prec: number, verb: string): string {
  let s = neg ? '-' : '';
  s += x.d.length === 0 ? '0' : x.d[0];
  if (prec > 0) s += `.${x.d.slice(1, prec + 1).padEnd(prec, '0')}`;
  const exp = x.d.length === 0 ? 0 : x.dp - 1;
  const ae = Math.abs(exp);
  return `${s}${verb}${exp < 0 ? '-' : '+'}${ae < 10 ? `0${ae}` : String(ae)}`;
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let s = neg ? '-' : '';
  s += x.dp > 0 ? x.d.slice(0, x.dp).padEnd(x.dp, '0') : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      s += j >= 0 && j < x.d.length ? x.d[j] : '0';
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
    if (verb === 'e' || verb === 'E') prec = Math.max(x.d.length - 1, 0);
    else if (verb === 'f') prec = Math.max(x.d.length - x.dp, 0);
    else prec = x.d.length;
  } else {
    const exact = exactDigits(v);
    if (verb === 'e' || verb === 'E') x = roundDigits(exact, prec + 1);
    else if (verb === 'f') x = roundDigits(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      x = roundDigits(exact, prec);
    }
  }
  if (verb === 'e' || verb === 'E') return fmtE(neg, x, prec, verb);
  if (verb === 'f') return fmtF(neg, x, prec);
  let eprec = prec;
  if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
  if (shortest) eprec = 6;
  const exp = x.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > x.d.length) prec = x.d.length;
    return fmtE(neg, x, prec - 1, verb === 'g' ? 'e' : 'E');
  }
  if (prec > x.dp) prec = x.d.length;
  return fmtF(neg, x, Math.max(prec - x.dp, 0));
}

/** The # flag on floats: keep the decimal point, and for %g/%v trailing zeros up to the precision. */
export function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = verb === 'v' || verb === 'g' || verb === 'G' ? (prec === -1 ? 6 : prec) : 0;
  let tail = '';
  let body = num;
  const e = body.search(/[eE]/);
  if (e >= 0) {
    tail = body.slice(e);
    body = body.slice(0, e);
  }
  let sawNonzero = false;
  for (const c of body.slice(1)) {
    if (c === '.') continue;
    if (c !== '0') sawNonzero = true;
    if (sawNonzero) digits--;
  }
  if (!body.includes('.')) {
    if (body.length === 2 && body[1] === '0') digits--;
    body += '.';
  }
  if (digits > 0) body += '0'.repeat(digits);
  return body + tail;
}
