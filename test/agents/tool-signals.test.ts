// Behaviour signals for MCP tool calls: first_seen_tool (an identity calls a
// tool it was never allowed to call) and tool_deny_spike (its denied tool
// calls jump above its own baseline). First on scripted time, then through
// the real Check pipeline with the policy library, where they must become a
// metric and a decision-log event.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { BehaviorSignals, type SignalEvent, type ToolUse } from '../../src/observe/BehaviorSignals.ts';
import { DecisionLog } from '../../src/observe/DecisionLog.ts';
import { Metrics } from '../../src/observe/Metrics.ts';
import { Observer } from '../../src/observe/Observer.ts';
import { loadConfig } from '../../src/config/load.ts';
import { buildPhases, createPipeline } from '../../src/server/Pipeline.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { PolicyStore } from '../../src/policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../../src/envoy/ProtoJson.ts';
import { DEFAULT_MASK, tempFile } from '../observe/support/checks.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const PLANNER = 'spiffe://cluster.local/ns/fraud-agents/sa/planner';
const DOCS = 'spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp';

/** One Check of `identity` on the mcp-server route with these tool calls; returns its events. */
function call(s: BehaviorSignals, identity: string, now: number, tools: readonly ToolUse[]): readonly SignalEvent[] {
  s.observe(identity, 'mcp-server', now);
  return s.settle(
    identity,
    'mcp-server',
    tools.every((t) => t.allowed),
    now,
    tools,
  );
}

const use = (tool: string, allowed = true, server: string | null = 'docs'): ToolUse => ({ server, tool, allowed });

/** An agent past learning: an hour of tools/list and search_docs, 10 a minute, no denials. */
function warmed(): { s: BehaviorSignals; at: number } {
  const s = new BehaviorSignals();
  for (let m = 0; m < 60; m++) {
    for (let i = 0; i < 10; i++) expect(call(s, PLANNER, T0 + m * MIN + i * 5000, i % 2 ? [use('search_docs')] : [])).toEqual([]);
  }
  return { s, at: T0 + 60 * MIN };
}

describe('first_seen_tool', () => {
  it('fires on a tool the identity was never allowed to call, once, until it is allowed; server and tool together name it', () => {
    const { s, at } = warmed();
    expect(call(s, PLANNER, at, [use('search_docs')])).toEqual([]);
    expect(call(s, PLANNER, at + 1, [use('fetch_doc')])).toEqual([
      { signal: 'first_seen_tool', identity: PLANNER, route: 'mcp-server', server: 'docs', tool: 'fetch_doc', allowed: true },
    ]);
    expect(call(s, PLANNER, at + 2, [use('fetch_doc')])).toEqual([]);
    // The same name on another server, or at a bare /mcp, is another tool.
    expect(call(s, PLANNER, at + 3, [use('search_docs', true, 'wiki')])).toMatchObject([{ signal: 'first_seen_tool', server: 'wiki', tool: 'search_docs' }]);
    expect(call(s, PLANNER, at + 4, [use('search_docs', true, null)])).toMatchObject([{ signal: 'first_seen_tool', server: null }]);
    // Denied: reported once however often it is retried, and again never once it is allowed.
    expect(call(s, PLANNER, at + 5, [use('purge_index', false)])).toMatchObject([{ signal: 'first_seen_tool', tool: 'purge_index', allowed: false }]);
    expect(call(s, PLANNER, at + 6, [use('purge_index', false)])).toEqual([]);
    expect(call(s, PLANNER, at + 7, [use('purge_index')])).toEqual([]);
    expect(call(s, PLANNER, at + 8, [use('purge_index')])).toEqual([]);
  });

  it('tools allowed while the identity was learning are known afterwards; every call of an allowed batch counts', () => {
    const { s, at } = warmed();
    const events = call(s, PLANNER, at, [use('a'), use('b'), use('search_docs')]);
    expect(events.map((e) => e.tool)).toEqual(['a', 'b']);
  });

  it('remembers at most max_tools_per_identity tools: the earliest learned is reported again', () => {
    const s = new BehaviorSignals({ maxToolsPerIdentity: 3, learningSeconds: 0 });
    for (let m = 0; m < 3; m++) call(s, PLANNER, T0 + m * MIN, []);
    const at = T0 + 3 * MIN;
    for (const [i, t] of ['t1', 't2', 't3', 't4'].entries()) expect(call(s, PLANNER, at + i, [use(t)])).toHaveLength(1);
    expect(call(s, PLANNER, at + 10, [use('t4'), use('t3'), use('t2')])).toEqual([]);
    expect(call(s, PLANNER, at + 11, [use('t1')])).toMatchObject([{ signal: 'first_seen_tool', tool: 't1' }]);
  });
});

describe('tool_deny_spike', () => {
  it("fires on a burst of denied tool calls against the identity's own baseline, once per episode", () => {
    const { s, at } = warmed();
    const events: SignalEvent[] = [];
    // 30 denied calls of granted-looking tools in one minute (baseline: none).
    for (let i = 0; i < 30; i++) events.push(...call(s, PLANNER, at + i * 1000, [use('search_docs', false)]));
    const spikes = events.filter((e) => e.signal === 'tool_deny_spike');
    expect(spikes).toEqual([
      { signal: 'tool_deny_spike', identity: PLANNER, route: 'mcp-server', server: 'docs', tool: 'search_docs', count: 10, baseline: 0 },
    ]);
    // deny_spike counts every denial of the identity, so it fires too; the tool signal says they were tool calls.
    expect(events.filter((e) => e.signal === 'deny_spike')).toHaveLength(1);
    // Quiet again after the episode: steady allowed traffic raises nothing.
    for (let m = 2; m < 12; m++) for (let i = 0; i < 10; i++) expect(call(s, PLANNER, at + m * MIN + i * 5000, [use('search_docs')])).toEqual([]);
  });

  it('calls that are not tools/call never count as tool calls', () => {
    const { s, at } = warmed();
    for (let i = 0; i < 30; i++) s.settle(PLANNER, 'mcp-server', false, at + i * 1000);
    expect(call(s, PLANNER, at + 40_000, [use('search_docs', false)]).filter((e) => e.signal === 'tool_deny_spike')).toEqual([]);
  });
});

describe('through the Check pipeline with the policy library', () => {
  const file = tempFile('tool-signals.log');
  const metrics = new Metrics({ processMetrics: false });
  const log = new DecisionLog({ enabled: true, output: file, includeInput: false, mask: DEFAULT_MASK }, metrics);
  const observer = new Observer({ metrics, decisionLog: log, behavior: new BehaviorSignals({ learningSeconds: 0 }) });
  afterAll(() => vi.useRealTimers());

  it('a first tool call and a burst of denied tool calls become a metric and a decision-log event each', async () => {
    // The pipeline's clock is the system clock: scripted, so the identity has a completed window.
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    const config = loadConfig({ file: 'deploy/config/library.yaml' });
    const policies = new PolicyStore();
    const phases = buildPhases(config, policies);
    policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
    const pipeline = createPipeline(config, policies, phases, { observer });
    const check = (body: unknown) =>
      pipeline.check(
        Buffer.from(
          encodeCheckRequestJson({
            attributes: {
              source: { principal: PLANNER },
              destination: { principal: DOCS },
              request: {
                http: { method: 'POST', host: 'docs', path: '/docs/mcp', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
              },
            },
          }),
        ),
      );
    const tool = (name: string, id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

    for (let i = 0; i < 5; i++) expect((await check({ jsonrpc: '2.0', id: i, method: 'tools/list' })).decision.allowed).toBe(true);
    vi.setSystemTime(T0 + 2 * MIN);
    expect((await check(tool('search_docs', 10))).decision.allowed).toBe(true);
    expect((await check(tool('search_docs', 11))).decision.allowed).toBe(true);
    // A batch refused for its second call: only that call counts, as a denied tool call.
    for (let i = 0; i < 12; i++) expect((await check([tool('search_docs', 100 + i), tool('purge_index', 200 + i)])).decision.allowed).toBe(false);
    await log.close();

    const events = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'behavior');
    expect(events.filter((e) => e.signal === 'first_seen_tool').map((e) => [e.tool, e.server, e.allowed])).toEqual([
      ['search_docs', 'docs', true],
      ['purge_index', 'docs', false],
    ]);
    expect(events.filter((e) => e.signal === 'tool_deny_spike')).toMatchObject([
      { identity: PLANNER, route: 'mcp-server', server: 'docs', tool: 'purge_index', count: 10 },
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toContain(`ztauthz_behavior_signals_total{signal="first_seen_tool",identity="${PLANNER}"} 2`);
    expect(text).toContain(`ztauthz_behavior_signals_total{signal="tool_deny_spike",identity="${PLANNER}"} 1`);
  });
});
