// Tracing: one span per Check, a child of the request's own trace. The
// parent comes from the headers of the request being authorized (W3C
// traceparent/tracestate, B3 single `b3` and B3 multi `x-b3-*`), not from
// the gRPC call Envoy makes to us, so the authz span sits inside the trace
// of the request it decides on. OpenTelemetry (the API and sdk-node, in
// TracingSdk.ts) is loaded only when tracing is on: it costs about 15 MiB of
// memory a process with tracing off should not pay. When off, begin() hands
// out one shared no-op object and reads nothing.
//
// Configuration: tracing.* keys give defaults and the standard OTEL_*
// variables, where set, win (see resolveTracing). OTEL_SDK_DISABLED=true
// turns tracing off whatever the config says.
import { NOOP_TRACING, type Tracing } from './CheckTrace.ts';
import type { Logger } from './Log.ts';
import { resolveTracing, type TracingOptions } from './TracingConfig.ts';

export { resolveTracing, type ResolvedTracing, type TracingOptions } from './TracingConfig.ts';
export { NOOP_TRACE, NOOP_TRACING, type CheckTrace, type Tracing } from './CheckTrace.ts';

/** Only one SDK can own the process-wide tracer provider at a time. */
let running: Tracing | undefined;

/** Starts tracing, or returns NOOP_TRACING when it is off. */
export async function startTracing(opts: TracingOptions, log?: Logger): Promise<Tracing> {
  const r = resolveTracing(opts);
  if (!r.enabled) return NOOP_TRACING;
  if (running) throw new Error('tracing is already running in this process');
  running = NOOP_TRACING; // claimed now: the imports below yield to other callers
  try {
    const { startSdk } = await import('./TracingSdk.ts');
    const tracing = await startSdk(opts, r, log, () => {
      if (running === tracing) running = undefined;
    });
    running = tracing;
    return tracing;
  } catch (err) {
    running = undefined;
    throw err;
  }
}
