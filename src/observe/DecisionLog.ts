// Decision records as JSON lines, named like OPA's decision log where the two
// overlap (decision_id, trace_id, span_id, timestamp, path, revision, input,
// result, erased, metrics.timer_rego_query_eval_ns / timer_server_handler_ns).
// Lines are bounded: an input too large to log is replaced by its size.
// Allowed decisions may be sampled (decision_log.sample_allowed); denials,
// errors included, are always written.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { Metrics } from './Metrics.ts';

/** The caller as the record names it: the verified workload, the Envoy that asked, the end user (issuer and subject only; claims stay in the input). */
export interface RecordIdentity {
  spiffe_id: string | null;
  trust_domain: string | null;
  namespace: string | null;
  service_account: string | null;
  source: string | null;
  peer: string | null;
  user: { iss: string; sub: string } | null;
}

/** The matched route, without its parameters (those are in input.route). */
export interface RecordRoute {
  name: string;
  api: string;
  action: string;
  model: string | null;
  version: string | null;
}

export interface DecisionRecord {
  decision_id: string;
  /** The Check span's trace and span (hex), when tracing recorded one. */
  trace_id?: string | undefined;
  span_id?: string | undefined;
  timestamp: string;
  path: string;
  revision: string;
  allowed: boolean;
  reason: string;
  message: string;
  dry_run: boolean;
  http_status: number;
  result?: JsonValue | undefined;
  input?: JsonObject | undefined;
  /** null: no verified identity; absent: not known to the writer. */
  identity?: RecordIdentity | null | undefined;
  route?: RecordRoute | null | undefined;
  /** Decision cache: hit, miss, bypass (not cacheable) or off. */
  cache?: 'hit' | 'miss' | 'bypass' | 'off' | undefined;
  /** input.behavior as the policy saw it. */
  behavior?: JsonObject | undefined;
  metrics: {
    timer_check_ns: number;
    timer_eval_ns: number;
    /** OPA's names for the same two timers, for tools that read OPA decision logs. */
    timer_server_handler_ns?: number;
    timer_rego_query_eval_ns?: number;
  };
}

export interface DecisionLogOptions {
  readonly enabled: boolean;
  readonly output: string;
  readonly includeInput: boolean;
  readonly mask: readonly string[];
  /** Longest line written; records over it lose their input. */
  readonly maxLineBytes?: number;
  /** Fraction of allowed decisions written (decision_log.sample_allowed, 0..1; default 1). Denials are always written. */
  readonly sampleAllowed?: number;
  /** Source of randomness for sampling (tests). */
  readonly random?: () => number;
}

/** Past this much unflushed output, records are dropped (and counted) rather than queued without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export class DecisionLog {
  readonly #opts: DecisionLogOptions;
  readonly #metrics: Metrics | undefined;
  readonly #maxLine: number;
  readonly #masks: readonly { readonly pointer: string; readonly path: readonly string[] }[];
  readonly #sample: number;
  readonly #random: () => number;
  #out: Writable | undefined;

  constructor(opts: DecisionLogOptions, metrics?: Metrics) {
    this.#opts = opts;
    this.#metrics = metrics;
    this.#maxLine = opts.maxLineBytes ?? 256 * 1024;
    this.#masks = opts.mask.map((pointer) => ({ pointer, path: parsePointer(pointer) }));
    this.#sample = opts.sampleAllowed ?? 1;
    this.#random = opts.random ?? Math.random;
    if (opts.enabled) this.#out = openOutput(opts.output);
  }

  /** Whether write() can write anything (records are only built for an enabled log). */
  get enabled(): boolean {
    return this.#out !== undefined;
  }

  /** Whether records carry the policy input (a Check answered without building one could not log it). */
  get recordsInput(): boolean {
    return this.#opts.enabled && this.#opts.includeInput;
  }

  /** Writes a record unless it is an allowed decision sampled out, or the output is behind. True when written. */
  write(record: DecisionRecord): boolean {
    const out = this.#out;
    if (!out) return false;
    // A denial (record.allowed is the real decision, also in dry run) is never sampled out.
    if (record.allowed && this.#sample < 1 && !(this.#random() < this.#sample)) {
      this.#metrics?.decisionLogSampledOut.inc();
      return false;
    }
    if (out.writableLength > MAX_BUFFERED_BYTES) {
      this.#metrics?.decisionLogDropped.inc();
      return false;
    }
    out.write(this.format(record));
    return true;
  }

  /** Writes a non-decision event (shadow disagreement, behaviour signal) as its own line. */
  writeEvent(event: Record<string, unknown>): void {
    const out = this.#out;
    if (!out) return;
    if (out.writableLength > MAX_BUFFERED_BYTES) {
      this.#metrics?.decisionLogDropped.inc();
      return;
    }
    out.write(JSON.stringify({ timestamp: new Date().toISOString(), ...event }) + '\n');
  }

  /** The line for a record (masked, bounded), newline included. Removed pointers are listed in `erased`, as OPA does. */
  format(record: DecisionRecord): string {
    const view: Record<string, unknown> = { ...record };
    if (!this.#opts.includeInput) delete view['input'];
    let erased: string[] | undefined;
    for (const mask of this.#masks) if (removeAt(view, mask.path)) (erased ??= []).push(mask.pointer);
    if (erased) view['erased'] = erased;
    let line = JSON.stringify(view);
    if (line.length > this.#maxLine && view['input'] !== undefined) {
      view['input'] = { erased: 'input too large to log', bytes: Buffer.byteLength(JSON.stringify(view['input'])) };
      line = JSON.stringify(view);
    }
    return line + '\n';
  }

  /** Reopens a file output (log rotation: call on SIGHUP). */
  reopen(): void {
    if (!this.#opts.enabled || !isFileOutput(this.#opts.output)) return;
    const old = this.#out;
    this.#out = openOutput(this.#opts.output);
    old?.end();
  }

  async close(): Promise<void> {
    const out = this.#out;
    this.#out = undefined;
    if (out && isFileOutput(this.#opts.output)) {
      await new Promise<void>((resolve) => (out as WriteStream).end(resolve));
    }
  }
}

let isoSecond = NaN;
let isoPrefix = '';

/**
 * Date#toISOString for ms since the epoch, with the "YYYY-MM-DDTHH:MM:SS"
 * part cached per second: toISOString costs most of a microsecond on Node 24,
 * which is more than the rest of a decision record together.
 */
export function isoTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 19);
    isoSecond = second;
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${Math.floor(millis)}Z`;
}

function isFileOutput(output: string): boolean {
  return output !== 'stdout' && output !== 'stderr';
}

function openOutput(output: string): Writable {
  if (output === 'stdout') return process.stdout;
  if (output === 'stderr') return process.stderr;
  return createWriteStream(output, { flags: 'a' });
}

/** "/input/attributes/request/http/headers/authorization" -> segments (RFC 6901 escapes). */
function parsePointer(ptr: string): string[] {
  return ptr
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Removes the value at a path, copying each object on the way so the original
 * (the live input) is untouched. Objects are only copied when the value is
 * there. True when something was removed.
 */
function removeAt(root: Record<string, unknown>, path: readonly string[]): boolean {
  if (!has(root, path)) return false;
  let node: Record<string, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = node[key] as object;
    const copy = Array.isArray(next) ? [...next] : { ...next };
    node[key] = copy;
    node = copy as Record<string, unknown>;
  }
  delete node[path[path.length - 1] as string];
  return true;
}

function has(root: Record<string, unknown>, path: readonly string[]): boolean {
  if (path.length === 0) return false;
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}
