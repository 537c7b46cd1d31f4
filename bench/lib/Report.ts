// The results of one run, as bench/results/<name>.json (everything, for
// tools) and bench/results/<name>.md (one table per Row.table, the targets,
// the notes), and the targets evaluated from the rows.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Machine } from './machine.ts';
import type { Row } from './Measure.ts';

/** Below this many cores of server CPU over the run, the server was waiting: something else (ghz, the machine) set the rate. */
export const SATURATED_CORES = 0.9;

export interface Target {
  readonly target: string;
  /** What was measured, in words and numbers. */
  readonly measured: string;
  readonly status: 'met' | 'not met' | 'not measured';
  /** What the status was judged on (RPS, capacity per core, latency). */
  readonly basis: string;
}

export interface Report {
  readonly name: string;
  readonly command: string;
  readonly date: string;
  readonly durationSeconds: number;
  readonly machine: Machine & { readonly opaEnvoyPlugin?: string };
  readonly settings: Record<string, unknown>;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
  readonly targets: readonly Target[];
}

const capacity = (r: Row): number => 1e6 / r.cpuUsPerCheck;
const bound = (r: Row): boolean => r.cpuCores < SATURATED_CORES;
const x = (v: number): string => `${v.toFixed(2)}×`;
const pct = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} %`;
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '—');
/** A latency difference in ms with its sign, e.g. "+0.160" or "-0.020". */
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;
const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');

function coresOf(rows: readonly Row[]): string {
  return rows.map((r) => `${r.contender} ${r.cpuCores.toFixed(2)}${r.ghzCores ? ` (ghz ${r.ghzCores.toFixed(2)})` : ''}`).join(', ');
}

/**
 * A throughput ratio a/b against `min`, on RPS and on capacity per core.
 * When either run left the server below SATURATED_CORES, RPS measured the load
 * generator, so the verdict rests on capacity per core (server CPU per Check);
 * otherwise on RPS. Both numbers are shown either way.
 */
function ratio(target: string, a: Row | undefined, b: Row | undefined, min: number, missing: string): Target {
  if (!a || !b) return { target, measured: `not measured: ${missing}`, status: 'not measured', basis: '—' };
  const rps = a.rps / b.rps;
  const cap = capacity(a) / capacity(b);
  const lg = bound(a) || bound(b);
  const judged = lg ? cap : rps;
  return {
    target,
    measured: `RPS ${x(rps)} (${int(a.rps)} / ${int(b.rps)}); capacity per core ${x(cap)} (${int(capacity(a))} / ${int(capacity(b))})`,
    status: judged >= min ? 'met' : 'not met',
    basis: lg ? `capacity per core: load-generator bound (server cores ${coresOf([a, b])})` : `RPS: servers saturated (${coresOf([a, b])})`,
  };
}

function growth(target: string, rows: readonly Row[], what: string): Target {
  if (rows.length < 2) return { target, measured: `not measured: the ${what} curve did not run`, status: 'not measured', basis: '—' };
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const rps = last.rps / first.rps - 1;
  const cost = last.cpuUsPerCheck / first.cpuUsPerCheck - 1;
  const lg = rows.some(bound);
  const ok = lg ? cost <= 0.1 : rps >= -0.1;
  return {
    target,
    measured: `${first.scenario} → ${last.scenario}: RPS ${pct(rps)} (${int(first.rps)} → ${int(last.rps)}); server CPU per Check ${pct(cost)} (${int(first.cpuUsPerCheck)} → ${int(last.cpuUsPerCheck)} µs); peak RSS ${first.peakRssMiB.toFixed(0)} → ${last.peakRssMiB.toFixed(0)} MiB`,
    status: ok ? 'met' : 'not met',
    basis: lg ? 'CPU per Check (load-generator bound: a server below 0.9 cores)' : 'RPS (servers saturated)',
  };
}

export function evaluateTargets(rows: readonly Row[]): Target[] {
  const tagged = (tag: string): Row | undefined => rows.find((r) => r.tag === tag);
  const hit = tagged('peers.hit');
  const miss = tagged('peers.miss');
  const opa = tagged('peers.opa-envoy-plugin');
  const noop = tagged('peers.noop');
  const noOpa = 'no opa-envoy-plugin row (binary missing or peers suite not run)';
  const targets: Target[] = [
    ratio('ztauthz cache hit ≥ 2.5× opa-envoy-plugin (defaults)', hit, opa, 2.5, noOpa),
    ratio('ztauthz cache hit ≥ 85 % of the no-op server', hit, noop, 0.85, 'peers suite not run'),
    ratio('ztauthz cache miss ≥ 1.3× opa-envoy-plugin (defaults)', miss, opa, 1.3, noOpa),
  ];
  const missFixed = tagged('peers.miss.fixed');
  const opaFixed = tagged('peers.opa-envoy-plugin.fixed');
  if (missFixed && opaFixed) {
    targets.push({
      target: 'ztauthz cache miss p99 ≤ 1.1× opa-envoy-plugin p99',
      measured: `${ms(missFixed.p99Ms)} vs ${ms(opaFixed.p99Ms)} at ${Math.round(missFixed.rps).toLocaleString('en-US')} RPS offered (at full speed, ghz -c 32: ${miss ? ms(miss.p99Ms) : '—'} vs ${opa ? ms(opa.p99Ms) : '—'})`,
      status: missFixed.p99Ms <= 1.1 * opaFixed.p99Ms ? 'met' : 'not met',
      basis: 'p99 latency at the same fixed offered load (half the lower saturated RPS)',
    });
  } else if (miss && opa) {
    targets.push({
      target: 'ztauthz cache miss p99 ≤ 1.1× opa-envoy-plugin p99',
      measured: `${ms(miss.p99Ms)} vs ${ms(opa.p99Ms)}`,
      status: miss.p99Ms <= 1.1 * opa.p99Ms ? 'met' : 'not met',
      basis: 'p99 latency at the same closed-loop load (ghz concurrency)',
    });
  } else {
    targets.push({ target: 'ztauthz cache miss p99 ≤ 1.1× opa-envoy-plugin p99', measured: `not measured: ${noOpa}`, status: 'not measured', basis: '—' });
  }
  const alone = tagged('envoy.alone');
  const withAuthz = tagged('envoy.ztauthz');
  if (alone && withAuthz) {
    const added = withAuthz.p50Ms - alone.p50Ms;
    // The hop itself (Envoy calling a server that does nothing) is the floor any ext_authz server pays here.
    const floor = tagged('envoy.noop');
    const hop = floor
      ? `; the hop alone (no-op authz server) adds ${signed(floor.p50Ms - alone.p50Ms)} ms, so ztauthz's own work adds ${signed(withAuthz.p50Ms - floor.p50Ms)} ms`
      : '';
    // The reference peer behind the same Envoy, for context only: the target stays ztauthz's added p50.
    const peer = tagged('envoy.opa-envoy-plugin');
    const opaAdded = peer
      ? `; opa-envoy-plugin adds ${signed(peer.p50Ms - alone.p50Ms)} ms${floor ? ` (its own work ${signed(peer.p50Ms - floor.p50Ms)} ms)` : ''}`
      : `; no opa-envoy-plugin row (binary missing or it failed: see the notes)`;
    targets.push({
      target: 'latency ztauthz adds through Envoy: p50 ≤ 0.3 ms',
      measured: `${signed(added)} ms (p50 ${ms(alone.p50Ms)} → ${ms(withAuthz.p50Ms)}; p99 ${ms(alone.p99Ms)} → ${ms(withAuthz.p99Ms)})${hop}${opaAdded}`,
      status: added <= 0.3 ? 'met' : 'not met',
      basis: 'p50 at a fixed offered load',
    });
  } else {
    targets.push({
      target: 'latency ztauthz adds through Envoy: p50 ≤ 0.3 ms',
      measured: 'not measured: envoy suite not run',
      status: 'not measured',
      basis: '—',
    });
  }
  targets.push(
    growth(
      'routes 10 → 10,000: cost within 10 %',
      rows.filter((r) => r.tag === 'growth.routes'),
      'routes',
    ),
  );
  targets.push(
    growth(
      'identities 10 → 1,000,000: cost within 10 %',
      rows.filter((r) => r.tag === 'growth.identities'),
      'identities',
    ),
  );
  return targets;
}

function machineLine(m: Report['machine']): string {
  return [
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, kernel ${m.kernel}`,
    `Node ${m.node}${m.serverRuntime ? ` (ztauthz served by ${m.serverRuntime})` : ''}, ghz ${m.ghz}, opa ${m.opa}, opa-envoy-plugin ${m.opaEnvoyPlugin ?? 'not installed'}, Envoy ${m.envoy}`,
    `load average ${m.loadAverageAtStart.toFixed(2)} at start`,
  ].join('; ');
}

const FIXED = [
  'contender',
  'scenario',
  'RPS',
  'p50',
  'p90',
  'p99',
  'server CPU per Check',
  'capacity per core',
  'cores used',
  'peak RSS',
  'hit ratio',
  'ghz cores',
  'other load',
];
const RIGHT = new Set([
  'RPS',
  'p50',
  'p90',
  'p99',
  'server CPU per Check',
  'capacity per core',
  'cores used',
  'peak RSS',
  'hit ratio',
  'ghz cores',
  'other load',
  'errors',
]);

function table(rows: readonly Row[]): string {
  const extras = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const withErrors = rows.some((r) => r.errors > 0);
  const head = [...FIXED, ...extras, ...(withErrors ? ['errors'] : [])];
  const cell = (v: number | string | undefined): string => (v === undefined ? '—' : typeof v === 'number' ? int(v) : v);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h) => (RIGHT.has(h) || extras.includes(h) ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${[
        r.contender,
        r.scenario,
        int(r.rps),
        ms(r.p50Ms),
        ms(r.p90Ms),
        ms(r.p99Ms),
        `${int(r.cpuUsPerCheck)} µs`,
        int(capacity(r)),
        r.cpuCores.toFixed(2),
        `${r.peakRssMiB.toFixed(0)} MiB`,
        r.hitRatio === null ? '—' : `${(r.hitRatio * 100).toFixed(1)} %`,
        r.ghzCores ? r.ghzCores.toFixed(2) : '—',
        typeof r.otherCores === 'number' ? r.otherCores.toFixed(2) : '—',
        ...extras.map((e) => cell(r.extra?.[e])),
        ...(withErrors ? [int(r.errors)] : []),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export function markdown(r: Report): string {
  const minutes = Math.floor(r.durationSeconds / 60);
  const out: string[] = [
    `# ztauthz benchmark: ${r.name}, ${r.date}`,
    '',
    `Command: \`${r.command}\` (took ${minutes ? `${minutes} min ` : ''}${Math.round(r.durationSeconds % 60)} s)`,
    '',
    `Machine: ${machineLine(r.machine)}`,
    '',
    `Settings: ${Object.entries(r.settings)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join('; ')}`,
    '',
    'RPS is what ghz achieved; on a small machine it often measures ghz. "server CPU per Check" is the server\'s CPU time ' +
      '(all threads and processes) over the measured run divided by the Checks answered, and "capacity per core" = ' +
      '1,000,000 / that: Checks per second one busy core could answer. "cores used" below 0.9 means the server was ' +
      'not saturated (load-generator bound); "ghz cores" near 1.0 means ghz was; "other load" is the CPU the ' +
      'rest of the machine took on the same cores during the run (steal included), in cores.',
  ];
  const tables = [...new Set(r.rows.map((row) => row.table))];
  for (const t of tables) {
    out.push('', `## ${t}`, '', table(r.rows.filter((row) => row.table === t)));
  }
  out.push(
    '',
    '## Targets',
    '',
    'Throughput ratios are judged on capacity per core when a run was load-generator bound (server below 0.9 cores), ' +
      'otherwise on RPS; both are shown. Growth is judged from the first to the last point of a curve.',
    '',
    '| target | measured | status | judged on |',
    '|---|---|---|---|',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.status === 'met' ? '**met**' : t.status} | ${t.basis} |`),
  );
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** Writes <dir>/<name>.json and <dir>/<name>.md; returns the Markdown. */
export function writeReport(dir: string, r: Report): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const md = markdown(r);
  writeFileSync(join(dir, `${r.name}.md`), md);
  return md;
}
