// The drop-in comparison: the same opa-envoy-style Rego file served by
// ztauthz (cache hit and miss paths) and by opa-envoy-plugin, next to a no-op
// grpc-js server (the transport's ceiling), all answering the same requests.
import { join } from 'node:path';
import { opaEnvoyPluginAvailable, RUNTIME_LABEL, startNoop, startOpaEnvoyPlugin, startZtauthz, type Contender, type Tools } from '../lib/Contenders.ts';
import { RUNTIME, RUNTIMES, type RuntimeName } from '../../test/support/runtime.ts';
import { measure, type Row, type RunSettings } from '../lib/Measure.ts';
import type { Shape } from '../lib/Requests.ts';

export const TABLE = 'Peers: the same Rego, the same requests';
const DROP_IN = 'bench/policies/drop-in';

export interface SuiteContext {
  readonly tools: Tools;
  readonly run: RunSettings;
  readonly serverCores: string;
  readonly notes: string[];
  /** `--quick`: the suite runs a reduced set. */
  readonly quick?: boolean;
}

/** Starts a contender, measures, and always stops it. */
export async function withContender<T>(start: () => Promise<Contender>, body: (c: Contender) => Promise<T>): Promise<T> {
  const c = await start();
  try {
    return await body(c);
  } finally {
    await c.process.stop();
  }
}

/**
 * A comparison row that may fail without failing the suite (a peer that does
 * not start): the note says which row is missing and why.
 */
export async function optional<T>(ctx: SuiteContext, what: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.slice(0, 300);
    console.error(`  ${what} failed: ${message}`);
    ctx.notes.push(`${what} is missing: ${message}`);
    return undefined;
  }
}

export async function peers(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const rows: Row[] = [];
  const hit: Shape = {};
  const miss: Shape = { distinct: true };
  const policy = { policy: DROP_IN };
  const ztauthz =
    (name: string, runtime: RuntimeName = RUNTIME, flags: Record<string, string> = policy) =>
    () =>
      startZtauthz(t, `ztauthz on ${RUNTIME_LABEL[runtime]} (${name})`, { cores, flags, runtime });
  const opaEnvoyPlugin = () => startOpaEnvoyPlugin(t, join(t.root, DROP_IN), cores, s.tmp);
  // Both runtimes side by side, the chosen one first: its rows carry the tags the targets are judged on.
  let zMiss: Row | undefined;
  for (const runtime of [RUNTIME, ...RUNTIMES.filter((r) => r !== RUNTIME)]) {
    const tag = (t: string) => (runtime === RUNTIME ? t : `${t}.${runtime}`);
    rows.push(
      await withContender(ztauthz('cache hit', runtime), (c) =>
        measure(t, c, s, { table: TABLE, scenario: 'one caller, one model', shape: hit, expect: 'allow', tag: tag('peers.hit') }),
      ),
    );
    const m = await withContender(ztauthz('cache miss', runtime), (c) =>
      measure(t, c, s, { table: TABLE, scenario: 'every request distinct', shape: miss, expect: 'allow', tag: tag('peers.miss') }),
    );
    rows.push(m);
    if (runtime === RUNTIME) zMiss = m;
    if (!ctx.quick) {
      // The same two with the decision log off, beside the defaults, to show what the log costs.
      const noLog = { ...policy, 'decision-log-enabled': 'false' };
      rows.push(
        await withContender(ztauthz('cache hit, decision log off', runtime, noLog), (c) =>
          measure(t, c, s, { table: TABLE, scenario: 'one caller, one model', shape: hit, expect: 'allow', tag: tag('peers.hit.nolog') }),
        ),
      );
      rows.push(
        await withContender(ztauthz('cache miss, decision log off', runtime, noLog), (c) =>
          measure(t, c, s, { table: TABLE, scenario: 'every request distinct', shape: miss, expect: 'allow', tag: tag('peers.miss.nolog') }),
        ),
      );
    }
  }
  let opa: Row | undefined;
  if (opaEnvoyPluginAvailable(t)) {
    opa = await optional(ctx, 'Peers: the opa-envoy-plugin row', () =>
      withContender(opaEnvoyPlugin, (c) =>
        measure(t, c, s, { table: TABLE, scenario: 'every request distinct', shape: miss, expect: 'allow', tag: 'peers.opa-envoy-plugin' }),
      ),
    );
    if (opa) rows.push(opa);
  } else {
    ctx.notes.push(`opa-envoy-plugin is not installed (${t.opaEnvoyPlugin}): run \`bash scripts/peers.sh\` first; its rows are missing from this run.`);
  }
  rows.push(
    await withContender(
      () => startNoop(t, cores),
      (c) => measure(t, c, s, { table: TABLE, scenario: 'every request distinct', shape: miss, expect: 'allow', tag: 'peers.noop' }),
    ),
  );
  // --quick leaves the fixed-load pair out to stay within its minute; its p99 target falls back to full speed.
  if (opa && zMiss && !ctx.quick) rows.push(...(await sameOfferedLoad(ctx, miss, zMiss, opa, ztauthz('cache miss'), opaEnvoyPlugin)));
  return rows;
}

/**
 * The miss path's latency against opa-envoy-plugin's at the same offered
 * load: at full speed each is measured at its own throughput, so the slower
 * one also queues longer. Half the lower of the two saturated rates is a load
 * both serve without a standing queue.
 */
async function sameOfferedLoad(
  ctx: SuiteContext,
  shape: Shape,
  zMiss: Row,
  opa: Row,
  ztauthz: () => Promise<Contender>,
  opaEnvoyPlugin: () => Promise<Contender>,
): Promise<Row[]> {
  const { tools: t, run: s } = ctx;
  const rps = Math.max(100, Math.floor(Math.min(zMiss.rps, opa.rps) / 2 / 100) * 100);
  const scenario = `every request distinct, ${rps.toLocaleString('en-US')} RPS offered`;
  const rows: Row[] = [];
  const z = await optional(ctx, 'Peers: the fixed-load ztauthz row', () =>
    withContender(ztauthz, (c) => measure(t, c, s, { table: TABLE, scenario, shape, expect: 'allow', tag: 'peers.miss.fixed', rps })),
  );
  const o = await optional(ctx, 'Peers: the fixed-load opa-envoy-plugin row', () =>
    withContender(opaEnvoyPlugin, (c) => measure(t, c, s, { table: TABLE, scenario, shape, expect: 'allow', tag: 'peers.opa-envoy-plugin.fixed', rps })),
  );
  if (z) rows.push(z);
  if (o) rows.push(o);
  return rows;
}
