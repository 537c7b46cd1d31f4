// uuid.rfc4122, uuid.parse and rand.intn. The two random ones answer the same
// for the same arguments within one evaluation, as OPA's builtin cache does
// (EvalScope.memo; a new evaluation draws again).

import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { BuiltinFn, EvalScope } from './index.ts';
import { exactNumber, intOperand, stringOperand } from './util.ts';

function hexByte(a: number, b: number): number | undefined {
  const s = String.fromCharCode(a, b);
  return /^[0-9a-fA-F]{2}$/.test(s) ? parseInt(s, 16) : undefined;
}

/** github.com/google/uuid Parse: 36, urn:uuid:+36, {36} (any wrapping bytes) or 32 hex digits. */
function parseUuid(s: string): Uint8Array | undefined {
  let b: Uint8Array = Buffer.from(s, 'utf8');
  const out = new Uint8Array(16);
  if (b.length === 32) {
    for (let i = 0; i < 16; i++) {
      const v = hexByte(b[2 * i] as number, b[2 * i + 1] as number);
      if (v === undefined) return undefined;
      out[i] = v;
    }
    return out;
  }
  if (b.length === 45) {
    if (Buffer.from(b.subarray(0, 9)).toString('latin1').toLowerCase() !== 'urn:uuid:') return undefined;
    b = b.subarray(9);
  } else if (b.length === 38) {
    b = b.subarray(1);
  } else if (b.length !== 36) {
    return undefined;
  }
  const dash = 0x2d;
  if (b[8] !== dash || b[13] !== dash || b[18] !== dash || b[23] !== dash) return undefined;
  const at = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
  for (let i = 0; i < 16; i++) {
    const x = at[i] as number;
    const v = hexByte(b[x] as number, b[x + 1] as number);
    if (v === undefined) return undefined;
    out[i] = v;
  }
  return out;
}

function variant(u: Uint8Array): string {
  const b = u[8] as number;
  if ((b & 0xc0) === 0x80) return 'RFC4122';
  if ((b & 0xe0) === 0xc0) return 'Microsoft';
  if ((b & 0xe0) === 0xe0) return 'Future';
  return 'Reserved';
}

function macVars(b: number): string {
  if ((b & 0b11) === 0b11) return 'local:multicast';
  if ((b & 0b01) === 0b01) return 'global:multicast';
  if ((b & 0b10) === 0b10) return 'local:unicast';
  return 'global:unicast';
}

const G1582NS100 = 122192928000000000n;

/** OPA's uuid.Parse output, as JSON text (time is an int64 that may exceed 2^53). */
function uuidParse(x: unknown): ArrayBuffer | undefined {
  const s = stringOperand('uuid.parse', x, 1);
  const u = parseUuid(s);
  if (u === undefined) return undefined; // OPA: undefined, not an error
  const dv = new DataView(u.buffer);
  const version = (u[6] as number) >> 4;
  const fields: string[] = [`"variant":${JSON.stringify(variant(u))}`, `"version":${version}`];
  if (version === 1 || version === 2) {
    const t = BigInt(dv.getUint32(0)) | (BigInt(dv.getUint16(4)) << 32n) | (BigInt(dv.getUint16(6) & 0xfff) << 48n);
    // google/uuid's UnixTime and OPA's nanoUnix, in Go's wrapping int64 arithmetic.
    const d = t - G1582NS100;
    const nsec = (d % 10000000n) * 100n;
    const sec = d / 10000000n;
    const ns = BigInt.asIntN(64, sec * 1000000000n + nsec);
    const node = [...u.subarray(10)].map((b) => b.toString(16).padStart(2, '0')).join('-');
    fields.push(
      `"time":${ns}`,
      `"nodeid":${JSON.stringify(node)}`,
      `"macvariables":${JSON.stringify(macVars(u[10] as number))}`,
      `"clocksequence":${dv.getUint16(8) & 0x3fff}`,
    );
    if (version === 2) {
      const dom = u[9] as number;
      const domain = ['Person', 'Group', 'Org'][dom] ?? `Domain${dom}`;
      fields.push(`"id":${dv.getUint32(0)}`, `"domain":${JSON.stringify(domain)}`);
    }
  }
  return exactNumber(`{${fields.join(',')}}`);
}

/** A uniform integer in [0, n), n < 2^63. */
function randomBelow(n: number): number {
  if (n <= 2 ** 48) return randomInt(n);
  const bn = BigInt(n);
  const limit = (1n << 64n) - ((1n << 64n) % bn);
  for (;;) {
    const r = randomBytes(8).readBigUInt64BE();
    if (r < limit) return Number(r % bn);
  }
}

export function randomBuiltins(scope: EvalScope): Record<string, BuiltinFn> {
  return {
    'uuid.rfc4122': (k: unknown) => scope.memo(`uuid\u0000${JSON.stringify(k)}`, () => randomUUID()),
    'uuid.parse': uuidParse,
    'rand.intn': (str: unknown, n: unknown) => {
      const b = 'rand.intn';
      const s = stringOperand(b, str, 1);
      let max = intOperand(b, n, 2);
      if (max === 0) return 0;
      if (max < 0) max = -max;
      return scope.memo(`rand\u0000${s}-${max}`, () => randomBelow(max));
    },
  };
}
