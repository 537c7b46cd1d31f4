// HTTP/2 abuse, on every runtime ztauthz can run on (Node 24 and Bun, from
// the devDependencies), whichever package.json chooses: a runtime becomes the
// default of `npm start` and the image only if it passes this on its own.
//
// Each attack (test/support/h2-attack.ts: rapid reset, CONTINUATION flood,
// HPACK bomb, SETTINGS and PING floods, zero window, a reader that never
// reads, many streams on one connection, 500 connections) runs for
// ATTACK_MS from its own process against a fresh, warmed-up `serve` on
// 127.0.0.1. Meanwhile and after it:
//   - a probe Check from a separate, ordinary grpc-js client is answered
//     within 1 s: every probe has a 1 s deadline, and one that misses it fails
//     the test (every 200 ms during the attack, and once more after it on a
//     new connection);
//   - the server process is still alive;
//   - its RSS (VmRSS, sampled every 50 ms) stays within 2x its warmed-up
//     value. Why 2x: a warmed-up server is 130-185 MiB, and every attack
//     here, once the server bounds it, peaks at 1.0-1.5x (the most: 5,000
//     answers held by zero-window clients); an attack the server does not
//     bound grows for as long as it goes on (without a stream limit, within
//     3 s: 2.4-2.9x for zero window, 3.4x on Node and 7x on Bun for many
//     streams), so 2x tells the two apart with room for GC timing.
//
// The server needed one setting for this: SETTINGS_MAX_CONCURRENT_STREAMS
// (MAX_CONCURRENT_STREAMS in src/server/GrpcListener.ts). Without it, zero window,
// the reader that never reads and many streams fail on both runtimes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';
import { RUNTIMES } from './support/runtime.ts';

const ATTACKER = fileURLToPath(new URL('./support/h2-attack.ts', import.meta.url));
const ATTACKS = [
  'rapid-reset',
  'continuation-flood',
  'hpack-bomb',
  'settings-flood',
  'ping-flood',
  'zero-window',
  'never-reads',
  'many-streams',
  'many-connections',
];
const ATTACK_MS = 3000;
const PROBE_DEADLINE_MS = 1000;
const PROBE_EVERY_MS = 200;
const RSS_BOUND = 2;
const WARM_UP = 2000;

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

const alive = (s: ServeProcess): boolean => s.child.exitCode === null && s.child.signalCode === null;

/** Runs one attack in its own Node process; resolves with its JSON summary. */
function attack(name: string, port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ATTACKER, name, String(port), String(ATTACK_MS)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`attacker ${name} exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

let server: ServeProcess | undefined;
const clients: CheckClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.stop('SIGKILL');
  server = undefined;
});

describe.each(RUNTIMES)('HTTP/2 abuse, server on %s', (runtime) => {
  it.each(ATTACKS)(
    '%s: the server stays up, Checks are answered within 1 s, RSS within 2x',
    async (name) => {
      server = await spawnServe(['--decision-log-output', '/dev/null'], { ZTAUTHZ_RUNTIME: runtime });
      const s = server;
      const pid = s.child.pid!;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toMatch(runtime === 'bun' ? /\/bun(\.exe)?$/ : /\/node$/);
      expect(s.stderr()).toMatch(new RegExp(`"msg":"serving",[^\\n]*"runtime":"${runtime} `));
      const probeClient = new CheckClient(s.grpcPort);
      clients.push(probeClient);
      for (let i = 0; i < WARM_UP / 50; i++) await Promise.all(Array.from({ length: 50 }, () => probeClient.check(checkRequest(), 10_000)));
      const warm = rssMiB(pid);

      let peak = warm;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMiB(pid));
        } catch {
          /* gone: asserted below */
        }
      }, 50);
      const probeFailures: string[] = [];
      let probes = 0;
      const probe = async (client: CheckClient, when: string): Promise<void> => {
        try {
          // Any CheckResponse will do (this one is a denial): the call must complete within its deadline.
          const res = await client.check(checkRequest(), PROBE_DEADLINE_MS);
          expect(res.status).toBeDefined();
          probes++;
        } catch (err) {
          probeFailures.push(`${when}: ${(err as Error).message}`);
        }
      };
      let attacking = true;
      const during = (async () => {
        while (attacking) {
          await probe(probeClient, 'during');
          await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
        }
      })();
      let summary: Record<string, unknown>;
      try {
        summary = await attack(name, s.grpcPort);
      } finally {
        attacking = false;
        await during;
      }
      // After: a new client on a new connection, then the one that was probing throughout.
      const fresh = new CheckClient(s.grpcPort);
      clients.push(fresh);
      await probe(fresh, 'after, new connection');
      await probe(probeClient, 'after');
      clearInterval(sampler);
      const up = alive(s);
      const now = up ? rssMiB(pid) : NaN;
      console.log(
        `h2 abuse ${runtime} ${name}: alive ${up}, ${probes} probes answered, ${probeFailures.length} failed; RSS warm ${warm.toFixed(0)} MiB, peak ${peak.toFixed(0)} (${(peak / warm).toFixed(2)}x), after ${now.toFixed(0)}; attack ${JSON.stringify(summary)}`,
      );
      expect(summary['bytesSent'] as number, 'the attack ran').toBeGreaterThan(0);
      expect(up, `server exited: ${s.stderr().slice(-2000)}`).toBe(true);
      expect(probeFailures).toEqual([]);
      expect(peak).toBeLessThanOrEqual(warm * RSS_BOUND);
    },
    60_000,
  );
});
