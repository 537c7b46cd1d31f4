// A minimal DER reader for the X.509 builtins: tag-length-value nodes over
// the original bytes, so the Raw* fields are the exact input slices.

export interface Node {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** The whole TLV. */
  readonly raw: Uint8Array;
  /** The contents. */
  readonly body: Uint8Array;
}

export class DerError extends Error {}

export function readNode(buf: Uint8Array, at = 0): Node {
  if (at + 2 > buf.length) throw new DerError('truncated');
  const tag = buf[at] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let len = buf[at + 1] as number;
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || off + n > buf.length) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[off + i] as number);
    off += n;
  }
  if (off + len > buf.length) throw new DerError('truncated');
  return { tag, raw: buf.subarray(at, off + len), body: buf.subarray(off, off + len) };
}

/** The nodes inside a constructed node. */
export function children(n: Node): Node[] {
  const out: Node[] = [];
  let at = 0;
  while (at < n.body.length) {
    const c = readNode(n.body, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

export function oid(n: Node): number[] {
  if (n.tag !== 0x06) throw new DerError('not an OID');
  const out: number[] = [];
  let v = 0;
  for (const b of n.body) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (out.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        out.push(first, v - first * 40);
      } else out.push(v);
      v = 0;
    }
  }
  return out;
}

export function bigint(n: Node): bigint {
  if (n.body.length === 0) return 0n;
  let v = BigInt(`0x${Buffer.from(n.body).toString('hex')}`);
  if ((n.body[0] as number) & 0x80) v -= 1n << BigInt(n.body.length * 8);
  return v;
}

export function text(n: Node): string {
  // BMPString is UTF-16BE; the others are (a subset of) UTF-8 / Latin-1.
  if (n.tag === 0x1e) {
    let s = '';
    for (let i = 0; i + 1 < n.body.length; i += 2) s += String.fromCharCode(((n.body[i] as number) << 8) | (n.body[i + 1] as number));
    return s;
  }
  if (n.tag === 0x14) return Buffer.from(n.body).toString('latin1'); // T61String, as Go reads it
  return Buffer.from(n.body).toString('utf8');
}

/** UTCTime or GeneralizedTime to RFC 3339 in UTC, as Go's time.Time marshals. */
export function time(n: Node): string {
  const s = Buffer.from(n.body).toString('latin1');
  let m: RegExpExecArray | null;
  let y: number;
  if (n.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    y = Number(m[1]);
    y += y < 50 ? 2000 : 1900;
  } else if (n.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    y = Number(m[1]);
  } else throw new DerError(`bad time ${s}`);
  return `${String(y).padStart(4, '0')}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`;
}
