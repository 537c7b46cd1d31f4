// The HTTP client of OPA's services (serviceRequest: credentials, TLS,
// bounds), shared by bundle downloads and decision-log uploads, and one
// request of OPA's bundle protocol: GET <service url>/<resource> with
// If-None-Match (the last ETag) and, when long polling is configured,
// `Prefer: modes=snapshot;wait=N`. 304 means unchanged. A server that holds
// the request answers with OPA's bundle content type; only then is the next
// request a long poll (a plain file server such as nginx would answer at
// once, so it is polled on the delay instead). Bodies are bounded: a
// Content-Length over the limit is refused before reading, a body that grows
// past it is cut off.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

/** OPA's bundle content type; a server that sends it understands long polling. */
export const BUNDLE_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

export interface HttpServiceOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** `Authorization: <scheme> <token>`, read when a request is made (token_path may rotate). */
  readonly bearer?: { readonly token?: string | undefined; readonly tokenPath?: string | undefined; readonly scheme?: string | undefined } | undefined;
  /** PEM contents. */
  readonly ca?: string | undefined;
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
  /** Time to the response headers when not long polling. */
  readonly headerTimeoutMs: number;
}

export interface FetchRequest {
  readonly etag?: string | undefined;
  /** Long-poll wait in seconds; absent: a plain request. */
  readonly waitSeconds?: number | undefined;
  readonly maxBytes: number;
  readonly signal?: AbortSignal | undefined;
}

export type FetchResult =
  | { readonly status: 'not_modified'; readonly longPolling: boolean }
  | { readonly status: 'bundle'; readonly bytes: Buffer; readonly etag: string | undefined; readonly longPolling: boolean };

export class BundleDownloadError extends Error {
  override name = 'BundleDownloadError';
  /** The server's HTTP status, when it answered with an unexpected one (status reports carry it as http_code). */
  readonly httpStatus: number | undefined;

  constructor(message: string, httpStatus?: number) {
    super(message);
    this.httpStatus = httpStatus;
  }
}

/** Headers of a service request (bearer token, configured headers). */
export function serviceHeaders(s: HttpServiceOptions): Record<string, string> {
  const headers: Record<string, string> = { ...s.headers };
  if (s.bearer) {
    const token = s.bearer.token ?? readFileSync(s.bearer.tokenPath!, 'utf8').trim();
    headers['authorization'] = `${s.bearer.scheme ?? 'Bearer'} ${token}`;
  }
  return headers;
}

/** GETs a URL with the service's credentials and TLS; resolves with the response and its body (bounded). */
export function serviceGet(
  s: HttpServiceOptions,
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ res: IncomingMessage; body: Buffer }> {
  return serviceRequest(s, url, { method: 'GET', headers, timeoutMs, maxBytes, signal });
}

export interface ServiceRequest {
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  /** Sent as it is (POST); its length is set as Content-Length. */
  readonly body?: Buffer | undefined;
  /** Bound on the whole exchange: sending, the answer's headers and its body. */
  readonly timeoutMs: number;
  /** Longest answer body read; a longer one is refused. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * One request to a service (bundle downloads, decision-log uploads) with its
 * TLS settings and client certificate; resolves with the response and its
 * body (bounded), whatever the status. Rejects with a BundleDownloadError
 * naming the origin on a connection failure, the time bound or an oversized
 * answer.
 */
export function serviceRequest(s: HttpServiceOptions, url: URL, r: ServiceRequest): Promise<{ res: IncomingMessage; body: Buffer }> {
  const { timeoutMs, maxBytes } = r;
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers = r.body ? { ...r.headers, 'content-length': String(r.body.length) } : r.headers;
    const req = request(url, {
      method: r.method,
      headers,
      signal: r.signal,
      ...(url.protocol === 'https:' ? { ca: s.ca, cert: s.clientCert, key: s.clientKey } : {}),
    });
    const timer = setTimeout(() => req.destroy(new BundleDownloadError(`no answer from ${url.origin} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err instanceof BundleDownloadError ? err : new BundleDownloadError(`${url.origin}: ${err.message}`));
    };
    req.on('error', fail);
    req.on('response', (res) => {
      // Every way out rejects once: the request and the response both report a destroy.
      res.on('error', fail);
      const refuse = (why: string) => {
        fail(new BundleDownloadError(`${url.pathname}: ${why}`));
        req.destroy();
      };
      const length = Number(res.headers['content-length'] ?? 0);
      if (length > maxBytes) return refuse(`${length} bytes is over the limit of ${maxBytes}`);
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) refuse(`body over the limit of ${maxBytes} bytes`);
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ res, body: Buffer.concat(chunks) });
      });
    });
    req.end(r.body);
  });
}

/** <service url>/<resource>, as OPA joins them: a leading slash on the resource does not drop the url's path. */
export function resourceUrl(service: HttpServiceOptions, resource: string): URL {
  return new URL(resource.replace(/^\/+/, ''), service.url.endsWith('/') ? service.url : `${service.url}/`);
}

export async function fetchBundle(service: HttpServiceOptions, resource: string, r: FetchRequest): Promise<FetchResult> {
  const url = resourceUrl(service, resource);
  const headers = serviceHeaders(service);
  if (r.etag !== undefined) headers['if-none-match'] = r.etag;
  if (r.waitSeconds !== undefined) headers['prefer'] = `modes=snapshot;wait=${r.waitSeconds}`;
  // A long poll may be held for its whole wait before the server answers.
  const timeoutMs = service.headerTimeoutMs + (r.waitSeconds ?? 0) * 1000;
  const { res, body } = await serviceGet(service, url, headers, timeoutMs, r.maxBytes, r.signal);
  const longPolling =
    r.waitSeconds !== undefined &&
    String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim() === BUNDLE_CONTENT_TYPE;
  if (res.statusCode === 304) return { status: 'not_modified', longPolling };
  if (res.statusCode !== 200) throw new BundleDownloadError(`GET ${url.href}: HTTP ${res.statusCode}`, res.statusCode);
  const etag = res.headers['etag'];
  return { status: 'bundle', bytes: body, etag: typeof etag === 'string' && etag !== '' ? etag : undefined, longPolling };
}
