// Hand-built protobuf wire bytes for tests that need what no encoder writes:
// fields twice, wrong wire types, entries without a value, oversized varints.

/** A base-128 varint (uint64; negatives as their two's complement, ten bytes). */
export function varint(v: number | bigint): Buffer {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const low = Number(n & 0x7fn);
    n >>= 7n;
    out.push(n > 0n ? low | 0x80 : low);
  } while (n > 0n);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2): tag, length, the parts. */
export function lengthDelimited(field: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
}

/** A varint field (wire type 0). */
export function varintField(field: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

/** A string or bytes field. */
export function stringField(field: number, v: Uint8Array | string): Buffer {
  return lengthDelimited(field, typeof v === 'string' ? Buffer.from(v) : v);
}
