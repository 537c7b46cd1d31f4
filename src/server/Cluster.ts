// `serve --workers N`: more than one core. The primary process forks N
// workers (ClusterWorker.ts, each the normal server) that share the gRPC port
// through Node's cluster module, which accepts connections in the primary and
// hands them out round-robin. The primary loads no policy and answers no
// Check; it
//  - serves the HTTP side: /readyz (ready when every worker is, with each
//    worker's policy revision) and /metrics (the workers' metrics summed);
//  - relays the workers' stdout and stderr a whole line at a time, so decision
//    records and log lines from different workers never interleave;
//  - restarts a worker that dies (backoff; a crash loop stops the service);
//  - exits 2 with the worker's one-line error when a worker cannot start;
//  - forwards SIGTERM/SIGINT (workers drain, then the primary exits 0) and
//    SIGHUP (policy reload, decision-log reopen).
import cluster, { type Worker } from 'node:cluster';
import type { Readable } from 'node:stream';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from '../observe/PromClient.ts';
import type { Config } from '../config/schema.ts';
import { parseAddr, parseListenAddr, showListenAddr } from '../config/load.ts';
import { resolve as resolvePath } from 'node:path';
import { prepareSocketPath } from './UnixSocket.ts';
import { Metrics } from '../observe/Metrics.ts';
import type { Logger } from '../observe/Log.ts';
import { createHttpSourceServer, listenHttp } from './HttpServer.ts';
import { writeErrorLine } from './ErrorLine.ts';
import { connectionAgeMs } from './GrpcListener.ts';
import { WORKER_SLOT_ENV, isWorkerMessage, type AskMessage, type WorkerMessage, type WorkerStatus } from './ClusterWorker.ts';
import { RUNTIME_VERSION } from './Runtime.ts';

/** A slot whose worker died more often than this within a minute stops the service (exit 1) rather than spin. */
export const MAX_RESTARTS_PER_MINUTE = 5;
const RESTART_BACKOFF_MS = 100;
const MAX_RESTART_BACKOFF_MS = 5_000;
/** How long the primary waits for a worker's status or metrics. */
const ASK_TIMEOUT_MS = 2_000;
/** Past the workers' grace period, this much more before they are killed. */
const KILL_MARGIN_MS = 5_000;
/** A worker "line" longer than this without a newline is passed on in pieces. */
const MAX_RELAY_LINE_BYTES = 4 * 1024 * 1024;
/** Gauges that must not be summed over workers. */
const MAX_AGGREGATED = new Set(['ztauthz_policy_info', 'ztauthz_identity_labels_max']);

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  /** The current worker has said it serves. */
  serving: boolean;
  /** When its workers died, for the restart bound. */
  deaths: number[];
  restartTimer: NodeJS.Timeout | undefined;
}

interface WorkerReport {
  worker: number;
  pid?: number | undefined;
  status: 'ready' | 'not ready' | 'starting' | 'down' | 'not answering';
  policy_revision?: string | null;
}

export function runPrimary(config: Config, log: Logger, graceMs: number): Promise<number> {
  return new Primary(config, log, graceMs).run();
}

class Primary {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #graceMs: number;
  readonly #slots: Slot[];
  #phase: 'starting' | 'serving' | 'stopping' = 'starting';
  #exitCode = 0;
  #fatal: string | undefined;
  #grpcPort: number | undefined;
  #allGone: () => void = () => {};
  #becameServing: () => void = () => {};
  #killTimer: NodeJS.Timeout | undefined;
  readonly #asks = new Map<number, { worker: Worker; done: (body: unknown) => void }>();
  #nextAsk = 0;
  /** The primary's own process metrics (and zero-valued ztauthz series), aggregated with the workers'. */
  readonly #own: Metrics;
  readonly #clusterRegistry = new Registry();
  readonly #restarts: Counter;
  readonly #ready: Gauge;
  readonly #workerChecks: Counter<'worker'>;

  constructor(config: Config, log: Logger, graceMs: number) {
    this.#config = config;
    this.#log = log;
    this.#graceMs = graceMs;
    this.#slots = Array.from({ length: config.server.workers }, (_, index) => ({
      index,
      worker: undefined,
      serving: false,
      deaths: [],
      restartTimer: undefined,
    }));
    this.#own = new Metrics({ maxIdentities: config.metrics.max_identities, identityIdleSeconds: config.metrics.identity_idle_seconds });
    const registers = [this.#clusterRegistry];
    new Gauge({ name: 'ztauthz_workers', help: 'Worker processes configured (server.workers).', registers }).set(config.server.workers);
    this.#ready = new Gauge({ name: 'ztauthz_workers_ready', help: 'Workers serving Checks that answered this scrape.', registers });
    this.#restarts = new Counter({ name: 'ztauthz_worker_restarts_total', help: 'Workers restarted after they died.', registers });
    this.#workerChecks = new Counter({
      name: 'ztauthz_worker_checks_total',
      help: "Checks answered per worker slot (0 .. server.workers-1), counted by the slot's current process: a restarted worker starts from 0.",
      labelNames: ['worker'],
      registers,
    });
  }

  async run(): Promise<number> {
    const h = parseAddr(this.#config.http.addr);
    const http = createHttpSourceServer({ readiness: () => this.#readiness(), metrics: () => this.#metrics() });
    let httpPort: number;
    try {
      httpPort = await listenHttp(http, h.host, h.port, this.#config.http.addr);
    } catch (err) {
      writeErrorLine((err as Error).message);
      return 2;
    }
    const grpcAddr = parseListenAddr(this.#config.grpc.addr);
    if (grpcAddr.kind === 'unix') {
      // The workers share one socket the cluster module listens on here; only the primary may clear a stale file.
      try {
        await prepareSocketPath(resolvePath(grpcAddr.path));
      } catch (err) {
        http.close();
        writeErrorLine(`cannot listen on grpc.addr ${this.#config.grpc.addr}: ${(err as Error).message}`);
        return 2;
      }
    }
    const onStop = (signal: NodeJS.Signals): void => {
      if (this.#phase === 'stopping') return;
      this.#log.info('shutting down', { signal });
      this.#stop(0);
    };
    const onHup = (): void => {
      for (const s of this.#slots) if (s.serving) s.worker?.process.kill('SIGHUP');
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHup);

    const allGone = new Promise<void>((resolve) => (this.#allGone = resolve));
    const serving = new Promise<void>((resolve) => (this.#becameServing = resolve));
    cluster.setupPrimary({ stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    for (const slot of this.#slots) this.#fork(slot);

    await Promise.race([serving, allGone]);
    if (this.#phase === 'serving') {
      this.#log.info('serving', {
        grpc: showListenAddr(grpcAddr, this.#grpcPort ?? 0),
        http: `${h.host}:${httpPort}`,
        tls: this.#config.grpc.tls.mode,
        workers: this.#slots.length,
        max_connection_age_ms: connectionAgeMs(this.#config),
        runtime: RUNTIME_VERSION,
      });
    }
    await allGone;
    clearTimeout(this.#killTimer);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    // The cluster module's listener does not remove its socket file; a stale one would only be replaced at the next start.
    if (grpcAddr.kind === 'unix') await prepareSocketPath(resolvePath(grpcAddr.path)).catch(() => {});
    if (this.#fatal !== undefined) writeErrorLine(this.#fatal);
    else this.#log.info('stopped');
    return this.#exitCode;
  }

  #fork(slot: Slot): void {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    slot.serving = false;
    relayLines(worker.process.stdout!, process.stdout);
    relayLines(worker.process.stderr!, process.stderr);
    worker.on('message', (msg: unknown) => {
      if (isWorkerMessage(msg)) this.#onMessage(slot, worker, msg);
    });
    // Gone once it has exited, its output is relayed and its last messages are read.
    let exit: { code: number | null; signal: string | null } | undefined;
    let pending = worker.isConnected() ? 2 : 1;
    const settle = (): void => {
      if (--pending === 0) this.#onGone(slot, worker, exit!.code, exit!.signal);
    };
    worker.process.once('close', (code: number | null, signal: string | null) => {
      exit = { code, signal };
      settle();
    });
    if (pending === 2) worker.process.once('disconnect', settle);
  }

  #onMessage(slot: Slot, worker: Worker, msg: WorkerMessage): void {
    switch (msg.t) {
      case 'ztauthz:reply':
        this.#asks.get(msg.id)?.done(msg.body);
        return;
      case 'ztauthz:fatal':
        if (this.#phase === 'stopping') return;
        this.#fatal ??= msg.message;
        this.#stop(2);
        return;
      case 'ztauthz:serving':
        if (slot.worker !== worker || this.#phase === 'stopping') return;
        slot.serving = true;
        if (this.#grpcPort === undefined) this.#grpcPort = msg.grpcPort;
        else if (msg.grpcPort !== this.#grpcPort) {
          this.#log.warn('worker serves on another gRPC port', {
            worker: slot.index,
            pid: worker.process.pid,
            grpc_port: msg.grpcPort,
            expected: this.#grpcPort,
          });
        }
        if (this.#phase === 'serving') {
          this.#log.info('worker restarted', { worker: slot.index, pid: worker.process.pid });
        } else if (this.#slots.every((s) => s.serving)) {
          this.#phase = 'serving';
          this.#becameServing();
        }
    }
  }

  #onGone(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const servedBefore = slot.serving;
    if (slot.worker === worker) {
      slot.worker = undefined;
      slot.serving = false;
    }
    for (const ask of this.#asks.values()) if (ask.worker === worker) ask.done(undefined);
    if (this.#phase === 'stopping') {
      if (this.#slots.every((s) => s.worker === undefined)) this.#allGone();
      return;
    }
    const pid = worker.process.pid;
    if (!servedBefore && (code === 2 || this.#phase === 'starting')) {
      // A configuration or policy error (status 2; the worker sent its one-line message first), or any failure before
      // the service ever served: restarting would most likely fail the same way.
      this.#fatal ??= `worker ${slot.index} (pid ${pid}) exited before serving (${signal ?? `status ${code}`})`;
      this.#stop(code === 2 ? 2 : 1);
      return;
    }
    this.#log.error('worker exited', { worker: slot.index, pid, code, signal });
    const now = Date.now();
    slot.deaths = slot.deaths.filter((t) => now - t < 60_000);
    slot.deaths.push(now);
    if (slot.deaths.length > MAX_RESTARTS_PER_MINUTE) {
      this.#log.error('worker keeps dying; stopping', { worker: slot.index, deaths_last_minute: slot.deaths.length });
      this.#stop(1);
      return;
    }
    const delay = Math.min(RESTART_BACKOFF_MS * 2 ** (slot.deaths.length - 1), MAX_RESTART_BACKOFF_MS);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#phase === 'stopping') return;
      this.#restarts.inc();
      this.#fork(slot);
    }, delay);
  }

  /** Stops every worker (they drain as a single server does) and resolves run() with `code` once all are gone. */
  #stop(code: number): void {
    if (this.#phase === 'stopping') return;
    this.#phase = 'stopping';
    this.#exitCode = code;
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      slot.worker?.process.kill('SIGTERM');
    }
    this.#killTimer = setTimeout(() => {
      for (const slot of this.#slots) slot.worker?.process.kill('SIGKILL');
    }, this.#graceMs + KILL_MARGIN_MS);
    if (this.#slots.every((s) => s.worker === undefined)) this.#allGone();
    this.#becameServing();
  }

  #ask(slot: Slot, what: AskMessage['what']): Promise<unknown> {
    const worker = slot.worker;
    if (!worker || !slot.serving || !worker.isConnected()) return Promise.resolve(undefined);
    const id = this.#nextAsk++;
    return new Promise((resolve) => {
      const done = (body: unknown): void => {
        clearTimeout(timer);
        this.#asks.delete(id);
        resolve(body);
      };
      const timer = setTimeout(() => done(undefined), ASK_TIMEOUT_MS);
      this.#asks.set(id, { worker, done });
      worker.send({ t: 'ztauthz:ask', id, what } satisfies AskMessage, (err: Error | null) => {
        if (err) done(undefined);
      });
    });
  }

  async #readiness(): Promise<{ ready: boolean; body: Record<string, unknown> }> {
    const workers = await Promise.all(
      this.#slots.map(async (slot): Promise<WorkerReport> => {
        const pid = slot.worker?.process.pid;
        if (!slot.worker) return { worker: slot.index, status: 'down' };
        if (!slot.serving) return { worker: slot.index, pid, status: 'starting' };
        const s = (await this.#ask(slot, 'status')) as WorkerStatus | undefined;
        if (!s) return { worker: slot.index, pid, status: 'not answering' };
        return { worker: slot.index, pid, status: s.ready ? 'ready' : 'not ready', policy_revision: s.revision };
      }),
    );
    const readyCount = workers.filter((w) => w.status === 'ready').length;
    const ready = this.#phase === 'serving' && readyCount === workers.length;
    const revisions = new Set(workers.map((w) => w.policy_revision).filter((r) => typeof r === 'string'));
    const body: Record<string, unknown> = ready
      ? { status: 'ready', ...(revisions.size === 1 ? { policy_revision: [...revisions][0] } : {}) }
      : { status: 'not ready', reason: this.#phase === 'stopping' ? 'shutting down' : `${readyCount} of ${workers.length} workers ready` };
    return { ready, body: { ...body, workers } };
  }

  async #metrics(): Promise<{ contentType: string; text: string }> {
    const serving = this.#slots.filter((s) => s.serving);
    const answers = await Promise.all(serving.map((s) => this.#ask(s, 'metrics')));
    const sets: MetricObjectWithValues<MetricValue<string>>[][] = [withAggregators(await this.#own.registry.getMetricsAsJSON())];
    this.#workerChecks.reset();
    let answered = 0;
    answers.forEach((answer, i) => {
      if (!Array.isArray(answer)) return;
      answered++;
      const metrics = answer as MetricObjectWithValues<MetricValue<string>>[];
      sets.push(withAggregators(metrics));
      const checks = metrics.find((m) => m.name === 'ztauthz_checks_total')?.values ?? [];
      this.#workerChecks.inc(
        { worker: String(serving[i]!.index) },
        checks.reduce((sum, v) => sum + v.value, 0),
      );
    });
    this.#ready.set(answered);
    const aggregated = AggregatorRegistry.aggregate(sets);
    return { contentType: aggregated.contentType, text: (await aggregated.metrics()) + (await this.#clusterRegistry.metrics()) };
  }
}

/** The aggregation of a metric is decided by the first set that has it, so every set says the same. */
function withAggregators(metrics: MetricObjectWithValues<MetricValue<string>>[]): MetricObjectWithValues<MetricValue<string>>[] {
  return metrics.map((m) => (MAX_AGGREGATED.has(m.name) ? { ...m, aggregator: 'max' } : m));
}

/**
 * Passes a worker's output on a whole line at a time, each in one write. The
 * workers share the primary's stdout and stderr only through here: a pipe
 * (a container's stdout) keeps writes from different processes apart only
 * up to 4 KiB, and decision records can be longer.
 */
function relayLines(from: Readable, to: NodeJS.WriteStream): void {
  let partial: Buffer[] = [];
  let partialBytes = 0;
  const write = (data: Buffer): void => {
    if (!to.write(data)) pauseUntilDrained(from, to);
  };
  from.on('data', (chunk: Buffer) => {
    const nl = chunk.lastIndexOf(10);
    if (nl < 0) {
      partial.push(chunk);
      partialBytes += chunk.length;
      if (partialBytes > MAX_RELAY_LINE_BYTES) {
        write(Buffer.concat(partial));
        partial = [];
        partialBytes = 0;
      }
      return;
    }
    const lines = chunk.subarray(0, nl + 1);
    write(partial.length > 0 ? Buffer.concat([...partial, lines]) : lines);
    partial = nl + 1 < chunk.length ? [chunk.subarray(nl + 1)] : [];
    partialBytes = partial[0]?.length ?? 0;
  });
  from.on('end', () => {
    if (partialBytes > 0) write(Buffer.concat([...partial, Buffer.from('\n')]));
  });
}

/** Sources paused until their destination drains; one 'drain' listener per destination however many workers wait. */
const pausedUntilDrain = new Map<NodeJS.WriteStream, Set<Readable>>();

function pauseUntilDrained(from: Readable, to: NodeJS.WriteStream): void {
  from.pause();
  let waiting = pausedUntilDrain.get(to);
  if (!waiting) {
    pausedUntilDrain.set(to, (waiting = new Set()));
    to.once('drain', () => {
      pausedUntilDrain.delete(to);
      for (const source of waiting!) source.resume();
    });
  }
  waiting.add(from);
}
