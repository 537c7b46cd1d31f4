// Keeps one remote bundle current, as OPA's bundle plugin does: poll with
// If-None-Match, wait a random delay between min and max (so a fleet of
// replicas does not hit the server in step), re-ask at once while the server
// long-polls, back off exponentially (capped at max, jittered) after failures.
// A downloaded bundle is activated only once it has loaded completely; a bad
// one is counted and the previous policy keeps serving. What loading means
// (one bundle alone, or one of several combined) is the caller's
// (BundleSet.ts). With persist the last good archive is written to disk
// (atomically) and loaded at start, so a replica restarted while the service
// is down still serves.
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FetchRequest, FetchResult } from './BundleHttp.ts';

export interface RemoteBundleOptions {
  readonly name: string;
  readonly fetch: (r: FetchRequest) => Promise<FetchResult>;
  /**
   * Takes a downloaded (or persisted) archive into the policy; throws when it
   * is refused, and the bundle's previous copy stays (its ETag too, so the
   * refused one is fetched again rather than answered 304).
   */
  readonly load: (bytes: Uint8Array, source: 'download' | 'persisted') => Promise<void>;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Long-poll wait (seconds); absent: plain polling. */
  readonly longPollSeconds?: number | undefined;
  readonly maxBytes: number;
  /** Directory for the last good copy; absent: not persisted. */
  readonly persistDir?: string | undefined;
  readonly events: RemoteBundleEvents;
}

export interface RemoteBundleEvents {
  /** A download answered: a new bundle (of `size` bytes), or not_modified. */
  downloaded(result: 'bundle' | 'not_modified', size?: number): void;
  /** A download or a load failed; the previous policy (if any) keeps serving. */
  failed(stage: 'download' | 'load' | 'persist', err: Error): void;
}

export class RemoteBundle {
  readonly #o: RemoteBundleOptions;
  readonly #abort = new AbortController();
  #etag: string | undefined;
  #failures = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(opts: RemoteBundleOptions) {
    this.#o = opts;
  }

  /** Loads the persisted copy (if any), then polls in the background. */
  async start(): Promise<void> {
    await this.#loadPersisted();
    this.#loop = this.#run();
  }

  /** Ends the wait before the next poll (SIGHUP): a request already in flight is left to answer. */
  pollNow(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #loadPersisted(): Promise<void> {
    const dir = this.#o.persistDir;
    if (!dir || !existsSync(join(dir, 'bundle.tar.gz'))) return;
    try {
      await this.#o.load(readFileSync(join(dir, 'bundle.tar.gz')), 'persisted');
      // The stored ETag belongs to that copy: an unchanged server answers 304.
      this.#etag = existsSync(join(dir, 'etag')) ? readFileSync(join(dir, 'etag'), 'utf8') || undefined : undefined;
    } catch (err) {
      this.#o.events.failed('load', err as Error);
    }
  }

  async #run(): Promise<void> {
    let longPolling = false;
    while (!this.#abort.signal.aborted) {
      let delay: number;
      try {
        const result = await this.#o.fetch({
          etag: this.#etag,
          waitSeconds: this.#o.longPollSeconds,
          maxBytes: this.#o.maxBytes,
          signal: this.#abort.signal,
        });
        longPolling = result.longPolling;
        this.#o.events.downloaded(result.status, result.status === 'bundle' ? result.bytes.length : undefined);
        if (result.status === 'bundle') await this.#take(result.bytes, result.etag);
        this.#failures = 0;
        // The server held the request until a change or its wait ran out: ask again now.
        delay = longPolling ? 0 : this.#jitter(this.#o.minDelayMs, this.#o.maxDelayMs);
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#failures++;
        this.#o.events.failed(isLoadError(err) ? 'load' : 'download', err as Error);
        delay = this.#backoff();
      }
      if (delay > 0) await this.#sleep(delay);
    }
  }

  async #take(bytes: Buffer, etag: string | undefined): Promise<void> {
    try {
      await this.#o.load(bytes, 'download');
    } catch (err) {
      throw Object.assign(err as Error, { [LOAD_FAILED]: true });
    }
    this.#etag = etag;
    this.#persist(bytes, etag);
  }

  #persist(bytes: Buffer, etag: string | undefined): void {
    const dir = this.#o.persistDir;
    if (!dir) return;
    try {
      mkdirSync(dir, { recursive: true });
      // Written beside and renamed over, so a crash never leaves half a bundle to load at start.
      const tmp = `.${process.pid}.tmp`; // server.workers share the directory
      writeFileSync(join(dir, `bundle.tar.gz${tmp}`), bytes);
      renameSync(join(dir, `bundle.tar.gz${tmp}`), join(dir, 'bundle.tar.gz'));
      writeFileSync(join(dir, `etag${tmp}`), etag ?? '');
      renameSync(join(dir, `etag${tmp}`), join(dir, 'etag'));
    } catch (err) {
      this.#o.events.failed('persist', err as Error);
    }
  }

  #jitter(min: number, max: number): number {
    return min + Math.random() * (max - min);
  }

  #backoff(): number {
    return backoffDelay(this.#failures, this.#o.minDelayMs, this.#o.maxDelayMs, Math.random());
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * The wait after `failures` failures in a row: exponential from min, capped
 * at max, with up to 20% taken off (`random` in [0, 1)) so failing replicas
 * spread out instead of retrying in step.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  return base * (0.8 + random * 0.2);
}

const LOAD_FAILED = Symbol('load failed');

function isLoadError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && LOAD_FAILED in err;
}
