// Where policies that call http.send are evaluated: a small pool of worker
// threads (http_send.workers), started on first use. A worker evaluates one
// Check at a time and blocks while its http.send waits; the request itself is
// made here, on the main thread's event loop, by HttpSendClient. So a Check
// waiting on a slow server holds one worker, never the main thread: Checks of
// policies without http.send (evaluated on the main thread, as before) and
// other work go on meanwhile.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { HttpSendClient, type HttpSendLimits, type SendResult } from './HttpSendClient.ts';
import type { EvalJob, WorkerMessage, WorkerReply } from './evalWorker.ts';

export interface HttpSendOptions extends HttpSendLimits {
  readonly workers: number;
}

/** What a worker needs to instantiate one engine's policy. */
export interface EngineSpec {
  readonly id: string;
  readonly module: unknown;
  readonly data: unknown;
  readonly maxMemoryPages: number;
}

interface Job {
  readonly engine: EngineSpec;
  readonly input: unknown;
  readonly entrypoint: string;
  readonly deadline: number;
  readonly resolve: (resultSet: unknown) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly loaded: Set<string>;
  job: (Job & { id: number }) | undefined;
}

// The sources run as .ts; the built package (dist/, npm run build) as .js: the worker is its sibling either way.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './evalWorker.ts' : './evalWorker.js', import.meta.url);
/** How long past a call's budget a worker waits for the main thread before giving up on it. */
const SLACK_MS = 1000;

export class HttpSendRuntime {
  readonly client: HttpSendClient;
  readonly #opts: HttpSendOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  readonly #inflight = new Map<string, number>();
  readonly #retired = new Set<string>();
  #jobs = 0;
  #closed = false;

  constructor(opts: HttpSendOptions) {
    this.#opts = opts;
    this.client = new HttpSendClient(opts);
  }

  /** The result set of one evaluation on a worker. Rejects with the evaluation error. */
  evaluate(engine: EngineSpec, input: unknown, entrypoint: string, deadline: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('http.send evaluation pool is closed'));
    return new Promise((resolve, reject) => {
      this.#inflight.set(engine.id, (this.#inflight.get(engine.id) ?? 0) + 1);
      this.#queue.push({ engine, input, entrypoint, deadline, resolve, reject });
      this.#dispatch();
    });
  }

  /** The engine was replaced: its instances are dropped once its last evaluation finished. */
  retire(engineId: string): void {
    this.#retired.add(engineId);
    if (!this.#inflight.get(engineId)) this.#unload(engineId);
  }

  /** Workers alive (for tests). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Policy instances the workers hold, summed over the workers (for tests). */
  get instances(): number {
    return this.#slots.reduce((n, s) => n + s.loaded.size, 0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new Error('http.send evaluation pool closed'));
    const slots = this.#slots.splice(0);
    for (const slot of slots) {
      const job = slot.job;
      slot.job = undefined;
      job?.reject(new Error('http.send evaluation pool closed'));
      slot.port.close();
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (!slot && this.#slots.length < this.#opts.workers) slot = this.#spawn();
      if (!slot) return;
      const job = this.#queue.shift()!;
      if (Date.now() > job.deadline) {
        this.#settle(job, () => job.reject(new Error('the deadline passed while waiting for an http.send evaluation worker')));
        continue;
      }
      const id = ++this.#jobs;
      slot.job = { ...job, id };
      const first = !slot.loaded.has(job.engine.id);
      slot.loaded.add(job.engine.id);
      const msg: EvalJob = {
        type: 'eval',
        job: id,
        engine: job.engine.id,
        load: first ? { module: job.engine.module, data: job.engine.data, maxMemoryPages: job.engine.maxMemoryPages } : undefined,
        input: job.input,
        entrypoint: job.entrypoint,
        deadline: job.deadline,
      };
      // A worker with a Check keeps the process alive; an idle one does not.
      slot.worker.ref();
      try {
        slot.worker.postMessage(msg satisfies WorkerMessage);
      } catch (err) {
        // An input structured cloning refuses (a body number kept as its text, JSON.rawJSON): sent as JSON text.
        if ((err as { name?: string }).name !== 'DataCloneError') throw err;
        slot.worker.postMessage({ ...msg, input: undefined, inputJson: JSON.stringify(job.input) } satisfies WorkerMessage);
      }
    }
  }

  #spawn(): Slot {
    const signal = new SharedArrayBuffer(4);
    const counter = new Int32Array(signal);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_URL, {
      workerData: { port: port2, signal, slackMs: SLACK_MS, timeoutMs: this.#opts.timeoutMs },
      transferList: [port2],
    });
    const slot: Slot = { worker, port: port1, loaded: new Set(), job: undefined };
    // The worker's http.send calls: made here, answered on the port, then the worker is woken.
    port1.on('message', (m: { id: number; request: unknown; deadline: number }) => {
      void this.client.send(m.request, m.deadline).then((result: SendResult) => {
        port1.postMessage({ id: m.id, result });
        Atomics.add(counter, 0, 1);
        Atomics.notify(counter, 0);
      });
    });
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (!job || job.id !== reply.job) return;
      slot.job = undefined;
      if (!reply.loaded) slot.loaded.delete(job.engine.id);
      worker.unref();
      this.#settle(job, () => (reply.ok ? job.resolve(reply.result) : job.reject(new Error(reply.message))));
      this.#dispatch();
    });
    const lost = (why: string): void => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      port1.close();
      const job = slot.job;
      slot.job = undefined;
      if (job) this.#settle(job, () => job.reject(new Error(`http.send evaluation worker ${why}`)));
      if (!this.#closed) this.#dispatch();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    // Idle, neither keeps the process alive (`ztauthz check` exits once it has answered); unref'd
    // after the listeners are attached, since attaching a 'message' listener refs a port again.
    port1.unref();
    worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  #settle(job: Job, answer: () => void): void {
    const left = (this.#inflight.get(job.engine.id) ?? 1) - 1;
    if (left > 0) this.#inflight.set(job.engine.id, left);
    else {
      this.#inflight.delete(job.engine.id);
      if (this.#retired.has(job.engine.id)) this.#unload(job.engine.id);
    }
    answer();
  }

  #unload(engineId: string): void {
    this.#retired.delete(engineId);
    for (const slot of this.#slots) {
      if (slot.loaded.delete(engineId)) slot.worker.postMessage({ type: 'unload', engine: engineId } satisfies WorkerMessage);
    }
  }
}
