// One worker of `serve --workers N` (the primary is in Cluster.ts): the
// normal server (startServer), sharing the gRPC port through the cluster
// module and binding no HTTP port. It answers the primary's questions (status,
// metrics) over the cluster IPC channel, reports a start-up failure to the
// primary instead of printing it (the primary prints it once), and stops
// gracefully on SIGTERM or SIGINT, however often they arrive.
import cluster from 'node:cluster';
import type { Config } from '../config/schema.ts';
import { createLogger, type Logger } from '../observe/Log.ts';
import { startServer, type RunningServer } from './Server.ts';

/** The environment variable that tells a worker its slot (0 .. server.workers-1). */
export const WORKER_SLOT_ENV = 'ZTAUTHZ_WORKER_SLOT';

/** Primary to worker. */
export interface AskMessage {
  readonly t: 'ztauthz:ask';
  readonly id: number;
  readonly what: 'status' | 'metrics';
}

/** Worker to primary. */
export type WorkerMessage =
  | { readonly t: 'ztauthz:serving'; readonly grpcPort: number }
  | { readonly t: 'ztauthz:fatal'; readonly message: string }
  | { readonly t: 'ztauthz:reply'; readonly id: number; readonly body: unknown };

/** A worker's answer to `status`. */
export interface WorkerStatus {
  readonly ready: boolean;
  readonly revision: string | null;
}

export function isWorkerMessage(msg: unknown): msg is WorkerMessage {
  return typeof msg === 'object' && msg !== null && typeof (msg as { t?: unknown }).t === 'string' && (msg as { t: string }).t.startsWith('ztauthz:');
}

/** Runs this process as a worker until it is stopped; never returns. */
export async function runWorker(config: Config, graceMs: number): Promise<never> {
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? cluster.worker?.id ?? 0);
  const log = workerLogger(createLogger(config.log.level), slot);
  // The server handles SIGHUP once it runs; until then a forwarded SIGHUP must not kill the worker (the default action).
  process.on('SIGHUP', () => {});
  let server: RunningServer;
  try {
    server = await startServer(config, log, { http: false });
  } catch (err) {
    await send({ t: 'ztauthz:fatal', message: (err as Error).message });
    process.exit(2);
  }
  let stopping = false;
  process.on('message', (msg: unknown) => {
    if (typeof msg !== 'object' || msg === null || (msg as AskMessage).t !== 'ztauthz:ask') return;
    const { id, what } = msg as AskMessage;
    const reply = (body: unknown): void => void send({ t: 'ztauthz:reply', id, body });
    if (what === 'status') {
      const engine = server.policies.current;
      reply({ ready: engine !== undefined && !stopping, revision: engine?.revision ?? null } satisfies WorkerStatus);
    } else {
      server.metrics.registry.getMetricsAsJSON().then(reply, () => reply(undefined));
    }
  });
  await send({ t: 'ztauthz:serving', grpcPort: server.grpcPort });
  // The primary forwards its signal, and a terminal's Ctrl-C reaches every process of the group: the second one is ignored.
  const signal = await new Promise<string>((resolve) => {
    process.on('SIGTERM', () => resolve('SIGTERM'));
    process.on('SIGINT', () => resolve('SIGINT'));
  });
  stopping = true;
  log.info('shutting down', { signal });
  await server.stop(graceMs).catch(() => {});
  log.info('stopped');
  // The IPC channel would keep the process alive.
  process.exit(0);
}

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    try {
      process.send(msg, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

/** Every line names the worker; the server's "serving" line becomes "worker serving" (only the primary's says "serving", and the worker has no HTTP address). */
function workerLogger(base: Logger, slot: number): Logger {
  const tag =
    (emit: Logger['info']) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (msg === 'serving') {
        const { http: _http, ...rest } = fields ?? {};
        emit('worker serving', { worker: slot, pid: process.pid, ...rest });
      } else {
        emit(msg, { worker: slot, pid: process.pid, ...fields });
      }
    };
  return { debug: tag(base.debug), info: tag(base.info), warn: tag(base.warn), error: tag(base.error) };
}
