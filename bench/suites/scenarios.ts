// Traffic shapes closer to a mesh than the peers' one-request runs: a
// realistic caller/model mix, a hot set, many headers, a JSON body, mTLS on
// the authz listener, and the policy library (policies/library) with its own
// configuration. ztauthz serves the drop-in Rego (as in the peers suite) and
// opa-envoy-plugin, where installed, the same Rego for the same shapes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pki } from '../../test/support/pki.ts';
import { prng } from '../../test/support/prng.ts';
import { cacheCounts, opaEnvoyPluginAvailable, startOpaEnvoyPlugin, startZtauthz, type Contender } from '../lib/Contenders.ts';
import { runGhzAsync } from '../lib/Ghz.ts';
import { measure, type MeasureOptions, type Row } from '../lib/Measure.ts';
import { delimited, requests, type Shape } from '../lib/Requests.ts';
import { optional, withContender, type SuiteContext } from './peers.ts';

export const TABLE = 'Scenarios: traffic shapes, mTLS, the policy library';
const DROP_IN = 'bench/policies/drop-in';

const REALISTIC: Shape = { zipf: { identities: 10_000, models: 50 } };
/** Messages per data file for the realistic mix: the Zipf tail needs many draws, more would only slow ghz down. */
const MIX_MESSAGES = 8192;
/** 16 KB bodies: fewer messages keep the data file (and ghz's memory) small. */
const BODY_MESSAGES = 2048;

interface Case {
  readonly tag: string;
  readonly scenario: string;
  readonly shape: Shape;
  readonly messages: number;
  readonly quick: boolean;
}

const CASES: readonly Case[] = [
  { tag: 'realistic', scenario: 'realistic mix: Zipf over 10,000 identities × 50 models', shape: REALISTIC, messages: MIX_MESSAGES, quick: true },
  { tag: 'hot-set', scenario: 'hot set: 16 identities × 5 models cycling (80 pairs)', shape: { identities: 16, models: 5 }, messages: 4096, quick: false },
  { tag: 'headers-100', scenario: 'realistic mix + 100 headers', shape: { ...REALISTIC, headers: 100 }, messages: MIX_MESSAGES, quick: false },
  {
    tag: 'body-16k',
    scenario: 'realistic mix + 16 KB JSON body (model name inside)',
    shape: { ...REALISTIC, bodyBytes: 16 * 1024 },
    messages: BODY_MESSAGES,
    quick: false,
  },
];

export async function scenarios(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const rows: Row[] = [];
  const opa = opaEnvoyPluginAvailable(t);
  const cases = CASES.filter((c) => !ctx.quick || c.quick);
  const opts = (c: Case, who: string): MeasureOptions => ({
    table: TABLE,
    scenario: c.scenario,
    shape: c.shape,
    expect: 'allow',
    messages: c.messages,
    tag: `scenarios.${c.tag}.${who}`,
  });
  for (const c of cases) {
    rows.push(
      await withContender(
        () => startZtauthz(t, 'ztauthz', { cores, flags: { policy: DROP_IN } }),
        (z) => measure(t, z, s, opts(c, 'ztauthz')),
      ),
    );
    if (opa) {
      const row = await optional(ctx, `Scenarios: the opa-envoy-plugin row for ${c.scenario}`, () =>
        withContender(
          () => startOpaEnvoyPlugin(t, join(t.root, DROP_IN), cores, s.tmp),
          (o) => measure(t, o, s, opts(c, 'opa-envoy-plugin')),
        ),
      );
      if (row) rows.push(row);
    }
  }
  if (!opa) ctx.notes.push('Scenarios: opa-envoy-plugin is not installed, so only ztauthz rows are shown.');
  if (!ctx.quick)
    ctx.notes.push(
      `Scenarios: the realistic mix sends ${MIX_MESSAGES.toLocaleString('en-US')} Zipf draws (s = 1.1) round-robin, the 16 KB body ${BODY_MESSAGES.toLocaleString('en-US')} (to keep ghz's memory small), so the body run repeats its keys sooner and its hit ratio is higher; a fresh server per row, the warm-up fills its cache.`,
    );

  await optional(ctx, 'Scenarios: the header-order probe', () => headerOrderProbe(ctx));
  if (!ctx.quick) rows.push(await mtls(ctx));
  rows.push(...(await library(ctx)));
  return rows;
}

/**
 * ghz decodes each prepared CheckRequest and encodes it again, and Go writes
 * protobuf map entries (the headers) in random order; Envoy keeps them in a
 * stable order. If ztauthz's cache key depends on that order, its hit ratios
 * under ghz understate those behind Envoy: one 100-header request sent over
 * and over tells, and the notes say so when it does.
 */
async function headerOrderProbe(ctx: SuiteContext): Promise<void> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const file = join(s.tmp, 'header-order-probe.bin');
  writeFileSync(file, delimited(requests({ headers: 100 }, 1, 'probe', prng(7))));
  const counts = await withContender(
    () => startZtauthz(t, 'ztauthz', { cores, flags: { policy: DROP_IN } }),
    async (z) => {
      await runGhzAsync({ ghz: t.ghz, cwd: t.root, cores: s.ghzCores, port: z.port, dataFile: file, seconds: 1, concurrency: 1, connections: 1 });
      return cacheCounts(z);
    },
  );
  if (!counts) return;
  const total = counts.hit + counts.miss;
  if (total > 0 && counts.miss > Math.max(2, 0.05 * total)) {
    ctx.notes.push(
      `Scenarios (and every ztauthz hit ratio here): ghz re-encodes each request and Go writes the headers map in random order. Probe: one 100-header request sent ${total} times by ghz hit ${((100 * counts.hit) / total).toFixed(0)} % (${counts.miss} misses), so ztauthz's cache key depends on header order and its hit ratios under ghz are lower than behind Envoy, which keeps the order stable.`,
    );
  }
}

/** The realistic mix with mTLS on ztauthz's gRPC listener (grpc.tls.mode files): ghz presents a client SVID. */
async function mtls(ctx: SuiteContext): Promise<Row> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const pki = new Pki();
  try {
    const ca = pki.ca('cluster.local');
    const serverName = 'ztauthz.bench.local';
    const files = {
      ca: join(ca.dir, 'ca.pem'),
      key: join(pki.dir, 'leaf.key'),
      server: join(pki.dir, 'server.pem'),
      client: join(pki.dir, 'client.pem'),
    };
    writeFileSync(files.server, pki.leaf(ca, { uris: ['spiffe://cluster.local/ns/ztauthz/sa/ztauthz'], dns: [serverName] }));
    const client = 'spiffe://cluster.local/ns/bench/sa/loadgen';
    writeFileSync(files.client, pki.leaf(ca, { uris: [client] }));
    const flags = {
      policy: DROP_IN,
      'grpc-tls-mode': 'files',
      'grpc-tls-cert-file': files.server,
      'grpc-tls-key-file': files.key,
      'grpc-tls-ca-file': files.ca,
      'grpc-tls-allowed-peers': client,
    };
    const clientTls = { cacert: files.ca, cert: files.client, key: files.key, serverName };
    const row = await withContender(
      () => startZtauthz(t, 'ztauthz (mTLS listener)', { cores, flags, clientTls }),
      (z: Contender) =>
        measure(t, z, s, {
          table: TABLE,
          scenario: 'realistic mix over mTLS (P-256 SVIDs, allowed peer checked)',
          shape: REALISTIC,
          expect: 'allow',
          messages: MIX_MESSAGES,
          tag: 'scenarios.mtls.ztauthz',
        }),
    );
    ctx.notes.push(
      `Scenarios: mTLS uses --grpc-tls-mode=files with a P-256 CA, a server certificate (DNS ${serverName} + SPIFFE URI) and ghz's client SVID ${client} as the one allowed peer; ghz keeps its ${s.connections} connections open, so handshakes are not in the measured cost. opa-envoy-plugin has no TLS on its gRPC listener (open-policy-agent/opa-envoy-plugin#649), so it has no mTLS row.`,
    );
    return row;
  } finally {
    pki.cleanup();
  }
}

/** ztauthz-native: the policy library with deploy/config/library.yaml, SPIFFE identity and AI route parsed. */
async function library(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores: cores } = ctx;
  const frontend = 'spiffe://cluster.local/ns/web/sa/frontend';
  const base: Shape = { principal: frontend, model: 'fraud-detector', bodyBytes: 160 };
  const start = (): Promise<Contender> => startZtauthz(t, 'ztauthz (policy library)', { cores, configFile: 'deploy/config/library.yaml' });
  const row = await withContender(start, (z) =>
    measure(t, z, s, {
      table: TABLE,
      scenario: 'policy library: frontend → POST /v2/models/fraud-detector/infer (KServe v2 body)',
      shape: base,
      expect: 'allow',
      tag: 'scenarios.library',
    }),
  );
  ctx.notes.push(
    `Scenarios: the policy library row runs \`serve --config deploy/config/library.yaml\` (policies/library, routes.unmatched deny) with ${frontend} as source.principal and the KServe v2 route naming the model; the run first checks that ztauthz allows it. The library reads the clock (batch windows), so its decisions are not cached (cache.time_dependent_ttl_ms 0): every Check is evaluated, and the hit ratio is "—".`,
  );
  return [row];
}
