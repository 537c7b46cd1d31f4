// The policy's life in a running server: first load, hot reload on change,
// the shadow candidate. Loads, rejections and the active revision are
// reported to metrics and the service log; the old policy serves until a new
// one has loaded completely.
import type { Config } from '../config/schema.ts';
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { readSigningKey } from '../policy/BundleSignature.ts';
import { loadPolicy, type LoaderOptions } from '../policy/PolicyLoader.ts';
import type { PolicyEngine } from '../policy/PolicyEngine.ts';
import { PolicyStore } from '../policy/PolicyStore.ts';
import { PolicyWatcher } from '../policy/PolicyWatcher.ts';
import type { Metrics } from '../observe/Metrics.ts';
import type { Logger } from '../observe/Log.ts';
import { DEMO_POLICY } from './defaults.ts';
import { HttpSendRuntime } from '../policy/httpsend/HttpSendRuntime.ts';
import { describeIgnore, ignoreIsExplicit } from '../cache/PolicyReads.ts';
import type { JsonValue } from '../types/Json.ts';
import type { BundleState } from '../types/BundleState.ts';
import { remotePolicy, type RemotePolicies } from './RemotePolicy.ts';
import { PLUGIN_GRPC, type StatusReporter } from '../policy/remote/StatusReporter.ts';
import { statusReporter } from './StatusReports.ts';
import { ConfigError } from '../config/addr.ts';

export function loaderOptions(config: Config, entrypoints: readonly string[]): LoaderOptions {
  const p = config.policy;
  return {
    entrypoints,
    maxMemoryPages: p.max_memory_pages,
    strictBuiltinErrors: p.strict_builtin_errors,
    opa: p.opa || undefined,
    regoVersion: p.rego_version,
    signingKey: p.signing_key ? readSigningKey(p.signing_key, p.signing_key_id, p.signing_alg) : undefined,
    requireSignature: p.require_signature,
    validateResult: decisionFromResultSet,
    httpSend: httpSendRuntime(config),
  };
}

/** The worker pool for policies that call http.send; none (such policies are refused) without allowed hosts. */
export function httpSendRuntime(config: Config): HttpSendRuntime | undefined {
  const h = config.http_send;
  if (h.allowed_hosts.length === 0) return undefined;
  return new HttpSendRuntime({
    allowedHosts: h.allowed_hosts,
    timeoutMs: h.timeout_ms,
    maxResponseBytes: h.max_response_bytes,
    cacheMaxBytes: h.cache_max_bytes,
    workers: h.workers,
  });
}

/** Every entrypoint the configuration needs: the default decision path, the routes' and the extra ones. */
export function requiredEntrypoints(config: Config, routeEntrypoints: readonly string[]): string[] {
  return [...new Set([config.policy.decision, ...routeEntrypoints, ...config.policy.entrypoints])];
}

/** Loads the configured policy once (`check`). Throws a one-line error on failure. */
export function loadConfiguredPolicy(config: Config, routeEntrypoints: readonly string[]): Promise<PolicyEngine> {
  // Without this the demo policy would be checked in place of the bundle.
  if (Object.keys(config.bundles).length > 0) throw new ConfigError('bundles are downloaded by serve; give the bundle as --policy');
  return loadPolicy(config.policy.path || DEMO_POLICY, loaderOptions(config, requiredEntrypoints(config, routeEntrypoints)));
}

/** How long a stopping server waits for its last status report to be taken. */
const STATUS_FLUSH_MS = 2000;

export class PolicyLifecycle {
  readonly active: PolicyStore;
  /** The shadow candidate; empty when shadow.path is unset. */
  readonly shadow = new PolicyStore();
  readonly #watchers: PolicyWatcher[] = [];
  readonly #config: Config;
  readonly #entrypoints: readonly string[];
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #httpSend: HttpSendRuntime | undefined;
  #remote: RemotePolicies | undefined;
  #status: StatusReporter | undefined;

  /** The http.send worker pool, once start() made one (http_send.allowed_hosts set). */
  get httpSend(): HttpSendRuntime | undefined {
    return this.#httpSend;
  }

  /** Each configured remote bundle's state (empty without bundles), for status reports. */
  bundleStates(): BundleState[] {
    return this.#remote?.states() ?? [];
  }

  /** Calls `listener` after each change of a remote bundle's state (read bundleStates() there); a no-op without bundles. */
  onBundleChange(listener: () => void): () => void {
    return this.#remote?.onChange(listener) ?? (() => undefined);
  }

  /** The configured remote bundles that have not loaded once yet (nothing serves until none is missing). */
  missingBundles(): string[] {
    return this.#remote?.missing() ?? [];
  }

  constructor(config: Config, routeEntrypoints: readonly string[], metrics: Metrics, log: Logger, active = new PolicyStore()) {
    this.active = active;
    this.#config = config;
    this.#entrypoints = requiredEntrypoints(config, routeEntrypoints);
    this.#metrics = metrics;
    this.#log = log;
    this.active.onActivate((engine) => metrics.setPolicyRevision(engine.revision));
  }

  /** First load: a failure here stops the server from starting. */
  async start(): Promise<void> {
    const opts = loaderOptions(this.#config, this.#entrypoints);
    this.#httpSend = opts.httpSend;
    this.#remote = remotePolicy(this.#config, opts, this.active, this.#metrics, this.#log);
    // Remote bundles start from their persisted copies if every bundle has
    // one, else the server starts without a policy: Checks are not_ready and
    // /readyz answers 503 until every bundle has loaded (BundleSet.ts).
    if (this.#remote) await this.#remote.start();
    else await this.#startOne('active', this.#config.policy.path || DEMO_POLICY, opts, this.active);
    // The first report: whatever the persisted copies gave, the bundles' first polls under way.
    this.#status = statusReporter(this.#config, this.#log, this.#metrics, () => this.bundleStates());
    if (this.#status) {
      const status = this.#status;
      this.onBundleChange(() => status.changed());
      status.start();
    }
    if (this.#config.shadow.path) await this.#startOne('shadow', this.#config.shadow.path, opts, this.shadow);
  }

  /** Which cache.ignore fields stay in this policy's cache key, and why (computed here once; the Checks reuse it). */
  #cacheKeyNote(engine: PolicyEngine): JsonValue {
    const configured = this.#config.cache.ignore;
    if (!this.#config.cache.enabled || configured.length === 0) return null;
    const explicit = ignoreIsExplicit(configured);
    return describeIgnore(engine.inputReads, engine.cacheIgnore(configured, explicit), configured);
  }

  async #startOne(kind: 'active' | 'shadow', path: string, opts: LoaderOptions, store: PolicyStore): Promise<void> {
    const load = () => loadPolicy(path, opts);
    try {
      store.activate(await load());
      this.#metrics.policyLoads.inc({ policy: kind, result: 'success' });
    } catch (err) {
      this.#metrics.policyLoads.inc({ policy: kind, result: 'failure' });
      throw err;
    }
    this.#log.info(`${kind} policy loaded`, {
      path,
      revision: store.current!.revision,
      host_builtins: store.current!.hostBuiltinsUsed,
      cache_key: this.#cacheKeyNote(store.current!),
    });
    if (!this.#config.policy.watch) return;
    const watcher = new PolicyWatcher(
      path,
      load,
      {
        onLoaded: (engine) => {
          const replaced = store.current;
          const previous = replaced?.revision;
          store.activate(engine);
          // Its http.send workers drop it once the Checks still running on it finish.
          replaced?.retire();
          this.#metrics.policyLoads.inc({ policy: kind, result: 'success' });
          this.#log.info(`${kind} policy reloaded`, { path, revision: engine.revision, previous, cache_key: this.#cacheKeyNote(engine) });
        },
        onRejected: (err) => {
          this.#metrics.policyLoads.inc({ policy: kind, result: 'failure' });
          this.#log.warn(`${kind} policy rejected; the previous one keeps serving`, {
            path,
            error: err.message,
            revision: store.current?.revision,
          });
        },
      },
      this.#config.policy.watch_debounce_ms,
    );
    watcher.start();
    this.#watchers.push(watcher);
  }

  /** Reloads every watched policy now, and polls remote bundles now (SIGHUP). */
  async reload(): Promise<void> {
    this.#remote?.pollNow();
    await Promise.all(this.#watchers.map((w) => w.reload()));
  }

  /** A decision-log upload's outcome (an error, or undefined: taken), for status reports. */
  decisionLogResult(err: Error | undefined): void {
    this.#status?.setDecisionLogs(err);
  }

  /** The gRPC listener is serving (status reports say so). */
  serving(): void {
    this.#status?.setPlugin(PLUGIN_GRPC, 'OK');
  }

  stop(): void {
    for (const w of this.#watchers) w.stop();
    void this.#remote?.stop();
    // The last report says the listener is going away; close() waits for it (bounded).
    this.#status?.setPlugin(PLUGIN_GRPC, 'NOT_READY');
  }

  /** Ends the http.send workers: after the Checks in flight have drained, since some may be waiting on them. */
  async close(): Promise<void> {
    await this.#status?.stop(STATUS_FLUSH_MS);
    await this.#httpSend?.close();
  }
}
