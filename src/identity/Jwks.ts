// Verification key sets for end-user tokens: a JWKS file, or a JWKS URL that
// is fetched with a timeout, cached, and refetched (on expiry, or for an
// unknown kid) no more often than the cooldown, so no request pattern can
// turn into one fetch per request.
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWK, JWTVerifyGetKey } from 'jose';
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
  /** Least time between two fetches, whatever triggers them. */
  readonly cooldownMs: number;
  /** A fetched set is refetched when older than this. */
  readonly cacheMs: number;
  readonly maxBytes?: number;
  /** Clock (ms); tests move it instead of sleeping. */
  readonly now?: () => number;
}

export class RemoteJwks {
  readonly #url: URL;
  readonly #opts: RemoteJwksOptions;
  readonly #now: () => number;
  #keys: JWTVerifyGetKey | undefined;
  #fetchedAt = -Infinity;
  #attemptAt = -Infinity;
  #pending: Promise<void> | undefined;
  #lastError = 'not fetched yet';
  /** Fetches started so far (for metrics and tests). */
  fetches = 0;

  constructor(url: string, opts: RemoteJwksOptions) {
    this.#url = new URL(url);
    if (this.#url.protocol !== 'https:' && this.#url.protocol !== 'http:') throw new Error(`${url}: JWKS URL must be http(s)`);
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** jose key resolver; throws JwksUnavailableError when no key set could ever be fetched. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#keys === undefined || this.#now() - this.#fetchedAt >= this.#opts.cacheMs) await this.#refresh();
    const keys = this.#keys;
    if (keys === undefined) throw new JwksUnavailableError(this.#lastError);
    try {
      return await keys(header, token);
    } catch (e) {
      // A kid we do not know may be a freshly rotated key: refetch, within the cooldown.
      if (!(e instanceof jose().errors.JWKSNoMatchingKey)) throw e;
      await this.#refresh();
      if (this.#keys === keys) throw e;
      return await this.#keys!(header, token);
    }
  };

  // Concurrent callers share one fetch; a failed fetch keeps the previous
  // (stale) keys, since an outage of the IdP should not void valid tokens.
  #refresh(): Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    const now = this.#now();
    if (now - this.#attemptAt < this.#opts.cooldownMs) return Promise.resolve();
    this.#attemptAt = now;
    this.#pending = this.#fetch()
      .then(
        (set) => {
          this.#keys = jose().createLocalJWKSet(set);
          this.#fetchedAt = this.#now();
        },
        (e: unknown) => {
          this.#lastError = `JWKS fetch failed: ${(e as Error).message}`;
        },
      )
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  async #fetch(): Promise<JSONWebKeySet> {
    this.fetches++;
    const max = this.#opts.maxBytes ?? MAX_JWKS_BYTES;
    const res = await fetch(this.#url, {
      signal: AbortSignal.timeout(this.#opts.timeoutMs),
      // A redirect could move key trust to a host nobody configured.
      redirect: 'error',
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
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
