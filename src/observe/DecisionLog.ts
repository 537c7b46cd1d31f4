// Decision records as JSON lines, named like OPA's decision log where the two
// overlap (decision_id, trace_id, span_id, timestamp, path, revision, input,
// result, erased, metrics.timer_rego_query_eval_ns / timer_server_handler_ns).
// Lines are bounded: an input too large to log is replaced by its size.
// Allowed decisions may be sampled (decision_log.sample_allowed); denials,
// errors included, are always written.
//
// Off the Check's path: a Check only queues its entry (a function that builds
// the record, and whether it carries the input). Records are built, masked,
// serialised and written once per turn of the event loop (setImmediate), in
// the order they were queued. The queue is bounded (MAX_PENDING entries).
//
// pino serialises and masks (decision_log.mask pointers become `redact`
// paths with `remove`, see MaskPaths.ts), except a record no mask finds
// anything in, whose line is written the way pino would (UnmaskedLine.ts,
// test/observe/decision-line.test.ts); pino.destination writes
// (DecisionLogOutput.ts), its buffer bounded: once it drops a piece, every
// record after it is dropped unbuilt, and counted, until the buffer has been
// written out. Cost on Node 24 (`node bench/log-serialise.ts`): an
// allowed record without input 2.7 µs against 1.9 µs for the JSON.stringify
// this replaced; a denial's record with its masked input 11 µs either way.
// A repeated allowed Check in process (`ONLY=repeat-allow node
// bench/decision-log.ts`) went from about 9 to 11-13 µs on a loaded 2-core
// machine, about 1-3 % of a Check served over gRPC; kept for one serialiser
// and one masking, both pino's.
// What stays hand-written, and why: the queue (pino serialises at the call,
// and the Check must not pay for it); `erased` (OPA lists the masks that
// removed something, which pino's `remove` does not report); the oversize
// rule (pino has no line limit); the minimal record for one that fails to
// build; and the pieces handed to the output (see #put).
//
// With decision_log.upload, each record's masked line also goes to the
// uploader (DecisionUpload.ts), which ships it per OPA's decision-log
// protocol; the console output (decision_log.enabled) may then be off, and
// records are built for the upload alone.
//
// A policy that defines OPA's decision-log rules (system/log/drop and
// system/log/mask, see PolicyMask.ts) has them run on each record: a dropped
// one is not logged; the mask runs before decision_log.mask, what it removes
// listed in `erased`, what it replaces in `masked`, on the console and in
// uploads alike.
import { pino, type Logger as Pino } from 'pino';
import { isoTimestamp, type DecisionRecord } from './DecisionRecord.ts';
import type { Metrics } from './Metrics.ts';
import { LogOutput } from './DecisionLogOutput.ts';
import type { DecisionUpload } from './DecisionUpload.ts';
import { hasPath, maskPaths, type MaskPath } from './MaskPaths.ts';
import { applyMask, type PolicyLogRules } from './PolicyMask.ts';
import { unmaskedLine } from './UnmaskedLine.ts';

export type { DecisionRecord, RecordIdentity, RecordRoute } from './DecisionRecord.ts';
export { isoTimestamp } from './DecisionRecord.ts';

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
  /** Where records are uploaded too (decision_log.upload); closed with the log. */
  readonly upload?: DecisionUpload | undefined;
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

/** Most entries waiting for a flush (one turn of the event loop's worth at any realistic rate); past it, new ones are dropped and counted. */
const MAX_PENDING = 20_000;
/** Serialised lines are handed to the output in pieces of about this many characters (see #put). */
const WRITE_CHUNK = 64 * 1024;

/** pino, configured to write a record as it is: no level, time, pid or hostname of its own. */
function recordWriter(sink: { write(line: string): void }, redactPaths: readonly string[]): Pino {
  return pino(
    {
      base: null,
      timestamp: false,
      // pino has no way to leave the level out: an empty object leaves "{," at the start of the line, which LineSink takes off.
      formatters: { level: () => ({}) },
      ...(redactPaths.length ? { redact: { paths: [...redactPaths], remove: true } } : {}),
    },
    sink,
  );
}

/**
 * Where pino hands each line: kept for the log to look at (length) before it
 * goes to the output. The "{," pino writes without a level (pinojs/pino#1042)
 * becomes "{".
 */
class LineSink {
  line = '';
  write(line: string): void {
    this.line = line.charCodeAt(1) === 44 ? `{${line.slice(2)}` : line;
  }
}

export class DecisionLog {
  readonly #opts: DecisionLogOptions;
  readonly #metrics: Metrics | undefined;
  readonly #maxLine: number;
  readonly #masks: readonly MaskPath[];
  readonly #sample: number;
  readonly #include: IncludeInput;
  readonly #inputSample: number;
  readonly #random: () => number;
  readonly #sink = new LineSink();
  /** Records, masked. */
  readonly #records: Pino;
  /** Events and minimal records: written as they are (masks name record fields). */
  readonly #plain: Pino;
  #out: LogOutput | undefined;
  #upload: DecisionUpload | undefined;
  #policyRules: PolicyLogRules | undefined;
  /** The revision of the record #line last built (for the upload's bundles field). */
  #revision: string | undefined;
  #queue: (LogEntry | EventEntry)[] = [];
  #scheduled = false;
  readonly #flushSoon = (): void => this.flush();

  constructor(opts: DecisionLogOptions, metrics?: Metrics) {
    this.#opts = opts;
    this.#metrics = metrics;
    this.#maxLine = opts.maxLineBytes ?? 256 * 1024;
    this.#masks = maskPaths(opts.mask);
    this.#sample = opts.sampleAllowed ?? 1;
    this.#include = opts.includeInput === true ? 'all' : opts.includeInput === false ? 'none' : opts.includeInput;
    this.#inputSample = this.#include === 'denied' ? (opts.inputSampleAllowed ?? 0) : 0;
    this.#random = opts.random ?? Math.random;
    this.#records = recordWriter(
      this.#sink,
      this.#masks.map((m) => m.redactPath),
    );
    this.#plain = recordWriter(this.#sink, []);
    if (opts.enabled) this.#out = this.#open();
    this.#upload = opts.upload;
  }

  /** Whether write() can write anything (records are only built for an enabled log): a console output or an upload. */
  get enabled(): boolean {
    return this.#out !== undefined || this.#upload !== undefined;
  }

  /** Runs the policy's drop and mask rules on each record from now on (set once the policy store exists). */
  usePolicyRules(rules: PolicyLogRules): void {
    this.#policyRules = rules;
  }

  /** Whether every record carries the policy input (include_input "all"): then no Check can be answered without building one. */
  get inputOnEveryRecord(): boolean {
    return this.enabled && this.#include === 'all';
  }

  /**
   * Whether the record of a decision (allowed or not) carries the input:
   * "all" always, "none" never, "denied" for denials and the sampled share
   * of allows (a fresh draw per call: call once per Check).
   */
  inputFor(allowed: boolean): boolean {
    if (!this.enabled) return false;
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
    if (!this.enabled) return false;
    // A denial (entry.allowed is the real decision, also in dry run) is never sampled out.
    if (entry.allowed && this.#sample < 1 && !(this.#random() < this.#sample)) {
      this.#metrics?.decisionLogSampledOut.inc();
      return false;
    }
    return this.#enqueue(entry);
  }

  /** Writes a non-decision event (shadow disagreement, behaviour signal) as its own line, in order with the records. */
  writeEvent(event: Record<string, unknown>): void {
    if (!this.#out) return;
    this.#enqueue({ event: { timestamp: isoTimestamp(Date.now()), ...event } });
  }

  #enqueue(entry: LogEntry | EventEntry): boolean {
    // A full console drops records unbuilt, unless they are built for the upload anyway.
    if ((this.#out?.refusing && !this.#upload) || this.#queue.length >= MAX_PENDING) {
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
   * Builds, serialises and hands to the output every queued entry now (the
   * flush a turn of the event loop does by itself; also before a reopen and
   * at close). Never throws: a record that cannot be built or serialised
   * becomes a minimal record with log_error.
   */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    let chunk = '';
    let dropped = 0;
    const upload = this.#upload;
    for (const entry of queue) {
      // A full output drops the rest of the batch unbuilt (built for the upload, not written).
      const toConsole = this.#out !== undefined && !this.#out.refusing;
      if ('event' in entry) {
        // Events (shadow, behaviour) are not decisions: console only.
        if (toConsole) chunk += this.#eventLine(entry.event);
        else if (this.#out) dropped++;
      } else if (toConsole || upload) {
        this.#revision = undefined;
        const line = this.#line(entry);
        // The policy's drop rule said not to log it.
        if (line === '') continue;
        if (toConsole) chunk += line;
        else if (this.#out) dropped++;
        upload?.push(line, this.#revision);
      } else dropped++;
      if (chunk.length >= WRITE_CHUNK) {
        this.#put(chunk);
        chunk = '';
      }
    }
    if (chunk) this.#put(chunk);
    if (dropped) this.#metrics?.decisionLogDropped.inc(dropped);
  }

  /**
   * Hands a piece to the output. Lines go in pieces, not one by one:
   * sonic-boom appends each write to its last buffer and measures that
   * buffer's UTF-8 length again, which one line at a time costs more than
   * serialising the record (about 15 µs a line against 2).
   */
  #put(chunk: string): void {
    // Only a destroyed output throws (sonic-boom reports failed writes as 'error').
    if (this.#out && !this.#out.write(chunk)) this.#metrics?.decisionLogErrors.inc();
  }

  /** The line of a queued record ('' when the policy's drop rule drops it); a record that fails to build or serialise is replaced by a minimal one, and counted. */
  #line(entry: LogEntry): string {
    let record: DecisionRecord | undefined;
    try {
      record = entry.build();
      this.#revision = record.revision;
      if (this.#policyRules?.drop(record as unknown as Record<string, unknown>)) return '';
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
    try {
      // The masked writer: a mask on a top-level field (say /revision) applies here too.
      this.#records.info(view);
      return this.#sink.line;
    } catch {
      return `${JSON.stringify({ decision_id: entry.decisionId, allowed: entry.allowed, log_error: 'the record could not be serialised' })}\n`;
    }
  }

  #eventLine(event: Record<string, unknown>): string {
    try {
      this.#plain.info(event);
      return this.#sink.line;
    } catch (err) {
      this.#metrics?.decisionLogErrors.inc();
      return `${JSON.stringify({ timestamp: event['timestamp'], type: String(event['type']), log_error: `the event could not be serialised: ${describe(err)}` })}\n`;
    }
  }

  /**
   * The line for a record (masked, bounded), newline included. Masks that
   * removed something are listed in `erased`, as OPA does. `withInput` false
   * leaves the input out (default: as include_input says for the record's
   * decision, without input sampling). Throws when pino does (a getter that
   * throws, say).
   */
  format(record: DecisionRecord, withInput: boolean = this.#include === 'all' || (this.#include === 'denied' && !record.allowed)): string {
    // The policy's mask rule may change any record: then pino writes every one.
    if (!this.#policyRules?.hasMask()) {
      const fast = unmaskedLine(record, withInput, this.#masks, this.#maxLine);
      if (fast !== undefined) return fast;
    }
    const view: Record<string, unknown> = { ...record };
    if (!withInput) delete view['input'];
    let erased: string[] | undefined;
    // The policy's mask rule first (it sees the record as the policy decided it), then decision_log.mask.
    const ops = this.#policyRules?.mask(view);
    if (ops?.length) {
      const done = applyMask(view, ops);
      if (done.erased.length) erased = done.erased;
      if (done.masked.length) view['masked'] = done.masked;
    }
    for (const mask of this.#masks) if (hasPath(view, mask.segments)) (erased ??= []).push(mask.pointer);
    if (erased) view['erased'] = erased;
    this.#records.info(view);
    const line = this.#sink.line;
    // In bytes; a UTF-16 unit is at most 3 UTF-8 bytes, so shorter lines are not measured.
    if (view['input'] === undefined || line.length * 3 <= this.#maxLine || Buffer.byteLength(line) <= this.#maxLine) return line;
    // Too long: the input goes, replaced by its (masked, serialised) size, which is what the two lines differ by.
    const stub = { erased: 'input too large to log', bytes: 0 };
    view['input'] = stub;
    this.#records.info(view);
    stub.bytes = Buffer.byteLength(line) - Buffer.byteLength(this.#sink.line) + Buffer.byteLength(JSON.stringify({ ...stub, bytes: 0 }));
    this.#records.info(view);
    return this.#sink.line;
  }

  #open(): LogOutput {
    return new LogOutput(this.#opts.output, {
      dropped: (records) => this.#metrics?.decisionLogDropped.inc(records),
      failed: () => this.#metrics?.decisionLogErrors.inc(),
    });
  }

  /** Reopens a file output (log rotation: call on SIGHUP). Queued records are handed to the output first; what it has not written by then goes to the new file. */
  reopen(): void {
    if (!this.#out) return;
    this.flush();
    if (!this.#out.reopen()) this.#metrics?.decisionLogErrors.inc();
  }

  /**
   * Writes what is queued and ends the output (a standard stream is left
   * open), waiting a bounded time for it to be written; the upload sends
   * what it holds within its own bound.
   */
  async close(): Promise<void> {
    this.flush();
    const out = this.#out;
    const upload = this.#upload;
    this.#out = undefined;
    this.#upload = undefined;
    await Promise.all([out?.end(), upload?.close()]);
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return 'an unprintable value was thrown';
  }
}
