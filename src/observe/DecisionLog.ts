// Decision records as JSON lines, named like OPA's decision log where the two
// overlap (decision_id, timestamp, path, input, result, metrics.timer_*_ns).
// Lines are bounded: an input too large to log is replaced by its size.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { JsonObject, JsonValue } from '../types/Json.ts';
import type { Metrics } from './Metrics.ts';

export interface DecisionRecord {
  decision_id: string;
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
  metrics: { timer_check_ns: number; timer_eval_ns: number };
}

export interface DecisionLogOptions {
  readonly enabled: boolean;
  readonly output: string;
  readonly includeInput: boolean;
  readonly mask: readonly string[];
  /** Longest line written; records over it lose their input. */
  readonly maxLineBytes?: number;
}

/** Past this much unflushed output, records are dropped (and counted) rather than queued without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export class DecisionLog {
  readonly #opts: DecisionLogOptions;
  readonly #metrics: Metrics | undefined;
  readonly #maxLine: number;
  readonly #masks: readonly string[][];
  #out: Writable | undefined;

  constructor(opts: DecisionLogOptions, metrics?: Metrics) {
    this.#opts = opts;
    this.#metrics = metrics;
    this.#maxLine = opts.maxLineBytes ?? 256 * 1024;
    this.#masks = opts.mask.map(parsePointer);
    if (opts.enabled) this.#out = openOutput(opts.output);
  }

  write(record: DecisionRecord): void {
    const out = this.#out;
    if (!out) return;
    if (out.writableLength > MAX_BUFFERED_BYTES) {
      this.#metrics?.decisionLogDropped.inc();
      return;
    }
    out.write(this.format(record));
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

  /** The line for a record (masked, bounded), newline included. */
  format(record: DecisionRecord): string {
    const view: Record<string, unknown> = { ...record };
    if (!this.#opts.includeInput) delete view['input'];
    for (const ptr of this.#masks) removeAt(view, ptr);
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

/** Removes the value at a path, copying each object on the way so the original (the live input) is untouched. */
function removeAt(root: Record<string, unknown>, path: readonly string[]): void {
  let node: Record<string, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = node[key];
    if (next === null || typeof next !== 'object') return;
    const copy = Array.isArray(next) ? [...next] : { ...(next as object) };
    node[key] = copy;
    node = copy as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined && last in node) delete node[last];
}
