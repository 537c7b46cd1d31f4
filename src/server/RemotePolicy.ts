// Wiring for bundles.<name> (OPA's bundle configuration): the service's
// client, the signing key, persistence and metrics around a RemoteBundle
// that activates what it downloads in the active policy store.
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
import { RemoteBundle } from '../policy/remote/RemoteBundle.ts';
import { loadRemoteBundle } from '../policy/remote/RemoteLoader.ts';
import type { StatusReporter } from '../policy/remote/StatusReporter.ts';

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

/** The configured remote bundle feeding `store`, or undefined when bundles is empty. Its events go to `status` too, keyed by bundle name. */
export function remotePolicy(
  config: Config,
  base: LoaderOptions,
  store: PolicyStore,
  metrics: Metrics,
  log: Logger,
  status?: StatusReporter,
): RemoteBundle | undefined {
  const entry = Object.entries(config.bundles)[0];
  if (!entry) return undefined;
  const [name, b] = entry;
  const svc = config.services[b.service]!;
  const service = httpService(b.service, svc);
  const key = b.signing ? config.keys[b.signing.keyid]! : undefined;
  // A bundle with signing configured must be signed, as in OPA.
  const opts: LoaderOptions = key ? { ...base, signingKey: bundleKey(b.signing!.keyid, key, b.signing!.scope), requireSignature: true } : base;
  const resource = b.resource ?? `bundles/${name}`;
  const fetch = (r: FetchRequest): Promise<FetchResult> => (svc.type === 'oci' ? fetchOciBundle(service, resource, r) : fetchBundle(service, resource, r));
  const dir = config.persistence_directory || '.opa';
  const bm = BundleMetrics.of(metrics.registry);
  const minDelay = b.polling?.min_delay_seconds ?? DEFAULT_MIN_DELAY;
  status?.addBundle(name);
  return new RemoteBundle({
    name,
    fetch,
    load: (bytes) => loadRemoteBundle(bytes, `bundle ${name}`, opts),
    minDelayMs: minDelay * 1000,
    maxDelayMs: Math.max(minDelay, b.polling?.max_delay_seconds ?? DEFAULT_MAX_DELAY) * 1000,
    longPollSeconds: svc.type === 'oci' ? undefined : b.polling?.long_polling_timeout_seconds,
    maxBytes: b.size_limit_bytes ?? MAX_BUNDLE_BYTES,
    persistDir: b.persist ? join(isAbsolute(dir) ? dir : resolve(dir), 'bundles', name) : undefined,
    events: {
      activated: (engine, source) => {
        const replaced = store.current;
        store.activate(engine);
        if (replaced !== engine) replaced?.retire();
        bm.setRevision(name, engine.revision);
        metrics.policyLoads.inc({ policy: 'active', result: 'success' });
        log.info('bundle activated', { bundle: name, revision: engine.revision, previous: replaced?.revision, source });
        status?.bundleEvent(name, { kind: 'activated', revision: engine.revision, source });
      },
      downloaded: (result, size) => {
        bm.downloads.inc({ bundle: name, result });
        bm.answered(name);
        status?.bundleEvent(name, result === 'bundle' ? { kind: 'downloaded', size: size ?? 0 } : { kind: 'not_modified' });
      },
      failed: (stage, err) => {
        status?.bundleEvent(name, { kind: 'failed', stage, message: err.message, httpStatus: err instanceof BundleDownloadError ? err.httpStatus : undefined });
        bm.failed(name, stage);
        if (stage === 'load') metrics.policyLoads.inc({ policy: 'active', result: 'failure' });
        log.warn(`bundle ${stage} failed; the previous policy keeps serving`, { bundle: name, error: err.message, revision: store.current?.revision ?? null });
      },
    },
  });
}
