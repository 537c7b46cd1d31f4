// The canonical host of a request: lower-case, one trailing dot dropped, the
// port split off. Policies compare hosts as strings, and "Secret.com",
// "secret.com:80" and "secret.com." all reach the same virtual host (Istio
// CVE-2021-39155, bulletin 2021-008), so they must compare equal. Where the
// request names its host twice (HTTP/2 :authority plus a host header) and the
// two disagree, there is no right answer: it is refused.
import { RouteReason } from './RouteReasons.ts';
import { CheckError } from '../types/Reason.ts';

export interface CanonicalHost {
  /** Lower-case host name or IP literal ("[::1]" keeps its brackets); "" when the request names none. */
  readonly host: string;
  /** The explicit port, or null when the authority has none. */
  readonly port: number | null;
}

const NO_HOST: CanonicalHost = Object.freeze({ host: '', port: null });
/** Headers that can name the host besides Envoy's request.http.host. */
const HOST_HEADERS = [':authority', 'host'] as const;

/**
 * `authority` is Envoy's request.http.host (the :authority); `headers` are the
 * request headers, where a separate `host` header and the `:authority`
 * pseudo-header may also appear. Throws CheckError host_rejected.
 */
export function canonicalHost(authority: string, headers: Readonly<Record<string, string>>): CanonicalHost {
  let result = authority === '' ? NO_HOST : parseAuthority(authority, 'authority');
  for (const name of HOST_HEADERS) {
    const value = headers[name];
    if (value === undefined || value === authority) continue;
    const other = parseAuthority(value, name);
    if (result === NO_HOST) {
      result = other;
    } else if (other.host !== result.host || other.port !== result.port) {
      reject(`${name} header "${clip(value)}" conflicts with :authority "${clip(authority)}"`);
    }
  }
  return result;
}

/** One host[:port] value. Repeated host headers arrive joined with ",", which is refused here as a bad character. */
export function parseAuthority(value: string, what: string): CanonicalHost {
  if (value === '') reject(`${what} is empty`);
  if (value.length > 300) reject(`${what} is longer than 300 characters`);
  let host: string;
  let portText: string | undefined;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close < 0) reject(`${what} "${clip(value)}" has an unclosed IPv6 literal`);
    host = value.slice(0, close + 1).toLowerCase();
    if (!/^\[[0-9a-f:.]+\]$/.test(host)) reject(`${what} "${clip(value)}" is not a valid IPv6 literal`);
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (rest.charCodeAt(0) !== 0x3a /* : */) reject(`${what} "${clip(value)}" has text after the IPv6 literal`);
      portText = rest.slice(1);
    }
  } else {
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    if (colon >= 0) portText = value.slice(colon + 1);
    host = canonicalName(host, what, value);
  }
  return { host, port: portText === undefined ? null : parsePort(portText, what, value) };
}

/** A reg-name: letters, digits, "-", "_" and dots between non-empty labels; one trailing dot dropped ("svc." is "svc"). */
function canonicalName(name: string, what: string, value: string): string {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(name)) {
    reject(`${what} "${clip(value)}" is not a valid host name`);
  }
  const trimmed = name.charCodeAt(name.length - 1) === 0x2e ? name.slice(0, -1) : name;
  return trimmed.toLowerCase();
}

function parsePort(text: string, what: string, value: string): number {
  // No empty port, no leading zeros, no signs: "svc:" and "svc:080" are not "svc:80" to every parser.
  if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 65535) {
    reject(`${what} "${clip(value)}" has an invalid port`);
  }
  return Number(text);
}

/** Host values can be client-chosen; keep error messages short. */
function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function reject(why: string): never {
  throw new CheckError(RouteReason.hostRejected, `host rejected: ${why}`);
}
