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
import type { Identity } from '../types/Identity.ts';
import type { RouteMatch } from '../types/Route.ts';

export interface Remembered {
  /** The decision cache key the full path used. */
  readonly cacheKey: string;
  readonly identity: Identity | null;
  readonly route: RouteMatch | null;
  readonly entrypoint: string;
  /** input.behavior the decision was made with (one of a few shared objects). */
  readonly behavior: BehaviorView | undefined;
}

/** Key, entry object, identity and route objects (shared with the input that made them), LRU bookkeeping. */
const ENTRY_BYTES = 300;

export class RequestShortcut {
  readonly #lru: GrowingLru<string, Remembered>;

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
    this.#lru.set(rawKey, r);
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
