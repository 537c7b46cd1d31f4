// Bounded identity label values for Prometheus. Every distinct label value is
// a time series that Prometheus and this process keep, so the number of
// identities that get their own series is capped: the first `max` identities
// seen (per process) keep their own value, every later one is counted under
// OVERFLOW_IDENTITY until an admitted identity has been idle long enough to
// give its slot back. Memory is one Map entry per admitted identity and
// nothing per rejected one, so a million distinct identities cost what
// `max` of them cost.

/** Label value of identities past the cap. */
export const OVERFLOW_IDENTITY = '__overflow__';
/** Label value of Checks without a verified workload identity. */
export const NO_IDENTITY = 'none';

export interface IdentityLabelOptions {
  /** Most identities with their own label value (OVERFLOW_IDENTITY and NO_IDENTITY are not counted). */
  readonly max: number;
  /**
   * An admitted identity idle this long (ms) may lose its slot when a new one
   * needs it; its series are removed (onEvict) and restart from zero if it
   * comes back. 0: slots are never given back.
   */
  readonly idleMs: number;
  /** Told when an identity loses its slot, so its series can be removed. */
  readonly onEvict?: ((identity: string) => void) | undefined;
}

export class IdentityLabels {
  readonly max: number;
  readonly #idleMs: number;
  readonly #onEvict: ((identity: string) => void) | undefined;
  /** identity -> last time it was labelled (ms). */
  readonly #lastSeen = new Map<string, number>();
  #lastSweep = -Infinity;
  #overflowed = 0;

  constructor(opts: IdentityLabelOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 0) throw new RangeError(`identity label limit must be a non-negative integer (got ${opts.max})`);
    this.max = opts.max;
    this.#idleMs = Math.max(0, opts.idleMs);
    this.#onEvict = opts.onEvict;
  }

  /** The label value for a SPIFFE ID (null: no verified identity) at time `now` (ms). */
  label(identity: string | null, now: number): string {
    if (identity === null || identity === '') return NO_IDENTITY;
    const map = this.#lastSeen;
    if (map.has(identity)) {
      map.set(identity, now);
      return identity;
    }
    if (map.size >= this.max && !this.#sweep(now)) {
      this.#overflowed++;
      return OVERFLOW_IDENTITY;
    }
    map.set(identity, now);
    return identity;
  }

  /** Identities that currently have their own label value. */
  get size(): number {
    return this.#lastSeen.size;
  }

  /** Labels handed out as OVERFLOW_IDENTITY so far. */
  get overflowed(): number {
    return this.#overflowed;
  }

  /**
   * Frees the slots of idle identities. Runs at most once per quarter of the
   * idle time (and at most once a second), so a flood of new identities costs
   * one O(max) pass per interval, not one per Check. True when a slot is free.
   */
  #sweep(now: number): boolean {
    if (this.#idleMs === 0 || now - this.#lastSweep < Math.max(1000, this.#idleMs / 4)) return false;
    this.#lastSweep = now;
    const cutoff = now - this.#idleMs;
    for (const [identity, seen] of this.#lastSeen) {
      if (seen > cutoff) continue;
      this.#lastSeen.delete(identity);
      this.#onEvict?.(identity);
    }
    return this.#lastSeen.size < this.max;
  }
}
