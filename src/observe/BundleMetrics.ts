// Metrics of remote bundles (bundles.<name>) and status reports: downloads by
// result, failures by stage, the revision each bundle serves and when it last
// reached its server and last activated (for staleness alerts), registered on
// the server's registry only when bundles or status are configured. One set
// per registry however many bundles are wired (BundleMetrics.of).
//
// Labels are bounded: `bundle` by the configuration, `revision` by one series
// per bundle (the previous revision's series is removed) and a length cap.
// With server.workers the primary aggregates the workers' sets: the revision
// stays 1 (max), a timestamp is the oldest worker's (min), so a worker that
// stopped reaching the server is not hidden by the others.
import { Counter, Gauge, type Registry } from './PromClient.ts';

/** A revision is any string a bundle's manifest carries; this much of it labels the series. */
const MAX_REVISION_LABEL = 128;

export type BundleStage = 'download' | 'load' | 'persist';

const SETS = new WeakMap<Registry, BundleMetrics>();

export class BundleMetrics {
  /** result: bundle (a new one downloaded), not_modified (304), failure (download or load; the previous policy kept serving). */
  readonly downloads: Counter<'bundle' | 'result'>;
  readonly #failures: Counter<'bundle' | 'stage'>;
  readonly #revision: Gauge<'bundle' | 'revision'>;
  readonly #revisions = new Map<string, string>();
  readonly #lastRequest: Gauge<'bundle'>;
  readonly #lastActivation: Gauge<'bundle'>;

  /** The registry's set, registered on first use. */
  static of(registry: Registry): BundleMetrics {
    let set = SETS.get(registry);
    if (!set) {
      set = new BundleMetrics(registry);
      SETS.set(registry, set);
    }
    return set;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    this.downloads = new Counter({
      name: 'ztauthz_bundle_downloads_total',
      help: 'Remote bundle requests by bundle and result: bundle (new content downloaded), not_modified (HTTP 304 or same OCI digest), failure (download or load failed; the previous policy kept serving).',
      labelNames: ['bundle', 'result'],
      registers,
    });
    this.#failures = new Counter({
      name: 'ztauthz_bundle_failures_total',
      help: 'Remote bundle failures by bundle and stage: download (no answer, an HTTP error, over the size limit), load (corrupt, unsigned, tampered, not compiling; refused), persist (the last good copy could not be written).',
      labelNames: ['bundle', 'stage'],
      registers,
    });
    this.#revision = new Gauge({
      name: 'ztauthz_bundle_active_revision',
      help: 'The revision each remote bundle serves (value 1, one series per bundle).',
      labelNames: ['bundle', 'revision'],
      registers,
      aggregator: 'max',
    });
    this.#lastRequest = new Gauge({
      name: 'ztauthz_bundle_last_successful_request_timestamp_seconds',
      help: 'When each remote bundle last got an answer from its server (a new bundle or not modified), Unix seconds; the oldest worker with server.workers.',
      labelNames: ['bundle'],
      registers,
      aggregator: 'min',
    });
    this.#lastActivation = new Gauge({
      name: 'ztauthz_bundle_last_successful_activation_timestamp_seconds',
      help: 'When each remote bundle last activated a revision (downloaded or persisted), Unix seconds; the oldest worker with server.workers.',
      labelNames: ['bundle'],
      registers,
      aggregator: 'min',
    });
  }

  setRevision(bundle: string, revision: string): void {
    const label = revision.length > MAX_REVISION_LABEL ? `${revision.slice(0, MAX_REVISION_LABEL - 3)}...` : revision;
    const previous = this.#revisions.get(bundle);
    if (previous === label) return;
    if (previous !== undefined) this.#revision.remove({ bundle, revision: previous });
    this.#revisions.set(bundle, label);
    this.#revision.set({ bundle, revision: label }, 1);
  }

  /** A new copy of the bundle became part of the serving policy. */
  activated(bundle: string): void {
    this.#lastActivation.set({ bundle }, Date.now() / 1000);
  }

  answered(bundle: string): void {
    this.#lastRequest.set({ bundle }, Date.now() / 1000);
  }

  failed(bundle: string, stage: BundleStage): void {
    this.#failures.inc({ bundle, stage });
    if (stage !== 'persist') this.downloads.inc({ bundle, result: 'failure' });
  }
}

const STATUS_SETS = new WeakMap<Registry, Counter<'result'>>();

/** Status reports by result: sent (2xx), failed (retried with the newest status). */
export function statusReportCounter(registry: Registry): Counter<'result'> {
  let c = STATUS_SETS.get(registry);
  if (!c) {
    c = new Counter({
      name: 'ztauthz_status_reports_total',
      help: 'Status reports POSTed to status.service by result: sent (answered 2xx), failed (no answer or another status; retried with the newest status).',
      labelNames: ['result'],
      registers: [registry],
    });
    STATUS_SETS.set(registry, c);
  }
  return c;
}
