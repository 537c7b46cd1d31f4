// Counter series counted on our side and handed to prom-client at scrape time.
// A prom-client Counter's inc(labels) builds a hash string from the labels and
// validates them on every call; per Check that was most of the metrics cost.
// A Cell is one series: its labels object is built once, when the series is
// first counted, and a Check adds to `pending`. flush() moves pending counts
// into the Counter, from the Counter's collect(), so what prom-client reports
// is current at every scrape and nothing is counted twice.
import type { Counter } from 'prom-client';

/** Index of a decision in a DecisionPair: `allowed ? ALLOW : DENY`. */
export const DENY = 0;
export const ALLOW = 1;
/** Decision label values, indexed by DENY and ALLOW. */
export const DECISIONS = ['deny', 'allow'] as const;

export type DecisionLabel = (typeof DECISIONS)[number];

export class Cell {
  readonly #counter: Counter<string>;
  readonly labels: Readonly<Record<string, string>>;
  /** Counted since the last flush. */
  pending = 0;

  constructor(counter: Counter<string>, labels: Readonly<Record<string, string>>) {
    this.#counter = counter;
    this.labels = labels;
  }

  flush(): void {
    // A series nobody counted stays absent, as with prom-client (no inc(0)).
    if (this.pending === 0) return;
    this.#counter.inc(this.labels, this.pending);
    this.pending = 0;
  }

  /** Removes the series from the Counter; unflushed counts are dropped with it. */
  remove(): void {
    this.pending = 0;
    this.#counter.remove(this.labels);
  }
}

/** The deny and allow series of one label combination, indexed by DENY and ALLOW. */
export type DecisionPair = readonly [Cell, Cell];

/**
 * The series of a Counter labelled by two values (outer, inner) and the
 * decision, e.g. route and reason. Grouped by the outer value so that all of
 * one identity's series can be dropped at once.
 */
export class DecisionCells {
  readonly #counter: Counter<string>;
  readonly #labels: (outer: string, inner: string, decision: DecisionLabel) => Record<string, string>;
  readonly #cells = new Map<string, Map<string, DecisionPair>>();

  /** `labels` makes a series' label object, with the names in the order /metrics shows them. */
  constructor(counter: Counter<string>, labels: (outer: string, inner: string, decision: DecisionLabel) => Record<string, string>) {
    this.#counter = counter;
    this.#labels = labels;
  }

  /** Two Map lookups once the combination has been seen; allocates only the first time. */
  pair(outer: string, inner: string): DecisionPair {
    let byInner = this.#cells.get(outer);
    if (byInner === undefined) this.#cells.set(outer, (byInner = new Map()));
    let pair = byInner.get(inner);
    // Not a closure here: capturing outer and inner would allocate a context on every call.
    if (pair === undefined) byInner.set(inner, (pair = [this.#cell(outer, inner, DECISIONS[DENY]), this.#cell(outer, inner, DECISIONS[ALLOW])]));
    return pair;
  }

  #cell(outer: string, inner: string, decision: DecisionLabel): Cell {
    return new Cell(this.#counter, this.#labels(outer, inner, decision));
  }

  flush(): void {
    for (const byInner of this.#cells.values()) {
      for (const pair of byInner.values()) {
        pair[DENY].flush();
        pair[ALLOW].flush();
      }
    }
  }

  /** Forgets every series under `outer` and removes them from the Counter. */
  drop(outer: string): void {
    const byInner = this.#cells.get(outer);
    if (byInner === undefined) return;
    this.#cells.delete(outer);
    for (const pair of byInner.values()) {
      pair[DENY].remove();
      pair[ALLOW].remove();
    }
  }
}
