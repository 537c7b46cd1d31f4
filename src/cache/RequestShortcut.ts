// The request shortcut: for a request whose wire bytes (minus the per-request
// fields, see envoy/RawRequestKey.ts) were seen before, what the full path
// worked out from them: identity, route and the decision cache key. A repeat
// then skips decode, identify, input building and the input key, and is
// answered from the decision cache entry itself, so every lifetime rule of
// the cache (TTL, token and certificate expiry, policy instance) still holds:
// no cache entry, no shortcut.
//
// Only what is a pure function of the bytes may be remembered. Identities
// that depend on the clock or on fetched keys (a JWT, a source that was
// present but refused) are never remembered, and input.behavior, which
// depends on recent traffic, is recomputed and must be the same object the
// decision was made with.
import { GrowingLru } from './GrowingLru.ts';
import type { BehaviorView } from '../observe/BehaviorSignals.ts';
import type { Identity, SpiffeIdParts } from '../types/Identity.ts';
import type { RouteMatch, RouteParams } from '../types/Route.ts';

export interface Remembered {
  /** The decision cache key the full path used. */
  readonly cacheKey: string;
  readonly identity: Identity | null;
  readonly route: RouteMatch | null;
  readonly entrypoint: string;
  /** input.behavior the decision was made with (one of a few shared objects). */
  readonly behavior: BehaviorView | undefined;
}

/**
 * Key string and entry object, LRU bookkeeping; the identity and route are
 * shared (see Interner). Measured on Bun: about 200 bytes beside the keys.
 */
const ENTRY_BYTES = 300;

/**
 * Most identities (and routes) an Interner keeps; past it the table starts
 * again (objects already shared stay shared by their entries).
 */
const INTERN_MAX = 1024;

/**
 * One object for each distinct identity (or route) the table holds. Every
 * full-path Check builds its own identity and route objects (eight strings
 * and four objects); kept per entry they were most of the shortcut's memory:
 * 20,000 distinct requests of one caller and route held about 19 MiB, 1 KB
 * an entry (Bun, 2026-12-05). A repeat gets an equal object either way: the
 * entry's fields are compared in full before one is shared.
 */
class Interner<T> {
  readonly #known = new Map<string, T>();
  readonly #same: (a: T, b: T) => boolean;

  constructor(same: (a: T, b: T) => boolean) {
    this.#same = same;
  }

  shared(key: string, value: T): T {
    const known = this.#known.get(key);
    if (known !== undefined && (known === value || this.#same(known, value))) return known;
    if (this.#known.size >= INTERN_MAX) this.#known.clear();
    this.#known.set(key, value);
    return value;
  }

  clear(): void {
    this.#known.clear();
  }
}

const sameParts = (a: SpiffeIdParts | null, b: SpiffeIdParts | null): boolean =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.spiffe_id === b.spiffe_id &&
    a.trust_domain === b.trust_domain &&
    a.path === b.path &&
    a.namespace === b.namespace &&
    a.service_account === b.service_account);

// A user identity (from a JWT) is never remembered; one that got here anyway is simply not shared.
const sameIdentity = (a: Identity, b: Identity): boolean =>
  a.user === null &&
  b.user === null &&
  a.source === b.source &&
  a.spiffe_id === b.spiffe_id &&
  a.trust_domain === b.trust_domain &&
  a.path === b.path &&
  a.namespace === b.namespace &&
  a.service_account === b.service_account &&
  sameParts(a.peer, b.peer) &&
  Object.keys(a).length === 8 &&
  Object.keys(b).length === 8;

function sameParams(a: Readonly<RouteParams>, b: Readonly<RouteParams>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

const sameRoute = (a: RouteMatch, b: RouteMatch): boolean =>
  a.name === b.name &&
  a.api === b.api &&
  a.action === b.action &&
  a.model === b.model &&
  a.version === b.version &&
  a.entrypoint === b.entrypoint &&
  sameParams(a.params, b.params) &&
  Object.keys(a).length === 7 &&
  Object.keys(b).length === 7;

export class RequestShortcut {
  readonly #lru: GrowingLru<string, Remembered>;
  readonly #identities = new Interner<Identity>(sameIdentity);
  readonly #routes = new Interner<RouteMatch>(sameRoute);

  constructor(maxEntries: number, maxBytes: number, ttlMs: number) {
    this.#lru = new GrowingLru<string, Remembered>({
      maxEntries,
      maxSize: maxBytes,
      // An entry is useless without its decision cache entry, which lives at most this long.
      ttl: ttlMs,
      ttlAutopurge: false,
      sizeCalculation: (r, key) => ENTRY_BYTES + key.length + r.cacheKey.length,
    });
  }

  get(rawKey: string): Remembered | undefined {
    return this.#lru.get(rawKey);
  }

  remember(rawKey: string, r: Remembered): void {
    const identity = r.identity && this.#identities.shared(`${r.identity.source}\n${r.identity.spiffe_id}`, r.identity);
    const route = r.route && this.#routes.shared(`${r.route.name}\n${r.route.model}`, r.route);
    this.#lru.set(rawKey, identity === r.identity && route === r.route ? r : { ...r, identity, route });
  }

  forget(rawKey: string): void {
    this.#lru.delete(rawKey);
  }

  clear(): void {
    this.#lru.clear();
  }

  get entries(): number {
    return this.#lru.size;
  }
}
