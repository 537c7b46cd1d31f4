// Go's net/url.Parse, for uri.parse / uri.is_valid. Strings are handled as
// UTF-8 bytes (one char per byte, "binary" strings) as Go does.

import type { BuiltinFn } from './index.ts';
import { BuiltinError, goBytesToString, stringOperand } from './util.ts';

type Mode = 'path' | 'host' | 'zone' | 'userPassword' | 'fragment';

export interface GoUrl {
  scheme: string;
  opaque: string;
  user: boolean;
  host: string;
  omitHost: boolean;
  path: string;
  rawPath: string;
  forceQuery: boolean;
  rawQuery: string;
  fragment: string;
  rawFragment: string;
}

class UrlError extends Error {}

const bin = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const text = (b: string): string => goBytesToString(Buffer.from(b, 'latin1'));
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isAlnum = (c: string): boolean => /^[a-zA-Z0-9]$/.test(c);

function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    if (mode === 'path') return c === '?';
    if (mode === 'userPassword') return c === '@' || c === '/' || c === '?' || c === ':';
    if (mode === 'fragment') return false;
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

function goUnescape(s: string, mode: Mode): string {
  for (let i = 0; i < s.length; ) {
    const c = s[i] as string;
    if (c === '%') {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) throw new UrlError(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      if (mode === 'host' && parseInt(s[i + 1] as string, 16) < 8 && s.slice(i, i + 3) !== '%25')
        throw new UrlError(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      if (mode === 'zone') {
        const v = parseInt(s.slice(i + 1, i + 3), 16);
        if (s.slice(i, i + 3) !== '%25' && v !== 0x20 && shouldEscape(String.fromCharCode(v), 'host'))
          throw new UrlError(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
      }
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && shouldEscape(c, mode))
        throw new UrlError(`invalid character ${JSON.stringify(c)} in host name`);
      i++;
    }
  }
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function goEscape(s: string, mode: Mode): string {
  let out = '';
  for (const c of s) out += shouldEscape(c, mode) ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c;
  return out;
}

const validOptionalPort = (p: string): boolean => p === '' || /^:[0-9]*$/.test(p);

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${JSON.stringify(colonPort)} after host`);
    const zone = host.slice(0, i).indexOf('%25');
    if (zone >= 0) return goUnescape(host.slice(0, zone), 'host') + goUnescape(host.slice(zone, i), 'zone') + goUnescape(host.slice(i), 'host');
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1 && !validOptionalPort(host.slice(i))) throw new UrlError(`invalid port ${JSON.stringify(host.slice(i))} after host`);
  }
  return goUnescape(host, 'host');
}

/** url.Parse on a UTF-8 "binary" string. Throws UrlError. */
export function parseGoUrl(raw: string): GoUrl {
  const u: GoUrl = {
    scheme: '',
    opaque: '',
    user: false,
    host: '',
    omitHost: false,
    path: '',
    rawPath: '',
    forceQuery: false,
    rawQuery: '',
    fragment: '',
    rawFragment: '',
  };
  const hash = raw.indexOf('#');
  let rest = hash < 0 ? raw : raw.slice(0, hash);
  const frag = hash < 0 ? '' : raw.slice(hash + 1);
  if (/[\x00-\x1f\x7f]/.test(rest)) throw new UrlError('net/url: invalid control character in URL');
  if (rest === '*') {
    u.path = '*';
  } else {
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i] as string;
      if (/[a-zA-Z]/.test(c)) continue;
      if (/[0-9+.-]/.test(c)) {
        if (i === 0) break;
        continue;
      }
      if (c === ':') {
        if (i === 0) throw new UrlError('missing protocol scheme');
        u.scheme = rest.slice(0, i).toLowerCase();
        rest = rest.slice(i + 1);
      }
      break;
    }
    if (rest.endsWith('?') && rest.split('?').length === 2) {
      u.forceQuery = true;
      rest = rest.slice(0, -1);
    } else {
      const q = rest.indexOf('?');
      if (q >= 0) {
        u.rawQuery = rest.slice(q + 1);
        rest = rest.slice(0, q);
      }
    }
    let done = false;
    if (!rest.startsWith('/')) {
      if (u.scheme !== '') {
        u.opaque = rest;
        done = true;
      } else if ((rest.split('/')[0] as string).includes(':')) throw new UrlError('first path segment in URL cannot contain colon');
    }
    if (!done) {
      if ((u.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
        let authority = rest.slice(2);
        rest = '';
        const slash = authority.indexOf('/');
        if (slash >= 0) [authority, rest] = [authority.slice(0, slash), authority.slice(slash)];
        const at = authority.lastIndexOf('@');
        u.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
        if (at >= 0) {
          const userinfo = authority.slice(0, at);
          if (!/^[a-zA-Z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new UrlError('net/url: invalid userinfo');
          const colon = userinfo.indexOf(':');
          goUnescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'userPassword');
          if (colon >= 0) goUnescape(userinfo.slice(colon + 1), 'userPassword');
          u.user = true;
        }
      } else if (u.scheme !== '' && rest.startsWith('/')) {
        u.omitHost = true;
      }
      u.path = goUnescape(rest, 'path');
      u.rawPath = goEscape(u.path, 'path') === rest ? '' : rest;
    }
  }
  if (frag !== '') {
    u.fragment = goUnescape(frag, 'fragment');
    u.rawFragment = goEscape(u.fragment, 'fragment') === frag ? '' : frag;
  }
  return u;
}

/** url.Parse of a JavaScript (UTF-16) string; fields stay binary strings (see urlText). */
export function parseGoUrlText(raw: string): GoUrl {
  return parseGoUrl(bin(raw));
}

/** A parsed field as text. */
export const urlText = text;

/** url.URL.EscapedPath() (RawPath when it is a valid encoding of Path), as text. */
export function escapedPath(u: GoUrl): string {
  // validEncoded: RawPath holds nothing a path would escape (sub-delims, ':', '@', brackets, '%' aside)
  const valid = [...u.rawPath].every((c) => "!$&'()*+,;=:@[]%".includes(c) || !shouldEscape(c, 'path'));
  if (u.rawPath !== '' && valid) return text(u.rawPath);
  return text(u.path === '*' ? '*' : goEscape(u.path, 'path'));
}

function hostnameAndPort(host: string): [string, string] {
  let h = host;
  let port = '';
  const colon = h.lastIndexOf(':');
  if (colon !== -1 && validOptionalPort(h.slice(colon))) [h, port] = [h.slice(0, colon), h.slice(colon + 1)];
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return [h, port];
}

export function urlBuiltins(): Record<string, BuiltinFn> {
  return {
    'uri.parse': (x: unknown) => {
      const b = 'uri.parse';
      let u: GoUrl;
      try {
        u = parseGoUrl(bin(stringOperand(b, x, 1)));
      } catch (e) {
        if (e instanceof UrlError) throw new BuiltinError(b, e.message);
        throw e;
      }
      const [hostname, port] = hostnameAndPort(u.host);
      const out: Record<string, string> = {};
      if (u.scheme !== '') out.scheme = text(u.scheme);
      if (hostname !== '') out.hostname = text(hostname);
      if (port !== '') out.port = port;
      if (u.path !== '') {
        out.path = text(u.path);
        out.raw_path = text(u.rawPath || u.path);
      }
      if (u.rawQuery !== '') out.raw_query = text(u.rawQuery);
      if (u.fragment !== '') out.fragment = text(u.fragment);
      return out;
    },
    'uri.is_valid': (x: unknown) => {
      if (typeof x !== 'string' || x === '') return false;
      try {
        parseGoUrl(bin(x));
        return true;
      } catch (e) {
        if (e instanceof UrlError) return false;
        throw e;
      }
    },
  };
}
