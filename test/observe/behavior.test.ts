// Behaviour signals on scripted traffic: each fires on its pattern (a new
// route, a burst of denials, a jump in rate) and stays quiet on steady
// traffic; state stays bounded; signals reach metrics and the decision log.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { BehaviorSignals, LEARNING_VIEW, QUIET_VIEW, type BehaviorView, type SignalEvent } from '../../src/observe/BehaviorSignals.ts';
import { DecisionLog } from '../../src/observe/DecisionLog.ts';
import { Metrics } from '../../src/observe/Metrics.ts';
import { Observer, decisionRecord } from '../../src/observe/Observer.ts';
import { DEFAULT_MASK, FRONTEND, MODEL_SERVER, deny, observed, route, tempFile, workload } from './support/checks.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1); // a window boundary
const ROUTES = ['kserve-v2-infer', 'kserve-v2-model-ready', 'openai-chat-completions'];

interface Traffic {
  readonly identity: string;
  readonly from: number;
  readonly minutes: number;
  /** Requests per minute; a function gives a per-minute rate (jitter). */
  readonly perMinute: number | ((minute: number) => number);
  readonly routes?: readonly string[];
  /** Every n-th request is denied (0: none). */
  readonly denyEvery?: number;
}

/** Runs requests evenly spread over each minute; returns every view and every event. */
function drive(s: BehaviorSignals, t: Traffic): { views: BehaviorView[]; events: SignalEvent[]; end: number } {
  const views: BehaviorView[] = [];
  const events: SignalEvent[] = [];
  const routes = t.routes ?? ROUTES;
  let n = 0;
  for (let m = 0; m < t.minutes; m++) {
    const rate = typeof t.perMinute === 'number' ? t.perMinute : t.perMinute(m);
    for (let i = 0; i < rate; i++) {
      const now = t.from + m * MIN + Math.floor((i * MIN) / rate);
      const r = routes[n % routes.length] as string;
      n++;
      views.push(s.observe(t.identity, r, now));
      events.push(...s.settle(t.identity, r, !(t.denyEvery && n % t.denyEvery === 0), now));
    }
  }
  return { views, events, end: t.from + t.minutes * MIN };
}

/** Deterministic jitter: 45..75 requests a minute. */
const jitter = (m: number): number => 45 + ((m * 7919) % 31);

/** Two hours of steady traffic from FRONTEND: past learning, with a settled baseline. */
function warmed(): { s: BehaviorSignals; at: number } {
  const s = new BehaviorSignals();
  const { events, end } = drive(s, { identity: FRONTEND, from: T0, minutes: 120, perMinute: jitter, denyEvery: 20 });
  expect(events).toEqual([]);
  return { s, at: end };
}

describe('steady traffic', () => {
  it('stays quiet: no events, and input.behavior is one constant object after learning', () => {
    const s = new BehaviorSignals();
    const { views, events } = drive(s, { identity: FRONTEND, from: T0, minutes: 24 * 60, perMinute: jitter, denyEvery: 20 });
    expect(events).toEqual([]);
    const afterLearning = views.slice(views.findIndex((v) => !v.learning));
    expect(afterLearning.length).toBeGreaterThan(60_000);
    expect(afterLearning.every((v) => v === QUIET_VIEW)).toBe(true);
  });

  it('a low-volume identity (2 a minute) stays quiet; one always denied raises no spike, only one first-seen event per route', () => {
    const s = new BehaviorSignals();
    expect(drive(s, { identity: FRONTEND, from: T0, minutes: 600, perMinute: 2 }).events).toEqual([]);
    // Never allowed, so its routes are never learned: first_seen_route stays up (steadily), reported once per route.
    const denied = drive(s, { identity: MODEL_SERVER, from: T0, minutes: 600, perMinute: 40, denyEvery: 1 });
    expect(denied.events.map((e) => `${e.signal} ${e.route}`).sort()).toEqual(ROUTES.map((r) => `first_seen_route ${r}`).sort());
    const afterLearning = denied.views.slice(denied.views.findIndex((v) => !v.learning));
    expect(afterLearning.every((v) => v === afterLearning[0])).toBe(true);
    expect(afterLearning[0]).toEqual({ first_seen_route: true, deny_spike: false, rate_jump: false, learning: false });
  });

  it('a new identity is learning first: nothing fires while it builds a baseline', () => {
    const s = new BehaviorSignals();
    const { views, events } = drive(s, { identity: FRONTEND, from: T0, minutes: 5, perMinute: 600, denyEvery: 2, routes: ['a', 'b', 'c', 'd'] });
    expect(events).toEqual([]);
    expect(views.every((v) => v === LEARNING_VIEW)).toBe(true);
    expect(s.observe(null, 'a', T0)).toBe(LEARNING_VIEW);
  });
});

describe('first_seen_route', () => {
  it('fires on a route the identity was never allowed on, once, and clears when a request on it is allowed', () => {
    const { s, at } = warmed();
    const training = 'feast-get-online-features';
    const first = s.observe(FRONTEND, training, at);
    expect(first).toEqual({ first_seen_route: true, deny_spike: false, rate_jump: false, learning: false });
    expect(s.settle(FRONTEND, training, false, at)).toEqual([{ signal: 'first_seen_route', identity: FRONTEND, route: training }]);
    // Denied, so not learned: a retry still sees it, without a second event.
    expect(s.observe(FRONTEND, training, at + 1000).first_seen_route).toBe(true);
    expect(s.settle(FRONTEND, training, true, at + 1000)).toEqual([]);
    // Allowed once (say after a step-up): known from now on.
    expect(s.observe(FRONTEND, training, at + 2000)).toBe(QUIET_VIEW);
    expect(s.observe(FRONTEND, ROUTES[0]!, at + 3000)).toBe(QUIET_VIEW);
  });

  it('routes allowed during learning are known afterwards', () => {
    const { s, at } = warmed();
    for (const r of ROUTES) expect(s.observe(FRONTEND, r, at).first_seen_route).toBe(false);
  });
});

describe('deny_spike', () => {
  it("fires on a burst of denials against the identity's own baseline, once per episode, then clears", () => {
    const { s, at } = warmed();
    // One minute of probing: 60 requests, 40 of them denied (baseline: ~3 a minute).
    const probe = drive(s, { identity: FRONTEND, from: at, minutes: 1, perMinute: 60, denyEvery: 1, routes: ROUTES });
    const spikes = probe.events.filter((e) => e.signal === 'deny_spike');
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ identity: FRONTEND, count: 10 });
    expect(spikes[0]!.baseline).toBeGreaterThan(1);
    expect(spikes[0]!.baseline).toBeLessThan(5);
    expect(probe.views.at(-1)!.deny_spike).toBe(true);
    expect(probe.events.filter((e) => e.signal !== 'deny_spike')).toEqual([]);
    // Back to normal: held through the next window, then quiet.
    const after = drive(s, { identity: FRONTEND, from: probe.end, minutes: 10, perMinute: jitter, denyEvery: 20 });
    expect(after.events).toEqual([]);
    expect(after.views[0]!.deny_spike).toBe(true);
    expect(after.views.at(-1)).toBe(QUIET_VIEW);
  });
});

describe('rate_jump', () => {
  it("fires when requests jump above the identity's own baseline, and stops once the new rate is the baseline", () => {
    const { s, at } = warmed();
    const burst = drive(s, { identity: FRONTEND, from: at, minutes: 10, perMinute: 400 });
    const jumps = burst.events.filter((e) => e.signal === 'rate_jump');
    expect(jumps).toHaveLength(1);
    expect(jumps[0]!.count).toBeGreaterThan(3 * jumps[0]!.baseline!);
    expect(burst.views.some((v) => v.rate_jump)).toBe(true);
    expect(burst.views.at(-1)).toBe(QUIET_VIEW);
    expect(burst.events.filter((e) => e.signal !== 'rate_jump')).toEqual([]);
  });
});

describe('bounds', () => {
  it('tracks at most max_identities; an evicted identity comes back learning (a false negative, never a false alarm)', () => {
    const s = new BehaviorSignals({ maxIdentities: 1000 });
    for (let i = 0; i < 100_000; i++) s.observe(`spiffe://td/ns/n${i}/sa/s`, 'r', T0 + i);
    expect(s.size).toBe(1000);
    const small = new BehaviorSignals({ maxIdentities: 10 });
    drive(small, { identity: FRONTEND, from: T0, minutes: 60, perMinute: 10 });
    for (let i = 0; i < 10; i++) small.observe(`spiffe://td/other-${i}`, 'r', T0 + 60 * MIN);
    expect(small.observe(FRONTEND, 'never-seen', T0 + 61 * MIN)).toBe(LEARNING_VIEW);
  });
});

describe('through the Observer', () => {
  it('signals become metrics and decision-log events, and input.behavior reaches the record', async () => {
    const file = tempFile('decisions.log');
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: file, includeInput: false, mask: DEFAULT_MASK }, metrics);
    const behavior = new BehaviorSignals();
    const observer = new Observer({ metrics, decisionLog: log, behavior });
    const serving = workload(MODEL_SERVER);
    const infer = route('kserve-v2-infer');
    // The pipeline does not have to call behavior(): finish() counts the request itself then.
    for (let m = 0; m < 30; m++)
      for (let i = 0; i < 10; i++)
        observer.finish(observer.begin(undefined), observed({ identity: serving, route: infer, timestamp: T0 + m * MIN + i * 1000 }));
    const at = T0 + 30 * MIN;
    const feast = route('feast-get-online-features', 'read_features', null);
    const view = observer.behavior(MODEL_SERVER, feast.name, at);
    expect(view.first_seen_route).toBe(true);
    const record = decisionRecord(
      observer.finish(observer.begin(undefined), observed({ identity: serving, route: feast, decision: deny(), behavior: view, timestamp: at })),
    );
    expect(record.behavior).toEqual({ first_seen_route: true, deny_spike: false, rate_jump: false, learning: false });
    await log.close();
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === 'behavior');
    expect(events).toEqual([
      {
        type: 'behavior',
        timestamp: new Date(events[0].timestamp).toISOString(),
        decision_id: record.decision_id,
        signal: 'first_seen_route',
        identity: MODEL_SERVER,
        route: feast.name,
      },
    ]);
    expect(lines.at(-1)).toMatchObject({ decision_id: record.decision_id, behavior: { first_seen_route: true } });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`ztauthz_behavior_signals_total{signal="first_seen_route",identity="${MODEL_SERVER}"} 1`);
    expect(text).toContain('ztauthz_behavior_tracked_identities 1');
  });
});
