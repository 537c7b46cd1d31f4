// x-forwarded-client-cert, as Envoy writes it: elements separated by ",",
// each a ";"-separated list of Key=Value pairs; values holding , ; or = are
// double-quoted, with \" for a quote inside. Keys are case-insensitive.
// The parser is strict (unknown or repeated keys, stray quotes, empty
// elements are errors), since an XFCC that two parsers split differently is
// a way to smuggle an identity in.
import type { SpiffeIdParts } from '../types/Identity.ts';
import { parseSpiffeId, SpiffeIdError } from './SpiffeId.ts';

export const MAX_XFCC_BYTES = 64 * 1024;
export const MAX_XFCC_ELEMENTS = 32;
const MAX_PAIRS_PER_ELEMENT = 64;

export interface XfccElement {
  readonly by: string | null;
  readonly hash: string | null;
  readonly cert: string | null;
  readonly chain: string | null;
  readonly subject: string | null;
  readonly uri: readonly string[];
  readonly dns: readonly string[];
}

export type XfccResult = { readonly ok: true; readonly elements: readonly XfccElement[] } | { readonly ok: false; readonly reason: string };

export interface XfccOptions {
  readonly maxBytes?: number;
  readonly maxElements?: number;
}

type Single = 'by' | 'hash' | 'cert' | 'chain' | 'subject';
const SINGLE_KEYS: Readonly<Record<string, Single>> = { by: 'by', hash: 'hash', cert: 'cert', chain: 'chain', subject: 'subject' };

class XfccSyntaxError extends Error {}

interface MutableElement {
  by: string | null;
  hash: string | null;
  cert: string | null;
  chain: string | null;
  subject: string | null;
  uri: string[];
  dns: string[];
}

const emptyElement = (): MutableElement => ({ by: null, hash: null, cert: null, chain: null, subject: null, uri: [], dns: [] });

export function parseXfcc(header: string, opts: XfccOptions = {}): XfccResult {
  if (header.length > (opts.maxBytes ?? MAX_XFCC_BYTES)) return { ok: false, reason: 'too large' };
  try {
    return { ok: true, elements: parse(header, opts.maxElements ?? MAX_XFCC_ELEMENTS) };
  } catch (e) {
    if (e instanceof XfccSyntaxError) return { ok: false, reason: e.message };
    throw e;
  }
}

function parse(s: string, maxElements: number): XfccElement[] {
  const elements: XfccElement[] = [];
  let el = emptyElement();
  let pairs = 0;
  let i = 0;
  if (s.length === 0) throw new XfccSyntaxError('empty');
  for (;;) {
    // One Key=Value pair.
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new XfccSyntaxError('pair without "="');
    const key = s.slice(i, eq);
    if (!/^[A-Za-z]+$/.test(key)) throw new XfccSyntaxError(key === '' ? 'empty element or key' : 'malformed key');
    let value: string;
    i = eq + 1;
    if (s[i] === '"') {
      let out = '';
      let j = i + 1;
      for (;;) {
        if (j >= s.length) throw new XfccSyntaxError('unbalanced quotes');
        const c = s[j] as string;
        if (c === '\\' && s[j + 1] === '"') {
          out += '"';
          j += 2;
        } else if (c === '"') {
          break;
        } else {
          out += c;
          j++;
        }
      }
      value = out;
      i = j + 1;
      if (i < s.length && s[i] !== ';' && s[i] !== ',') throw new XfccSyntaxError('text after a quoted value');
    } else {
      let j = i;
      while (j < s.length && s[j] !== ';' && s[j] !== ',') j++;
      value = s.slice(i, j);
      // Unquoted values cannot hold a quote or "=": Envoy would have quoted them.
      if (/["=]/.test(value)) throw new XfccSyntaxError(value.includes('"') ? 'unbalanced quotes' : 'unquoted "=" in a value');
      i = j;
    }
    if (++pairs > MAX_PAIRS_PER_ELEMENT) throw new XfccSyntaxError('too many pairs');
    addPair(el, key.toLowerCase(), value);
    if (i >= s.length) break;
    if (s[i] === ',') {
      elements.push(el);
      if (elements.length >= maxElements) throw new XfccSyntaxError('too many elements');
      el = emptyElement();
      pairs = 0;
      i++;
      // Joined header lines may carry a space after the comma.
      while (s[i] === ' ' || s[i] === '\t') i++;
    } else {
      i++; // ';'
    }
  }
  elements.push(el);
  return elements;
}

function addPair(el: MutableElement, key: string, value: string): void {
  if (key === 'uri') el.uri.push(value);
  else if (key === 'dns') el.dns.push(value);
  else {
    const k = SINGLE_KEYS[key];
    if (k === undefined) throw new XfccSyntaxError('unknown key');
    if (el[k] !== null) throw new XfccSyntaxError(`repeated ${key}`);
    el[k] = value;
  }
}

/**
 * The element naming ztauthz's caller: the LAST one. Each proxy with
 * APPEND_FORWARD (Istio's sidecar default) appends one element for the client
 * of its own mTLS connection, after whatever the client sent. So the last
 * element is the only one the sanitising proxy in front of us wrote itself;
 * every earlier element came from further downstream and is, from here, just
 * what the previous hop claimed. (Under SANITIZE_SET there is one element,
 * which is also the last.)
 */
export function callerElement(elements: readonly XfccElement[]): XfccElement | undefined {
  return elements[elements.length - 1];
}

export type XfccIdResult = { readonly ok: true; readonly id: SpiffeIdParts } | { readonly ok: false; readonly reason: string };

/** The caller's SPIFFE ID from an XFCC header value. */
export function xfccCallerId(header: string, opts: XfccOptions = {}): XfccIdResult {
  const parsed = parseXfcc(header, opts);
  if (!parsed.ok) return parsed;
  const el = callerElement(parsed.elements);
  if (el === undefined || el.uri.length === 0) return { ok: false, reason: 'no URI in the caller element' };
  if (el.uri.length > 1) return { ok: false, reason: 'several URIs in the caller element' };
  const id = parseSpiffeId(el.uri[0] as string);
  if (id instanceof SpiffeIdError) return { ok: false, reason: `URI is not a SPIFFE ID (${id.message})` };
  if (id.path === '') return { ok: false, reason: 'URI is a trust domain, not a workload' };
  return { ok: true, id };
}
