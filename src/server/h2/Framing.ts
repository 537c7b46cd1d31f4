// gRPC over HTTP/2 wire pieces (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// the 5-byte length prefix of each message, the grpc-timeout header and the
// percent-encoding of grpc-message. Plain functions with no I/O, so that the
// transport (H2Transport.ts) stays about streams and sessions.

/** gRPC status codes (the ones this transport answers with). */
export const Status = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

/** A gRPC error to end a call with. */
export interface CallError {
  readonly code: number;
  readonly details: string;
}

/** The 5-byte prefix followed by the message: one buffer, so one write. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * grpc-timeout ("500m", "1S", at most 8 digits and one unit) in milliseconds,
 * or null when the value does not follow the grammar (the caller answers
 * INTERNAL, as grpc-go does).
 */
export function parseGrpcTimeout(value: string): number | null {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return null;
  return Number(m[1]) * TIMEOUT_UNITS[m[2]!]!;
}

/**
 * grpc-message is percent-encoded UTF-8: bytes outside printable ASCII, and
 * '%' itself, become %XX. Most messages are plain ASCII and pass unchanged.
 */
export function encodeGrpcMessage(message: string): string {
  // Header values must stay bounded whatever a caller put in a detail.
  const text = message.length > 1024 ? `${message.slice(0, 1024)}...` : message;
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Reads length-prefixed messages from a stream's DATA chunks, holding at most
 * one message of at most maxBytes (plus its prefix): a declared length past
 * the limit is refused as soon as its prefix arrives, before the message.
 */
export class MessageReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held that are not a whole message yet. */
  get pending(): number {
    return this.#buffered;
  }

  /**
   * Adds a chunk; returns the messages it completed, or the error to end the
   * call with (compressed message, message too large).
   */
  push(chunk: Buffer): Buffer[] | CallError {
    // The common case: one chunk holding exactly one whole message.
    if (this.#buffered === 0 && chunk.length >= 5) {
      const len = chunk.readUInt32BE(1);
      if (chunk[0] === 0 && len <= this.maxBytes && chunk.length === 5 + len) return [chunk.subarray(5)];
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 5) return out;
        const head = this.#take(5);
        if (head[0] !== 0) {
          return head[0] === 1
            ? { code: Status.UNIMPLEMENTED, details: 'compressed messages are not supported (grpc-accept-encoding: identity)' }
            : { code: Status.INTERNAL, details: `invalid message flag ${head[0]}` };
        }
        const len = head.readUInt32BE(1);
        if (len > this.maxBytes) {
          return { code: Status.RESOURCE_EXHAUSTED, details: `received message larger than max (${len} vs. ${this.maxBytes})` };
        }
        this.#need = len;
      }
      if (this.#buffered < this.#need) return out;
      out.push(this.#take(this.#need));
      this.#need = -1;
    }
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#buffered -= n;
    return out;
  }
}
