// /metrics as prom-client writes it: valid for promtool, named per
// Prometheus conventions, with per-identity series capped at
// metrics.max_identities plus one overflow series, however many arrive.
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Metrics } from '../../src/observe/Metrics.ts';
import { IdentityLabels, NO_IDENTITY, OVERFLOW_IDENTITY } from '../../src/observe/IdentityLabels.ts';
import { Observer } from '../../src/observe/Observer.ts';
import { BehaviorSignals } from '../../src/observe/BehaviorSignals.ts';
import { Reason } from '../../src/types/Reason.ts';
import { FRONTEND, MODEL_SERVER, deny, observed, promtool, route, workload } from './support/checks.ts';

async function values(m: Metrics, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Array<{ labels: Record<string, string | number>; value: number }>;
}

function identityLabelValues(rows: Array<{ labels: Record<string, string | number> }>): Set<string> {
  return new Set(rows.map((r) => String(r.labels['identity'])));
}

describe('/metrics text', () => {
  it('passes promtool check metrics with every metric populated', async () => {
    const metrics = new Metrics();
    metrics.watchCache({ stats: { evictions: 3 }, entries: 10, bytes: 4096 });
    metrics.setPolicyRevision('rev-1');
    metrics.policyLoads.inc({ policy: 'active', result: 'failure' });
    metrics.shadowEvaluations.inc({ route: 'kserve-v2-infer', result: 'agree' });
    metrics.decisionLogDropped.inc();
    metrics.decisionLogSampledOut.inc();
    const observer = new Observer({ metrics, behavior: new BehaviorSignals() });
    const t = Date.now();
    observer.finish(observer.begin(undefined), observed({ timestamp: t }));
    observer.finish(observer.begin(undefined), observed({ timestamp: t, cache: 'hit' }));
    observer.finish(observer.begin(undefined), observed({ timestamp: t, decision: deny(), identity: workload(MODEL_SERVER), route: route('feast-get-online-features', 'read_features', null) }));
    observer.finish(observer.begin(undefined), observed({ timestamp: t, decision: deny(Reason.requestMalformed), identity: null, route: null, cache: 'off', input: undefined, timings: { checkNs: 5000, evalNs: 0 } }));
    metrics.recordSignal(FRONTEND, 'deny_spike');
    const text = await metrics.registry.metrics();
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    for (const name of [
      'ztauthz_checks_total', 'ztauthz_check_errors_total', 'ztauthz_check_duration_seconds', 'ztauthz_policy_evaluation_duration_seconds',
      'ztauthz_decision_cache_lookups_total', 'ztauthz_decision_cache_entries', 'ztauthz_decision_cache_bytes', 'ztauthz_decision_cache_evictions_total',
      'ztauthz_identity_checks_total', 'ztauthz_identity_labels', 'ztauthz_identity_labels_max', 'ztauthz_behavior_signals_total',
      'ztauthz_behavior_tracked_identities', 'ztauthz_policy_info', 'ztauthz_policy_loads_total', 'ztauthz_decision_log_sampled_out_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('ztauthz_checks_total{decision="deny",reason="policy_denied",route="feast-get-online-features"} 1');
    expect(text).toContain('ztauthz_checks_total{decision="deny",reason="request_malformed",route="none"} 1');
    expect(text).toContain('ztauthz_check_errors_total{reason="request_malformed"} 1');
    expect(text).toContain('ztauthz_check_errors_total{reason="policy_error"} 0');
    expect(text).not.toContain('ztauthz_check_errors_total{reason="policy_denied"}');
    expect(text).toContain('ztauthz_decision_cache_lookups_total{result="hit"} 1');
    expect(text).toContain('ztauthz_decision_cache_evictions_total 3');
    expect(text).toContain(`ztauthz_identity_checks_total{identity="${FRONTEND}",route="kserve-v2-infer",decision="allow"} 2`);
    expect(text).toContain(`ztauthz_identity_checks_total{identity="${MODEL_SERVER}",route="feast-get-online-features",decision="deny"} 1`);
    expect(text).toContain('ztauthz_identity_checks_total{identity="none",route="none",decision="deny"} 1');
    expect(text).toContain('ztauthz_identity_labels 2');
    expect(text).toContain('ztauthz_identity_labels_max 1000');
    expect(text).toContain('ztauthz_behavior_tracked_identities 2');
  });
});

describe('per-identity series', () => {
  it('appear per identity, and stop at the limit plus one overflow series', async () => {
    const metrics = new Metrics({ processMetrics: false, maxIdentities: 50 });
    const observer = new Observer({ metrics });
    const now = Date.now();
    for (let i = 0; i < 500; i++) {
      const identity = workload(`spiffe://cluster.local/ns/team-${i}/sa/client`);
      observer.finish(observer.begin(undefined), observed({ identity, timestamp: now }));
    }
    let rows = await values(metrics, 'ztauthz_identity_checks_total');
    expect(rows).toHaveLength(51);
    const labels = identityLabelValues(rows);
    expect(labels.has(OVERFLOW_IDENTITY)).toBe(true);
    expect(labels.has('spiffe://cluster.local/ns/team-0/sa/client')).toBe(true);
    expect(labels.has('spiffe://cluster.local/ns/team-49/sa/client')).toBe(true);
    expect(labels.has('spiffe://cluster.local/ns/team-50/sa/client')).toBe(false);
    expect(rows.find((r) => r.labels['identity'] === OVERFLOW_IDENTITY)!.value).toBe(450);
    // An admitted identity keeps counting on its own series after the cap is reached.
    observer.finish(observer.begin(undefined), observed({ identity: workload('spiffe://cluster.local/ns/team-7/sa/client'), timestamp: now }));
    rows = await values(metrics, 'ztauthz_identity_checks_total');
    expect(rows.find((r) => r.labels['identity'] === 'spiffe://cluster.local/ns/team-7/sa/client')!.value).toBe(2);
    expect(rows).toHaveLength(51);
    const text = await metrics.registry.metrics();
    expect(promtool(['check', 'metrics'], text).status).toBe(0);
    expect(text).toContain('ztauthz_identity_labels 50');
  });

  it('an idle identity gives its slot (and its series) to a new one once the cap is reached', async () => {
    const metrics = new Metrics({ processMetrics: false, maxIdentities: 2, identityIdleSeconds: 60 });
    const t0 = 1_000_000;
    metrics.recordIdentity('spiffe://td/a', 'r', true, t0);
    metrics.recordSignal('spiffe://td/a', 'rate_jump');
    metrics.recordIdentity('spiffe://td/b', 'r', true, t0 + 50_000);
    expect(metrics.recordIdentity('spiffe://td/c', 'r', true, t0 + 30_000)).toBe(OVERFLOW_IDENTITY);
    // a has been idle 61 s, b only 11 s: a's slot goes to c.
    expect(metrics.recordIdentity('spiffe://td/c', 'r', false, t0 + 61_000)).toBe('spiffe://td/c');
    const ids = identityLabelValues(await values(metrics, 'ztauthz_identity_checks_total'));
    expect([...ids].sort()).toEqual([OVERFLOW_IDENTITY, 'spiffe://td/b', 'spiffe://td/c']);
    expect(await values(metrics, 'ztauthz_behavior_signals_total')).toEqual([]);
  });

  it('checks without a verified identity count under "none", outside the cap', () => {
    const labels = new IdentityLabels({ max: 0, idleMs: 0 });
    expect(labels.label(null, 0)).toBe(NO_IDENTITY);
    expect(labels.label('spiffe://td/x', 0)).toBe(OVERFLOW_IDENTITY);
  });

  it('a million distinct identities through the limiter: max series, bounded memory', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const evicted: string[] = [];
    const limiter = new IdentityLabels({ max: 1000, idleMs: 3_600_000, onEvict: (id) => evicted.push(id) });
    gc();
    const before = process.memoryUsage().heapUsed;
    const seen = new Set<string>();
    let overflow = 0;
    const now = 5_000_000;
    for (let i = 0; i < 1_000_000; i++) {
      const label = limiter.label(`spiffe://cluster.local/ns/tenant-${i}/sa/workload`, now + (i >> 10));
      if (label === OVERFLOW_IDENTITY) overflow++;
      else if (seen.size < 2000) seen.add(label);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(limiter.size).toBe(1000);
    expect(seen.size).toBe(1000);
    expect(overflow).toBe(999_000);
    expect(limiter.overflowed).toBe(999_000);
    expect(evicted).toEqual([]);
    // 1000 map entries plus the 1000 labels kept in `seen` here: far under 8 MB; a million would be ~100 MB.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });
});
