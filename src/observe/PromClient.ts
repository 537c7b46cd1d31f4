// prom-client, without the part that loads OpenTelemetry. prom-client's index
// requires its default metrics eagerly, and one of them (process CPU time)
// requires @opentelemetry/api at load for exemplars, which ztauthz never
// enables: 51 modules and about 2.4 MiB of resident memory in every server,
// tracing on or off (Bun 1.4, 2026-12-05). So the classes come from their own
// files, the default metrics from theirs, and the three CPU counters are
// defined here as prom-client defines them (same names, help and values).
// Types are prom-client's own. The OpenTelemetry API loads only when tracing
// is on (observe/TracingSdk.ts).
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const load = createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry') as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = load('prom-client/lib/counter') as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = load('prom-client/lib/gauge') as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const AggregatorRegistry = load('prom-client/lib/cluster') as typeof Prom.AggregatorRegistry;
export type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';

type DefaultMetric = (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

// prom-client 15's lib/defaultMetrics.js list, in its order, with processCpuTotal replaced by processCpu below.
const DEFAULT_METRICS = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  ...(typeof (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
];

/** prom-client's collectDefaultMetrics({ register, prefix }). */
export function collectDefaultMetrics(opts: { register: Registry; prefix: string }): void {
  const config = { prefix: opts.prefix, eventLoopMonitoringPrecision: 10 };
  processCpu(opts.register, opts.prefix);
  for (const name of DEFAULT_METRICS) (load(`prom-client/lib/metrics/${name}`) as DefaultMetric)(opts.register, config);
}

/** prom-client's lib/metrics/processCpuTotal.js without exemplars. */
function processCpu(registry: Registry, prefix: string): void {
  const registers = [registry];
  let last = process.cpuUsage();
  const user: Counter = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers,
    // This one metric's collect sets all three.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers });
}
