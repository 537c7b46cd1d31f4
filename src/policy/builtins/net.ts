// net.cidr_* builtins the wasm leaves to the host (net.cidr_contains and
// net.cidr_intersects are compiled into the wasm). Addresses follow Go's net
// package as OPA uses it: net.ParseCIDR / net.ParseIP (netip syntax: no
// leading zeros in IPv4 fields, no zones), IPv4-mapped IPv6 addresses count
// as IPv4, and IP.String() prints RFC 5952 text.
//
// net.lookup_ip_addr is deliberately not provided: it resolves DNS, and
// opa-wasm calls host builtins synchronously, so it would block the whole
// server on the resolver. A policy using it is refused at load.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, operandTypeError, stringOperand } from './util.ts';
import { regoSet } from './sets.ts';

/** An address: IPv4 as 32 bits, IPv6 as 128 (IPv4-mapped IPv6 is IPv4). */
interface Ip {
  readonly v4: boolean;
  readonly n: bigint;
}

/** A parsed CIDR: `ip` as written (String() keeps it), `net` masked. */
interface Net {
  readonly v4: boolean;
  readonly ip: bigint;
  readonly net: bigint;
  readonly prefix: number;
}

const bitsOf = (v4: boolean): number => (v4 ? 32 : 128);
const V4_MAPPED = 0xffffn << 32n;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined; // zones: net.ParseIP and ParseCIDR refuse them
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
    if (tail.includes('::')) return undefined;
  }
  const groups = (part: string): bigint[] | undefined => {
    if (part === '') return [];
    const out: bigint[] = [];
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as string;
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseV4(f);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
        out.push(BigInt(`0x${f}`));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (h === undefined || t === undefined) return undefined;
  // An embedded IPv4 address may only end the address.
  if (dbl >= 0 && head.includes('.')) return undefined;
  const total = h.length + t.length;
  if (dbl < 0 ? total !== 8 : total > 7) return undefined;
  const all = [...h, ...Array<bigint>(8 - total).fill(0n), ...t];
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** net.ParseIP: IPv4-mapped addresses become IPv4 (as To4 makes them). */
function parseIp(s: string): Ip | undefined {
  if (!s.includes(':')) {
    const n = parseV4(s);
    return n === undefined ? undefined : { v4: true, n };
  }
  const n = parseV6(s);
  if (n === undefined) return undefined;
  return n >> 32n === 0xffffn ? { v4: true, n: n & 0xffffffffn } : { v4: false, n };
}

function maskOf(prefix: number, bits: number): bigint {
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

/** net.ParseCIDR; undefined if invalid. */
function parseCidr(s: string): Net | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^[0-9]+$/.test(len) || len.length > 8) return undefined;
  const prefix = Number(len);
  const v4 = !addr.includes(':');
  const n = v4 ? parseV4(addr) : parseV6(addr);
  if (n === undefined || prefix > bitsOf(v4)) return undefined;
  const net = n & maskOf(prefix, bitsOf(v4));
  // An IPv6 network that is still IPv4-mapped after masking behaves, and
  // prints, as the IPv4 network (networkNumberAndMask).
  if (!v4 && prefix >= 96 && net >> 32n === 0xffffn) {
    return { v4: true, ip: n & 0xffffffffn, net: net & 0xffffffffn, prefix: prefix - 96 };
  }
  return { v4, ip: n, net, prefix };
}

function cidrOperand(builtin: string, v: unknown, pos: number): Net {
  const s = stringOperand(builtin, v, pos);
  const net = parseCidr(s);
  if (net === undefined) throw new BuiltinError(builtin, `invalid CIDR address: ${s}`);
  return net;
}

function lastOf(n: Net): bigint {
  return n.net | ((1n << BigInt(bitsOf(n.v4) - n.prefix)) - 1n);
}

function containsIp(n: Net, ip: Ip): boolean {
  if (n.v4 !== ip.v4) return false;
  const m = maskOf(n.prefix, bitsOf(n.v4));
  return (ip.n & m) === n.net;
}

/** OPA's builtinNetCIDRContains on two strings. */
function cidrContains(builtin: string, a: unknown, b: unknown): boolean {
  const net = cidrOperand(builtin, a, 1);
  const bs = stringOperand(builtin, b, 2);
  const ip = parseIp(bs);
  if (ip !== undefined) return containsIp(net, ip);
  const other = parseCidr(bs);
  if (other === undefined) throw new BuiltinError(builtin, `not a valid textual representation of an IP address or CIDR: ${bs}`);
  return containsIp(net, { v4: other.v4, n: other.net }) && containsIp(net, { v4: other.v4, n: lastOf(other) });
}

export function ipString(v4: boolean, n: bigint): string {
  if (v4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  if (n >> 32n === 0xffffn) return ipString(true, n & 0xffffffffn);
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the first longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

const netString = (n: Net): string => `${ipString(n.v4, n.ip)}/${n.prefix}`;

/** Largest net.cidr_expand answered; OPA has no bound, but a /8 would stall the event loop for seconds. */
export const CIDR_EXPAND_MAX = 65536;

function cidrExpand(x: unknown): ArrayBuffer {
  const b = 'net.cidr_expand';
  const net = cidrOperand(b, x, 1);
  const size = 1n << BigInt(bitsOf(net.v4) - net.prefix);
  if (size > BigInt(CIDR_EXPAND_MAX)) {
    throw new BuiltinError(b, `${netString(net)} has ${size} addresses, more than the ${CIDR_EXPAND_MAX} ztauthz expands`);
  }
  const out: string[] = [];
  for (let i = 0n; i < size; i++) out.push(ipString(net.v4, net.net + i));
  return regoSet(out);
}

// net.cidr_contains_matches: operands are a string, or an array/set/object
// whose elements are strings or non-empty arrays (first element the CIDR).
// Sets reach the host as arrays, so their elements are reported by index.
function matchOperand(builtin: string, pos: number, v: unknown): [unknown, unknown][] {
  const elem = (x: unknown): unknown => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && x.length > 0) return x[0];
    throw new BuiltinError(builtin, `operand ${pos}: element must be string or non-empty array`);
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, i) => [elem(x), i]);
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [elem(x), k]);
  return [];
}

function cidrContainsMatches(a: unknown, b: unknown): ArrayBuffer {
  const name = 'net.cidr_contains_matches';
  const left = matchOperand(name, 1, a);
  const right = matchOperand(name, 2, b);
  const out: unknown[] = [];
  for (const [c1, i1] of left) {
    for (const [c2, i2] of right) {
      if (cidrContains(name, c1, c2)) out.push([i1, i2]);
    }
  }
  return regoSet(out);
}

// net.cidr_merge, after OPA's (Cilium's) algorithm: every network becomes a
// range in the IPv6 space (IPv4 as ::ffff:a.b.c.d), ranges sorted by last then
// first address, overlapping or adjacent ones joined; a range that took in
// nothing keeps the network as written, a joined one becomes the fewest CIDRs.
interface Range {
  first: bigint;
  last: bigint;
  net: Net | undefined;
}

function classfulPrefix(n: bigint): number {
  const top = Number(n >> 24n);
  return top < 0x80 ? 8 : top < 0xc0 ? 16 : 24;
}

function mergeElement(builtin: string, x: unknown): Net {
  if (typeof x !== 'string') throw new BuiltinError(builtin, 'element must be string');
  const ip = parseIp(x);
  if (ip === undefined) {
    const net = parseCidr(x);
    if (net === undefined) throw new BuiltinError(builtin, `invalid CIDR address: ${x}`);
    return { ...net, ip: net.net }; // ParseCIDR's network is masked
  }
  if (!ip.v4) throw new BuiltinError(builtin, 'IPv6 invalid: needs prefix length');
  // An address alone gets its class's default mask (Go's IP.DefaultMask), unmasked.
  const prefix = classfulPrefix(ip.n);
  return { v4: true, ip: ip.n, net: ip.n & maskOf(prefix, 32), prefix };
}

function toRange(n: Net): Range {
  const base = n.v4 ? V4_MAPPED : 0n;
  return { first: base | n.net, last: base | lastOf(n), net: n };
}

function rangeToCidrs(first: bigint, last: bigint): Net[] {
  const v4 = first >> 32n === 0xffffn && last >> 32n === 0xffffn;
  const bits = v4 ? 32 : 128;
  const base = v4 ? V4_MAPPED : 0n;
  let lo = first - base;
  const hi = last - base;
  const out: Net[] = [];
  while (lo <= hi) {
    let size = 0;
    while (size < bits && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push({ v4, ip: lo, net: lo, prefix: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

function cidrMerge(x: unknown): ArrayBuffer {
  const b = 'net.cidr_merge';
  if (!Array.isArray(x)) throw operandTypeError(b, 1, x, 'set or array');
  const ranges = x.map((e) => toRange(mergeElement(b, e)));
  ranges.sort((p, q) => (p.last !== q.last ? (p.last < q.last ? -1 : 1) : p.first < q.first ? -1 : p.first > q.first ? 1 : 0));
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i] as Range;
    const prev = ranges[i - 1] as Range;
    const v4Zero = cur.first === V4_MAPPED;
    const before = cur.first === 0n || v4Zero ? cur.first : cur.first - 1n;
    if (before <= prev.last) {
      ranges[i - 1] = { first: prev.first < cur.first ? prev.first : cur.first, last: cur.last, net: undefined };
      ranges.splice(i, 1);
    }
  }
  const out: string[] = [];
  for (const r of ranges) {
    if (r.net !== undefined) out.push(netString(r.net));
    else for (const n of rangeToCidrs(r.first, r.last)) out.push(netString(n));
  }
  return regoSet(out);
}

export function netBuiltins(): Record<string, BuiltinFn> {
  return {
    'net.cidr_contains_matches': cidrContainsMatches,
    'net.cidr_expand': cidrExpand,
    'net.cidr_merge': cidrMerge,
    'net.cidr_is_valid': (x: unknown) => typeof x === 'string' && parseCidr(x) !== undefined,
  };
}
