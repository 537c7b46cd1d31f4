// An LRU bounded by entries and bytes whose memory grows with its contents.
// lru-cache preallocates its index arrays for `max` entries when given one:
// at the default 100,000 entries with a TTL and sizes that is about 5 MiB per
// cache, held from the first moment even when the cache stays nearly empty.
// Given only maxSize it grows its arrays as entries arrive, so the entry
// bound is kept here instead: a set past it evicts the least recently used
// entry (dispose sees 'evict', as with lru-cache's own bound).
import { LRUCache } from 'lru-cache';

export interface GrowingLruOptions<K extends {}, V extends {}> extends Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize'> {
  readonly maxEntries: number;
  readonly maxSize: number;
}

export class GrowingLru<K extends {}, V extends {}> extends LRUCache<K, V> {
  readonly maxEntries: number;

  constructor(opts: GrowingLruOptions<K, V>) {
    const { maxEntries, ...rest } = opts;
    super(rest as LRUCache.Options<K, V, unknown>);
    this.maxEntries = maxEntries;
  }

  override set(k: K, v: V | undefined, setOptions?: LRUCache.SetOptions<K, V, unknown>): this {
    super.set(k, v, setOptions);
    while (this.size > this.maxEntries) this.pop();
    return this;
  }
}
