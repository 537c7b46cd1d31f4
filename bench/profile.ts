// A CPU profile of the Check path under load: `ztauthz serve` with V8's
// sampling profiler, driven by ghz (server core 0, ghz core 1), then the
// profile summed by function: self time and time including callees, as shares
// of the server's busy time during the measured run. Writes the summary to
// bench/results/profile-<mode>.md and keeps the .cpuprofile next to it (load
// it in Chrome DevTools or speedscope) under bench/results/tmp/. The server runs
// at the default configuration (decision log on stdout, drained), as users run it.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/profile.ts [hit|miss] [seconds]
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGhz } from './lib/Ghz.ts';
import { startPinned } from './lib/Pinned.ts';
import { delimited, requests } from './lib/Requests.ts';
import { prng } from '../test/support/prng.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RUNTIME = process.env['ZTAUTHZ_RUNTIME'] ?? 'node';
const mode = process.argv[2] === 'miss' ? 'miss' : 'hit';
const seconds = Number(process.argv[3] ?? '10');
const out = join(ROOT, 'bench/results');
const tmp = join(out, 'tmp', `profile-${mode}`);
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

const data = join(tmp, 'requests.bin');
writeFileSync(data, delimited(requests(mode === 'miss' ? { distinct: true } : {}, mode === 'miss' ? 60_000 : 1000, 'profile', prng(7))));
const spawnedAt = performance.now();
const server = await startPinned({
  cores: '0',
  // Bun has the same flags and writes the same .cpuprofile format (JavaScriptCore's sampler).
  command: RUNTIME === 'bun' ? join(ROOT, 'node_modules/.bin/bun') : process.execPath,
  args: [
    '--cpu-prof',
    `--cpu-prof-dir=${tmp}`,
    'src/cli.ts',
    'serve',
    '--grpc-addr',
    '127.0.0.1:0',
    '--http-addr',
    '127.0.0.1:0',
    '--policy',
    'bench/policies/drop-in',
    '--policy-watch=false',
  ],
  cwd: ROOT,
  ready: /"msg":"serving","grpc":"[^"]*:(\d+)"/,
});
const ghz = { ghz: join(ROOT, '.tools/bin/ghz'), cwd: ROOT, cores: '1', port: Number(server.ready[0]), dataFile: data, concurrency: 32, connections: 2 };
// Warm-up (JIT, connections) and start-up are cut from the profile: samples are kept from the measured run on.
runGhz({ ...ghz, seconds: 2 });
const cutoffUs = (performance.now() - spawnedAt) * 1000;
const r = runGhz({ ...ghz, seconds });
await server.stop();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = readdirSync(tmp).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
const profile = JSON.parse(readFileSync(join(tmp, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
renameSync(join(tmp, file), join(tmp, `${mode}.cpuprofile`));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n: Node): string => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules\/)?/, '')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const selfTime = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
let at = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  if (at < cutoffUs) return;
  const leaf = byId.get(id)!;
  if (leaf.callFrame.functionName === '(idle)') return;
  busy += dt;
  selfTime.set(name(leaf), (selfTime.get(name(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const k = name(byId.get(x)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
});
const top = (m: Map<string, number>, n: number): string =>
  [...m.entries()]
    .filter(([k]) => k !== '(root)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `| ${((v / busy) * 100).toFixed(1)} % | \`${k.replace(/\|/g, '\\|')}\` |`)
    .join('\n');
const md = `# CPU profile: ${mode} path

\`${RUNTIME === 'bun' ? 'ZTAUTHZ_RUNTIME=bun ' : ''}node bench/profile.ts ${mode} ${seconds}\` (server on ${RUNTIME === 'bun' ? 'Bun' : 'Node 24'}), ${new Date().toISOString().slice(0, 10)}: \`ztauthz serve\` with the drop-in policy on core 0,
ghz (-c 32, 2 connections) on core 1 for ${seconds} s: ${Math.round(r.rps).toLocaleString('en-US')} RPS, ${r.count.toLocaleString('en-US')} Checks.
Shares of the server's busy time during the measured run (${(busy / 1e6).toFixed(2)} s; start-up and a 2 s warm-up cut, idle excluded).

## Including callees

| share | function |
|---:|---|
${top(inclusive, 40)}

## Self

| share | function |
|---:|---|
${top(selfTime, 25)}
`;
writeFileSync(join(out, `profile-${mode}${RUNTIME === 'bun' ? '-bun' : ''}.md`), md);
console.log(md);
