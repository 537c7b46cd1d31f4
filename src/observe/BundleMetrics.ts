// Metrics of remote bundles (bundles.<name>): downloads by result and the
// revision each bundle serves, registered on the server's registry only when
// bundles are configured.
import { Counter, Gauge, type Registry } from './PromClient.ts';

export class BundleMetrics {
  /** result: bundle (a new one downloaded), not_modified (304), failure (download or load; the previous policy kept serving). */
  readonly downloads: Counter<'bundle' | 'result'>;
  readonly #revision: Gauge<'bundle' | 'revision'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.downloads = new Counter({
      name: 'ztauthz_bundle_downloads_total',
      help: 'Remote bundle requests by bundle and result: bundle (new content downloaded), not_modified (HTTP 304 or same OCI digest), failure (download or load failed; the previous policy kept serving).',
      labelNames: ['bundle', 'result'],
      registers,
    });
    this.#revision = new Gauge({
      name: 'ztauthz_bundle_active_revision',
      help: 'The revision each remote bundle serves (value 1).',
      labelNames: ['bundle', 'revision'],
      registers,
    });
  }

  setRevision(bundle: string, revision: string): void {
    this.#revision.reset();
    this.#revision.set({ bundle, revision }, 1);
  }
}
