// /metrics as prom-client writes it: valid for promtool, named per
// Prometheus conventions, with per-identity series capped at
// metrics.max_identities plus one overflow series, however many arrive.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { Metrics, NO_ROUTE } from '../../src/observe/Metrics.ts';
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
    metrics.decisionLogErrors.inc();
    const observer = new Observer({ metrics, behavior: new BehaviorSignals() });
    const t = Date.now();
    observer.finish(observer.begin(undefined), observed({ timestamp: t }));
    observer.finish(observer.begin(undefined), observed({ timestamp: t, cache: 'hit' }));
    observer.finish(
      observer.begin(undefined),
      observed({ timestamp: t, decision: deny(), identity: workload(MODEL_SERVER), route: route('feast-get-online-features', 'read_features', null) }),
    );
    observer.finish(
      observer.begin(undefined),
      observed({
        timestamp: t,
        decision: deny(Reason.requestMalformed),
        identity: null,
        route: null,
        cache: 'off',
        input: undefined,
        timings: { checkNs: 5000, evalNs: 0 },
      }),
    );
    metrics.recordSignal(FRONTEND, 'deny_spike');
    const text = await metrics.registry.metrics();
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    for (const name of [
      'ztauthz_checks_total',
      'ztauthz_check_errors_total',
      'ztauthz_check_duration_seconds',
      'ztauthz_policy_evaluation_duration_seconds',
      'ztauthz_decision_cache_lookups_total',
      'ztauthz_decision_cache_entries',
      'ztauthz_decision_cache_bytes',
      'ztauthz_decision_cache_evictions_total',
      'ztauthz_identity_checks_total',
      'ztauthz_identity_labels',
      'ztauthz_identity_labels_max',
      'ztauthz_behavior_signals_total',
      'ztauthz_behavior_tracked_identities',
      'ztauthz_policy_info',
      'ztauthz_policy_loads_total',
      'ztauthz_decision_log_sampled_out_total',
      'ztauthz_decision_log_dropped_total',
      'ztauthz_decision_log_errors_total',
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

describe('process metrics', () => {
  // observe/PromClient.ts: prom-client's defaults without its index, whose CPU metric loads @opentelemetry/api.
  it("are prom-client's defaults under ztauthz_, the CPU counters counting", async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 2e6; i++) Math.sqrt(i);
    const text = await metrics.registry.metrics();
    for (const name of [
      'ztauthz_process_cpu_user_seconds_total',
      'ztauthz_process_cpu_system_seconds_total',
      'ztauthz_process_cpu_seconds_total',
      'ztauthz_process_start_time_seconds',
      'ztauthz_process_resident_memory_bytes',
      'ztauthz_nodejs_eventloop_lag_seconds',
      'ztauthz_nodejs_heap_size_used_bytes',
      'ztauthz_nodejs_version_info',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    const cpu = await values(metrics, 'ztauthz_process_cpu_seconds_total');
    const user = await values(metrics, 'ztauthz_process_cpu_user_seconds_total');
    expect(cpu[0]!.value).toBeGreaterThan(0);
    expect(cpu[0]!.value).toBeGreaterThanOrEqual(user[0]!.value);
  });

  it('load without OpenTelemetry', () => {
    const script = [
      "const { createRequire } = await import('node:module');",
      "const { Metrics } = await import('./src/observe/Metrics.ts');",
      'await new Metrics().registry.metrics();',
      "const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('opentelemetry'));",
      'console.log(JSON.stringify(loaded));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
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

describe('per-Check series counted at scrape time', () => {
  const t = 1_000_000;
  const allow = (m: Metrics, route: string, seconds = 0.0002, spiffeId: string | null = FRONTEND): string =>
    m.recordCheck(true, Reason.allowed, route, seconds, 0.0001, 'hit', false, spiffeId, t);
  const checks = async (m: Metrics): Promise<Map<string, number>> =>
    new Map((await values(m, 'ztauthz_checks_total')).map((r) => [`${r.labels['decision']}/${r.labels['reason']}/${r.labels['route']}`, r.value]));

  it('every scrape shows what was counted since, once', async () => {
    const m = new Metrics({ processMetrics: false });
    for (let i = 0; i < 5; i++) allow(m, 'r1');
    m.recordCheck(false, Reason.policyError, NO_ROUTE, 0.001, 0, 'off', false, null, t);
    expect(await checks(m)).toEqual(
      new Map([
        ['allow/allowed/r1', 5],
        ['deny/policy_error/none', 1],
      ]),
    );
    // A second read (text, JSON, one metric) must not add the same counts again.
    const text = await m.registry.metrics();
    expect(text).toContain('ztauthz_checks_total{decision="allow",reason="allowed",route="r1"} 5');
    expect(text).toContain('ztauthz_check_errors_total{reason="policy_error"} 1');
    expect(text).toContain(`ztauthz_identity_checks_total{identity="${FRONTEND}",route="r1",decision="allow"} 5`);
    await m.registry.getMetricsAsJSON();
    expect(await checks(m)).toEqual(
      new Map([
        ['allow/allowed/r1', 5],
        ['deny/policy_error/none', 1],
      ]),
    );
    for (let i = 0; i < 3; i++) allow(m, 'r1');
    allow(m, 'r2');
    m.recordCheck(false, Reason.policyError, NO_ROUTE, 0.001, 0, 'miss', true, null, t);
    expect(await checks(m)).toEqual(
      new Map([
        ['allow/allowed/r1', 8],
        ['deny/policy_error/none', 2],
        ['allow/allowed/r2', 1],
      ]),
    );
    const again = await m.registry.metrics();
    expect(again).toContain('ztauthz_check_errors_total{reason="policy_error"} 2');
    expect(again).toContain('ztauthz_check_errors_total{reason="internal_error"} 0');
    expect(again).toContain('ztauthz_decision_cache_lookups_total{result="hit"} 9');
    expect(again).toContain('ztauthz_decision_cache_lookups_total{result="miss"} 1');
    expect(again).not.toContain('ztauthz_decision_cache_lookups_total{result="off"}');
    expect(again).not.toContain('result="bypass"');
    expect(again).toContain('ztauthz_request_shortcuts_total 1');
    expect(again).toContain(`ztauthz_identity_checks_total{identity="${FRONTEND}",route="r1",decision="allow"} 8`);
    expect(again).toContain('ztauthz_identity_checks_total{identity="none",route="none",decision="deny"} 2');
    expect(again).toContain('ztauthz_check_duration_seconds_count{decision="allow"} 9');
    expect(again).toContain('ztauthz_check_duration_seconds_count{decision="deny"} 2');
    // Evaluation time is observed only for Checks that evaluated (evalSeconds > 0).
    expect(again).toContain('ztauthz_policy_evaluation_duration_seconds_count 9');
    expect(promtool(['check', 'metrics'], again).status).toBe(0);
  });

  it('histograms read as prom-client Histograms fed the same observations', async () => {
    const m = new Metrics({ processMetrics: false });
    const reference = new Registry();
    const buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    const checkDuration = new Histogram({
      name: 'ztauthz_check_duration_seconds',
      help: 'Time to answer one Check, from the bytes arriving to the response being built.',
      labelNames: ['decision'],
      buckets,
      registers: [reference],
    });
    const evalDuration = new Histogram({
      name: 'ztauthz_policy_evaluation_duration_seconds',
      help: 'Time spent in policy evaluation (wasm) for one Check.',
      buckets,
      registers: [reference],
    });
    const same = async (): Promise<void> => {
      for (const name of ['ztauthz_check_duration_seconds', 'ztauthz_policy_evaluation_duration_seconds']) {
        expect(await m.registry.getSingleMetricAsString(name)).toBe(await reference.getSingleMetricAsString(name));
        expect(await m.registry.getSingleMetric(name)!.get()).toEqual(await reference.getSingleMetric(name)!.get());
      }
    };
    // Before any Check: the unlabelled histogram shows zeros, the labelled one nothing.
    await same();
    // Bounds are inclusive (le); 2 is past every bound (+Inf only); 0 is in the first bucket.
    const seconds = [0.00001, 0.00005, 0.0001, 0.00012, 0.0004, 0.001, 0.003, 0.2, 1, 2, 0];
    seconds.forEach((s, i) => {
      const allowed = i % 3 !== 0;
      m.recordCheck(allowed, allowed ? Reason.allowed : Reason.policyDenied, 'r', s, i % 2 ? s / 2 : 0, 'miss', false, null, t);
      checkDuration.observe({ decision: allowed ? 'allow' : 'deny' }, s);
      if (i % 2) evalDuration.observe(s / 2);
    });
    await same();
    const text = await m.registry.getSingleMetricAsString('ztauthz_check_duration_seconds');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="0.00005",decision="allow"} 2');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="0.0001",decision="allow"} 3');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="1",decision="allow"} 7');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="+Inf",decision="allow"} 7');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="+Inf",decision="deny"} 4');
    expect(text).toContain(`ztauthz_check_duration_seconds_sum{decision="deny"} ${0.00001 + 0.00012 + 0.003 + 2}`);
  });

  it('an evicted identity loses its series, flushed or not; back, it starts from zero', async () => {
    const m = new Metrics({ processMetrics: false, maxIdentities: 1, identityIdleSeconds: 60 });
    const a = 'spiffe://td/a';
    const b = 'spiffe://td/b';
    m.recordCheck(true, Reason.allowed, 'r1', 0.001, 0, 'off', false, a, t);
    m.recordCheck(false, Reason.policyDenied, 'r2', 0.001, 0, 'off', false, a, t);
    m.recordSignal(a, 'rate_jump');
    expect(identityLabelValues(await values(m, 'ztauthz_identity_checks_total'))).toEqual(new Set([a]));
    m.recordCheck(true, Reason.allowed, 'r1', 0.001, 0, 'off', false, a, t + 1); // counted, never scraped
    // b takes a's slot once a has been idle 60 s.
    expect(m.recordCheck(true, Reason.allowed, 'r1', 0.001, 0, 'off', false, b, t + 61_001)).toBe(b);
    let rows = await values(m, 'ztauthz_identity_checks_total');
    expect(rows.map((r) => [r.labels['identity'], r.value])).toEqual([[b, 1]]);
    expect(await values(m, 'ztauthz_behavior_signals_total')).toEqual([]);
    // The per-route series do not depend on identities.
    expect(await checks(m)).toEqual(
      new Map([
        ['allow/allowed/r1', 3],
        ['deny/policy_denied/r2', 1],
      ]),
    );
    // a comes back when b is idle in turn, and counts from zero.
    expect(m.recordCheck(true, Reason.allowed, 'r1', 0.001, 0, 'off', false, a, t + 200_000)).toBe(a);
    rows = await values(m, 'ztauthz_identity_checks_total');
    expect(rows.map((r) => [r.labels['identity'], r.labels['route'], r.value])).toEqual([[a, 'r1', 1]]);
  });

  it('sums over workers: the cluster primary aggregates getMetricsAsJSON()', async () => {
    const workers = [new Metrics({ processMetrics: false }), new Metrics({ processMetrics: false })];
    for (let i = 0; i < 3; i++) allow(workers[0]!, 'r1', 0.0002);
    allow(workers[1]!, 'r1', 0.002);
    workers[1]!.recordCheck(false, Reason.notReady, NO_ROUTE, 0.00003, 0, 'bypass', false, null, t);
    const once = async (): Promise<string> => AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON()))).metrics();
    await once();
    const text = await once();
    expect(text).toContain('ztauthz_checks_total{decision="allow",reason="allowed",route="r1"} 4');
    expect(text).toContain('ztauthz_checks_total{decision="deny",reason="not_ready",route="none"} 1');
    expect(text).toContain('ztauthz_check_errors_total{reason="not_ready"} 1');
    expect(text).toContain('ztauthz_check_errors_total{reason="policy_error"} 0');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="0.00025",decision="allow"} 3');
    expect(text).toContain('ztauthz_check_duration_seconds_bucket{le="0.0025",decision="allow"} 4');
    expect(text).toContain('ztauthz_check_duration_seconds_count{decision="allow"} 4');
    expect(text).toContain(`ztauthz_check_duration_seconds_sum{decision="allow"} ${0.0002 * 3 + 0.002}`);
    expect(text).toContain('ztauthz_check_duration_seconds_count{decision="deny"} 1');
    expect(text).toContain('ztauthz_policy_evaluation_duration_seconds_count 4');
    expect(text).toContain(`ztauthz_identity_checks_total{identity="${FRONTEND}",route="r1",decision="allow"} 4`);
    expect(promtool(['check', 'metrics'], text).status).toBe(0);
  });
});
