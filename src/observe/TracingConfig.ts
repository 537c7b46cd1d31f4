// How tracing runs once the tracing.* options and the standard OTEL_*
// environment are combined. Kept apart from Tracing.ts so it can be read (and
// tested) without loading the OpenTelemetry SDK.

export interface TracingOptions {
  /** tracing.enabled. */
  readonly enabled: boolean;
  /** tracing.exporter: OTLP over gRPC, OTLP over HTTP (protobuf), or no export. */
  readonly exporter: 'otlp-grpc' | 'otlp-http' | 'none';
  /** tracing.endpoint: collector URL; for HTTP a bare origin gets /v1/traces. "": the OTLP default. */
  readonly endpoint: string;
  /** tracing.sampler_ratio: fraction of new traces sampled; a parent's decision is always followed. */
  readonly samplerRatio: number;
  readonly serviceName?: string | undefined;
  readonly serviceVersion?: string | undefined;
}

/** How tracing will run once config and environment are combined. */
export type ResolvedTracing =
  | { readonly enabled: false; readonly why: string }
  | {
      readonly enabled: true;
      /** 'env': OTEL_TRACES_EXPORTER names a non-OTLP exporter; sdk-node builds it from the environment. */
      readonly protocol: 'grpc' | 'http/protobuf' | 'http/json' | 'env';
      /** Undefined: the exporter's own choice (OTEL_EXPORTER_OTLP_*ENDPOINT, else the OTLP default). */
      readonly url: string | undefined;
      /** Undefined: OTEL_TRACES_SAMPLER decides. */
      readonly samplerRatio: number | undefined;
    };

const TRUE = /^\s*true\s*$/i;

/**
 * Combines tracing.* options with the OTEL_* environment. Rules, in order:
 * OTEL_SDK_DISABLED=true or tracing.enabled=false: off. OTEL_TRACES_EXPORTER,
 * when set, replaces tracing.exporter ("none": off; "otlp": OTLP; anything
 * else, e.g. zipkin or console: built by sdk-node from the environment).
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL replace the
 * protocol implied by tracing.exporter; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
 * OTEL_EXPORTER_OTLP_ENDPOINT replace tracing.endpoint; OTEL_TRACES_SAMPLER
 * (with OTEL_TRACES_SAMPLER_ARG) replaces tracing.sampler_ratio.
 */
export function resolveTracing(opts: TracingOptions, env: Readonly<Record<string, string | undefined>> = process.env): ResolvedTracing {
  if (TRUE.test(env['OTEL_SDK_DISABLED'] ?? '')) return { enabled: false, why: 'OTEL_SDK_DISABLED' };
  if (!opts.enabled) return { enabled: false, why: 'tracing.enabled' };
  const set = (name: string): string | undefined => (env[name]?.trim() ? env[name]?.trim() : undefined);
  const exporters = set('OTEL_TRACES_EXPORTER')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (exporters) {
    if (exporters[0] === 'none' && exporters.length === 1) return { enabled: false, why: 'OTEL_TRACES_EXPORTER' };
  } else if (opts.exporter === 'none') {
    return { enabled: false, why: 'tracing.exporter' };
  }
  const samplerRatio = set('OTEL_TRACES_SAMPLER') ? undefined : opts.samplerRatio;
  if (exporters && !(exporters.length === 1 && exporters[0] === 'otlp')) return { enabled: true, protocol: 'env', url: undefined, samplerRatio };
  const envProtocol = set('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? set('OTEL_EXPORTER_OTLP_PROTOCOL');
  const protocol =
    envProtocol === 'grpc' || envProtocol === 'http/json' || envProtocol === 'http/protobuf'
      ? envProtocol
      : opts.exporter === 'otlp-grpc'
        ? 'grpc'
        : 'http/protobuf';
  const envEndpoint = set('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? set('OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = envEndpoint || !opts.endpoint ? undefined : endpointUrl(opts.endpoint, protocol);
  return { enabled: true, protocol, url, samplerRatio };
}

/** HTTP: an origin without a path means the collector, so /v1/traces is added (as OTEL_EXPORTER_OTLP_ENDPOINT does). */
function endpointUrl(endpoint: string, protocol: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new TypeError(`tracing.endpoint: not a URL (got ${JSON.stringify(endpoint)})`);
  }
  if (protocol === 'grpc') return endpoint;
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.toString();
}
