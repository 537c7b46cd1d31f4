// Holds the active policy. Swapping is one reference assignment, so a Check
// that already took `current` finishes on the policy it started with.
import type { PolicyEngine } from './PolicyEngine.ts';

export class PolicyStore {
  #current: PolicyEngine | undefined;
  readonly #listeners = new Set<(engine: PolicyEngine) => void>();

  get current(): PolicyEngine | undefined {
    return this.#current;
  }

  activate(engine: PolicyEngine): void {
    this.#current = engine;
    for (const l of this.#listeners) l(engine);
  }

  onActivate(listener: (engine: PolicyEngine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
