// Wiring for decision_log.upload (OPA's decision_logs): the service's HTTP
// client (the one bundle downloads use: headers, bearer token, TLS, client
// certificate, time bound) POSTing gzipped JSON arrays to url + resource,
// and the labels OPA puts in every record.
import { effectiveLabels } from '../config/labels.ts';
import type { Config } from '../config/schema.ts';
import { DecisionUpload } from '../observe/DecisionUpload.ts';
import type { Logger } from '../observe/Log.ts';
import type { Metrics } from '../observe/Metrics.ts';
import { BundleDownloadError, resourceUrl, serviceHeaders, serviceRequest } from '../policy/remote/BundleHttp.ts';
import { backoffDelay } from '../policy/remote/RemoteBundle.ts';
import { httpService } from './RemotePolicy.ts';

/** A collector's answer is read (and thrown away) up to this size; a larger one counts as a failed upload. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The configured upload, or undefined when decision_log.upload.service is
 * empty. `result` hears of each upload's outcome (an error, or undefined for
 * success), for status reports.
 */
export function decisionUpload(config: Config, metrics: Metrics, log: Logger, result?: (err: Error | undefined) => void): DecisionUpload | undefined {
  const u = config.decision_log.upload;
  if (u.service === '') return undefined;
  const service = httpService(u.service, config.services[u.service]!);
  const url = resourceUrl(service, u.resource);
  return new DecisionUpload({
    post: async (body, signal) => {
      // Headers per request: a token_path may have rotated.
      const headers = { ...serviceHeaders(service), 'content-type': 'application/json', 'content-encoding': 'gzip' };
      const { res } = await serviceRequest(service, url, {
        method: 'POST',
        headers,
        body,
        timeoutMs: service.headerTimeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        signal,
      });
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) throw new BundleDownloadError(`POST ${url.href}: HTTP ${status}`, status);
    },
    uploadLimitBytes: u.upload_size_limit_bytes,
    minDelayMs: u.min_delay_seconds * 1000,
    maxDelayMs: Math.max(u.min_delay_seconds, u.max_delay_seconds) * 1000,
    backoffMs: (failures) => backoffDelay(failures, u.min_delay_seconds * 1000, Math.max(u.min_delay_seconds, u.max_delay_seconds) * 1000, Math.random()),
    maxBufferBytes: u.buffer_size_limit_bytes,
    maxBufferEvents: u.buffer_size_limit_events,
    maxPerSecond: u.max_decisions_per_second,
    // As OPA: this process's id (the one status reports carry) and the version, beside the configured labels.
    labels: effectiveLabels(config.labels),
    bundles: Object.keys(config.bundles),
    registry: metrics.registry,
    onFailure: (err, buffered) => {
      log.warn('decision-log upload failed; the records are kept for the next round', { service: u.service, error: err.message, buffered });
      result?.(err);
    },
    onSuccess: () => result?.(undefined),
  });
}
