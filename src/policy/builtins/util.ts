// Helpers shared by the host builtin families. OPA's builtins are written in Go,
// where strings are byte slices and numbers are arbitrary precision; the
// helpers here recreate the Go behaviours that leak into builtin results.

/** Thrown by a host builtin; opa-wasm turns it into an evaluation error. */
export class BuiltinError extends Error {
  readonly builtin: string;
  constructor(builtin: string, message: string) {
    super(`${builtin}: ${message}`);
    this.name = 'BuiltinError';
    this.builtin = builtin;
  }
}

/** The Rego type name of a JSON value, as OPA prints it in operand errors. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function operandTypeError(builtin: string, pos: number, v: unknown, want: string): BuiltinError {
  return new BuiltinError(builtin, `operand ${pos} must be ${want} but got ${typeName(v)}`);
}

export function stringOperand(builtin: string, v: unknown, pos: number): string {
  if (typeof v !== 'string') throw operandTypeError(builtin, pos, v, 'string');
  return v;
}

export function objectOperand(builtin: string, v: unknown, pos: number): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw operandTypeError(builtin, pos, v, 'object');
  return v as Record<string, unknown>;
}

export function numberOperand(builtin: string, v: unknown, pos: number): number {
  if (typeof v !== 'number') throw operandTypeError(builtin, pos, v, 'number');
  return v;
}

/** Go's builtins.IntOperand: a number that must be integral. */
export function intOperand(builtin: string, v: unknown, pos: number): number {
  const n = numberOperand(builtin, v, pos);
  if (!Number.isSafeInteger(n)) {
    throw new BuiltinError(builtin, `operand ${pos} must be integer number but got floating-point number`);
  }
  return n;
}

/**
 * opa-wasm hands a builtin result to the wasm through JSON.stringify, which
 * would round nanosecond timestamps (> 2^53) to the nearest double. An
 * ArrayBuffer is copied verbatim instead (see _loadJSON in opa-wasm), so the
 * policy sees the exact integer, as it does under `opa eval`.
 */
export function exactInt(n: bigint): ArrayBuffer {
  const bytes = new TextEncoder().encode(n.toString());
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Like exactInt, for any JSON number text (a decimal OPA computed exactly), or any JSON text. */
export function exactNumber(text: string): ArrayBuffer {
  const bytes = new TextEncoder().encode(text);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes to string the way Go's encoding/json prints them: each byte that does
 * not start a valid UTF-8 sequence becomes one U+FFFD. TextDecoder's
 * replacement mode collapses a truncated sequence into a single U+FFFD
 * instead, which would make results differ from OPA's.
 */
export function goBytesToString(b: Uint8Array): string {
  try {
    return fatalDecoder.decode(b);
  } catch {
    // fall through to the byte-by-byte decoder
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = validSequenceLength(b, i);
    if (n === 0) {
      out += '\uFFFD';
      i += 1;
    } else {
      out += fatalDecoder.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

function cont(b: Uint8Array, i: number, lo = 0x80, hi = 0xbf): boolean {
  const c = b[i];
  return c !== undefined && c >= lo && c <= hi;
}

// Mirrors utf8.DecodeRune's acceptance table (no surrogates, no overlongs).
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(b, i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(b, i + 1, lo, hi) && cont(b, i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(b, i + 1, lo, hi) && cont(b, i + 2) && cont(b, i + 3) ? 4 : 0;
  }
  return 0;
}

const STD_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_PADDED = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/**
 * Go's base64.StdEncoding / URLEncoding DecodeString: padding required,
 * CR and LF ignored anywhere, any other stray byte is an error. Node's
 * Buffer.from(s, "base64") silently skips garbage, which would accept tokens
 * OPA rejects. Returns undefined on malformed input.
 */
export function goBase64Decode(s: string, url: boolean): Buffer | undefined {
  const clean = s.replace(/[\r\n]/g, '');
  if (!(url ? URL_PADDED : STD_PADDED).test(clean)) return undefined;
  return Buffer.from(clean, url ? 'base64url' : 'base64');
}

/**
 * OPA's base64url.decode: adds missing padding (RFC 7515 appendix C), then
 * decodes strictly. Throws a plain Error; callers name the builtin.
 */
export function opaBase64UrlDecode(s: string): Buffer {
  let padded = s;
  if (!s.endsWith('=')) {
    switch (s.length % 4) {
      case 0:
        break;
      case 2:
        padded += '==';
        break;
      case 3:
        padded += '=';
        break;
      default:
        throw new Error(`illegal base64url string: ${s}`);
    }
  }
  const out = goBase64Decode(padded, true);
  if (out === undefined) throw new Error('illegal base64 data');
  return out;
}

/** Code point order, which is the byte order Go's sort.Strings uses on UTF-8. */
export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(utf8(a), utf8(b));
}
