// Decision records shipped per OPA's decision-log protocol: gzipped JSON
// arrays POSTed to a service (decision_log.upload), as OPA's decision-log
// plugin does, so an OPA decision-log collector takes ztauthz's records.
//
// Off the Check's path: DecisionLog builds, masks and serialises a record at
// its flush (after the Check is answered) and pushes the line here; this only
// keeps strings. Rounds run on a timer (a random delay between the min and
// max, so replicas spread out; early once the buffer is half full), each
// sending everything buffered in bodies of at most upload_size_limit_bytes
// gzipped (gzip runs on libuv's thread pool). A failed request puts its
// records back at the front and the next round waits an exponential backoff
// (at least once: a record is removed only once the collector answered 2xx).
//
// Bounded: the buffer holds at most buffer_size_limit_bytes and _events of
// serialised records; past either, the OLDEST are dropped and counted, so a
// collector that is down for long loses the old records, not the new ones.
// A record that does not fit one body on its own is dropped and counted.
// On close, one last round runs within a time bound; what it could not send
// is counted as dropped (reason "shutdown").
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Counter, Gauge, type Registry } from './PromClient.ts';

const gzipAsync = promisify(gzip);
/**
 * Level 1: about half the CPU of zlib's default 6 on decision records
 * (1.1 against 2.4 µs a record of 674 bytes), for bodies 2 % larger: records
 * of one fleet repeat most of their text, which every level finds.
 */
const GZIP = { level: 1 };

export interface DecisionUploadOptions {
  /** POSTs one gzipped JSON array; rejects when the collector did not take it (not 2xx, no answer in time). */
  readonly post: (body: Buffer, signal: AbortSignal) => Promise<void>;
  /** Most bytes of one gzipped body. */
  readonly uploadLimitBytes: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxBufferBytes: number;
  readonly maxBufferEvents: number;
  /** Records taken per second at most (a token bucket of one second's worth); 0: no limit. */
  readonly maxPerSecond?: number | undefined;
  /** OPA's labels of every record: id, version and the configured ones. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The remote bundles' names in configuration order, for OPA's
   * `bundles: {<name>: {revision}}`; empty: a local policy (the record's
   * `revision` only). With several, a record's revision is theirs joined,
   * `authz:p1,grants:g7` (BundleCombine.ts).
   */
  readonly bundles?: readonly string[] | undefined;
  readonly registry: Registry;
  /** Told about each failed round (one line per failure, at most one per backoff delay). */
  readonly onFailure?: ((err: Error, buffered: number) => void) | undefined;
  /** Told about each body the collector took (status reports clear their decision_logs error). */
  readonly onSuccess?: (() => void) | undefined;
  /** The wait after this many failed rounds in a row (the bundle downloads' backoff: exponential from the min delay, capped at the max, jittered). */
  readonly backoffMs: (failures: number) => number;
  /** Source of randomness for the jitter (tests). */
  readonly random?: () => number;
}

/** Why a record was dropped before it was uploaded. */
type DropReason = 'buffer_full' | 'too_large' | 'shutdown' | 'rate_limited';

/** Uncompressed bytes per gzipped byte assumed before the first body has been measured (JSON records compress 5-10 times). */
const INITIAL_RATIO = 4;

export class DecisionUpload {
  readonly #o: DecisionUploadOptions;
  /** Serialised records, oldest first, from #head on (a queue without shift's copying). */
  #buffer: string[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  /** What the labels and bundles add in front of a record's own fields. */
  readonly #prefix: string;
  /** The last revision seen and its `"bundles":{…},` (a revision changes with a new bundle, not per record). */
  #bundlesFor: { revision: string; field: string } | undefined;
  #ratio = INITIAL_RATIO;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #closed = false;
  /** max_decisions_per_second's bucket: tokens left, and when it was last filled (ms). */
  #tokens = 0;
  #filled = 0;
  readonly #abort = new AbortController();
  readonly #dropped: Counter<'reason'>;
  readonly #uploads: Counter<'result'>;
  readonly #uploaded: Counter;

  constructor(opts: DecisionUploadOptions) {
    this.#o = opts;
    this.#tokens = opts.maxPerSecond ?? 0;
    this.#filled = performance.now();
    this.#prefix = `{"labels":${JSON.stringify(opts.labels)},`;
    const registers = [opts.registry];
    this.#dropped = new Counter({
      name: 'ztauthz_decision_log_upload_dropped_total',
      help: 'Decision records dropped before upload, by reason: buffer_full (the oldest, while the collector was down or slow), too_large (one record over upload_size_limit_bytes gzipped), shutdown (not sent within the bound at stop), rate_limited (over decision_log.upload.max_decisions_per_second).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['buffer_full', 'too_large', 'shutdown', 'rate_limited'] as const) this.#dropped.inc({ reason }, 0);
    this.#uploads = new Counter({
      name: 'ztauthz_decision_log_uploads_total',
      help: 'Decision-log upload requests by result: ok (2xx), failure (any other answer, no answer in time, or no connection; the records are kept for the next round).',
      labelNames: ['result'],
      registers,
    });
    this.#uploads.inc({ result: 'ok' }, 0);
    this.#uploads.inc({ result: 'failure' }, 0);
    this.#uploaded = new Counter({ name: 'ztauthz_decision_log_uploaded_total', help: 'Decision records the collector has taken.', registers });
    const bytes: Gauge = new Gauge({
      name: 'ztauthz_decision_log_upload_buffer_bytes',
      help: 'Bytes of serialised decision records waiting for upload (bounded by decision_log.upload.buffer_size_limit_bytes).',
      registers,
      collect: () => bytes.set(this.#bytes),
    });
    const events: Gauge = new Gauge({
      name: 'ztauthz_decision_log_upload_buffer_events',
      help: 'Decision records waiting for upload (bounded by decision_log.upload.buffer_size_limit_events).',
      registers,
      collect: () => events.set(this.buffered),
    });
    this.#schedule(this.#jitter());
  }

  /** Records waiting (sent ones in flight excluded). */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  get bufferedBytes(): number {
    return this.#bytes;
  }

  /**
   * Takes one record's masked line (DecisionLog's, newline included) and the
   * revision it was decided with. Drops the oldest past the bounds.
   */
  push(line: string, revision: string | undefined): void {
    if (this.#closed) return;
    if (this.#o.maxPerSecond && !this.#take()) {
      this.#drop('rate_limited', 1);
      return;
    }
    const event = this.#event(line, revision);
    // In UTF-16 units, which is bytes for ASCII (most of a record): Buffer.byteLength would flatten the
    // concatenated string first, 5 µs for a denial's record, more than the rest of the upload together.
    const size = event.length;
    if (size > this.#o.maxBufferBytes) {
      this.#drop('too_large', 1);
      return;
    }
    this.#buffer.push(event);
    this.#sizes.push(size);
    this.#bytes += size;
    this.#evict();
    if (this.#round === undefined && this.#halfFull()) this.#schedule(0);
  }

  /** Half full, and not backing off from a failure: a round should start now rather than let the timer's wait drop records. */
  #halfFull(): boolean {
    return this.#failures === 0 && (this.#bytes * 2 >= this.#o.maxBufferBytes || this.buffered * 2 >= this.#o.maxBufferEvents);
  }

  /** A token from the rate bucket (up to one second's worth, refilled as time passes). */
  #take(): boolean {
    const rate = this.#o.maxPerSecond!;
    const now = performance.now();
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#filled) / 1000) * rate);
    this.#filled = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** The event OPA's collectors read: labels (and bundles) first, then the record's own fields. */
  #event(line: string, revision: string | undefined): string {
    const body = line.slice(1, line.endsWith('\n') ? -1 : undefined);
    const bundles = revision === undefined ? '' : this.#bundlesField(revision);
    // A record always has fields; an empty one would leave a trailing comma.
    if (body === '}') return `${(this.#prefix + bundles).slice(0, -1)}}`;
    return this.#prefix + bundles + body;
  }

  #bundlesField(revision: string): string {
    if (this.#bundlesFor?.revision === revision) return this.#bundlesFor.field;
    const per = bundleRevisions(this.#o.bundles ?? [], revision);
    const field = per ? `"bundles":${JSON.stringify(Object.fromEntries(Object.entries(per).map(([name, r]) => [name, { revision: r }])))},` : '';
    this.#bundlesFor = { revision, field };
    return field;
  }

  #evict(): void {
    let n = 0;
    while (this.buffered > 0 && (this.#bytes > this.#o.maxBufferBytes || this.buffered > this.#o.maxBufferEvents)) {
      this.#bytes -= this.#sizes[this.#head]!;
      this.#head++;
      n++;
    }
    if (n) {
      this.#drop('buffer_full', n);
      this.#compact();
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }

  #drop(reason: DropReason, n: number): void {
    this.#dropped.inc({ reason }, n);
  }

  #jitter(): number {
    const r = (this.#o.random ?? Math.random)();
    return this.#o.minDelayMs + r * (this.#o.maxDelayMs - this.#o.minDelayMs);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.#runRound()
        .catch((err: unknown) => this.#o.onFailure?.(err as Error, this.buffered))
        .finally(() => {
          this.#round = undefined;
          this.#schedule(this.#failures ? this.#o.backoffMs(this.#failures) : this.#halfFull() ? 0 : this.#jitter());
        });
    }, ms);
    // Pending records do not keep the process alive; close() sends them.
    this.#timer.unref();
  }

  /** Sends everything buffered, a body at a time; stops at the first failure (the rest waits for the backoff). */
  async #runRound(): Promise<void> {
    // What was held when the round began: records that arrive meanwhile wait for the next round, so a
    // busy server sends full bodies on the timer instead of a small body after every answer.
    let left = this.buffered;
    while (left > 0 && this.buffered > 0 && !this.#abort.signal.aborted) {
      const taken = await this.#takeBody(left);
      if (!taken) {
        left--;
        continue;
      }
      const { body, events, sizes } = taken;
      try {
        await this.#o.post(body, this.#abort.signal);
        this.#uploads.inc({ result: 'ok' });
        this.#uploaded.inc(events.length);
        this.#failures = 0;
        left -= events.length;
        this.#o.onSuccess?.();
      } catch (err) {
        this.#uploads.inc({ result: 'failure' });
        this.#failures++;
        this.#putBack(events, sizes);
        this.#o.onFailure?.(err as Error, this.buffered);
        return;
      }
    }
  }

  /**
   * Takes up to `max` records from the front for one body within the upload limit:
   * about as many as the last bodies' compression ratio says fit, the back
   * half put back until the gzipped body fits. A record too large on its own
   * is dropped. Undefined when it dropped one instead.
   *
   * The records leave the buffer before gzip: pushes during the await may
   * evict or compact the buffer, and must never count or move a record that
   * is being compressed or sent.
   */
  async #takeBody(max: number): Promise<{ body: Buffer; events: string[]; sizes: number[] } | undefined> {
    const limit = this.#o.uploadLimitBytes;
    const target = limit * this.#ratio;
    let count = 0;
    let raw = 2;
    while (count < max && this.#head + count < this.#buffer.length && (count === 0 || raw + this.#sizes[this.#head + count]! + 1 <= target)) {
      raw += this.#sizes[this.#head + count]! + 1;
      count++;
    }
    const events = this.#buffer.slice(this.#head, this.#head + count);
    const sizes = this.#sizes.slice(this.#head, this.#head + count);
    this.#head += count;
    for (const n of sizes) this.#bytes -= n;
    this.#compact();
    for (;;) {
      const body = await gzipAsync(`[${events.join(',')}]`, GZIP);
      const rawBytes = sizes.reduce((n, size) => n + size, 2 + events.length);
      // Learnt a little under the measured ratio, so the next body lands inside the limit.
      this.#ratio = Math.max(1, (rawBytes / body.length) * 0.9);
      if (body.length <= limit) return { body, events, sizes };
      if (events.length === 1) {
        this.#drop('too_large', 1);
        return undefined;
      }
      const keep = Math.ceil(events.length / 2);
      this.#putBack(events.splice(keep), sizes.splice(keep));
    }
  }

  /** A failed body's records go back in front (they are the oldest), within the bounds. */
  #putBack(events: string[], sizes: number[]): void {
    if (this.#head >= events.length) {
      this.#head -= events.length;
      for (let i = 0; i < events.length; i++) {
        this.#buffer[this.#head + i] = events[i]!;
        this.#sizes[this.#head + i] = sizes[i]!;
      }
    } else {
      this.#buffer = [...events, ...this.#buffer.slice(this.#head)];
      this.#sizes = [...sizes, ...this.#sizes.slice(this.#head)];
      this.#head = 0;
    }
    for (const s of sizes) this.#bytes += s;
    this.#evict();
  }

  /** Starts a round now (tests; SIGHUP). */
  flushSoon(): void {
    if (this.#round === undefined) this.#schedule(0);
  }

  /** Waits for the round in flight, if any, then one last round, all within `boundMs`; what is left is counted as dropped. */
  async close(boundMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const bound = setTimeout(() => this.#abort.abort(), boundMs);
    try {
      await this.#round;
      // Also after a failure just now: one more try, still within the bound.
      await this.#runRound();
    } catch (err) {
      this.#o.onFailure?.(err as Error, this.buffered);
    } finally {
      clearTimeout(bound);
      if (this.buffered) this.#drop('shutdown', this.buffered);
      this.#buffer = [];
      this.#sizes = [];
      this.#head = 0;
      this.#bytes = 0;
    }
  }
}

/**
 * Each bundle's revision from a policy revision: with one bundle, the revision
 * itself; with several, `name:revision` pairs in configuration order, joined
 * by commas. Undefined when there are no bundles or the revision does not
 * have that shape (a policy not from these bundles).
 */
export function bundleRevisions(names: readonly string[], revision: string): Record<string, string> | undefined {
  if (names.length === 0) return undefined;
  if (names.length === 1) return { [names[0]!]: revision };
  const out: Record<string, string> = {};
  let at = 0;
  for (let i = 0; i < names.length; i++) {
    const prefix = `${i === 0 ? '' : ','}${names[i]}:`;
    if (!revision.startsWith(prefix, at)) return undefined;
    at += prefix.length;
    const end = i + 1 < names.length ? revision.indexOf(`,${names[i + 1]}:`, at) : revision.length;
    if (end === -1) return undefined;
    out[names[i]!] = revision.slice(at, end);
    at = end;
  }
  return out;
}
