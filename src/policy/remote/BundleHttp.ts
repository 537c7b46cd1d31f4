// One request of OPA's bundle protocol: GET <service url>/<resource> with
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
  return serviceRequest(s, 'GET', url, headers, undefined, timeoutMs, maxBytes, signal);
}

/**
 * One request to a service (bundle download, status report) with its
 * credentials and TLS; resolves with the response and its body (bounded to
 * maxBytes). `timeoutMs` bounds the whole exchange.
 */
export function serviceRequest(
  s: HttpServiceOptions,
  method: 'GET' | 'POST',
  url: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ res: IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, {
      method,
      headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      signal,
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
    req.end(body);
  });
}

export async function fetchBundle(service: HttpServiceOptions, resource: string, r: FetchRequest): Promise<FetchResult> {
  const url = new URL(resource.replace(/^\/+/, ''), service.url.endsWith('/') ? service.url : `${service.url}/`);
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
