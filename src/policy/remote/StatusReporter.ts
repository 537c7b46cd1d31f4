// Status reports as OPA's status plugin sends them (POST <service>/status):
// the instance's labels, each bundle's state (active revision, when it was
// last requested, downloaded and activated, the last error) keyed by bundle
// name, and each plugin's state. A report goes out at start and after every
// bundle poll, activation or failure, as OPA's do.
//
// Bounded: at most one report is in flight and at most one waits. Changes
// made meanwhile only mark the state dirty; the next report carries the
// newest state, so a slow or failing control plane costs one request at a
// time, never a queue. A failed report is retried with exponential backoff
// (capped, jittered), again with the newest state.
import type { BundleState } from '../../types/BundleState.ts';
import { backoffDelay } from './RemoteBundle.ts';

/** Longest error message a report carries. */
const MAX_MESSAGE = 4096;

/** Go's zero time, which OPA sends for "never". */
export const NEVER = '0001-01-01T00:00:00Z';

/** One bundle in a report: OPA's bundle.Status as JSON. */
export interface BundleStatus {
  name: string;
  active_revision?: string;
  last_successful_activation: string;
  type?: 'snapshot';
  size?: number;
  last_successful_download: string;
  last_successful_request: string;
  last_request: string;
  code?: string;
  message?: string;
  http_code?: number;
}

/** The plugin names OPA's reports use for what ztauthz does. */
export const PLUGIN_BUNDLE = 'bundle';
export const PLUGIN_GRPC = 'envoy_ext_authz_grpc';
export const PLUGIN_STATUS = 'status';
export const PLUGIN_DECISION_LOGS = 'decision_logs';

export type PluginState = 'OK' | 'NOT_READY' | 'ERROR' | 'WARN';

/** OPA's decision-log upload status: empty after a success, the error after a failure. */
export interface DecisionLogsStatus {
  code?: string;
  message?: string;
  http_code?: number;
}

export interface StatusReport {
  labels: Record<string, string>;
  bundles: Record<string, BundleStatus>;
  /** Present once decision-log upload (decision_log.upload) has tried to send. */
  decision_logs?: DecisionLogsStatus;
  plugins: Record<string, { state: PluginState; message?: string }>;
}

export interface StatusReporterOptions {
  readonly labels: Readonly<Record<string, string>>;
  /** Each configured bundle's state now (RemotePolicies.states), read for every report. */
  readonly bundles: () => readonly BundleState[];
  /** POSTs one report's JSON; absent: console only. Rejects when the report was not taken (the reporter retries). */
  readonly send?: ((body: Buffer, signal: AbortSignal) => Promise<void>) | undefined;
  /** Called with each new report (status.console). */
  readonly console?: ((report: StatusReport) => void) | undefined;
  /** A report the service took. */
  readonly sent?: (() => void) | undefined;
  /** A report that failed (it is retried with the newest state). */
  readonly failed: (err: Error, failures: number) => void;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export class StatusReporter {
  readonly #o: StatusReporterOptions;
  readonly #plugins = new Map<string, { state: PluginState; message?: string }>();
  #decisionLogs: DecisionLogsStatus | undefined;
  readonly #abort = new AbortController();
  #dirty = false;
  /** A change not yet shown on the console (retries of one state are shown once). */
  #unlogged = false;
  #started = false;
  #pump: Promise<void> | undefined;
  #failures = 0;
  #stopping = false;
  #wakeRetry: (() => void) | undefined;

  constructor(opts: StatusReporterOptions) {
    this.#o = opts;
  }

  /** A bundle's state changed (RemotePolicies.onChange): the next report carries it. */
  changed(): void {
    this.#changed();
  }

  /** A decision-log upload's outcome; a report goes out when it differs from the last one (OPA reports each). */
  setDecisionLogs(err: Error | undefined): void {
    const next: DecisionLogsStatus = {};
    if (err) {
      next.code = 'decision_log_error';
      next.message = cut(err.message);
      const http = (err as { httpStatus?: unknown }).httpStatus;
      if (typeof http === 'number') next.http_code = http;
    }
    const same = this.#decisionLogs && JSON.stringify(this.#decisionLogs) === JSON.stringify(next);
    this.#decisionLogs = next;
    if (!same) this.#changed();
  }

  setPlugin(name: string, state: PluginState, message?: string): void {
    this.#plugins.set(name, message === undefined ? { state } : { state, message });
    this.#changed();
  }

  snapshot(): StatusReport {
    const bundles = this.#o.bundles();
    const plugins = Object.fromEntries([...this.#plugins].map(([n, s]) => [n, { ...s }]));
    // As OPA's bundle plugin: ready once every configured bundle has activated, however many there are.
    if (bundles.length > 0) plugins[PLUGIN_BUNDLE] = { state: bundles.every((b) => b.active_revision !== undefined) ? 'OK' : 'NOT_READY' };
    const report: StatusReport = { labels: { ...this.#o.labels }, bundles: Object.fromEntries(bundles.map((b) => [b.name, bundleStatus(b)])), plugins };
    if (this.#decisionLogs) report.decision_logs = { ...this.#decisionLogs };
    return report;
  }

  /** Sends the first report and every one after a change from now on. */
  start(): void {
    this.#started = true;
    this.#changed(true);
  }

  /**
   * Stops reporting, as OPA's plugin does with a last report: what is pending
   * (the final plugin states) gets up to `flushMs` to be taken, without
   * retries; then a report in flight is abandoned.
   */
  async stop(flushMs = 0): Promise<void> {
    this.#stopping = true;
    // A retry waiting out its backoff is not sent: the newest state goes now.
    this.#wakeRetry?.();
    if (flushMs > 0 && this.#pump) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#pump, new Promise<void>((resolve) => (timer = setTimeout(resolve, flushMs)))]);
      clearTimeout(timer);
    }
    this.#abort.abort();
    await this.#pump;
  }

  #changed(force = false): void {
    this.#dirty = this.#dirty || force || this.#started;
    this.#unlogged = this.#dirty;
    // Once stopping, only the pump already running sends (the last report).
    if (this.#started && this.#dirty && !this.#pump && !this.#stopping && !this.#abort.signal.aborted) {
      this.#pump = this.#run().finally(() => {
        this.#pump = undefined;
        // A change that came in as the loop ended.
        if (this.#dirty) this.#changed();
      });
    }
  }

  async #run(): Promise<void> {
    while (this.#dirty && !this.#abort.signal.aborted) {
      this.#dirty = false;
      const report = this.snapshot();
      // The console shows each new state once, not each retry of it.
      if (this.#unlogged) this.#o.console?.(report);
      this.#unlogged = false;
      if (!this.#o.send) continue;
      try {
        await this.#o.send(Buffer.from(JSON.stringify(report)), this.#abort.signal);
        this.#failures = 0;
        this.#o.sent?.();
      } catch (err) {
        if (this.#abort.signal.aborted || this.#stopping) return;
        this.#failures++;
        this.#o.failed(err as Error, this.#failures);
        // Whatever changed meanwhile, the retry carries the newest state.
        this.#dirty = true;
        await this.#sleep(backoffDelay(this.#failures, this.#o.retryMinMs, this.#o.retryMaxMs, Math.random()));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#abort.signal.addEventListener('abort', done);
      this.#wakeRetry = done;
    });
  }
}

/** OPA's bundle.Status from ztauthz's state of one bundle. */
export function bundleStatus(b: BundleState): BundleStatus {
  const s: BundleStatus = {
    name: b.name,
    last_successful_activation: b.last_successful_activation ?? NEVER,
    last_successful_download: b.last_successful_download ?? NEVER,
    last_successful_request: b.last_successful_request ?? NEVER,
    last_request: b.last_request ?? NEVER,
  };
  if (b.active_revision !== undefined) s.active_revision = b.active_revision;
  if (b.last_successful_download !== undefined) s.type = 'snapshot';
  if (b.size !== undefined) s.size = b.size;
  const e = b.last_error;
  if (e) {
    s.code = 'bundle_error';
    s.message = cut(e.message);
    if (e.http_status !== undefined) s.http_code = e.http_status;
  }
  return s;
}

/** A compile error can run to pages; the report stays small. */
function cut(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
}
