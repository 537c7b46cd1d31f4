// The load generator: the pinned ghz, on its own core, reading the request
// from a file. Denials are gRPC OK replies, so ghz's status counts say nothing
// about decisions: callers check those separately.
import { spawn, spawnSync } from 'node:child_process';
import { track } from './Pinned.ts';

export interface GhzOptions {
  readonly ghz: string;
  readonly cwd: string;
  /** taskset CPU list for ghz itself. */
  readonly cores: string;
  readonly port: number;
  /** Count-prefixed binary requests, sent round-robin. */
  readonly dataFile: string;
  readonly seconds: number;
  readonly concurrency: number;
  readonly connections: number;
  /** Fixed offered load (requests per second); unset: as fast as the server answers. */
  readonly rps?: number;
  readonly call?: string;
  readonly proto?: string;
  readonly importPaths?: readonly string[];
  readonly tls?: { readonly cacert: string; readonly cert: string; readonly key: string; readonly serverName: string };
}

export interface GhzResult {
  readonly rps: number;
  readonly count: number;
  /** Non-OK replies other than the calls ghz cancels or cuts off itself when the duration ends. */
  readonly errors: number;
  /** The error messages behind `errors`, with counts (a few, for the notes). */
  readonly errorKinds: Record<string, number>;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** ghz's own CPU time (user + system) over the run, from bash's `times`. */
  readonly ghzCpuSeconds: number;
  readonly wallSeconds: number;
}

// When -z ends, ghz cancels the calls in flight and closes its connections;
// replies racing the close come back as these. They are the load generator
// stopping, not the server failing.
const END_OF_RUN = /use of closed network connection|client connection is closing/;

function ghzArgs(o: GhzOptions): string[] {
  const args = [
    ...(o.tls ? ['--cacert', o.tls.cacert, '--cert', o.tls.cert, '--key', o.tls.key, '--cname', o.tls.serverName] : ['--insecure']),
    '--proto',
    o.proto ?? 'proto/envoy/service/auth/v3/external_auth.proto',
    ...(o.importPaths ?? ['proto']).flatMap((p) => ['-i', p]),
    '--call',
    o.call ?? 'envoy.service.auth.v3.Authorization/Check',
    '--binary',
    '-B',
    o.dataFile,
    '-z',
    `${o.seconds}s`,
    '-c',
    String(o.concurrency),
    '--connections',
    String(o.connections),
    ...(o.rps ? ['-r', String(o.rps)] : []),
    '--cpus',
    String(coreCount(o.cores)),
    '-O',
    'json',
    `127.0.0.1:${o.port}`,
  ];
  // bash runs ghz and then prints its children's CPU times (`times`, second
  // line) on stderr: ghz's own CPU, to tell a saturated load generator. A
  // SIGTERM or SIGINT to bash (the bench stopping) is passed on to ghz.
  const script = '"$@" & pid=$!; trap \'kill -TERM $pid 2>/dev/null; wait $pid; exit 143\' TERM INT; wait $pid; rc=$?; times >&2; exit $rc';
  return ['-c', o.cores, 'bash', '-c', script, 'ghz', o.ghz, ...args];
}

/** How many cores a taskset CPU list names ("1", "1-3", "1,3"). */
export function coreCount(list: string): number {
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
}

const env = (cores: string): NodeJS.ProcessEnv => ({ ...process.env, GOMAXPROCS: String(coreCount(cores)) });

/** Runs ghz and waits for it without blocking the event loop (signals, timers keep working). */
export async function runGhzAsync(o: GhzOptions): Promise<GhzResult> {
  const t0 = process.hrtime.bigint();
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = track(spawn('taskset', ghzArgs(o), { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: env(o.cores) }));
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-64 * 1024)));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString(), stderr: err }));
  });
  return parse(r, Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The same, blocking (the single-file benches). */
export function runGhz(o: GhzOptions): GhzResult {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('taskset', ghzArgs(o), { cwd: o.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: env(o.cores) });
  return parse(r, Number(process.hrtime.bigint() - t0) / 1e9);
}

function parse(r: { status: number | null; stdout: string; stderr: string }, wallSeconds: number): GhzResult {
  if (r.status !== 0) throw new Error(`ghz failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  const out = JSON.parse(r.stdout) as {
    rps: number;
    count: number;
    average: number;
    latencyDistribution: Array<{ percentage: number; latency: number }> | null;
    statusCodeDistribution?: Record<string, number>;
    errorDistribution?: Record<string, number>;
  };
  const pct = (p: number): number => (out.latencyDistribution?.find((l) => l.percentage === p)?.latency ?? NaN) / 1e6;
  const statuses = out.statusCodeDistribution ?? {};
  const notOk = Object.entries(statuses).reduce((n, [code, k]) => (code === 'OK' || code === 'Canceled' ? n : n + k), 0);
  const errorKinds: Record<string, number> = {};
  let endOfRun = 0;
  for (const [message, k] of Object.entries(out.errorDistribution ?? {})) {
    if (/code = Canceled/.test(message)) continue; // not in notOk either
    if (END_OF_RUN.test(message)) endOfRun += k;
    else {
      // Messages carry per-connection addresses; group them without.
      const kind = message.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:*').slice(0, 200);
      errorKinds[kind] = (errorKinds[kind] ?? 0) + k;
    }
  }
  return {
    rps: out.rps,
    count: out.count,
    errors: Math.max(0, notOk - endOfRun),
    errorKinds,
    p50Ms: pct(50),
    p90Ms: pct(90),
    p99Ms: pct(99),
    meanMs: out.average / 1e6,
    ghzCpuSeconds: childTimes(r.stderr),
    wallSeconds,
  };
}

/** The second line of bash's `times`: children's user and system time, e.g. "0m3.210s 0m0.512s". */
function childTimes(stderr: string): number {
  const lines = stderr.trim().split('\n').slice(-2);
  const m = [...(lines[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)];
  return m.reduce((sum, x) => sum + Number(x[1]) * 60 + Number(x[2]), 0);
}
