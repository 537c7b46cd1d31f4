// Cost growth curves: how ztauthz's cost per Check grows with the number of
// routes in its table, the number of distinct callers, the headers per
// request and the body size. The policy is ztauthz-native
// (bench/policies/native: reads input.route and input.identity) and the
// decision cache is off, so every Check is decoded, identified, routed and
// evaluated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricSum, startZtauthz, type Contender } from '../lib/Contenders.ts';
import { measure, type Row } from '../lib/Measure.ts';
import type { Shape } from '../lib/Requests.ts';
import { withContender, type SuiteContext } from './peers.ts';

const NATIVE = 'bench/policies/native';
const NO_CACHE = { policy: NATIVE, 'cache-enabled': 'false' };

const ROUTES = [10, 100, 1_000, 10_000];
const IDENTITIES = [10, 1_000, 100_000, 1_000_000];
const HEADERS = [10, 25, 50, 100];
const BODY_KB = [1, 4, 16, 64];

/** Full curves; --quick keeps the ends. */
const points = (all: readonly number[], quick: boolean | undefined): number[] => (quick ? [all[0]!, all[all.length - 1]!] : [...all]);
const n = (v: number): string => v.toLocaleString('en-US');

/** A config whose routes.table has `count` KServe v2 inference routes under /tenant-<i>/ and nothing else. */
function routesConfig(dir: string, count: number): string {
  const lines = ['routes:', '  mode: replace', '  table:'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `    - name: tenant-${i}-infer`,
      '      methods: [POST]',
      `      path: /tenant-${i}/v2/models/{model}/infer`,
      '      api: kserve-v2',
      '      action: infer',
    );
  }
  const file = join(dir, `routes-${count}.yaml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export async function growth(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const rows: Row[] = [];
  const one = async (
    table: string,
    tag: string,
    scenario: string,
    shape: Shape,
    messages: number,
    configFile: string | undefined,
    extra: Record<string, number | string>,
    after?: (c: Contender, run: { count: number; messages: number }) => Promise<Record<string, number | string>>,
  ): Promise<void> => {
    rows.push(
      await withContender(
        () => startZtauthz(t, 'ztauthz (no cache)', { cores, flags: NO_CACHE, ...(configFile ? { configFile } : {}) }),
        (c) => measure(t, c, s, { table, tag, scenario, shape, expect: 'allow', messages, extra, ...(after ? { after } : {}) }),
      ),
    );
  };

  // Routes: requests cycle over every tenant prefix, so each route is matched.
  const routeMessages = Math.max(...ROUTES);
  for (const count of points(ROUTES, ctx.quick)) {
    await one(
      'Growth: routes in the table',
      'growth.routes',
      `${n(count)} routes`,
      { routePrefixes: count, identities: 10, models: 5 },
      routeMessages,
      routesConfig(s.tmp, count),
      { routes: count },
      async (_c, run) => ({
        'routes sent': n(Math.min(count, run.messages, run.count)),
      }),
    );
  }

  // Identities: a run can only present as many callers as it sends requests.
  const idMessages = ctx.quick ? 20_000 : 50_000;
  for (const count of points(IDENTITIES, ctx.quick)) {
    await one(
      'Growth: distinct callers',
      'growth.identities',
      `${n(count)} identities`,
      { identities: count },
      Math.min(count, idMessages),
      undefined,
      {},
      async (c, run) => {
        const tracked = await metricSum(c, 'ztauthz_behavior_tracked_identities');
        const labels = await metricSum(c, 'ztauthz_identity_labels');
        return {
          'identities sent': n(Math.min(count, run.messages, run.count)),
          'tracked (behavior)': tracked === undefined ? '—' : n(tracked),
          'metric series': labels === undefined ? '—' : n(labels),
        };
      },
    );
  }

  for (const count of points(HEADERS, ctx.quick)) {
    await one('Growth: headers per request', 'growth.headers', `${count} headers`, { headers: count }, 1024, undefined, { headers: count });
  }

  for (const kb of points(BODY_KB, ctx.quick)) {
    // Big bodies, few messages: with the cache off nothing depends on repeats.
    const messages = Math.max(32, Math.min(1024, Math.floor((16 * 1024) / kb)));
    await one('Growth: request body size', 'growth.body', `${kb} KB JSON body`, { bodyBytes: kb * 1024 }, messages, undefined, { 'body bytes': n(kb * 1024) });
  }

  ctx.notes.push(
    'Growth: ztauthz with bench/policies/native and --cache-enabled=false, so every Check is decoded, identified, routed and evaluated (no cache hits); a fresh server per point.',
    `Growth, routes: a config with routes.mode replace and N KServe v2 routes /tenant-<i>/v2/models/{model}/infer; the requests cycle over all N prefixes (${n(routeMessages)} messages per data file).`,
    `Growth, identities: callers spiffe://cluster.local/ns/team-<i % 10>/sa/svc-<i> cycling over N, but a run presents at most as many distinct callers as it sends requests (data files of up to ${n(idMessages)} messages, sent round-robin): "identities sent" is the distinct count the measured run actually sent, min(N, messages, Checks). ztauthz's per-identity state is bounded by configuration (behavior.max_identities 10,000 LRU, metrics.max_identities 1,000 series); "tracked (behavior)" and "metric series" are read from /metrics after the run.`,
  );
  return rows;
}
