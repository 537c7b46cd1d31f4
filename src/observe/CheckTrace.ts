// What the pipeline holds for one Check, and the no-op tracing used when
// tracing is off. Plain types: no OpenTelemetry code is loaded for them.
import type { Attributes } from '@opentelemetry/api';

/** What the pipeline holds for one Check. */
export interface CheckTrace {
  /** True when the span is recorded (tracing on and sampled). */
  readonly recording: boolean;
  /** The trace id (32 hex) when tracing is on and the span is recorded or the request named a trace (sampled or not): it correlates the decision record with the request's trace. */
  readonly traceId: string | undefined;
  /** The Check span's id, only when it is recorded. */
  readonly spanId: string | undefined;
  /** Runs fn inside a child span named ztauthz.<name> (sync or async). */
  phase<T>(name: string, fn: () => T): T;
  setAttributes(attributes: Attributes): void;
  /** Marks the span as failed with a stable error type (a reason code). */
  setError(errorType: string, message: string): void;
  /** Ends the span; later calls do nothing. */
  end(): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Starts the Check span under the trace named by `headers` (lower-case names), at `startTime` (performance.now() or epoch ms; default now). */
  begin(headers: Readonly<Record<string, string>> | undefined, startTime?: number): CheckTrace;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops; the process may start tracing again afterwards. */
  shutdown(): Promise<void>;
}

export const NOOP_TRACE: CheckTrace = Object.freeze({
  recording: false,
  traceId: undefined,
  spanId: undefined,
  phase: <T>(_name: string, fn: () => T): T => fn(),
  setAttributes: () => {},
  setError: () => {},
  end: () => {},
});

export const NOOP_TRACING: Tracing = Object.freeze({
  enabled: false,
  begin: () => NOOP_TRACE,
  flush: async () => {},
  shutdown: async () => {},
});
