// The configured bundles (bundles.<name>) as one policy, activated all or
// nothing, as OPA's bundle plugin does: nothing serves until every bundle has
// loaded once; after that, a new copy of one bundle is combined with the
// others' current copies, and only a combination that loads replaces the
// serving policy. A copy that does not combine is refused and changes
// nothing: the previous combination keeps serving, and that bundle's previous
// copy stays the one combined next time. Offers are taken one at a time, in
// arrival order, so two bundles changing at once never race each other.
import type { PolicyEngine } from '../PolicyEngine.ts';
import type { BundlePart } from './BundleParts.ts';

export interface BundleSetOptions {
  /** Every configured bundle, in configuration order. */
  readonly names: readonly string[];
  /** One policy from one copy of each bundle (throws when they do not load together). */
  readonly combine: (parts: readonly BundlePart[]) => Promise<PolicyEngine>;
  /** A combination loaded: serve it. `changed` is the bundle whose new copy made it. */
  readonly activated: (engine: PolicyEngine, parts: readonly BundlePart[], changed: string, source: 'download' | 'persisted') => void;
}

export class BundleSet {
  readonly #o: BundleSetOptions;
  /** The current copy of each bundle that has one: in the serving combination once all have. */
  #parts = new Map<string, BundlePart>();
  #active = new Map<string, BundlePart>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: BundleSetOptions) {
    this.#o = opts;
  }

  /** Takes a new copy of one bundle: 'active' once serving, 'waiting' while other bundles have none yet; throws when refused. */
  offer(part: BundlePart, source: 'download' | 'persisted'): Promise<'active' | 'waiting'> {
    const run = this.#queue.then(() => this.#offer(part, source));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The bundles with no copy yet (what readiness waits for). */
  missing(): string[] {
    return this.#o.names.filter((n) => !this.#parts.has(n));
  }

  /** The bundle's copy in the serving combination. */
  active(name: string): BundlePart | undefined {
    return this.#active.get(name);
  }

  /** The bundle has a copy that waits for the others. */
  waiting(name: string): boolean {
    return this.#parts.has(name) && !this.#active.has(name);
  }

  async #offer(part: BundlePart, source: 'download' | 'persisted'): Promise<'active' | 'waiting'> {
    const next = new Map(this.#parts).set(part.name, part);
    if (this.#o.names.some((n) => !next.has(n))) {
      this.#parts = next;
      return 'waiting';
    }
    const parts = this.#o.names.map((n) => next.get(n)!);
    const engine = await this.#o.combine(parts);
    this.#parts = next;
    this.#active = next;
    this.#o.activated(engine, parts, part.name, source);
    return 'active';
  }
}
