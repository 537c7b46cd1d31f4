// An evaluation worker for policies that call http.send. opa-wasm calls
// builtins synchronously, so here http.send posts the request to the main
// thread (which makes it on its event loop) and blocks this thread with
// Atomics.wait until the answer is posted back; the main thread never blocks.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { createHostBuiltins, type HostBuiltins } from '../builtins/index.ts';
import { EvaluationAbort, loadHostPolicy } from '../builtins/load.ts';
import { WasmEval } from '../WasmEval.ts';
import { parseKeepingNumberText } from '../../envoy/JsonBody.ts';
import { canonicalJson, type SendResult } from './HttpSendClient.ts';

interface Init {
  readonly port: MessagePort;
  readonly signal: SharedArrayBuffer;
  /** Slack over a call's own budget before the worker gives up waiting for the main thread. */
  readonly slackMs: number;
  readonly timeoutMs: number;
}
export interface EvalJob {
  readonly type: 'eval';
  readonly job: number;
  readonly engine: string;
  /** Sent with the first job of an engine this worker has not loaded yet. */
  readonly load?: { readonly module: unknown; readonly data: unknown; readonly maxMemoryPages: number } | undefined;
  readonly input: unknown;
  /**
   * The input as JSON text instead, when it cannot be cloned: a body number
   * kept as its text (JSON.rawJSON, src/envoy/JsonBody.ts) refuses
   * structured cloning; parsed here keeping such numbers' text again.
   */
  readonly inputJson?: string | undefined;
  readonly entrypoint: string;
  readonly deadline: number;
}
export type WorkerMessage = EvalJob | { readonly type: 'unload'; readonly engine: string };
/** `loaded`: whether the worker holds the job's engine afterwards (a load that failed is retried with the next job). */
export type WorkerReply = { readonly job: number; readonly loaded: boolean } & (
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly message: string }
);

const init = workerData as Init;
const signal = new Int32Array(init.signal);
let calls = 0;

interface Loaded {
  readonly policy: LoadedPolicy;
  readonly eval: WasmEval | undefined;
  readonly host: HostBuiltins;
}
const engines = new Map<string, Loaded>();

/** The evaluation in progress: its deadline and its intra-query cache. */
let current: { deadline: number; sent: Map<string, SendResult> } | undefined;

function raiseError(request: unknown): boolean {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) return true;
  const v = (request as Record<string, unknown>)['raise_error'];
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw new EvaluationAbort('http.send: invalid value for raise_error field');
  return v;
}

/** Blocks until the main thread answered call `id` (or the wait is given up). */
function exchange(request: unknown, deadline: number): SendResult {
  const id = ++calls;
  init.port.postMessage({ id, request, deadline });
  const giveUp = Math.min(Date.now() + init.timeoutMs, deadline) + init.slackMs;
  for (;;) {
    const seen = Atomics.load(signal, 0);
    for (let m = receiveMessageOnPort(init.port); m !== undefined; m = receiveMessageOnPort(init.port)) {
      const reply = m.message as { id: number; result: SendResult };
      // Answers to calls given up on earlier are dropped.
      if (reply.id === id) return reply.result;
    }
    const left = giveUp - Date.now();
    if (left <= 0) return { ok: false, code: 'eval_http_send_network_error', message: 'request timed out' };
    Atomics.wait(signal, 0, seen, left);
  }
}

function httpSend(request: unknown): unknown {
  const raise = raiseError(request);
  const evaluation = current ?? { deadline: Date.now() + init.timeoutMs, sent: new Map<string, SendResult>() };
  // Intra-query cache: the same request object twice in one evaluation is sent once.
  const key = canonicalJson(request);
  let result = evaluation.sent.get(key);
  if (result === undefined) {
    result = exchange(request, evaluation.deadline);
    if (!result.ok || result.cacheable) evaluation.sent.set(key, result);
  }
  // JSON text as an ArrayBuffer: opa-wasm hands it to the wasm's own parser verbatim (exact numbers).
  if (result.ok) return jsonBuffer(result.json);
  // raise_error: the evaluation stops (policy_error) in every mode, not an undefined expression (docs/builtins.md#httpsend)
  if (raise) throw new EvaluationAbort(`http.send: ${result.message}`);
  return { status_code: 0, error: { code: result.code, message: result.message } };
}

const encoder = new TextEncoder();
function jsonBuffer(json: string): ArrayBuffer {
  const bytes = encoder.encode(json);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function load(engine: string, spec: NonNullable<EvalJob['load']>): Promise<Loaded> {
  const host = createHostBuiltins();
  // loadHostPolicy, as on the main thread: set results, Go's sprintf/yaml.marshal/regex.split, exact ns arguments.
  const policy = await loadHostPolicy(
    spec.module as Parameters<typeof loadHostPolicy>[0],
    { initial: 5, maximum: spec.maxMemoryPages },
    {
      builtins: { ...host.builtins, 'http.send': httpSend },
      strictErrors: host.strictErrors,
    },
  );
  policy.setData(spec.data as object);
  const loaded = { policy, eval: WasmEval.of(policy), host };
  engines.set(engine, loaded);
  return loaded;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

parentPort!.on('message', (msg: WorkerMessage) => {
  if (msg.type === 'unload') {
    engines.delete(msg.engine);
    return;
  }
  void (async (): Promise<void> => {
    let reply: WorkerReply;
    try {
      const loaded = engines.get(msg.engine) ?? (msg.load ? await load(msg.engine, msg.load) : undefined);
      if (!loaded) throw new Error(`engine ${msg.engine} is not loaded in this worker`);
      loaded.host.beginEvaluation();
      current = { deadline: msg.deadline, sent: new Map() };
      try {
        const input = msg.inputJson !== undefined ? parseKeepingNumberText(msg.inputJson) : msg.input;
        const result = loaded.eval ? loaded.eval.evaluate(input, msg.entrypoint) : loaded.policy.evaluate(input, msg.entrypoint);
        reply = { job: msg.job, loaded: true, ok: true, result };
      } finally {
        current = undefined;
      }
    } catch (err) {
      reply = { job: msg.job, loaded: engines.has(msg.engine), ok: false, message: errorText(err) };
    }
    parentPort!.postMessage(reply);
  })();
});
