// Memory of one ztauthz process at its default configuration: idle RSS once
// it is serving, then peak RSS (VmHWM) and latency under a fixed offered load
// of distinct requests (the bench's miss path, drop-in policy), ghz on its own
// core. The server is started the way `npm start` starts it (scripts/runtime.sh:
// the chosen runtime, its flags, the compiled dist/ when current), so
// ZTAUTHZ_RUNTIME, ZTAUTHZ_RUNTIME_FLAGS and ZTAUTHZ_FROM_SOURCE select what
// is measured; --opa-envoy-plugin measures the peer instead, --noop the
// no-op server on ztauthz's transport and runtime (the floor: what the
// runtime and its HTTP/2 layer hold at this load with no Check work at all).
//
//   node bench/memory.ts [--rps 1500] [--seconds 20] [--idle-seconds 5] [--opa-envoy-plugin | --noop] [-- serve flags...]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decide, startNoop, startOpaEnvoyPlugin, tools, type Contender } from './lib/Contenders.ts';
import { runGhzAsync } from './lib/Ghz.ts';
import { killAll, startPinned } from './lib/Pinned.ts';
import { delimited, requests } from './lib/Requests.ts';
import { prng } from '../test/support/prng.ts';
import { RUNTIME } from '../test/support/runtime.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const DROP_IN = 'bench/policies/drop-in';
const { values: a, positionals: serveFlags } = parseArgs({
  allowPositionals: true,
  options: {
    rps: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '20' },
    'idle-seconds': { type: 'string', default: '5' },
    messages: { type: 'string', default: '20000' },
    'server-cores': { type: 'string', default: '0' },
    'ghz-cores': { type: 'string', default: '1' },
    'opa-envoy-plugin': { type: 'boolean', default: false },
    noop: { type: 'boolean', default: false },
  },
});
if (a['opa-envoy-plugin'] && a.noop) throw new Error('bench/memory.ts: --opa-envoy-plugin and --noop measure different servers; give one');

const t = tools(ROOT);
const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-memory-'));
const statusKiB = (pid: number, field: 'VmRSS' | 'VmHWM'): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const mib = (kib: number): string => (kib / 1024).toFixed(0);

/** What was measured, as the result line names it. */
function label(): string {
  if (a['opa-envoy-plugin']) return 'opa-envoy-plugin';
  if (a.noop) return `no-op server on ${RUNTIME}`;
  const env = process.env;
  const flags = env['ZTAUTHZ_RUNTIME_FLAGS'] !== undefined ? ` flags "${env['ZTAUTHZ_RUNTIME_FLAGS']}"` : '';
  return `${RUNTIME}${flags}${env['ZTAUTHZ_FROM_SOURCE'] ? ' from source' : ''}${serveFlags.length ? ` ${serveFlags.join(' ')}` : ''}`;
}

async function start(): Promise<Contender> {
  if (a['opa-envoy-plugin']) return startOpaEnvoyPlugin(t, join(ROOT, DROP_IN), a['server-cores'], tmp);
  if (a.noop) return startNoop(t, a['server-cores']);
  const p = await startPinned({
    cores: a['server-cores'],
    command: 'bash',
    // exec: the runtime replaces bash, so the pid is the server's.
    args: [
      'scripts/runtime.sh',
      'src/cli.ts',
      'serve',
      '--policy',
      DROP_IN,
      '--policy-watch=false',
      '--grpc-addr',
      '127.0.0.1:0',
      '--http-addr',
      '127.0.0.1:0',
      ...serveFlags,
    ],
    cwd: ROOT,
    ready: /"msg":"serving","grpc":"[^"]*:(\d+)","http":"[^"]*:(\d+)"/,
  });
  return { name: 'ztauthz', port: Number(p.ready[0]), metricsPort: Number(p.ready[1]), process: p };
}

try {
  const reqs = requests({ distinct: true }, Number(a.messages), 'memory', prng(0x5eed));
  const dataFile = join(tmp, 'data.bin');
  writeFileSync(dataFile, delimited(reqs));
  const c = await start();
  const pid = c.process.child.pid!;
  await new Promise((r) => setTimeout(r, Number(a['idle-seconds']) * 1000));
  const idle = statusKiB(pid, 'VmRSS');
  const startHwm = statusKiB(pid, 'VmHWM');
  if (!a.noop && (await decide(c, reqs[0])) !== 'allow') throw new Error('the first request was not allowed: the run would measure the wrong thing');
  const cpu0 = c.process.cpuSeconds();
  const r = await runGhzAsync({
    ghz: t.ghz,
    cwd: ROOT,
    cores: a['ghz-cores'],
    port: c.port,
    dataFile,
    seconds: Number(a.seconds),
    concurrency: 32,
    connections: 2,
    rps: Number(a.rps),
  });
  const cpuUs = ((c.process.cpuSeconds() - cpu0) / r.count) * 1e6;
  const peak = statusKiB(pid, 'VmHWM');
  const after = statusKiB(pid, 'VmRSS');
  console.log(
    `${label()}: idle ${mib(idle)} MiB (startup peak ${mib(startHwm)}), peak ${mib(peak)} MiB, after ${mib(after)} MiB; ` +
      `${Math.round(r.rps)} RPS, ${Math.round(cpuUs)} µs CPU per Check, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`,
  );
  await c.process.stop();
} finally {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
}
