// Evaluates a candidate policy on live traffic without enforcing it. Runs
// after the active decision has been answered (setImmediate), on a sampled
// fraction, and reports agreement per route, so a rollout can be judged
// before it is made.
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { errorText } from '../policy/PolicyEngine.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import type { Decision } from '../types/Decision.ts';
import type { JsonObject } from '../types/Json.ts';

export type ShadowResult = 'agree' | 'disagree' | 'error';

export interface ShadowReport {
  readonly decision_id: string;
  readonly route: string;
  readonly result: ShadowResult;
  readonly active: { readonly allowed: boolean; readonly http_status: number };
  readonly shadow: { readonly allowed: boolean; readonly http_status: number; readonly reason: string } | null;
  readonly shadow_revision: string;
}

export type ShadowSink = (report: ShadowReport) => void;

export class ShadowPolicy {
  readonly #store: PolicyStore;
  readonly #sample: number;
  readonly #sink: ShadowSink;
  readonly #random: () => number;

  constructor(store: PolicyStore, sample: number, sink: ShadowSink, random: () => number = Math.random) {
    this.#store = store;
    this.#sample = sample;
    this.#sink = sink;
    this.#random = random;
  }

  /** Schedules a shadow evaluation of the same input and entrypoint, unless sampled out. */
  observe(input: JsonObject, entrypoint: string, active: Decision, route: string, decisionId: string): void {
    const engine = this.#store.current;
    if (!engine || (this.#sample < 1 && this.#random() >= this.#sample)) return;
    setImmediate(async () => {
      let shadow: Decision | undefined;
      let result: ShadowResult;
      let reason = '';
      try {
        shadow = decisionFromResultSet(await engine.evaluateAnywhere(input, entrypoint));
        result = shadow.allowed === active.allowed && (active.allowed || shadow.httpStatus === active.httpStatus) ? 'agree' : 'disagree';
      } catch (err) {
        result = 'error';
        reason = errorText(err);
      }
      this.#sink({
        decision_id: decisionId,
        route,
        result,
        active: { allowed: active.allowed, http_status: active.allowed ? 200 : active.httpStatus },
        shadow: shadow
          ? { allowed: shadow.allowed, http_status: shadow.allowed ? 200 : shadow.httpStatus, reason: shadow.reason }
          : result === 'error'
            ? { allowed: false, http_status: 0, reason }
            : null,
        shadow_revision: engine.revision,
      });
    });
  }
}
