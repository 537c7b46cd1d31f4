// Wiring for bundles.<name> (OPA's bundle configuration): for each bundle the
// service's client, its signing key, persistence and metrics around a
// RemoteBundle, all feeding one BundleSet that activates the combined policy
// in the active policy store; and each bundle's state for status reports.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../config/addr.ts';
import type { Config } from '../config/schema.ts';
import { BundleMetrics } from '../observe/BundleMetrics.ts';
import type { Logger } from '../observe/Log.ts';
import type { Metrics } from '../observe/Metrics.ts';
import { MAX_BUNDLE_BYTES } from '../policy/Bundle.ts';
import { signingKeyFromText } from '../policy/BundleSignature.ts';
import type { LoaderOptions } from '../policy/PolicyLoader.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import { BundleDownloadError, fetchBundle, type FetchRequest, type FetchResult, type HttpServiceOptions } from '../policy/remote/BundleHttp.ts';
import { fetchOciBundle } from '../policy/remote/OciBundle.ts';
import { BundleCombiner } from '../policy/remote/BundleCombine.ts';
import { readBundlePart, type BundlePart } from '../policy/remote/BundleParts.ts';
import { BundleSet } from '../policy/remote/BundleSet.ts';
import { RemoteBundle } from '../policy/remote/RemoteBundle.ts';
import { loadRemoteBundle } from '../policy/remote/RemoteLoader.ts';
import type { BundleState } from '../types/BundleState.ts';

type ServiceConfig = Config['services'][string];

/** OPA's defaults (seconds). */
const DEFAULT_MIN_DELAY = 60;
const DEFAULT_MAX_DELAY = 120;
const DEFAULT_HEADER_TIMEOUT = 10;

export function httpService(name: string, s: ServiceConfig): HttpServiceOptions {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`services.${name}.${what}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const bearer = s.credentials?.bearer;
  return {
    url: s.url,
    headers: s.headers ?? {},
    bearer: bearer ? { token: bearer.token, tokenPath: bearer.token_path, scheme: bearer.scheme } : undefined,
    ca: s.tls ? read('tls.ca_cert', s.tls.ca_cert) : undefined,
    clientCert: s.credentials?.client_tls ? read('credentials.client_tls.cert', s.credentials.client_tls.cert) : undefined,
    clientKey: s.credentials?.client_tls ? read('credentials.client_tls.private_key', s.credentials.client_tls.private_key) : undefined,
    headerTimeoutMs: (s.response_header_timeout_seconds ?? DEFAULT_HEADER_TIMEOUT) * 1000,
  };
}

function bundleKey(id: string, key: Config['keys'][string], scope: string | undefined) {
  const algorithm = key.algorithm ?? 'RS256';
  try {
    return signingKeyFromText(key.key, id, algorithm, scope ?? key.scope);
  } catch (err) {
    throw new ConfigError(`keys.${id}.key: not ${algorithm.startsWith('HS') ? 'a usable secret' : 'a PEM public key'} (${(err as Error).message})`);
  }
}

/** A copy of BundleState that the wiring updates as events arrive. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Every configured bundle, polled each on its own, feeding one policy into `store` (BundleSet.ts). */
export class RemotePolicies {
  readonly #bundles: RemoteBundle[];
  readonly #set: BundleSet;
  readonly #states: Map<string, Mutable<BundleState>>;
  readonly #listeners: Set<() => void>;

  constructor(bundles: RemoteBundle[], set: BundleSet, states: Map<string, Mutable<BundleState>>, listeners: Set<() => void>) {
    this.#bundles = bundles;
    this.#set = set;
    this.#states = states;
    this.#listeners = listeners;
  }

  /**
   * Calls `listener` after each change of a bundle's state (a request
   * answered or failed, an activation), e.g. to send a status report; it
   * reads states() itself. Returns the unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Loads each persisted copy (the policy serves at once if all bundles had one), then polls each in the background. */
  async start(): Promise<void> {
    await Promise.all(this.#bundles.map((b) => b.start()));
  }

  /** Polls every bundle now (SIGHUP). */
  pollNow(): void {
    for (const b of this.#bundles) b.pollNow();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#bundles.map((b) => b.stop()));
  }

  /** A snapshot of each bundle's state, in configuration order. */
  states(): BundleState[] {
    return [...this.#states.values()].map((s) => ({
      ...s,
      phase: this.#set.active(s.name) ? 'active' : this.#set.waiting(s.name) ? 'waiting' : 'not_loaded',
      active_revision: this.#set.active(s.name)?.revision,
    }));
  }

  /** The bundles that have never loaded: nothing serves until this is empty. */
  missing(): string[] {
    return this.#set.missing();
  }
}

/** The configured remote bundles feeding `store`, or undefined when bundles is empty. */
export function remotePolicy(config: Config, base: LoaderOptions, store: PolicyStore, metrics: Metrics, log: Logger): RemotePolicies | undefined {
  const entries = Object.entries(config.bundles);
  if (entries.length === 0) return undefined;
  const bm = BundleMetrics.of(metrics.registry);
  const states = new Map<string, Mutable<BundleState>>(entries.map(([name]) => [name, emptyState(name)]));
  const now = () => new Date().toISOString();
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of listeners) {
      try {
        l();
      } catch (err) {
        log.warn('bundle state listener failed', { error: (err as Error).message });
      }
    }
  };
  // The copy of each bundle in the serving policy, to tell which bundles an activation changed.
  const serving = new Map<string, BundlePart>();
  // Each bundle's signing key checks its own copies; a lone bundle loads as it always has.
  const signing = new Map(entries.map(([name, b]) => [name, bundleLoaderOptions(config, base, b)]));
  const combiner = new BundleCombiner(base);
  const set = new BundleSet({
    names: entries.map(([name]) => name),
    combine: (parts) =>
      parts.length === 1 ? loadRemoteBundle(parts[0]!.bytes, `bundle ${parts[0]!.name}`, signing.get(parts[0]!.name)!) : combiner.combine(parts),
    activated: (engine, parts, changed, source) => {
      const replaced = store.current;
      store.activate(engine);
      if (replaced !== engine) replaced?.retire();
      const at = now();
      for (const part of parts) {
        bm.setRevision(part.name, part.revision);
        // The first activation activates every bundle; later ones, the one that changed.
        if (serving.get(part.name) !== part) {
          states.get(part.name)!.last_successful_activation = at;
          bm.activated(part.name);
        }
        serving.set(part.name, part);
      }
      metrics.policyLoads.inc({ policy: 'active', result: 'success' });
      log.info('bundle activated', {
        bundle: changed,
        revision: parts.find((p) => p.name === changed)!.revision,
        policy_revision: engine.revision,
        previous: replaced?.revision,
        source,
      });
    },
  });
  const bundles = entries.map(([name, b]) => {
    const svc = config.services[b.service]!;
    const service = httpService(b.service, svc);
    const resource = b.resource ?? `bundles/${name}`;
    const fetch = (r: FetchRequest): Promise<FetchResult> => (svc.type === 'oci' ? fetchOciBundle(service, resource, r) : fetchBundle(service, resource, r));
    const dir = config.persistence_directory || '.opa';
    const minDelay = b.polling?.min_delay_seconds ?? DEFAULT_MIN_DELAY;
    const state = states.get(name)!;
    return new RemoteBundle({
      name,
      fetch,
      load: async (bytes, source) => {
        const part = await readBundlePart(name, bytes, signing.get(name)!);
        const phase = await set.offer(part, source);
        state.last_error = undefined;
        if (phase === 'waiting')
          log.info('bundle loaded; waiting for the other bundles before serving', { bundle: name, revision: part.revision, source, missing: set.missing() });
        notify();
      },
      minDelayMs: minDelay * 1000,
      maxDelayMs: Math.max(minDelay, b.polling?.max_delay_seconds ?? DEFAULT_MAX_DELAY) * 1000,
      longPollSeconds: svc.type === 'oci' ? undefined : b.polling?.long_polling_timeout_seconds,
      maxBytes: b.size_limit_bytes ?? MAX_BUNDLE_BYTES,
      persistDir: b.persist ? join(isAbsolute(dir) ? dir : resolve(dir), 'bundles', name) : undefined,
      events: {
        downloaded: (result, size) => {
          state.last_request = state.last_successful_request = now();
          if (result === 'bundle') {
            state.last_successful_download = state.last_successful_request;
            state.size = size;
          } else state.last_error = undefined;
          bm.downloads.inc({ bundle: name, result });
          bm.answered(name);
          if (result === 'not_modified') notify();
        },
        failed: (stage, err) => {
          const at = now();
          if (stage === 'download') state.last_request = at;
          state.last_error = { stage, message: err.message, at, http_status: err instanceof BundleDownloadError ? err.httpStatus : undefined };
          bm.failed(name, stage);
          if (stage === 'load') metrics.policyLoads.inc({ policy: 'active', result: 'failure' });
          log.warn(`bundle ${stage} failed; the previous policy keeps serving`, {
            bundle: name,
            error: err.message,
            revision: store.current?.revision ?? null,
          });
          notify();
        },
      },
    });
  });
  return new RemotePolicies(bundles, set, states, listeners);
}

/** The loader options that check one bundle's signature: its signing key, required when signing is configured (as in OPA). */
function bundleLoaderOptions(config: Config, base: LoaderOptions, b: Config['bundles'][string]): LoaderOptions {
  const key = b.signing ? config.keys[b.signing.keyid]! : undefined;
  return key ? { ...base, signingKey: bundleKey(b.signing!.keyid, key, b.signing!.scope), requireSignature: true } : base;
}

function emptyState(name: string): Mutable<BundleState> {
  return {
    name,
    phase: 'not_loaded',
    active_revision: undefined,
    last_request: undefined,
    last_successful_request: undefined,
    last_successful_download: undefined,
    last_successful_activation: undefined,
    size: undefined,
    last_error: undefined,
  };
}
