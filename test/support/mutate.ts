// Seeded mutations of encoded CheckRequests, for the malformed-input fuzz
// tests: byte-level damage (flips, cuts, splices), protobuf-level damage
// (corrupt lengths and varints, fields repeated or sent twice, unknown fields,
// whole messages concatenated, which protobuf merges) and body-level damage.
import { prng, testSeed } from './prng.ts';
import { varint } from './wire.ts';

export { testSeed };

export type Random = () => number;

export { prng };

const int = (rnd: Random, n: number): number => Math.floor(rnd() * n);

function randomBytes(rnd: Random, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  return b;
}

/** One mutation of `b`, with `other` as material for splices. */
const MUTATIONS: ReadonlyArray<(rnd: Random, b: Buffer, other: Buffer) => Buffer> = [
  // A bit flipped.
  (rnd, b) => {
    const c = Buffer.from(b);
    const i = int(rnd, c.length);
    c[i] = (c[i] as number) ^ (1 << int(rnd, 8));
    return c;
  },
  // A byte set to an interesting value (a length or tag boundary).
  (rnd, b) => {
    const c = Buffer.from(b);
    c[int(rnd, c.length)] = [0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22][int(rnd, 8)] as number;
    return c;
  },
  // Cut short.
  (rnd, b) => b.subarray(0, int(rnd, b.length)),
  // A range deleted.
  (rnd, b) => {
    const i = int(rnd, b.length);
    return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + int(rnd, 16)))]);
  },
  // Random bytes inserted.
  (rnd, b) => {
    const i = int(rnd, b.length + 1);
    return Buffer.concat([b.subarray(0, i), randomBytes(rnd, 1 + int(rnd, 8)), b.subarray(i)]);
  },
  // A slice repeated in place (fields sent twice).
  (rnd, b) => {
    const i = int(rnd, b.length);
    const j = Math.min(b.length, i + 1 + int(rnd, 64));
    return Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]);
  },
  // Spliced with another request.
  (rnd, b, other) => Buffer.concat([b.subarray(0, int(rnd, b.length)), other.subarray(int(rnd, other.length))]),
  // Two whole messages concatenated (protobuf merges them).
  (_rnd, b, other) => Buffer.concat([b, other]),
  // An unknown field of every wire type appended.
  (rnd, b) => {
    const field = 1000 + int(rnd, 100000);
    const wire = [0, 1, 2, 5][int(rnd, 4)] as number;
    const payload =
      wire === 0
        ? varint(int(rnd, 1 << 30))
        : wire === 1
          ? randomBytes(rnd, 8)
          : wire === 5
            ? randomBytes(rnd, 4)
            : Buffer.concat([varint(3), randomBytes(rnd, 3)]);
    return Buffer.concat([b, varint(field * 8 + wire), payload]);
  },
  // A length prefix made huge, or a ten-byte varint that overflows.
  (rnd, b) => {
    const i = int(rnd, b.length);
    const bad = rnd() < 0.5 ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) : Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    return Buffer.concat([b.subarray(0, i), bad, b.subarray(i + 1)]);
  },
  // A wrong wire type on a known field tag (1..6 of the top-level message and below).
  (rnd, b) => {
    const c = Buffer.from(b);
    const i = int(rnd, c.length);
    c[i] = ((int(rnd, 15) + 1) << 3) | [0, 1, 3, 4, 5, 6, 7][int(rnd, 7)]!;
    return c;
  },
];

/** `rounds` mutations in a row (1 to 3 when not given). */
export function mutate(rnd: Random, base: Buffer, other: Buffer, rounds = 1 + int(rnd, 3)): Buffer {
  let b = base;
  for (let r = 0; r < rounds; r++) {
    if (b.length === 0) return b;
    b = (MUTATIONS[int(rnd, MUTATIONS.length)] as (rnd: Random, b: Buffer, other: Buffer) => Buffer)(rnd, b, other);
  }
  return b;
}
