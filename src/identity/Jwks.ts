// Verification key sets for end-user tokens: a JWKS file, or a JWKS URL
// (jose's remote key set, with the bounds it lacks: see RemoteJwks).
import { readFileSync } from 'node:fs';
import type { ExportedJWKSCache, JSONWebKeySet, JWK, JWKSCacheInput, JWTVerifyGetKey } from 'jose';
import { jose } from './Jose.ts';

export const MAX_JWKS_BYTES = 1024 * 1024;
const MAX_KEYS = 100;

/** The keys could not be obtained; the token is neither valid nor shown invalid. */
export class JwksUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksUnavailableError';
  }
}

/**
 * A JWKS reduced to public signature keys. SPIFFE JWT bundles mark their keys
 * `use: "jwt-svid"`, which jose skips (it wants "sig" or nothing), so those
 * become "sig"; `x509-svid` keys (CA certificates) and `enc` keys go, as do
 * symmetric and private keys: a key set here verifies, it never holds secrets.
 */
export function normalizeJwks(json: unknown): JSONWebKeySet {
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (typeof json !== 'object' || json === null || !Array.isArray(keys)) throw new Error('not a JWKS (no "keys" array)');
  if (keys.length > MAX_KEYS) throw new Error(`JWKS has more than ${MAX_KEYS} keys`);
  const out: JWK[] = [];
  for (const k of keys as unknown[]) {
    if (typeof k !== 'object' || k === null || Array.isArray(k)) continue;
    const jwk = { ...(k as JWK) };
    if (jwk.use === 'jwt-svid') jwk.use = 'sig';
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.kty === 'oct' || jwk.d !== undefined) continue;
    out.push(jwk);
  }
  return { keys: out };
}

/** A key resolver over a JWKS file, read once. Throws (configuration error) when unusable. */
export function jwksFromFile(path: string): JWTVerifyGetKey {
  const text = readFileSync(path);
  if (text.length > MAX_JWKS_BYTES) throw new Error(`${path}: JWKS larger than ${MAX_JWKS_BYTES} bytes`);
  try {
    return jose().createLocalJWKSet(normalizeJwks(JSON.parse(text.toString('utf8'))));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

export interface RemoteJwksOptions {
  readonly timeoutMs: number;
  /** Least time between two fetches for an unknown kid, and after a failed fetch. */
  readonly cooldownMs: number;
  /** A fetched set is refetched when older than this. */
  readonly cacheMs: number;
  readonly maxBytes?: number;
}

/** The fetch jose asked for failed; the message says why. */
class JwksFetchError extends Error {
  override name = 'JwksFetchError';
}

/**
 * A JWKS URL through jose's createRemoteJWKSet, which does the caching: one
 * fetch shared by concurrent callers, a refetch once the set is older than
 * cacheMs, and for an unknown kid (a freshly rotated key) at most one refetch
 * per cooldownMs, so no request pattern turns into one fetch per request.
 * Three bounds jose does not offer are kept here:
 *  - the response is read within maxBytes and reduced by normalizeJwks (at
 *    most MAX_KEYS public signature keys); jose reads any size with
 *    response.json(). Done in the fetch jose is given ([customFetch]), which
 *    also refuses redirects: one could move key trust to a host nobody
 *    configured;
 *  - a failed fetch is not repeated within cooldownMs: jose fetches again on
 *    every request while it has no fresh set, so an IdP outage would become
 *    one fetch per request;
 *  - when a refetch fails the last good set stays in use (an IdP outage should
 *    not void valid tokens); jose throws instead. jose records that set in
 *    the [jwksCache] object it is given.
 * Times are jose's clock (Date.now).
 */
export class RemoteJwks {
  readonly #url: URL;
  readonly #opts: RemoteJwksOptions;
  readonly #remote: JWTVerifyGetKey;
  /** jose writes every set it fetches and applies here. */
  readonly #cache: Partial<ExportedJWKSCache> = {};
  #stale: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined;
  #failed: { at: number; error: JwksFetchError } | undefined;
  /** Fetches started so far (for metrics and tests). */
  fetches = 0;

  constructor(url: string, opts: RemoteJwksOptions) {
    this.#url = new URL(url);
    if (this.#url.protocol !== 'https:' && this.#url.protocol !== 'http:') throw new Error(`${url}: JWKS URL must be http(s)`);
    this.#opts = opts;
    this.#remote = jose().createRemoteJWKSet(this.#url, {
      // jose wants whole milliseconds.
      timeoutDuration: Math.ceil(opts.timeoutMs),
      cooldownDuration: opts.cooldownMs,
      cacheMaxAge: opts.cacheMs,
      [jose().jwksCache]: this.#cache as JWKSCacheInput,
      [jose().customFetch]: (input: string, init: RequestInit) => this.#fetch(input, init),
    });
  }

  /** jose key resolver; throws JwksUnavailableError when no key set could ever be fetched. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.#remote(header, token);
    } catch (e) {
      if (!(e instanceof JwksFetchError)) throw e;
      const last = this.#cache.jwks;
      if (last === undefined) throw new JwksUnavailableError(e.message);
      // The stale set, imported once (not per request) until jose stores a new one.
      if (this.#stale?.jwks !== last) this.#stale = { jwks: last, getKey: jose().createLocalJWKSet(last) };
      return await this.#stale.getKey(header, token);
    }
  };

  /** jose's fetch: bounded, normalised, and not repeated within the cooldown after a failure. */
  async #fetch(input: string, init: RequestInit): Promise<Response> {
    const failed = this.#failed;
    if (failed !== undefined && Date.now() - failed.at < this.#opts.cooldownMs) throw failed.error;
    this.fetches++;
    try {
      const set = await this.#download(input, init);
      this.#failed = undefined;
      return Response.json(set);
    } catch (e) {
      const error = new JwksFetchError(`JWKS fetch failed: ${(e as Error).name === 'TimeoutError' ? `no answer within ${this.#opts.timeoutMs} ms` : (e as Error).message}`);
      this.#failed = { at: Date.now(), error };
      throw error;
    }
  }

  async #download(input: string, init: RequestInit): Promise<JSONWebKeySet> {
    const max = this.#opts.maxBytes ?? MAX_JWKS_BYTES;
    const res = await fetch(input, { ...init, redirect: 'error' });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > max) {
      await res.body?.cancel();
      throw new Error('response too large');
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > max) throw new Error('response too large');
      chunks.push(chunk);
    }
    return normalizeJwks(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  }
}
