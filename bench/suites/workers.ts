// `serve --workers N`: does a second worker process buy throughput? One
// worker pinned to core 0 against two workers on cores 0 and 1, on the miss
// path (every request evaluated), with many connections since a connection
// stays on the worker that accepted it.
import { startZtauthz } from '../lib/Contenders.ts';
import { measure, type Row } from '../lib/Measure.ts';
import { withContender, type SuiteContext } from './peers.ts';

export const TABLE = 'Workers: serve --workers N';
const CONNECTIONS = 8;

export async function workers(ctx: SuiteContext): Promise<Row[]> {
  const { tools: t, run: s, serverCores } = ctx;
  const rows: Row[] = [];
  const shape = { distinct: true };
  const policy = { policy: 'bench/policies/drop-in' };
  const run = (n: number, cores: string): Promise<Row> =>
    withContender(
      () => startZtauthz(t, `ztauthz --workers ${n}`, { cores, flags: { ...policy, workers: String(n) } }),
      (c) =>
        measure(t, c, s, {
          table: TABLE,
          scenario: `every request distinct, server on core${cores.includes(',') ? 's' : ''} ${cores}, ${CONNECTIONS} connections`,
          shape,
          expect: 'allow',
          connections: CONNECTIONS,
          serverCores: cores,
          tag: `workers.${n}`,
        }),
    );
  rows.push(await run(1, serverCores));
  if (!s.ghzCores || s.ghzCores === serverCores) {
    ctx.notes.push('Workers: skipped the 2-worker run: this machine has one core, so a second worker has nowhere to go.');
    return rows;
  }
  const both = `${serverCores},${s.ghzCores}`;
  try {
    rows.push(await run(2, both));
  } catch (err) {
    const message = (err as Error).message;
    // `--workers` arrives with the cluster mode; an older src/ refuses the flag.
    if (!/workers/i.test(message) || !/unknown|not a|invalid|exited/i.test(message)) throw err;
    ctx.notes.push(`Workers: \`serve --workers 2\` is not accepted by this ztauthz (${message.split('\n')[0]!.slice(0, 200)}); the 2-worker row is missing.`);
    return rows;
  }
  ctx.notes.push(
    `Workers: --workers 2 runs on cores ${both} while ghz also runs on core ${s.ghzCores}, so the second worker shares its core with the load generator and the 2-worker row understates what two free cores give; ${CONNECTIONS} connections (-c ${s.concurrency}) so that both workers get some (the primary hands connections out round-robin; grpc.max_connection_age_ms defaults to 30 s with workers, longer than a run). CPU is summed over the primary and its workers.`,
  );
  return rows;
}
