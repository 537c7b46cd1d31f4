// deploy/observability: the alerting rules pass promtool check rules and
// their unit tests (promtool test rules), every alert has a test that fires
// it, and the rules and the Grafana dashboard only use metrics ztauthz
// really exports, in PromQL that promtool accepts.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BundleMetrics, statusReportCounter } from '../../src/observe/BundleMetrics.ts';
import { DecisionUpload } from '../../src/observe/DecisionUpload.ts';
import { Metrics } from '../../src/observe/Metrics.ts';
import { promtool, writeTemp } from './support/checks.ts';

const DIR = join(import.meta.dirname, '../../deploy/observability');
const RULES = join(DIR, 'alerts.yaml');
const RULE_TESTS = join(DIR, 'alerts.test.yaml');
const DASHBOARD = join(DIR, 'grafana-dashboard.json');

interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
}

function rules(): AlertRule[] {
  return (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((g) => g.rules);
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Names of every metric a fully used Metrics registry exports (histograms with their _bucket/_sum/_count). */
async function exportedNames(): Promise<Set<string>> {
  const m = new Metrics();
  m.watchCache({ stats: { evictions: 0 }, entries: 0, bytes: 0 });
  // Registered when bundles.<name> and status are configured.
  BundleMetrics.of(m.registry);
  statusReportCounter(m.registry);
  // Registered when decision_log.upload names a service.
  await new DecisionUpload({
    post: async () => {},
    uploadLimitBytes: 32768,
    minDelayMs: 60_000,
    maxDelayMs: 60_000,
    backoffMs: () => 60_000,
    maxBufferBytes: 1024,
    maxBufferEvents: 1,
    labels: {},
    registry: m.registry,
  }).close(0);
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  return names;
}

function referenced(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((e) => e.match(/\bztauthz_[a-z0-9_]+/g) ?? []));
}

describe('alerting rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES]);
    expect(r.output).toContain(`SUCCESS: ${rules().length} rules found`);
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool(['test', 'rules', RULE_TESTS]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('cover what the issue asks for, each with a severity and unit tests where it fires and where it stays quiet', () => {
    const alerts = rules();
    expect(alerts.map((a) => a.alert)).toEqual([
      'ZtauthzIdentityDenySpike',
      'ZtauthzUnknownIdentityCalls',
      'ZtauthzCheckErrors',
      'ZtauthzCheckLatencyHigh',
      'ZtauthzPolicyReloadFailed',
      'ZtauthzIdentityLabelOverflow',
      'ZtauthzServingIdentityOnTrainingData',
      'ZtauthzBehaviorAnomaly',
      'ZtauthzFirstSeenRoute',
      'ZtauthzFirstSeenTool',
      'ZtauthzBundleDownloadsFailing',
      'ZtauthzDecisionLogUploadFailing',
      'ZtauthzDecisionLogRecordsDropped',
    ]);
    for (const a of alerts) expect(['critical', 'warning', 'info']).toContain(a.labels?.['severity']);
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const quiet = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
    for (const a of alerts) expect(fired, a.alert).toContain(a.alert);
    for (const a of alerts) expect(quiet, a.alert).toContain(a.alert);
  });
});

describe('Grafana dashboard', () => {
  it('is valid JSON with unique panel ids, and every query is PromQL promtool accepts', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Array<{ id: number; type: string; gridPos: object }> };
    expect(dash.uid).toBe('ztauthz-overview');
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) expect(p.gridPos).toBeDefined();
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(15);
    // Grafana's variables, replaced the way Grafana would, so each query can go into a recording rule.
    const concrete = exprs.map((e) =>
      e
        .replaceAll('$__rate_interval', '5m')
        .replaceAll('$__range', '6h')
        .replaceAll('$instance', '.*')
        .replaceAll('$identity', '.*')
        .replaceAll('$route', '.*'),
    );
    const file = writeTemp(
      'dashboard-rules.yaml',
      JSON.stringify({ groups: [{ name: 'dashboard', rules: concrete.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }),
    );
    const r = promtool(['check', 'rules', file]);
    expect(r.output).toContain(`SUCCESS: ${concrete.length} rules found`);
    expect(r.status).toBe(0);
  });

  it("rules and dashboard use only metrics ztauthz exports, and show every alert's signal", async () => {
    const exported = await exportedNames();
    const used = referenced([...rules().map((r) => r.expr), ...dashboardExprs()]);
    for (const name of used) expect(exported, name).toContain(name);
    const onDashboard = referenced(dashboardExprs());
    for (const name of referenced(rules().map((r) => r.expr))) expect(onDashboard, name).toContain(name);
  });
});
