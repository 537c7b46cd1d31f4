// Decision records as JSON lines, named like OPA's decision log where the two
// overlap (decision_id, trace_id, span_id, timestamp, path, revision, input,
// result, erased, metrics.timer_rego_query_eval_ns / timer_server_handler_ns).
// Lines are bounded: an input too large to log is replaced by its size.
// Allowed decisions may be sampled (decision_log.sample_allowed); denials,
// errors included, are always written.
//
// Off the Check's path: a Check only queues its entry (a function that builds
// the record, and whether it carries the input). Records are built, masked,
// serialised and written in batches once per turn of the event loop
// (setImmediate), in the order they were queued. The queue is bounded
// (MAX_PENDING entries); so is the output's own buffer (MAX_BUFFERED_BYTES):
// past either, new records are dropped and counted. A record that fails to
// build or serialise (when the Check is long answered) is replaced by a
// minimal one saying so (log_error), and counted.
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

/** Which records carry the input (decision_log.include_input; true and false are the old spellings of all and none). */
export type IncludeInput = 'all' | 'denied' | 'none';

export interface DecisionLogOptions {
  readonly enabled: boolean;
  readonly output: string;
  readonly includeInput: IncludeInput | boolean;
  /** With includeInput "denied": fraction of allowed records that carry the input too (decision_log.input_sample_allowed; default 0). */
  readonly inputSampleAllowed?: number | undefined;
  readonly mask: readonly string[];
  /** Longest line written; records over it lose their input. */
  readonly maxLineBytes?: number;
  /** Fraction of allowed decisions written (decision_log.sample_allowed, 0..1; default 1). Denials are always written. */
  readonly sampleAllowed?: number;
  /** Source of randomness for sampling (tests). */
  readonly random?: () => number;
}

/** One Check's record, as queued: built and serialised on the next flush. */
export interface LogEntry {
  readonly decisionId: string;
  /** The real decision (also in dry run): allowed records may be sampled out. */
  readonly allowed: boolean;
  readonly reason: string;
  /** ms since the epoch. */
  readonly timestamp: number;
  /** Whether the line keeps the record's input (see inputFor()). */
  readonly withInput: boolean;
  /** The record, unmasked; called once, at the flush. */
  readonly build: () => DecisionRecord;
}

/** A non-decision event: its timestamp is taken when it happens, its line written in order with the records. */
interface EventEntry {
  readonly event: Record<string, unknown>;
}

/** Past this much unflushed output, records are dropped (and counted) rather than queued without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Most entries waiting for a flush (one turn of the event loop's worth at any realistic rate); past it, new ones are dropped and counted. */
const MAX_PENDING = 20_000;
/** Serialised lines are handed to the output in pieces of about this many characters. */
const WRITE_CHUNK = 64 * 1024;

export class DecisionLog {
  readonly #opts: DecisionLogOptions;
  readonly #metrics: Metrics | undefined;
  readonly #maxLine: number;
  readonly #masks: readonly { readonly pointer: string; readonly path: readonly string[] }[];
  readonly #sample: number;
  readonly #include: IncludeInput;
  readonly #inputSample: number;
  readonly #random: () => number;
  #out: Writable | undefined;
  #queue: (LogEntry | EventEntry)[] = [];
  #scheduled = false;
  readonly #flushSoon = (): void => this.flush();

  constructor(opts: DecisionLogOptions, metrics?: Metrics) {
    this.#opts = opts;
    this.#metrics = metrics;
    this.#maxLine = opts.maxLineBytes ?? 256 * 1024;
    this.#masks = opts.mask.map((pointer) => ({ pointer, path: parsePointer(pointer) }));
    this.#sample = opts.sampleAllowed ?? 1;
    this.#include = opts.includeInput === true ? 'all' : opts.includeInput === false ? 'none' : opts.includeInput;
    this.#inputSample = this.#include === 'denied' ? (opts.inputSampleAllowed ?? 0) : 0;
    this.#random = opts.random ?? Math.random;
    if (opts.enabled) this.#out = openOutput(opts.output);
  }

  /** Whether write() can write anything (records are only built for an enabled log). */
  get enabled(): boolean {
    return this.#out !== undefined;
  }

  /** Whether every record carries the policy input (include_input "all"): then no Check can be answered without building one. */
  get inputOnEveryRecord(): boolean {
    return this.#opts.enabled && this.#include === 'all';
  }

  /**
   * Whether the record of a decision (allowed or not) carries the input:
   * "all" always, "none" never, "denied" for denials and the sampled share
   * of allows (a fresh draw per call: call once per Check).
   */
  inputFor(allowed: boolean): boolean {
    if (!this.#opts.enabled) return false;
    switch (this.#include) {
      case 'all':
        return true;
      case 'none':
        return false;
      default:
        return !allowed || (this.#inputSample > 0 && this.#random() < this.#inputSample);
    }
  }

  /**
   * Queues a decision record unless it is an allowed decision sampled out, or
   * the log is behind. True when queued. The record is built, masked and
   * serialised at the next flush, after the Check is answered.
   */
  write(entry: LogEntry): boolean {
    const out = this.#out;
    if (!out) return false;
    // A denial (entry.allowed is the real decision, also in dry run) is never sampled out.
    if (entry.allowed && this.#sample < 1 && !(this.#random() < this.#sample)) {
      this.#metrics?.decisionLogSampledOut.inc();
      return false;
    }
    return this.#enqueue(out, entry);
  }

  /** Writes a non-decision event (shadow disagreement, behaviour signal) as its own line, in order with the records. */
  writeEvent(event: Record<string, unknown>): void {
    const out = this.#out;
    if (!out) return;
    this.#enqueue(out, { event: { timestamp: isoTimestamp(Date.now()), ...event } });
  }

  #enqueue(out: Writable, entry: LogEntry | EventEntry): boolean {
    if (this.#queue.length >= MAX_PENDING || out.writableLength > MAX_BUFFERED_BYTES) {
      this.#metrics?.decisionLogDropped.inc();
      return false;
    }
    this.#queue.push(entry);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushSoon);
    }
    return true;
  }

  /**
   * Builds, serialises and writes every queued entry now (the flush a turn of
   * the event loop does by itself; also before a reopen and at close). Never
   * throws: a record that cannot be built or serialised becomes a minimal
   * record with log_error, an output that throws loses the batch (counted).
   */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    const out = this.#out;
    if (!out) {
      this.#metrics?.decisionLogDropped.inc(queue.length);
      return;
    }
    let chunk = '';
    let dropped = 0;
    for (let i = 0; i < queue.length; i++) {
      const entry = queue[i]!;
      // The bound holds for the batch too: what the output has not taken yet plus what this flush adds.
      if (out.writableLength + chunk.length > MAX_BUFFERED_BYTES) {
        dropped++;
        continue;
      }
      chunk += 'event' in entry ? this.#eventLine(entry.event) : this.#line(entry);
      if (chunk.length >= WRITE_CHUNK) {
        // An output that throws loses this piece (counted as an error) and the rest of the batch (dropped).
        if (!this.#put(out, chunk)) {
          dropped += queue.length - i - 1;
          break;
        }
        chunk = '';
      }
    }
    if (chunk) this.#put(out, chunk);
    if (dropped) this.#metrics?.decisionLogDropped.inc(dropped);
  }

  /** Hands a piece to the output; false (and counted) when the output throws. */
  #put(out: Writable, chunk: string): boolean {
    try {
      out.write(chunk);
      return true;
    } catch {
      this.#metrics?.decisionLogErrors.inc();
      return false;
    }
  }

  /** The line of a queued record; a record that fails to build or serialise is replaced by a minimal one, and counted. */
  #line(entry: LogEntry): string {
    let record: DecisionRecord | undefined;
    try {
      record = entry.build();
      return this.format(record, entry.withInput);
    } catch (err) {
      this.#metrics?.decisionLogErrors.inc();
      return this.#fallbackLine(entry, record, err);
    }
  }

  /**
   * What is left of a record that failed: the decision and where it was made,
   * no input, result, identity or route (one of them is what failed), and
   * log_error. Top-level fields a mask names are left out as well.
   */
  #fallbackLine(entry: LogEntry, record: DecisionRecord | undefined, err: unknown): string {
    const view: Record<string, unknown> = {
      decision_id: entry.decisionId,
      trace_id: record?.trace_id,
      span_id: record?.span_id,
      timestamp: isoTimestamp(entry.timestamp),
      path: record?.path,
      revision: record?.revision,
      allowed: entry.allowed,
      reason: entry.reason,
      dry_run: record?.dry_run,
      http_status: record?.http_status,
      log_error: `the record could not be ${record ? 'serialised' : 'built'}: ${describe(err)}`,
    };
    for (const mask of this.#masks) if (mask.path.length === 1) delete view[mask.path[0] as string];
    try {
      return JSON.stringify(view) + '\n';
    } catch {
      return JSON.stringify({ decision_id: entry.decisionId, allowed: entry.allowed, log_error: 'the record could not be serialised' }) + '\n';
    }
  }

  #eventLine(event: Record<string, unknown>): string {
    try {
      return JSON.stringify(event) + '\n';
    } catch (err) {
      this.#metrics?.decisionLogErrors.inc();
      return JSON.stringify({ timestamp: event['timestamp'], type: String(event['type']), log_error: `the event could not be serialised: ${describe(err)}` }) + '\n';
    }
  }

  /**
   * The line for a record (masked, bounded), newline included. Removed
   * pointers are listed in `erased`, as OPA does. `withInput` false leaves the
   * input out (default: as include_input says for the record's decision,
   * without input sampling).
   */
  format(record: DecisionRecord, withInput: boolean = this.#include === 'all' || (this.#include === 'denied' && !record.allowed)): string {
    const view: Record<string, unknown> = { ...record };
    if (!withInput) delete view['input'];
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

  /** Reopens a file output (log rotation: call on SIGHUP). Queued records go to the old file first. */
  reopen(): void {
    if (!this.#opts.enabled || !isFileOutput(this.#opts.output)) return;
    this.flush();
    const old = this.#out;
    this.#out = openOutput(this.#opts.output);
    old?.end();
  }

  /** Writes what is queued and closes a file output (a standard stream is only flushed). */
  async close(): Promise<void> {
    this.flush();
    const out = this.#out;
    this.#out = undefined;
    if (out && isFileOutput(this.#opts.output)) {
      await new Promise<void>((resolve) => (out as WriteStream).end(resolve));
    }
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return 'an unprintable value was thrown';
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
