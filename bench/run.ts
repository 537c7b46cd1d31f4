// The benchmark suite: `npm run bench` (everything, under 10 minutes on a
// 2-core machine) and `npm run bench:quick` (the peers and a reduced set of
// scenarios, under a minute). Writes bench/results/<name>.json and .md and
// prints the Markdown. See bench/README.md.
//
//   node bench/run.ts [--quick] [--only peers,scenarios,growth,envoy,workers] [--name NAME] [--seconds S]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tools as toolsAt } from './lib/Contenders.ts';
import { describeMachine, opaEnvoyPluginVersion } from './lib/machine.ts';
import { NOISY_CORES, type Row, type RunSettings } from './lib/Measure.ts';
import { killAll, tasksetAvailable } from './lib/Pinned.ts';
import { evaluateTargets, writeReport } from './lib/Report.ts';
import { envoy } from './suites/envoy.ts';
import { growth } from './suites/growth.ts';
import { peers, type SuiteContext } from './suites/peers.ts';
import { scenarios } from './suites/scenarios.ts';
import { workers } from './suites/workers.ts';

const SUITES: Record<string, (ctx: SuiteContext) => Promise<Row[]>> = { peers, scenarios, growth, envoy, workers };
/** What --quick runs unless --only says otherwise. */
const QUICK = ['peers', 'scenarios'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    name: { type: 'string' },
    seconds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(`node bench/run.ts [--quick] [--only ${Object.keys(SUITES).join(',')}] [--name NAME] [--seconds S]`);
  process.exit(0);
}
const quick = args.quick!;
const suites = args.only
  ? args.only
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
  : quick
    ? QUICK
    : Object.keys(SUITES);
for (const s of suites) if (!SUITES[s]) throw new Error(`unknown suite ${s}; known: ${Object.keys(SUITES).join(', ')}`);
const name = args.name ?? (quick ? 'quick' : 'latest');
if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name ${name}: letters, digits, ".", "_" and "-" only`);

const t = toolsAt(root);
for (const [tool, path] of [
  ['ghz', t.ghz],
  ['opa', t.opa],
] as const) {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/toolchain.sh\` (npm run bench does) to install ${tool}`);
}
if (!tasksetAvailable()) throw new Error('taskset (util-linux) is missing or cannot pin: the bench pins servers and ghz to cores');

const notes: string[] = [];
const cores = availableParallelism();
// A machine with cores to spare can give ghz more than one (BENCH_GHZ_CORES=1-3), so that it saturates the server.
const serverCores = process.env['BENCH_SERVER_CORES'] ?? '0';
const ghzCores = process.env['BENCH_GHZ_CORES'] ?? (cores >= 2 ? '1' : '0');
if (cores < 2) notes.push(`This machine offers ${cores} core: the servers and ghz share core 0, so every row is load-generator bound and RPS says little.`);
else if (cores > 2 && !process.env['BENCH_GHZ_CORES'])
  notes.push(
    `This machine has ${cores} cores; the bench uses cores ${serverCores} (servers) and ${ghzCores} (ghz) only: BENCH_GHZ_CORES (e.g. 1-3) gives ghz more.`,
  );

const seconds = Number(args.seconds ?? (quick ? 3 : 7));
const warmSeconds = quick ? 1 : 2;
mkdirSync(join(root, 'bench/results/tmp'), { recursive: true });
const tmp = mkdtempSync(join(root, 'bench/results/tmp', `${name}-`));
const run: RunSettings = {
  seconds,
  warmSeconds,
  ghzCores,
  concurrency: 32,
  connections: 2,
  tmp,
  serverCores,
  // A noisy run is measured again, within a budget: the full suite must stay under 10 minutes.
  maxRemeasures: quick ? 2 : 8,
  // Enough distinct messages that a miss-path run never repeats one at up to 6,000 RPS.
  distinctMessages: Math.max(10_000, seconds * 6000),
};

let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every server and removing ${relative(root, tmp)}`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

// Node runs dist/ as `npm start` does (scripts/runtime.sh); compile it when stale so no row measures the sources.
if (spawnSync('bash', [join(root, 'scripts/build.sh'), '--check']).status !== 0) {
  console.error('compiling src/ to dist/ (scripts/build.sh)');
  if (spawnSync('bash', [join(root, 'scripts/build.sh')], { stdio: 'inherit' }).status !== 0)
    notes.push('scripts/build.sh failed: Node rows ran the TypeScript sources.');
}

const machine = { ...describeMachine(t), opaEnvoyPlugin: opaEnvoyPluginVersion(t.opaEnvoyPlugin) ?? 'not installed' };
const date = new Date().toISOString();
const started = Date.now();
const rows: Row[] = [];
const durations: string[] = [];
let failed = 0;
const ctx: SuiteContext = { tools: t, run, serverCores, notes, quick };
console.error(`bench ${name}: ${suites.join(', ')}; ${seconds} s runs, ${warmSeconds} s warm-up; servers on core ${serverCores}, ghz on core ${ghzCores}`);
try {
  for (const suite of suites) {
    if (suite === 'envoy' && !existsSync(t.envoy)) {
      notes.push(`The envoy suite was skipped: ${t.envoy} is missing (bash scripts/toolchain.sh installs it).`);
      continue;
    }
    const t0 = Date.now();
    console.error(`${suite}:`);
    try {
      rows.push(...(await SUITES[suite]!(ctx)));
    } catch (err) {
      if (cleaned) await new Promise(() => {}); // stopping on a signal: the handler exits
      failed++;
      notes.push(`The ${suite} suite failed and its rows are missing or incomplete: ${(err as Error).message.split('\n')[0]!.slice(0, 400)}`);
      console.error(err);
      await killAll();
    }
    durations.push(`${suite} ${Math.round((Date.now() - t0) / 1000)} s`);
  }
} finally {
  await cleanup();
}

// On a shared machine neither side may get a whole core: say so, with numbers.
const remeasured = rows.filter((r) => r.remeasured !== undefined);
if (remeasured.length) {
  notes.push(
    `Measured twice because other processes took more than ${NOISY_CORES} cores on the run's cores during the first attempt (the quieter attempt is shown; at most ${run.maxRemeasures} per bench): ${remeasured.map((r) => `${r.contender} / ${r.scenario} (first attempt ${r.remeasured!.toFixed(2)} cores)`).join('; ')}.`,
  );
}
const starved = rows.filter((r) => r.cpuCores < 0.9 && (r.ghzCores ?? 1) < 0.9);
if (starved.length) {
  const others = rows
    .map((r) => r.otherCores)
    .filter((v): v is number => typeof v === 'number')
    .sort((a, b) => a - b);
  const median = others.length ? others[Math.floor(others.length / 2)]! : NaN;
  notes.push(
    `In ${starved.length} of ${rows.length} runs neither the server nor ghz used 0.9 of a core. ` +
      (median < 0.1
        ? `Other processes took little (median ${median.toFixed(2)} cores of "other load"), so the closed loop itself is the limit: ${run.concurrency} calls in flight on ${run.connections} connections go back and forth in batches, and each side waits while the other works.`
        : `Other processes on the same cores took a median ${median.toFixed(2)} cores ("other load").`) +
      ' Such RPS says little about the server; compare server CPU per Check and capacity per core.',
  );
}

const npmScript = process.env['npm_lifecycle_event'];
const direct = ['node', 'bench/run.ts', ...process.argv.slice(2)].join(' ');
const report = {
  name,
  command: npmScript?.startsWith('bench') ? `npm run ${npmScript} (${direct})` : direct,
  date,
  durationSeconds: (Date.now() - started) / 1000,
  machine,
  settings: {
    mode: quick ? 'quick' : 'full',
    suites,
    'run seconds': seconds,
    'warm-up seconds': warmSeconds,
    'ghz -c': run.concurrency,
    'ghz --connections': run.connections,
    'distinct messages': run.distinctMessages,
    'server cores': serverCores,
    'ghz cores': ghzCores,
    host: hostname(),
    'suite durations': durations,
  },
  rows,
  notes,
  targets: evaluateTargets(rows),
};
const md = writeReport(join(root, 'bench/results'), report);
process.stdout.write(md);
console.error(`wrote bench/results/${name}.json and bench/results/${name}.md in ${Math.round(report.durationSeconds)} s`);
process.exit(failed ? 1 : 0);
