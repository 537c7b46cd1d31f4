// Decisions by key (see CacheKey.ts), bounded by entries and bytes, each
// with a lifetime: the configured TTL, shortened by the policy (result field
// cache_ttl_seconds) and by the expiry of any JWT the input carried. Only
// decisions the policy actually made are stored: errors never are.
import { GrowingLru } from './GrowingLru.ts';
import type { Decision } from '../types/Decision.ts';

export interface CacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

/** Rough per-entry overhead on top of the result text: key, object headers, LRU bookkeeping. */
const ENTRY_OVERHEAD_BYTES = 400;

export class DecisionCache {
  readonly #lru: GrowingLru<string, Decision>;
  readonly #ttlMs: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(opts: CacheOptions) {
    this.#ttlMs = opts.ttlMs;
    this.#lru = new GrowingLru<string, Decision>({
      maxEntries: opts.maxEntries,
      maxSize: opts.maxBytes,
      ttl: opts.ttlMs,
      // Expired entries are dropped on access; the LRU bound keeps the rest in check.
      ttlAutopurge: false,
      sizeCalculation: (d, key) => ENTRY_OVERHEAD_BYTES + key.length + (d.result === undefined ? 0 : JSON.stringify(d.result).length * 2),
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.stats.evictions++;
      },
    });
  }

  get(key: string): Decision | undefined {
    const d = this.#lru.get(key);
    if (d) this.stats.hits++;
    else this.stats.misses++;
    return d;
  }

  /**
   * Stores a decision for at most `maxTtlMs` (policy or token limits) and the
   * configured TTL. A lifetime of zero or less means: do not store.
   */
  set(key: string, decision: Decision, maxTtlMs = Infinity): void {
    const ttl = Math.min(this.#ttlMs, maxTtlMs);
    if (!(ttl > 0)) return;
    this.#lru.set(key, decision, { ttl: Math.floor(ttl) });
  }

  clear(): void {
    this.#lru.clear();
  }

  get entries(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
