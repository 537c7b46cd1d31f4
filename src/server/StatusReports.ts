// Wiring for status (OPA's status plugin): the reporter POSTs to the
// configured service with the same client, credentials and TLS as bundle
// downloads, at <url>/status[/<partition_name>], and with console: true also
// writes each report to the service log. Bundles and plugins report into it
// (RemotePolicy.ts, PolicyLifecycle.ts).
import type { Config } from '../config/schema.ts';
import { effectiveLabels } from '../config/labels.ts';
import { statusReportCounter } from '../observe/BundleMetrics.ts';
import type { Logger } from '../observe/Log.ts';
import type { Metrics } from '../observe/Metrics.ts';
import { BundleDownloadError, resourceUrl, serviceHeaders, serviceRequest } from '../policy/remote/BundleHttp.ts';
import { PLUGIN_DECISION_LOGS, PLUGIN_GRPC, PLUGIN_STATUS, StatusReporter } from '../policy/remote/StatusReporter.ts';
import type { BundleState } from '../types/BundleState.ts';
import { httpService } from './RemotePolicy.ts';

/** A control plane's answer to a report is a status line; its body is not read. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Retries of a failed report: from 1 s, doubling, capped at 2 min (OPA's bundle polling maximum). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 120_000;

/** The configured reporter, or undefined when status reports are off (no status.service, no status.console). */
export function statusReporter(config: Config, log: Logger, metrics: Metrics, bundles: () => readonly BundleState[]): StatusReporter | undefined {
  const st = config.status;
  if (st.service === '' && !st.console) return undefined;
  let send: ((body: Buffer, signal: AbortSignal) => Promise<void>) | undefined;
  const reports = st.service !== '' ? statusReportCounter(metrics.registry) : undefined;
  if (st.service !== '') {
    const service = httpService(st.service, config.services[st.service]!);
    const url = resourceUrl(service, st.partition_name === '' ? 'status' : `status/${st.partition_name}`);
    send = async (body, signal) => {
      const headers = { ...serviceHeaders(service), 'content-type': 'application/json' };
      const { res } = await serviceRequest(service, url, {
        method: 'POST',
        headers,
        body,
        timeoutMs: service.headerTimeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        signal,
      });
      const code = res.statusCode ?? 0;
      if (code < 200 || code > 299) throw new BundleDownloadError(`POST ${url.href}: HTTP ${code}`, code);
    };
  }
  const reporter = new StatusReporter({
    labels: effectiveLabels(config.labels),
    bundles,
    send,
    console: st.console ? (report) => log.info('status report', { type: 'openpolicyagent.org/status', ...report }) : undefined,
    sent: () => reports?.inc({ result: 'sent' }),
    failed: (err, failures) => {
      reports?.inc({ result: 'failed' });
      log.warn('status report failed; retrying with the newest status', { error: err.message, failures });
    },
    retryMinMs: RETRY_MIN_MS,
    retryMaxMs: RETRY_MAX_MS,
  });
  reporter.setPlugin(PLUGIN_STATUS, 'OK');
  if (config.decision_log.upload.service !== '') reporter.setPlugin(PLUGIN_DECISION_LOGS, 'OK');
  reporter.setPlugin(PLUGIN_GRPC, 'NOT_READY');
  return reporter;
}
