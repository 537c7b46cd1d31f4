// The latency ztauthz adds to a request through a real Envoy: ghz calls a
// gRPC upstream (the no-op server) through Envoy, once with Envoy alone and
// once with Envoy's ext_authz filter asking ztauthz first, at the same fixed
// offered load. The difference in p50 is what an authorised request pays.
// Two more rows put it in context: the same Envoy calling a no-op server (the
// hop's floor) and calling opa-envoy-plugin with the same policy (the peer).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { metricSum, opaEnvoyPluginAvailable, startNoop, startOpaEnvoyPlugin, startZtauthz, type Contender } from '../lib/Contenders.ts';
import { startEnvoy, type RunningEnvoy } from '../lib/Envoy.ts';
import { measure, type Row } from '../lib/Measure.ts';
import type { Pinned } from '../lib/Pinned.ts';
import { optional, withContender, type SuiteContext } from './peers.ts';

export const TABLE = 'Through Envoy: the latency ztauthz adds';
const POLICY = 'bench/policies/through-envoy';
const RPS = Number(process.env['BENCH_ENVOY_RPS'] ?? '500');
const CONCURRENCY = 8;

const parts = new WeakMap<Contender, Record<string, Pinned>>();
const envoys = new WeakMap<Contender, RunningEnvoy>();

/** Several processes measured as one: CPU and peak RSS summed, stopped together. */
function together(ps: readonly Pinned[]): Pinned {
  const first = ps[0]!;
  return {
    child: first.child,
    ready: first.ready,
    cpuSeconds: () => ps.reduce((n, p) => n + p.cpuSeconds(), 0),
    peakRssBytes: () => ps.reduce((n, p) => n + p.peakRssBytes(), 0),
    output: () => ps.map((p) => p.output()).join('\n'),
    stop: async () => {
      for (const p of ps) await p.stop();
    },
  };
}

export async function envoy(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores } = ctx;
  // Envoy, the upstream and ghz share ghz's core; ztauthz has the server core.
  const side = s.ghzCores;
  const dir = mkdtempSync(join(s.tmp, 'envoy-'));
  const rows: Row[] = [];
  const opts = {
    table: TABLE,
    shape: { identities: 1, models: 1 },
    expect: 'allow' as const,
    rps: RPS,
    concurrency: CONCURRENCY,
    connections: 1,
    messages: 1024,
  };

  rows.push(
    await withContender(
      async (): Promise<Contender> => {
        const upstream = await startNoop(t, side);
        try {
          const e = await startEnvoy({ envoy: t.envoy, cores: side, dir, upstreamPort: upstream.port });
          const c: Contender = { name: 'Envoy alone', port: e.listenPort, process: together([e.process, upstream.process]) };
          parts.set(c, { Envoy: e.process, upstream: upstream.process });
          return c;
        } catch (err) {
          await upstream.process.stop();
          throw err;
        }
      },
      (c) =>
        measure(t, c, s, {
          ...opts,
          scenario: `gRPC call through Envoy to the no-op upstream, ${RPS} RPS offered`,
          tag: 'envoy.alone',
          serverCores: side,
          cpuParts: parts.get(c)!,
        }),
    ),
  );

  /**
   * Envoy with ext_authz calling `authz` (pinned to the server core), in front of the same upstream.
   * `column` names the authz server's own "CPU per Check" column.
   */
  const throughAuthz = (name: string, startAuthz: () => Promise<Contender>, scenario: string, tag: string, column = 'ztauthz'): Promise<Row> =>
    withContender(
      async (): Promise<Contender> => {
        const started: Pinned[] = [];
        try {
          const z = await startAuthz();
          started.push(z.process);
          const upstream = await startNoop(t, side);
          started.push(upstream.process);
          const e = await startEnvoy({ envoy: t.envoy, cores: side, dir, upstreamPort: upstream.port, authzPort: z.port });
          started.push(e.process);
          // metricsPort: the hit ratio and the Check count are the authz server's (ztauthz only).
          const c: Contender = {
            name,
            port: e.listenPort,
            ...(z.metricsPort ? { metricsPort: z.metricsPort } : {}),
            process: together([e.process, upstream.process, z.process]),
          };
          parts.set(c, { Envoy: e.process, upstream: upstream.process, [column]: z.process });
          envoys.set(c, e);
          return c;
        } catch (err) {
          for (const p of started) await p.stop();
          throw err;
        }
      },
      async (c) => {
        const row = await measure(t, c, s, { ...opts, scenario, tag, cpuParts: parts.get(c)! });
        if (c.metricsPort !== undefined && !(await metricSum(c, 'ztauthz_checks_total'))) {
          throw new Error('envoy suite: ztauthz answered no Checks, so Envoy did not call it: the row would not measure ext_authz');
        }
        // The other authz servers have no counter of their own: Envoy's says whether it called them and they allowed.
        const ok = (await envoys.get(c)!.stats('ext_authz'))['http.ingress.ext_authz.ok'] ?? 0;
        if (ok < (row.count ?? 1)) {
          throw new Error(`envoy suite: Envoy counted ${ok} allowed ext_authz calls to ${name} for ${row.count} requests: the row would not measure ext_authz`);
        }
        return row;
      },
    );
  rows.push(
    await throughAuthz(
      'Envoy + ext_authz → ztauthz',
      () => startZtauthz(t, 'ztauthz', { cores: serverCores, flags: { policy: POLICY } }),
      `the same, ext_authz (gRPC, 0.5 s timeout, fail closed) calling ztauthz, ${RPS} RPS offered`,
      'envoy.ztauthz',
    ),
  );
  // The floor of an ext_authz hop on this machine: the same Envoy calling a server that answers OK and does nothing else.
  rows.push(
    await throughAuthz(
      'Envoy + ext_authz → no-op server',
      () => startNoop(t, serverCores),
      `the same, ext_authz calling the no-op server instead (the cost of the hop itself), ${RPS} RPS offered`,
      'envoy.noop',
    ),
  );
  // The reference peer through the same Envoy, with the same Rego (package envoy.authz, opa-envoy-plugin's
  // default path envoy/authz/allow, as the peers suite loads bench/policies/drop-in).
  if (opaEnvoyPluginAvailable(t)) {
    const opa = await optional(ctx, 'Envoy: the opa-envoy-plugin row', () =>
      throughAuthz(
        'Envoy + ext_authz → opa-envoy-plugin',
        () => startOpaEnvoyPlugin(t, join(t.root, POLICY), serverCores, dir),
        `the same, ext_authz calling opa-envoy-plugin with the same policy, ${RPS} RPS offered`,
        'envoy.opa-envoy-plugin',
        'opa-envoy-plugin',
      ),
    );
    if (opa) rows.push(opa);
  } else {
    ctx.notes.push(
      `Envoy: opa-envoy-plugin is not installed (${t.opaEnvoyPlugin}): run \`bash scripts/peers.sh\` first; the "Envoy + ext_authz → opa-envoy-plugin" row is missing from this run.`,
    );
  }

  ctx.notes.push(
    `Envoy: ${t.envoy} with --concurrency 1, a plaintext HTTP/2 listener routing to the no-op server (ztauthz's transport on its runtime, as a generic gRPC upstream); ghz sends Authorization/Check to the upstream through Envoy at a fixed ${RPS} RPS, -c ${CONCURRENCY}, one connection. Envoy, the upstream and ghz are pinned to core ${side}, the authz server to core ${serverCores}: ztauthz and opa-envoy-plugin (GOMAXPROCS=1, no decision logs) load the same bench/policies/through-envoy, which allows exactly that call (Envoy sends no principal), and the suite checks through Envoy that each allows it before measuring. "server CPU per Check", "cores used" and peak RSS in this table are summed over Envoy, the upstream and (rows 2 to 4) the authz server, with each one's CPU per Check in its own column (the ztauthz column holds ztauthz's in row 2 and the no-op server's in row 3; opa-envoy-plugin's, row 4, has its own) (CPU per call is higher at this fixed, moderate load than when saturated: fewer calls share each event-loop turn); the hit ratio is ztauthz's: Envoy's CheckRequests differ only in volatile fields (x-request-id, request time), so they are cache hits after the first. The third row is the floor of the ext_authz hop itself: the same Envoy calling a server that answers OK without any work, so row 2 minus row 3 is what ztauthz's own work adds. The fourth row is the reference peer, opa-envoy-plugin, behind the same Envoy: its added p50 against ztauthz's is the drop-in comparison through Envoy.`,
  );
  return rows;
}
