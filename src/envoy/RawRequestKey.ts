// A key over a CheckRequest's wire bytes with the per-request fields left
// out, computed without decoding the request: the request shortcut's lookup
// (see cache/RequestShortcut.ts), which lets a repeated request skip decode,
// identify, input building and the input key.
//
// Soundness: the hashed stream is every byte of the request except the
// skipped fields, with each message the scan descends into written as
// tag, contents, 0x00 (a byte no field tag starts with) instead of its length
// prefix. That stream can be parsed back unambiguously, so two requests share
// a key only if they are byte-identical apart from the skipped fields, and
// every skipped field is one cache.ignore leaves out of the input key anyway.
// One exception, which changes no decision: header map entries go into the
// stream sorted by name, after the HttpRequest's other fields, because
// clients and proxies write the same headers in varying order and a map's
// order means nothing. That is only sound without duplicate names (the last
// one wins when decoding), so a request with any gets no key.
// Whatever the scan does not understand (other wire types, malformed bytes)
// gives no key, and the request takes the full path.
//
// The shortcut never answers a request the full path would refuse. Two
// requests with one key differ only in skipped fields, so those are held to
// what the full path demands of them, and a request that fails gives no key:
// request.time a well-formed Timestamp (seconds and nanos once each, nothing
// else) in the Timestamp range, and at most one per Request (the strict wire
// pass of ProtoCodec.ts refuses a message field twice); the http id and
// skipped header values valid UTF-8; a skipped port a varint of at most 5
// bytes, never next to named_port (its oneof sibling); headers, skipped ones
// included, within the full path's count and byte limits; no skipped header
// beside a header_map (the full path folds header_map in only when headers
// is empty, so a skipped header would change the input). Headers the pipeline
// reads itself (host, content type and length, XFCC, bearer tokens) are never
// skipped, whatever cache.ignore says: they decide refusals (host_rejected,
// body_invalid, token_invalid) before any policy runs.
import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { timestampInRange } from './CheckRequest.ts';

/** Field numbers in envoy.service.auth.v3 / envoy.config.core.v3. */
const F = {
  checkAttributes: 1,
  source: 1,
  request: 4,
  peerAddress: 1,
  socketAddress: 1,
  portValue: 3,
  time: 1,
  http: 2,
  httpId: 1,
  headers: 3,
  namedPort: 4,
  headerMap: 13,
} as const;

/** The input paths (cache.ignore entries) the scan knows how to leave out. */
const SKIPPABLE: Record<string, 'time' | 'httpId' | 'port'> = {
  'attributes.request.time': 'time',
  'attributes.request.http.id': 'httpId',
  'attributes.source.address.socketAddress.portValue': 'port',
};
const HEADER_PREFIX = 'attributes.request.http.headers.';

/**
 * Headers the pipeline reads before the policy (identity, route, body
 * parsing), so refusals depend on them: never left out of the key. Token
 * headers of jwt.issuers come on top (KeyerOptions.readHeaders).
 */
export const PIPELINE_HEADERS: readonly string[] = [
  ':authority',
  'host',
  'content-type',
  'content-length',
  'x-envoy-auth-partial-body',
  'x-forwarded-client-cert',
  'authorization',
];

export interface KeyerOptions {
  /** The full path's header limits (request.max_headers, request.max_header_bytes): a request over them gets no key. */
  readonly limits?: { readonly maxHeaders: number; readonly maxHeaderBytes: number } | undefined;
  /** More headers the pipeline reads (the jwt.issuers headers), kept in the key like PIPELINE_HEADERS. */
  readonly readHeaders?: readonly string[] | undefined;
}

/** Trace context headers: on a shortcut the span still joins the request's trace. */
const TRACE_HEADERS = new Set(['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags']);

/**
 * Streams up to this long are the key themselves (as latin1, one byte a
 * character); longer ones are keyed by their SHA-256. Both are exact for
 * practical purposes, and a short stream is cheaper to copy into a string
 * than to hash. The bound keeps a shortcut entry small (its key counts
 * towards cache.max_bytes).
 */
const VERBATIM_MAX_BYTES = 1024;

export interface RawKey {
  /** The stream itself (up to VERBATIM_MAX_BYTES) or "#" and its SHA-256 (base64url): a stream never starts with "#". */
  readonly key: string;
  /** Trace headers among the skipped ones (only those), for the span; only when asked for. */
  readonly traceHeaders: Record<string, string> | undefined;
}

export class RawRequestKeyer {
  readonly #skipTime: boolean;
  readonly #skipHttpId: boolean;
  readonly #skipPort: boolean;
  /** Header names to skip, as bytes, indexed by their length for a quick first test (an array: cheaper than a Map per header). */
  readonly #headers: Array<Array<{ readonly bytes: Buffer; readonly name: string }> | undefined>;
  /**
   * Every cache.ignore entry is one the scan leaves out. Then the raw key,
   * with the identity and input.behavior, determines the input minus
   * cache.ignore exactly, and can stand for it as the decision cache key.
   */
  readonly coversIgnore: boolean;
  #scratch = Buffer.allocUnsafe(4096);
  #len = 0;
  #trace: Record<string, string> | undefined;
  #readTrace = false;
  /** Kept header entries of the HttpRequest being scanned: [from, to, nameAt, nameLen] each. */
  #kept: number[] = [];
  /** Their offsets in #kept, sorted by name (reused). */
  #order: number[] = [];
  #policy = '';
  #peer = '';
  readonly #maxHeaders: number;
  readonly #maxHeaderBytes: number;
  /** The HttpRequest being scanned: its header entries, their name and value bytes, whether one was skipped. */
  #headerCount = 0;
  #headerBytes = 0;
  #skippedHeader = false;
  #contextBytes = Buffer.from('0:0:');

  /** `ignore`: the cache.ignore list; entries the scan cannot map are simply kept in the key (more specific, never less). */
  constructor(ignore: readonly string[], opts: KeyerOptions = {}) {
    this.#maxHeaders = opts.limits?.maxHeaders ?? Infinity;
    this.#maxHeaderBytes = opts.limits?.maxHeaderBytes ?? Infinity;
    const read = new Set([...PIPELINE_HEADERS, ...(opts.readHeaders ?? []).map((h) => h.toLowerCase())]);
    const kinds = new Set(ignore.map((p) => SKIPPABLE[p]).filter((k) => k !== undefined));
    this.#skipTime = kinds.has('time');
    this.#skipHttpId = kinds.has('httpId');
    this.#skipPort = kinds.has('port');
    this.#headers = [];
    let covered = 0;
    for (const path of ignore) {
      if (SKIPPABLE[path]) covered++;
      if (!path.startsWith(HEADER_PREFIX)) continue;
      const name = path.slice(HEADER_PREFIX.length);
      if (name.length === 0 || name.includes('.')) continue; // a dotted rest is not one header name
      if (read.has(name)) continue; // kept in the key: the raw key no longer stands for the input key
      covered++;
      const bytes = Buffer.from(name, 'utf8');
      (this.#headers[bytes.length] ??= []).push({ bytes, name });
    }
    this.coversIgnore = covered === ignore.length;
  }

  /**
   * `policy` (the policy instance) and `peer` (the mTLS caller's SPIFFE ID,
   * or ""): what else the decision depends on, length-prefixed into the key.
   * `traceHeaders`: hand the skipped trace headers on (only tracing reads them).
   */
  key(bytes: Uint8Array, policy: string, peer: string, traceHeaders: boolean): RawKey | undefined {
    this.#readTrace = traceHeaders;
    this.#len = 0;
    this.#trace = undefined;
    this.#kept.length = 0;
    this.#appendContext(policy, peer);
    if (!this.#message(bytes, 0, bytes.length, 0)) return undefined;
    const stream = this.#scratch;
    const key = this.#len <= VERBATIM_MAX_BYTES ? stream.toString('latin1', 0, this.#len) : `#${hash('sha256', stream.subarray(0, this.#len), 'base64url')}`;
    return { key, traceHeaders: this.#trace };
  }

  /**
   * Scans one message; `level` says which: 0 CheckRequest, 1 AttributeContext,
   * 2 source Peer, 3 Address, 4 SocketAddress, 5 AttributeContext.Request, 6 HttpRequest.
   */
  #message(b: Uint8Array, start: number, end: number, level: number): boolean {
    let p = start;
    // Per message: a skipped time seen (level 5); a skipped port and named_port seen (level 4); a header_map seen (level 6).
    let time = false;
    let port = false;
    let namedPort = false;
    let headerMap = false;
    if (level === 6) {
      this.#headerCount = 0;
      this.#headerBytes = 0;
      this.#skippedHeader = false;
    }
    while (p < end) {
      const fieldStart = p;
      const tag = varint(b, p, end);
      if (tag < 0) return false;
      const tagEnd = (p = next);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) return false;
      let valueStart = p;
      let valueEnd: number;
      if (wire === 0) {
        valueEnd = skipVarint(b, p, end);
        if (valueEnd < 0) return false;
      } else if (wire === 1) valueEnd = p + 8;
      else if (wire === 5) valueEnd = p + 4;
      else if (wire === 2) {
        const n = varint(b, p, end);
        if (n < 0) return false;
        valueStart = next;
        valueEnd = valueStart + n;
      } else return false;
      if (valueEnd > end) return false;
      p = valueEnd;

      const child = wire === 2 ? descend(level, field) : -1;
      if (child >= 0) {
        this.#append(b, fieldStart, tagEnd);
        if (!this.#message(b, valueStart, valueEnd, child)) return false;
        this.#appendByte(0);
        continue;
      }
      if (level === 6 && field === F.headers && wire === 2) {
        if (!this.#header(b, fieldStart, valueStart, valueEnd)) return false;
        continue;
      }
      // Skipped fields, each held to what the full path demands of it.
      if (level === 4) {
        if (field === F.namedPort) namedPort = true;
        else if (field === F.portValue && wire === 0 && this.#skipPort) {
          if (valueEnd - valueStart > 5) return false;
          port = true;
          continue;
        }
      } else if (level === 5 && field === F.time && wire === 2 && this.#skipTime) {
        if (time || !timestampOk(b, valueStart, valueEnd)) return false;
        time = true;
        continue;
      } else if (level === 6) {
        if (field === F.headerMap) headerMap = true;
        else if (field === F.httpId && wire === 2 && this.#skipHttpId) {
          if (!utf8(b, valueStart, valueEnd)) return false;
          continue;
        }
      }
      this.#append(b, fieldStart, valueEnd);
    }
    if (p !== end) return false;
    if (level === 4) return !(port && namedPort);
    if (level !== 6) return true;
    if (headerMap && this.#skippedHeader) return false;
    if (this.#headerCount > this.#maxHeaders || this.#headerBytes > this.#maxHeaderBytes) return false;
    return this.#appendHeadersSorted(b);
  }

  /**
   * A headers map entry {1: name, 2: value}: skipped when its name is on the
   * list, otherwise kept for the sorted pass. False: an entry this scan does
   * not vouch for (no name, a repeated name or value field).
   */
  #header(b: Uint8Array, from: number, start: number, end: number): boolean {
    let nameAt = -1;
    let nameLen = 0;
    let valueAt = -1;
    let valueLen = 0;
    let p = start;
    while (p < end) {
      const tag = varint(b, p, end);
      if (tag < 0 || (tag & 7) !== 2) return false;
      const n = varint(b, next, end);
      if (n < 0 || next + n > end) return false;
      // A repeated name or value field makes the entry unusual: keep it.
      if (tag === 0x0a && nameAt < 0) {
        nameAt = next;
        nameLen = n;
      } else if (tag === 0x12 && valueAt < 0) {
        valueAt = next;
        valueLen = n;
      } else return false;
      p = next + n;
    }
    if (nameAt < 0) return false;
    // UTF-8 bytes: never fewer than the UTF-16 units the full path counts.
    this.#headerCount++;
    this.#headerBytes += nameLen + valueLen;
    const candidates = nameLen < this.#headers.length ? this.#headers[nameLen] : undefined;
    if (!candidates) return this.#keep(from, end, nameAt, nameLen);
    let name: string | undefined;
    for (const c of candidates) {
      let i = 0;
      while (i < nameLen && c.bytes[i] === b[nameAt + i]) i++;
      if (i === nameLen) {
        name = c.name;
        break;
      }
    }
    if (name === undefined) return this.#keep(from, end, nameAt, nameLen);
    if (valueAt >= 0 && !utf8(b, valueAt, valueAt + valueLen)) return false;
    this.#skippedHeader = true;
    if (this.#readTrace && valueAt >= 0 && TRACE_HEADERS.has(name))
      (this.#trace ??= {})[name] = Buffer.from(b.buffer, b.byteOffset + valueAt, valueLen).toString('utf8');
    return true;
  }

  #keep(from: number, to: number, nameAt: number, nameLen: number): true {
    this.#kept.push(from, to, nameAt, nameLen);
    return true;
  }

  /** The kept header entries, by name; false on a duplicate name. */
  #appendHeadersSorted(b: Uint8Array): boolean {
    const kept = this.#kept;
    const order = this.#order;
    const count = kept.length / 4;
    // Insertion sort of entry offsets: a request has a few dozen headers at most,
    // and this allocates nothing.
    for (let i = 0; i < count; i++) {
      const at = i * 4;
      let j = i;
      while (j > 0 && compareBytes(b, kept[order[j - 1]! + 2]!, kept[order[j - 1]! + 3]!, kept[at + 2]!, kept[at + 3]!) > 0) {
        order[j] = order[j - 1]!;
        j--;
      }
      order[j] = at;
    }
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const at = order[i]!;
      if (i > 0 && compareBytes(b, kept[order[i - 1]! + 2]!, kept[order[i - 1]! + 3]!, kept[at + 2]!, kept[at + 3]!) === 0) ok = false;
      else this.#append(b, kept[at]!, kept[at + 1]!);
    }
    kept.length = 0;
    return ok;
  }

  #append(b: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#reserve(n);
    const out = this.#scratch;
    let len = this.#len;
    // Most fields are a few bytes: a loop beats making a subarray view to copy from.
    if (n < 64) for (let i = start; i < end; i++) out[len++] = b[i]!;
    else {
      out.set(b.subarray(start, end), len);
      len += n;
    }
    this.#len = len;
  }

  /** The context, length-prefixed; its bytes are kept while it stays the same (it changes with the policy instance and the caller). */
  #appendContext(policy: string, peer: string): void {
    if (policy !== this.#policy || peer !== this.#peer) {
      this.#policy = policy;
      this.#peer = peer;
      this.#contextBytes = Buffer.from(`${policy.length}:${policy}${peer.length}:${peer}`);
    }
    this.#append(this.#contextBytes, 0, this.#contextBytes.length);
  }

  #appendByte(x: number): void {
    this.#reserve(1);
    this.#scratch[this.#len++] = x;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#scratch.length * 2, this.#len + n));
    this.#scratch.copy(grown, 0, 0, this.#len);
    this.#scratch = grown;
  }
}

/** Which message a length-delimited field at this level is scanned as, or -1 to take its bytes whole. */
function descend(level: number, field: number): number {
  switch (level) {
    case 0:
      return field === F.checkAttributes ? 1 : -1;
    case 1:
      return field === F.source ? 2 : field === F.request ? 5 : -1;
    case 2:
      return field === F.peerAddress ? 3 : -1;
    case 3:
      return field === F.socketAddress ? 4 : -1;
    case 5:
      return field === F.http ? 6 : -1;
    default:
      return -1;
  }
}

function compareBytes(b: Uint8Array, aAt: number, aLen: number, bAt: number, bLen: number): number {
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) {
    const d = b[aAt + i]! - b[bAt + i]!;
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

/** Where the last varint() ended. Module state: the scan is synchronous and single-threaded. */
let next = 0;

/** Reads a varint of at most 5 bytes (32 bits) at p; -1 if malformed. Sets `next`. */
function varint(b: Uint8Array, p: number, end: number): number {
  let result = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (p >= end) return -1;
    const x = b[p++]!;
    result += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) {
      next = p;
      return result;
    }
  }
  return -1;
}

/** Whether b[start, end) is UTF-8 (ASCII checked inline, the rest by isUtf8). */
function utf8(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return isUtf8(b.subarray(i, end));
  return true;
}

/**
 * A google.protobuf.Timestamp the full path accepts: seconds (1) and nanos
 * (2) as varints, each at most once, nothing else, inside the Timestamp
 * range. Anything unusual (another field, a repeat, a long nanos) gives no
 * key rather than an imitation of the decoder's reading of it.
 */
function timestampOk(b: Uint8Array, p: number, end: number): boolean {
  let seconds = 0;
  let nanos = 0;
  let sawSeconds = false;
  let sawNanos = false;
  while (p < end) {
    const tag = b[p++];
    const valueEnd = skipVarint(b, p, end);
    if (valueEnd < 0) return false;
    if (tag === 0x08 && !sawSeconds) {
      sawSeconds = true;
      seconds = int64(b, p, valueEnd);
    } else if (tag === 0x10 && !sawNanos && valueEnd - p <= 5) {
      sawNanos = true;
      nanos = varint(b, p, valueEnd);
    } else return false;
    p = valueEnd;
  }
  return timestampInRange(seconds, nanos);
}

/** An int64 varint (as protobufjs reads it: two's complement, 64 bits), exact where it matters (|v| < 2^53). */
function int64(b: Uint8Array, p: number, end: number): number {
  if (end - p <= 6) {
    let v = 0;
    for (let i = 0; p < end; i++, p++) v += (b[p]! & 0x7f) * 2 ** (7 * i);
    return v;
  }
  let v = 0n;
  for (let i = 0n; p < end; i += 7n, p++) v |= BigInt(b[p]! & 0x7f) << i;
  return Number(BigInt.asIntN(64, v));
}

/** Skips a varint value of up to 10 bytes (int64); returns where it ends, or -1. */
function skipVarint(b: Uint8Array, p: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) return -1;
    if (b[p++]! < 0x80) return p;
  }
  return -1;
}
