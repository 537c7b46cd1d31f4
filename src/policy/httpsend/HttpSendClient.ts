// The network side of http.send: validates the request object as OPA's
// topdown/http.go does, makes the request (node:http/https) on the main
// thread's event loop, and shapes the response as OPA does. Runs on the main
// thread for every evaluation worker, so the inter-query cache is shared.
//
// Bounds OPA does not have: an allowlist of hosts (every redirect hop is
// checked too), a response size limit and an upper bound on the timeout.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { createRequire } from 'node:module';
import { LRUCache } from 'lru-cache';
import { HTTP_SEND_REQUEST_KEYS as ALLOWED_KEYS } from './RequestKeys.ts';

export interface HttpSendLimits {
  /** Host patterns policies may reach: "name", "name:port", "*.suffix", "*" (any). */
  readonly allowedHosts: readonly string[];
  /** Upper bound on one http.send call, retries included. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Bytes the inter-query cache may hold (0: no inter-query cache). */
  readonly cacheMaxBytes: number;
}

export type HttpSendErrorCode = 'eval_http_send_network_error' | 'eval_http_send_internal_error';

/** What the worker gets back: the response object, or the error OPA would report. */
export type SendResult =
  | { readonly ok: true /** The response object as JSON text. */; readonly json: string; readonly cacheable: boolean }
  | { readonly ok: false; readonly code: HttpSendErrorCode; readonly message: string };

const STRING_KEYS = new Set([
  'method',
  'url',
  'raw_body',
  'tls_ca_cert',
  'tls_ca_cert_file',
  'tls_ca_cert_env_variable',
  'tls_client_cert',
  'tls_client_cert_file',
  'tls_client_cert_env_variable',
  'tls_client_key',
  'tls_client_key_file',
  'tls_client_key_env_variable',
  'tls_server_name',
]);
/** Policies may not make ztauthz read its files or environment. */
const REFUSED_KEYS = [
  'tls_ca_cert_file',
  'tls_ca_cert_env_variable',
  'tls_client_cert_file',
  'tls_client_cert_env_variable',
  'tls_client_key_file',
  'tls_client_key_env_variable',
];
/** RFC 7231 6.1, as OPA's cacheableHTTPStatusCodes. */
export const CACHEABLE_STATUS = new Set([200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501]);
const DEFAULT_TIMEOUT_MS = 5000;
const SENSITIVE_HEADERS = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2', 'proxy-authorization']);
const MAX_REDIRECTS = 10;

class SendError extends Error {
  readonly code: HttpSendErrorCode;
  constructor(code: HttpSendErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
const internal = (message: string): SendError => new SendError('eval_http_send_internal_error', message);

/** Go's url.Error text: `Get "http://host/": detail`. */
function urlError(method: string, url: string, detail: string): SendError {
  const op = method.slice(0, 1) + method.slice(1).toLowerCase();
  return new SendError('eval_http_send_network_error', `${op} "${url}": ${detail}`);
}

interface Prepared {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
  readonly enableRedirect: boolean;
  readonly forceJson: boolean;
  readonly forceYaml: boolean;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly tls: Pick<
    RequestOptions & { ca?: string[]; cert?: string; key?: string; rejectUnauthorized?: boolean; servername?: string },
    'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'
  >;
  readonly customTls: boolean;
  /** Inter-query caching: undefined (off), 'headers' (cache: true) or a forced lifetime in seconds. */
  readonly interQuery: undefined | 'headers' | number;
}

interface Fetched {
  readonly status: string;
  readonly statusCode: number;
  readonly headers: Record<string, string[]>;
  readonly body: Buffer;
}

interface CachedResponse {
  /** ms since the epoch; past it the entry is revalidated (or dropped without validators). */
  readonly expiresAt: number;
  readonly rawBody: string;
  readonly headers: Record<string, string[]>;
  readonly status: string;
  readonly statusCode: number;
  readonly bytes: number;
}

export class HttpSendClient {
  readonly #limits: HttpSendLimits;
  readonly #cache: LRUCache<string, CachedResponse> | undefined;
  readonly #allow: readonly { host: string; port: string | undefined; suffix: boolean }[];
  readonly #any: boolean;
  /** http.send calls by outcome (ztauthz_http_send_calls_total): answered by the server, by the inter-query cache, or failed. */
  readonly counts = { response: 0, cache_hit: 0, error: 0 };

  constructor(limits: HttpSendLimits) {
    this.#limits = limits;
    this.#any = limits.allowedHosts.includes('*');
    this.#allow = limits.allowedHosts.filter((h) => h !== '*').map(parseHostPattern);
    this.#cache =
      limits.cacheMaxBytes > 0
        ? new LRUCache<string, CachedResponse>({ maxSize: limits.cacheMaxBytes, sizeCalculation: (v) => Math.max(1, v.bytes) })
        : undefined;
  }

  /** One http.send call; never throws. `deadline` (ms since the epoch) is the Check's. */
  async send(request: unknown, deadline: number): Promise<SendResult> {
    try {
      const p = prepare(request, this.#limits.timeoutMs, deadline);
      const key = p.interQuery !== undefined && this.#cache ? cacheKey(request as Record<string, unknown>) : undefined;
      let res: Fetched | undefined;
      if (key !== undefined) {
        const hit = this.#cache!.get(key);
        if (hit && hit.expiresAt > Date.now()) {
          this.counts.cache_hit++;
          return { ok: true, json: shape(hit.status, hit.statusCode, hit.headers, Buffer.from(hit.rawBody), p.forceJson, p.forceYaml), cacheable: true };
        }
        if (hit) {
          // Stale: as OPA, asked again with the validators it had (ETag, Last-Modified), if any.
          this.#cache!.delete(key);
          const etag = hit.headers['etag']?.[0];
          const modified = hit.headers['last-modified']?.[0];
          if (etag !== undefined || modified !== undefined) {
            const conditional = {
              ...p.headers,
              ...(etag !== undefined ? { 'if-none-match': etag } : {}),
              ...(modified !== undefined ? { 'if-modified-since': modified } : {}),
            };
            const answer = await this.#execute({ ...p, headers: conditional });
            if (answer.statusCode === 304) {
              // Not modified: the cached body with the 304's headers, fresh again.
              const headers = { ...hit.headers, ...answer.headers };
              this.#store(key, p, { status: hit.status, statusCode: hit.statusCode, headers, body: Buffer.from(hit.rawBody) });
              this.counts.response++;
              return { ok: true, json: shape(hit.status, hit.statusCode, headers, Buffer.from(hit.rawBody), p.forceJson, p.forceYaml), cacheable: true };
            }
            // A new 200 is the answer; anything else is asked again plainly, as OPA does.
            if (answer.statusCode === 200) res = answer;
          }
        }
      }
      res ??= await this.#execute(p);
      const json = shape(res.status, res.statusCode, res.headers, res.body, p.forceJson, p.forceYaml);
      if (key !== undefined) this.#store(key, p, res);
      this.counts.response++;
      return { ok: true, json, cacheable: CACHEABLE_STATUS.has(res.statusCode) };
    } catch (err) {
      this.counts.error++;
      if (err instanceof SendError) return { ok: false, code: err.code, message: err.message };
      return { ok: false, code: 'eval_http_send_internal_error', message: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Into the inter-query cache as OPA's insertIntoHTTPSendInterQueryCache: a
   * cacheable status, no no-store (unless forced); kept until its expiry, or
   * past it when validators allow asking whether it is still current.
   */
  #store(key: string, p: Prepared, res: Fetched): void {
    if (!CACHEABLE_STATUS.has(res.statusCode)) return;
    const expiresAt = typeof p.interQuery === 'number' ? Date.now() + p.interQuery * 1000 : expiry(res.headers);
    if (expiresAt === undefined) return;
    const validators = res.headers['etag'] !== undefined || res.headers['last-modified'] !== undefined;
    if (expiresAt <= Date.now() && !validators) return;
    const rawBody = res.body.toString('utf8');
    const bytes = rawBody.length * 2 + JSON.stringify(res.headers).length * 2 + 256;
    if (bytes > this.#limits.cacheMaxBytes) return;
    this.#cache!.set(key, { rawBody, headers: res.headers, status: res.status, statusCode: res.statusCode, bytes, expiresAt });
  }

  /** Bytes held by the inter-query cache. */
  get cachedBytes(): number {
    return this.#cache?.calculatedSize ?? 0;
  }

  allowed(url: URL): boolean {
    if (this.#any) return true;
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return this.#allow.some(
      (a) => (a.suffix ? host.endsWith(a.host) && host.length > a.host.length : host === a.host) && (a.port === undefined || a.port === port),
    );
  }

  async #execute(p: Prepared): Promise<Fetched> {
    const end = Date.now() + p.timeoutMs;
    let lastError: SendError | undefined;
    for (let attempt = 0; attempt <= p.retries; attempt++) {
      if (attempt > 0) {
        // OPA's backoff starts at 100 ms and doubles; the whole call stays within its timeout.
        const delay = Math.min(100 * 2 ** (attempt - 1), end - Date.now());
        if (delay <= 0) break;
        await new Promise((r) => setTimeout(r, delay));
      }
      try {
        return await this.#follow(p, end);
      } catch (err) {
        if (!(err instanceof SendError) || err.code !== 'eval_http_send_network_error') throw err;
        lastError = err;
        if (Date.now() >= end) break;
      }
    }
    throw lastError ?? urlError(p.method, p.url.href, 'request timed out');
  }

  async #follow(p: Prepared, end: number): Promise<Fetched> {
    let url = p.url;
    let method = p.method;
    let body = p.body;
    let headers = p.headers;
    for (let hop = 0; ; hop++) {
      if (!this.allowed(url)) {
        // As OPA with allow_net: the request's own URL fails before any request (an internal error), a redirect hop as a url.Error.
        const why = `unallowed host: ${url.hostname} (not in http_send.allowed_hosts)`;
        throw hop === 0 ? internal(why) : urlError(method, url.href, why);
      }
      const res = await this.#once(method, url, headers, p, body, end);
      const location = res.headers['location']?.[0];
      if (!p.enableRedirect || location === undefined || ![301, 302, 303, 307, 308].includes(res.statusCode)) return res;
      if (hop + 1 >= MAX_REDIRECTS) throw urlError(method, url.href, 'stopped after 10 redirects');
      const next = new URL(location, url);
      // As Go's client: credentials do not follow a redirect to another host.
      if (next.hostname !== p.url.hostname && !next.hostname.endsWith(`.${p.url.hostname}`)) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !SENSITIVE_HEADERS.has(k)));
      }
      url = next;
      // As Go's client: 301/302/303 turn into a bodiless GET (HEAD stays HEAD); 307/308 repeat the request.
      if (res.statusCode <= 303 && method !== 'HEAD') {
        method = 'GET';
        body = undefined;
      }
    }
  }

  #once(
    method: string,
    url: URL,
    requestHeaders: Readonly<Record<string, string>>,
    p: Prepared,
    body: Buffer | undefined,
    end: number,
  ): Promise<{ status: string; statusCode: number; headers: Record<string, string[]>; body: Buffer }> {
    const left = end - Date.now();
    if (left <= 0) return Promise.reject(urlError(method, url.href, 'request timed out'));
    const max = this.#limits.maxResponseBytes;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'user-agent': 'ztauthz http.send', ...requestHeaders };
      if (body !== undefined && (body.length > 0 || !['GET', 'HEAD'].includes(method))) headers['content-length'] = body.length;
      const https = url.protocol === 'https:';
      const opts: RequestOptions & Record<string, unknown> = { method, headers };
      if (https) {
        Object.assign(opts, p.tls);
        // Custom TLS settings use a connection of their own, as OPA does (DisableKeepAlives).
        if (p.customTls) opts.agent = false;
      }
      let done = false;
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f();
      };
      const req = (https ? httpsRequest : httpRequest)(url, opts, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            finish(() => reject(internal(`response body larger than http_send.max_response_bytes (${max})`)));
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const headers: Record<string, string[]> = {};
          for (const [k, v] of Object.entries(res.headersDistinct)) if (v !== undefined && k !== 'transfer-encoding') headers[k] = v;
          finish(() =>
            resolve({
              status: `${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd(),
              statusCode: res.statusCode ?? 0,
              headers,
              body: Buffer.concat(chunks),
            }),
          );
        });
        res.on('error', (err) => finish(() => reject(urlError(method, url.href, err.message))));
      });
      const timer = setTimeout(() => {
        finish(() => reject(urlError(method, url.href, 'request timed out')));
        req.destroy();
      }, left);
      req.on('error', (err: Error & { code?: string }) => finish(() => reject(urlError(method, url.href, networkText(err, url)))));
      req.end(body);
    });
  }
}

function networkText(err: Error & { code?: string }, url: URL): string {
  const addr = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'ENOTFOUND':
      return `dial tcp: lookup ${url.hostname}: no such host`;
    default:
      return err.message;
  }
}

function parseHostPattern(p: string): { host: string; port: string | undefined; suffix: boolean } {
  const s = p.trim().toLowerCase();
  let host = s;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const named = /^([^:]+):(\d+)$/.exec(s);
  if (v6) [host, port] = [v6[1]!, v6[2]];
  else if (named) [host, port] = [named[1]!, named[2]];
  if (host.startsWith('*.')) return { host: host.slice(1), port, suffix: true };
  return { host, port, suffix: false };
}

/** The allowlist's own syntax check, for the configuration. */
export function checkHostPattern(p: string): string | undefined {
  if (p === '*') return undefined;
  if (!/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i.test(p.trim())) return `"${p}" is not a host, host:port, *.domain or *`;
  return undefined;
}

function prepare(request: unknown, maxTimeoutMs: number, deadline: number): Prepared {
  if (request === null || typeof request !== 'object' || Array.isArray(request))
    throw internal(`operand 1 must be object but got ${request === null ? 'null' : Array.isArray(request) ? 'array' : typeof request}`);
  const obj = request as Record<string, unknown>;
  const invalid = Object.keys(obj).filter((k) => !ALLOWED_KEYS.has(k));
  if (invalid.length > 0)
    throw internal(
      `operand 1 invalid request parameters(s): {${invalid
        .sort()
        .map((k) => JSON.stringify(k))
        .join(', ')}}`,
    );
  const missing = ['method', 'url'].filter((k) => !(k in obj));
  if (missing.length > 0) throw internal(`operand 1 missing required request parameters(s): {${missing.map((k) => JSON.stringify(k)).join(', ')}}`);
  for (const k of Object.keys(obj)) if (STRING_KEYS.has(k) && typeof obj[k] !== 'string') throw internal(`"${k}" must be a string`);
  for (const k of REFUSED_KEYS) if (k in obj) throw internal(`"${k}" is not supported by ztauthz: policies may not read its files or environment`);
  const bool = (k: string): boolean => {
    const v = obj[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw internal(`invalid value for "${k}" field`);
    return v;
  };
  const method = (obj['method'] as string).toUpperCase();
  let url: URL;
  try {
    url = new URL(obj['url'] as string);
  } catch {
    throw internal(`parse "${obj['url'] as string}": invalid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw urlError(method, url.href, `unsupported protocol scheme "${url.protocol.slice(0, -1)}"`);
  const headers: Record<string, string> = {};
  if (obj['headers'] !== undefined) {
    const h = obj['headers'];
    if (h === null || typeof h !== 'object' || Array.isArray(h)) throw internal('invalid type for headers key');
    for (const [k, v] of Object.entries(h)) {
      if (typeof v !== 'string') throw internal(`invalid type for headers value ${JSON.stringify(v)}`);
      headers[k.toLowerCase()] = v;
    }
  }
  let body: Buffer | undefined;
  if (typeof obj['raw_body'] === 'string') body = Buffer.from(obj['raw_body']);
  else if (obj['body'] !== undefined) body = Buffer.from(goJson(obj['body']));
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (obj['timeout'] !== undefined) timeoutMs = parseTimeoutMs(obj['timeout']);
  const retriesRaw = obj['max_retry_attempts'];
  let retries = 0;
  if (retriesRaw !== undefined) {
    if (typeof retriesRaw !== 'number' || !Number.isInteger(retriesRaw) || retriesRaw < 0)
      throw internal(`invalid value ${JSON.stringify(retriesRaw)} for field "max_retry_attempts"`);
    retries = retriesRaw;
  }
  // caching_mode (serialized/deserialized) only chooses how OPA stores cache entries; OPA never fails on it here.
  let interQuery: Prepared['interQuery'];
  const cache = bool('cache');
  if (bool('force_cache')) {
    const d = obj['force_cache_duration_seconds'];
    if (d === undefined) throw internal("'force_cache' set but 'force_cache_duration_seconds' parameter is missing");
    if (typeof d !== 'number' || !Number.isInteger(d)) throw internal(`strconv.ParseInt: parsing ${JSON.stringify(JSON.stringify(d))}: invalid syntax`);
    interQuery = d;
  } else if (cache) interQuery = 'headers';
  const tls: Prepared['tls'] = {};
  let customTls = false;
  const ca: string[] = [];
  if (bool('tls_use_system_certs')) {
    ca.push(...rootCertificates);
    customTls = true;
  }
  if (typeof obj['tls_ca_cert'] === 'string' && obj['tls_ca_cert'] !== '') {
    ca.push(obj['tls_ca_cert'].replaceAll('\\n', '\n'));
    customTls = true;
  }
  if (ca.length > 0) tls.ca = ca;
  if (typeof obj['tls_client_cert'] === 'string' && typeof obj['tls_client_key'] === 'string' && obj['tls_client_cert'] && obj['tls_client_key']) {
    tls.cert = obj['tls_client_cert'];
    tls.key = obj['tls_client_key'];
    customTls = true;
  }
  if (bool('tls_insecure_skip_verify')) {
    tls.rejectUnauthorized = false;
    customTls = true;
  }
  const serverName = (obj['tls_server_name'] as string | undefined) || headers['host'];
  if (serverName) {
    tls.servername = serverName;
    customTls = true;
  }
  bool('force_json_decode');
  bool('force_yaml_decode');
  bool('enable_redirect');
  // The policy's timeout (OPA default 5 s) is cut to the configured bound and to what is left of the Check's deadline.
  timeoutMs = Math.min(timeoutMs <= 0 ? DEFAULT_TIMEOUT_MS : timeoutMs, maxTimeoutMs, deadline - Date.now());
  return {
    method,
    url,
    headers,
    body,
    enableRedirect: bool('enable_redirect'),
    forceJson: bool('force_json_decode'),
    forceYaml: bool('force_yaml_decode'),
    timeoutMs,
    retries,
    tls,
    customTls,
    interQuery,
  };
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** OPA's parseTimeout: a number of ns, a string of ns, or a Go duration. */
function parseTimeoutMs(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw internal(`invalid timeout number value ${v}, must be int64`);
    return v / 1e6;
  }
  if (typeof v !== 'string')
    throw internal(`operand 1 'timeout' must be one of {string, number} but got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
  if (/^[+-]?\d+$/.test(v)) return Number(v) / 1e6;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  const s = v.replace(/^[+-]/, '');
  let at = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (at !== s.length || s.length === 0) throw internal(`invalid timeout value "${v}": time: invalid duration "${v}"`);
  return v.startsWith('-') ? -total : total;
}

/**
 * OPA's response object, as JSON text. A body that does not decode is null.
 * A JSON body with long digit runs is embedded as the server sent it, so
 * integers beyond 2^53 reach the policy exactly (the wasm parses the text;
 * a JavaScript number would round them).
 */
function shape(status: string, statusCode: number, headers: Record<string, string[]>, body: Buffer, forceJson: boolean, forceYaml: boolean): string {
  const raw = body.toString('utf8');
  const type = headers['content-type']?.[0] ?? '';
  let decoded = 'null';
  if (forceJson || isJsonType(type)) {
    try {
      const value: unknown = JSON.parse(raw);
      decoded = /\d{16,}/.test(raw) ? raw.trim() : JSON.stringify(value);
    } catch {
      decoded = 'null';
    }
  } else if (forceYaml || type.includes('application/yaml') || type.includes('application/x-yaml')) {
    try {
      // YAML 1.1, as OPA's decoder: y, yes, on... are booleans.
      // yaml is loaded on the first YAML response: most policies never see one.
      const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
      decoded = JSON.stringify(parse(raw, { version: '1.1' }) ?? null);
    } catch {
      decoded = 'null';
    }
  }
  return `{"status":${JSON.stringify(status)},"status_code":${statusCode},"body":${decoded},"raw_body":${JSON.stringify(raw)},"headers":${JSON.stringify(headers)}}`;
}

function isJsonType(contentType: string): boolean {
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  const [type, sub] = t.split('/');
  return type === 'application' && sub !== undefined && (sub === 'json' || sub.endsWith('+json'));
}

/**
 * OPA's expiryFromHeaders: Cache-Control max-age counted from Date, else
 * Expires (0 when absent or invalid: stale at once). Undefined: not storable
 * (no-store; max-age without a Date header, an error OPA ignores).
 */
function expiry(headers: Record<string, string[]>): number | undefined {
  const cc = (headers['cache-control']?.[0] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  if (cc.includes('no-store')) return undefined;
  const maxAge = cc.find((d) => d.startsWith('max-age='));
  if (maxAge !== undefined) {
    const secs = Number(maxAge.slice(8));
    const date = Date.parse(headers['date']?.[0] ?? '');
    if (!Number.isInteger(secs) || secs < 0 || Number.isNaN(date)) return undefined;
    return date + secs * 1000;
  }
  const expires = Date.parse(headers['expires']?.[0] ?? '');
  return Number.isNaN(expires) ? 0 : expires;
}

/** The request object minus cache_ignored_headers, canonically encoded. */
export function cacheKey(request: Record<string, unknown>): string {
  const key: Record<string, unknown> = { ...request };
  const ignored = request['cache_ignored_headers'];
  if (Array.isArray(ignored) && request['headers'] && typeof request['headers'] === 'object') {
    const headers = { ...(request['headers'] as Record<string, unknown>) };
    for (const h of ignored) if (typeof h === 'string') delete headers[h];
    key['headers'] = headers;
  }
  key['cache_ignored_headers'] = null;
  return canonicalJson(key);
}

/** Go's json.Marshal: keys sorted, <, >, &, U+2028 and U+2029 escaped. */
function goJson(v: unknown): string {
  return canonicalJson(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}
