// Prometheus metrics. One registry per server instance (not prom-client's
// global one) so that several servers in one process, as in tests, never
// share counters. Label values come from closed sets (reason codes, decisions).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReasonCode } from '../types/Reason.ts';

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class Metrics {
  readonly registry = new Registry();
  readonly checks: Counter<'decision' | 'reason'>;
  readonly checkDuration: Histogram<'decision'>;
  readonly evalDuration: Histogram;
  readonly policyInfo: Gauge<'revision'>;
  readonly policyLoads: Counter<'policy' | 'result'>;
  readonly shadowEvaluations: Counter<'route' | 'result'>;
  readonly decisionLogDropped: Counter;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'ztauthz_' });
    this.checks = new Counter({
      name: 'ztauthz_checks_total',
      help: 'Check calls answered, by decision (allow, deny) and stable reason code.',
      labelNames: ['decision', 'reason'],
      registers,
    });
    this.checkDuration = new Histogram({
      name: 'ztauthz_check_duration_seconds',
      help: 'Time to answer one Check, from the bytes arriving to the response being built.',
      labelNames: ['decision'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.evalDuration = new Histogram({
      name: 'ztauthz_policy_evaluation_duration_seconds',
      help: 'Time spent in policy evaluation (wasm) for one Check.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.policyInfo = new Gauge({
      name: 'ztauthz_policy_info',
      help: 'The active policy revision (value 1).',
      labelNames: ['revision'],
      registers,
    });
    this.policyLoads = new Counter({
      name: 'ztauthz_policy_loads_total',
      help: 'Policy loads and reloads by policy (active, shadow) and result (success, failure: the previous policy kept serving).',
      labelNames: ['policy', 'result'],
      registers,
    });
    this.shadowEvaluations = new Counter({
      name: 'ztauthz_shadow_evaluations_total',
      help: 'Shadow policy evaluations by route and result (agree, disagree, error) against the active decision.',
      labelNames: ['route', 'result'],
      registers,
    });
    this.decisionLogDropped = new Counter({
      name: 'ztauthz_decision_log_dropped_total',
      help: 'Decision records not written because the log output could not keep up.',
      registers,
    });
  }

  recordCheck(allowed: boolean, reason: ReasonCode, seconds: number): void {
    const decision = allowed ? 'allow' : 'deny';
    this.checks.inc({ decision, reason });
    this.checkDuration.observe({ decision }, seconds);
  }

  setPolicyRevision(revision: string): void {
    this.policyInfo.reset();
    this.policyInfo.set({ revision }, 1);
  }
}
