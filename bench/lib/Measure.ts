// One measured run: check the decision, warm up, measure with ghz, and read
// the server's CPU time and peak memory around it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGhzAsync as runGhz, type GhzResult } from './Ghz.ts';
import { delimited, requests, type Shape } from './Requests.ts';
import { prng } from '../../test/support/prng.ts';
import { cacheCounts, decide, type Contender, type Tools } from './Contenders.ts';
import { coreList, coresBusySeconds } from './Pinned.ts';

export interface RunSettings {
  readonly seconds: number;
  readonly warmSeconds: number;
  /** taskset CPU list for ghz. */
  readonly ghzCores: string;
  readonly concurrency: number;
  readonly connections: number;
  readonly tmp: string;
  /** Distinct messages per data file for runs whose requests must not repeat. */
  readonly distinctMessages: number;
  /** taskset CPU list of the servers (default of MeasureOptions.serverCores). */
  readonly serverCores?: string;
  /** Most runs measured a second time for other load over the whole bench (keeps a noisy machine within the time budget). Default 0. */
  readonly maxRemeasures?: number;
}

export interface Row {
  readonly table: string;
  readonly contender: string;
  readonly scenario: string;
  /** Stable name the targets look rows up by, e.g. "peers.hit", "growth.routes". */
  readonly tag?: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Server CPU time (all threads and workers) per Check. */
  readonly cpuUsPerCheck: number;
  /** Server CPU time over wall time: 1.0 is one core busy. */
  readonly cpuCores: number;
  readonly peakRssMiB: number;
  readonly hitRatio: number | null;
  readonly errors: number;
  /** ghz's own CPU time over wall time (null when it could not be read). */
  readonly ghzCores?: number | null;
  /**
   * CPU the rest of the machine took on the cores this run used (theirs busy
   * time minus the server's and ghz's, steal included), over wall time: on a
   * shared machine, what the run competed with.
   */
  readonly otherCores?: number | null;
  /** Set when the first attempt competed with more than NOISY_CORES of other load: that attempt's other load. */
  readonly remeasured?: number;
  /** Checks ghz completed in the measured run. */
  readonly count?: number;
  /** Further columns of this row's table (growth points, state sizes). */
  readonly extra?: Record<string, number | string>;
}

export interface MeasureOptions {
  readonly table: string;
  readonly scenario: string;
  readonly shape: Shape;
  readonly expect: 'allow' | 'deny';
  readonly tag?: string;
  /** Fixed offered load instead of as fast as possible. */
  readonly rps?: number;
  /** Messages in the data file (ghz sends them round-robin). Default: distinctMessages for distinct shapes, else at most 4,096. */
  readonly messages?: number;
  readonly concurrency?: number;
  readonly connections?: number;
  /** taskset CPU list of the server (all its processes), for the "other load" column. */
  readonly serverCores?: string;
  /** Processes whose CPU per Check gets its own column ("<name> CPU per Check"), e.g. the parts of a composite contender. */
  readonly cpuParts?: Record<string, { cpuSeconds(): number }>;
  /** Columns known before the run. */
  readonly extra?: Record<string, number | string>;
  /** Columns read after the run (e.g. state sizes from /metrics). */
  readonly after?: (c: Contender, run: { count: number; messages: number }) => Promise<Record<string, number | string>>;
}

interface DataFile {
  readonly file: string;
  readonly first: unknown;
  readonly messages: number;
}

// Data files are written once per shape and reused by every contender that
// sends that shape: the servers are fresh processes, so a file the previous
// contender saw cannot be in this one's cache. A distinct (miss-path) shape
// sent twice to the same server gets a new file, since its first one is cached.
const files = new Map<string, DataFile>();
const sentTo = new WeakMap<Contender, Set<string>>();

function dataFile(s: RunSettings, c: Contender, shape: Shape, count: number, role: 'warm' | 'run'): DataFile {
  const used = sentTo.get(c) ?? new Set<string>();
  sentTo.set(c, used);
  let key: string;
  let generation = 0;
  do key = `${JSON.stringify(shape)}|${count}|${role}|${generation++}`;
  while (shape.distinct && used.has(key));
  used.add(key);
  let f = files.get(key);
  if (!f) {
    const n = files.size;
    const file = join(s.tmp, `data-${n}.bin`);
    // The tag keeps a measured run from hitting entries its warm-up stored.
    const reqs = requests(shape, count, `${role}${generation}`, prng(0x5eed + n));
    writeFileSync(file, delimited(reqs));
    f = { file, first: reqs[0], messages: count };
    files.set(key, f);
  }
  return f;
}

/** Other load (cores) on the run's cores above which a run is measured again. */
export const NOISY_CORES = 0.25;

let remeasures = 0;

const cores = (seconds: number, wall: number): number | null => (seconds > 0 && wall > 0 ? seconds / wall : null);

export async function measure(t: Tools, c: Contender, s: RunSettings, o: MeasureOptions): Promise<Row> {
  const count = o.messages ?? (o.shape.distinct ? s.distinctMessages : Math.min(s.distinctMessages, 4096));
  // A warm-up sends fewer requests than a measured run; no need to write more.
  const warmCount = Math.min(count, Math.max(2000, Math.ceil(s.warmSeconds * 6000)));
  const warm = dataFile(s, c, o.shape, warmCount, 'warm');
  let decision: 'allow' | 'deny';
  try {
    decision = await decide(c, warm.first);
  } catch (err) {
    throw new Error(`${c.name} / ${o.scenario}: the decision check failed (${(err as Error).message}): the benchmark would measure the wrong thing`);
  }
  if (decision !== o.expect) throw new Error(`${c.name} / ${o.scenario}: expected ${o.expect}, got ${decision}: the benchmark would measure the wrong thing`);
  const ghzBase = {
    ghz: t.ghz,
    cwd: t.root,
    cores: s.ghzCores,
    port: c.port,
    concurrency: o.concurrency ?? s.concurrency,
    connections: o.connections ?? s.connections,
    ...(c.clientTls ? { tls: c.clientTls } : {}),
    ...(o.rps ? { rps: o.rps } : {}),
  };
  // Warm-up: JIT, connections, and for hit runs the cache entry itself.
  await runGhz({ ...ghzBase, dataFile: warm.file, seconds: s.warmSeconds });
  const once = async (): Promise<{ row: Row; r: GhzResult }> => {
    const measured = dataFile(s, c, o.shape, count, 'run');
    const before = await cacheCounts(c);
    const serverCores = o.serverCores ?? s.serverCores;
    const usedCores = [...new Set([...coreList(s.ghzCores), ...(serverCores ? coreList(serverCores) : [])])];
    const busy0 = coresBusySeconds(usedCores);
    const cpu0 = c.process.cpuSeconds();
    const parts0 = Object.entries(o.cpuParts ?? {}).map(([name, p]) => [name, p, p.cpuSeconds()] as const);
    const t0 = process.hrtime.bigint();
    const r = await runGhz({ ...ghzBase, dataFile: measured.file, seconds: s.seconds });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = c.process.cpuSeconds() - cpu0;
    const busy = coresBusySeconds(usedCores) - busy0;
    const after = await cacheCounts(c);
    let hitRatio: number | null = null;
    if (before && after) {
      const looked = after.hit - before.hit + after.miss - before.miss;
      hitRatio = looked ? (after.hit - before.hit) / looked : null;
    }
    const partCpu = Object.fromEntries(
      parts0.map(([name, p, before]) => [`${name} CPU per Check`, `${Math.round(((p.cpuSeconds() - before) * 1e6) / Math.max(1, r.count))} µs`]),
    );
    const extra = { ...o.extra, ...partCpu, ...(o.after ? await o.after(c, { count: r.count, messages: measured.messages }) : {}) };
    const row: Row = {
      table: o.table,
      contender: c.name,
      scenario: o.scenario,
      ...(o.tag ? { tag: o.tag } : {}),
      rps: r.rps,
      p50Ms: r.p50Ms,
      p90Ms: r.p90Ms,
      p99Ms: r.p99Ms,
      cpuUsPerCheck: (cpu * 1e6) / Math.max(1, r.count),
      cpuCores: cpu / wall,
      peakRssMiB: c.process.peakRssBytes() / 2 ** 20,
      hitRatio,
      errors: r.errors,
      ghzCores: cores(r.ghzCpuSeconds, r.wallSeconds),
      otherCores: Number.isFinite(busy) && serverCores ? Math.max(0, (busy - cpu - r.ghzCpuSeconds) / wall) : null,
      count: r.count,
      ...(Object.keys(extra).length ? { extra } : {}),
    };
    return { row, r };
  };
  // A run that competed with other work on its cores is measured again, once;
  // the quieter of the two is kept (and says so in `remeasured`).
  let { row, r } = await once();
  if ((row.otherCores ?? 0) > NOISY_CORES && remeasures < (s.maxRemeasures ?? 0)) {
    remeasures++;
    console.error(`  (other load ${row.otherCores!.toFixed(2)} cores during ${c.name} / ${o.scenario}: measuring again)`);
    const second = await once();
    const noisy = row.otherCores!;
    if ((second.row.otherCores ?? 0) < noisy) ({ row, r } = second);
    row = { ...row, remeasured: noisy };
  }
  const hitRatio = row.hitRatio;
  const kinds = Object.entries(r.errorKinds)
    .slice(0, 3)
    .map(([m, k]) => `${k}× ${m}`)
    .join('; ');
  console.error(
    `  ${o.table} | ${c.name} | ${o.scenario}: ${Math.round(r.rps)} RPS, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, CPU ${Math.round(row.cpuUsPerCheck)} µs/Check (${row.cpuCores.toFixed(2)} cores; ghz ${row.ghzCores?.toFixed(2) ?? '?'}; others ${row.otherCores?.toFixed(2) ?? '?'}), RSS ${row.peakRssMiB.toFixed(0)} MiB${hitRatio === null ? '' : `, hits ${(hitRatio * 100).toFixed(0)} %`}${r.errors ? `, ${r.errors} errors: ${kinds}` : ''}`,
  );
  return row;
}
