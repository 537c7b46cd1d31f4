// Watches a policy file or directory and hot-swaps it. A change is debounced,
// loaded through the same loader as at start, and activated only when it loads
// completely; otherwise the old policy keeps serving and the rejection is
// reported. A bundle written in place shows up as several events, the first
// ones on a half-written file: those fail to load and the final event wins.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { PolicyEngine } from './PolicyEngine.ts';

export interface WatcherEvents {
  onLoaded(engine: PolicyEngine): void;
  onRejected(err: Error): void;
}

export class PolicyWatcher {
  readonly #path: string;
  readonly #load: () => Promise<PolicyEngine>;
  readonly #events: WatcherEvents;
  readonly #debounceMs: number;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> | undefined;
  #again = false;

  constructor(path: string, load: () => Promise<PolicyEngine>, events: WatcherEvents, debounceMs: number) {
    this.#path = resolve(path);
    this.#load = load;
    this.#events = events;
    this.#debounceMs = debounceMs;
  }

  start(): void {
    // A file is watched through its directory, so an atomic replace (write
    // elsewhere, rename over) is seen as well as an in-place write.
    const isDir = statSync(this.#path).isDirectory();
    const dir = isDir ? this.#path : dirname(this.#path);
    const name = basename(this.#path);
    this.#watcher = watch(dir, { recursive: isDir, persistent: false }, (_event, file) => {
      // A Kubernetes ConfigMap or Secret volume swaps its content by renaming
      // the ..data link, so that event counts for every file in the volume.
      if (isDir || file === null || file === name || file === '..data') this.#schedule();
    });
    this.#watcher.on('error', (err) => this.#events.onRejected(err));
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload(), this.#debounceMs);
  }

  /** Loads now (also used by tests and SIGHUP-style triggers); concurrent calls coalesce. */
  reload(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        try {
          this.#events.onLoaded(await this.#load());
        } catch (err) {
          this.#events.onRejected(err as Error);
        }
      } while (this.#again);
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
