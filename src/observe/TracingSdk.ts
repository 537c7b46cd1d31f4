// The OpenTelemetry half of Tracing.ts, imported only when tracing is on.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, diag, trace, DiagLogLevel } from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapGetter, TextMapPropagator, Tracer, ProxyTracerProvider } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_RPC_METHOD, ATTR_RPC_SYSTEM_NAME, RPC_SYSTEM_NAME_VALUE_GRPC } from '@opentelemetry/semantic-conventions';
import type { Logger } from './Log.ts';
import { CHECK_SPAN_NAME, phaseSpanName } from './TraceAttributes.ts';
import type { ResolvedTracing, TracingOptions } from './TracingConfig.ts';
import { NOOP_TRACE, type CheckTrace, type Tracing } from './CheckTrace.ts';

const CHECK_SPAN_ATTRIBUTES: Attributes = Object.freeze({
  [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
  [ATTR_RPC_METHOD]: CHECK_SPAN_NAME,
});

/** Starts the SDK; `stopped` runs once its shutdown is done. */
export async function startSdk(
  opts: TracingOptions,
  r: Extract<ResolvedTracing, { enabled: true }>,
  log: Logger | undefined,
  stopped: () => void,
): Promise<Tracing> {
  const [{ NodeSDK }, sdkTrace, { defaultResource, resourceFromAttributes }, core, { B3Propagator }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/propagator-b3'),
  ]);
  if (log && !process.env['OTEL_LOG_LEVEL']) {
    // Export failures (collector down) are worth a warning in the service log; OTEL_LOG_LEVEL, when set, takes over.
    const warn = (msg: string, ...args: unknown[]): void => log.warn(`tracing: ${msg}`, args.length ? { detail: args.map(String).join(' ') } : undefined);
    diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  }
  const sdk = new NodeSDK({
    // Detected attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) override these defaults.
    resource: defaultResource().merge(
      resourceFromAttributes({ 'service.name': opts.serviceName ?? 'ztauthz', ...(opts.serviceVersion ? { 'service.version': opts.serviceVersion } : {}) }),
    ),
    ...(r.protocol === 'env' ? {} : { traceExporter: await createExporter(r.protocol, r.url) }),
    ...(r.samplerRatio === undefined
      ? {}
      : {
          sampler: new sdkTrace.ParentBasedSampler({
            root: r.samplerRatio >= 1 ? new sdkTrace.AlwaysOnSampler() : new sdkTrace.TraceIdRatioBasedSampler(r.samplerRatio),
          }),
        }),
    // Parent contexts are read explicitly from the authorized request; nothing global is needed.
    textMapPropagator: null,
    // prom-client serves metrics and the decision log is our own: no OTel metrics or logs pipelines.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as unknown as { forceFlush(): Promise<void> };
  const tracer = trace.getTracer('ztauthz', opts.serviceVersion);
  // W3C last: CompositePropagator lets a later extractor override an earlier one, so traceparent wins over b3 when both came.
  const propagator = new core.CompositePropagator({ propagators: [new B3Propagator(), new core.W3CTraceContextPropagator()] });
  const tracing: Tracing = {
    enabled: true,
    begin: (headers, startTime) => beginCheck(tracer, propagator, r.samplerRatio, headers, startTime),
    flush: () => provider.forceFlush(),
    async shutdown() {
      try {
        await sdk.shutdown();
      } finally {
        trace.disable();
        context.disable();
        diag.disable();
        stopped();
      }
    },
  };
  return tracing;
}

async function createExporter(protocol: 'grpc' | 'http/protobuf' | 'http/json', url: string | undefined) {
  const config = url ? { url } : {};
  switch (protocol) {
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter(config);
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(config);
    default:
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(config);
  }
}

const HEADER_GETTER: TextMapGetter<Readonly<Record<string, string>>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/**
 * `ratio` is set when our own parent-based sampler decides (not
 * OTEL_TRACES_SAMPLER): its answer for an unsampled parent, or for a root at
 * ratio 0, is known without asking the SDK, which saves most of a span's cost
 * on the traffic that is not traced.
 */
function beginCheck(
  tracer: Tracer,
  propagator: TextMapPropagator,
  ratio: number | undefined,
  headers: Readonly<Record<string, string>> | undefined,
  startTime: number | undefined,
): CheckTrace {
  const parent = headers ? propagator.extract(ROOT_CONTEXT, headers, HEADER_GETTER) : ROOT_CONTEXT;
  const parentSc = trace.getSpanContext(parent);
  if (ratio !== undefined) {
    if (parentSc && !(parentSc.traceFlags & TraceFlags.SAMPLED)) return unsampled(parentSc.traceId);
    if (!parentSc && ratio <= 0) return NOOP_TRACE;
  }
  const span = tracer.startSpan(CHECK_SPAN_NAME, { kind: SpanKind.SERVER, attributes: CHECK_SPAN_ATTRIBUTES, startTime }, parent);
  return new SpanTrace(tracer, span, parentSc !== undefined);
}

/** Not recorded, but the request's trace id still correlates the decision record with its trace. */
function unsampled(traceId: string): CheckTrace {
  return { ...NOOP_TRACE, traceId };
}

class SpanTrace implements CheckTrace {
  readonly recording: boolean;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly #tracer: Tracer;
  readonly #span: Span;
  #ctx: Context | undefined;
  #ended = false;

  constructor(tracer: Tracer, span: Span, hasParent: boolean) {
    this.#tracer = tracer;
    this.#span = span;
    this.recording = span.isRecording();
    const sc = span.spanContext();
    // An unsampled root's trace id names no trace anywhere; an unsampled parent's still names the request's.
    this.traceId = this.recording || hasParent ? sc.traceId : undefined;
    this.spanId = this.recording ? sc.spanId : undefined;
  }

  phase<T>(name: string, fn: () => T): T {
    if (!this.recording) return fn();
    const child = this.#tracer.startSpan(phaseSpanName(name), { kind: SpanKind.INTERNAL }, (this.#ctx ??= trace.setSpan(ROOT_CONTEXT, this.#span)));
    let result: T;
    try {
      result = fn();
    } catch (err) {
      failed(child, err);
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => {
          child.end();
          return v;
        },
        (err) => {
          failed(child, err);
          throw err;
        },
      ) as T;
    }
    child.end();
    return result;
  }

  setAttributes(attributes: Attributes): void {
    if (this.recording) this.#span.setAttributes(attributes);
  }

  setError(errorType: string, message: string): void {
    if (!this.recording) return;
    this.#span.setAttribute(ATTR_ERROR_TYPE, errorType);
    this.#span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.end();
  }
}

function failed(span: Span, err: unknown): void {
  span.setAttribute(ATTR_ERROR_TYPE, err instanceof Error ? err.name : 'error');
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}
