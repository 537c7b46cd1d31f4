// Server wiring: configuration in, listening gRPC and HTTP servers out.
// Owns start-up order (routes, then policy, then listeners) and graceful
// shutdown (stop accepting, drain in-flight Checks, flush, exit).
import type { Server as HttpServer } from 'node:http';
import type { Config } from '../config/schema.ts';
import { parseAddr } from '../config/load.ts';
import { ShadowPolicy } from '../check/ShadowPolicy.ts';
import { PolicyStore } from '../policy/PolicyStore.ts';
import { Metrics } from '../observe/Metrics.ts';
import { DecisionLog } from '../observe/DecisionLog.ts';
import { decisionUpload } from './DecisionShipping.ts';
import { dropped, maskOps } from '../observe/PolicyMask.ts';
import { LOG_DROP_ENTRYPOINT, LOG_MASK_ENTRYPOINT } from '../policy/OpaCompiler.ts';
import type { JsonObject } from '../types/Json.ts';
import { BehaviorSignals } from '../observe/BehaviorSignals.ts';
import { Observer } from '../observe/Observer.ts';
import { startTracing, type Tracing } from '../observe/Tracing.ts';
import { createLogger, type Logger } from '../observe/Log.ts';
import { HealthState } from './HealthService.ts';
import { createHttpServer, listenHttp } from './HttpServer.ts';
import { PolicyLifecycle } from './PolicyLifecycle.ts';
import { buildPhases, createPipeline } from './Pipeline.ts';
import { startGrpcListener, type GrpcListener } from './GrpcListener.ts';
import { RUNTIME_VERSION, releaseStartupMemory } from './Runtime.ts';
import type { BundleState } from '../types/BundleState.ts';

export interface RunningServer {
  /** The TCP port; 0 when grpc.addr is a Unix socket. */
  readonly grpcPort: number;
  /** host:port or unix:///path. */
  readonly grpcAddress: string;
  readonly httpPort: number;
  readonly policies: PolicyStore;
  readonly metrics: Metrics;
  /** Each configured remote bundle's state (bundles.<name>), for status reports; empty without bundles. */
  bundleStates(): BundleState[];
  /** Calls `listener` after each change of a bundle's state (a request answered or failed, an activation); returns the unsubscribe. */
  onBundleChange(listener: () => void): () => void;
  /** Stops accepting, lets in-flight Checks finish (up to graceMs), then closes. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  /** Bind http.addr (/healthz, /readyz, /metrics). A cluster worker does not: its primary serves them. */
  readonly http?: boolean;
}

export async function startServer(config: Config, log: Logger = createLogger(config.log.level), opts: ServerOptions = {}): Promise<RunningServer> {
  const metrics = new Metrics({ maxIdentities: config.metrics.max_identities, identityIdleSeconds: config.metrics.identity_idle_seconds });
  // First, so a mask pino cannot express, or a decision-log file that cannot be opened, refuses the start before anything runs.
  // Upload outcomes go to status reports, which start with the policy lifecycle below.
  let uploadResult: (err: Error | undefined) => void = () => {};
  const upload = decisionUpload(config, metrics, log, (err) => uploadResult(err));
  let decisionLog: DecisionLog;
  try {
    decisionLog = new DecisionLog(
      {
        enabled: config.decision_log.enabled,
        output: config.decision_log.output,
        includeInput: config.decision_log.include_input,
        inputSampleAllowed: config.decision_log.input_sample_allowed,
        mask: config.decision_log.mask,
        sampleAllowed: config.decision_log.sample_allowed,
        upload,
      },
      metrics,
    );
  } catch (err) {
    await upload?.close(0);
    throw err;
  }
  const health = new HealthState();
  // The route table names the entrypoints the policy must have, so it is built first.
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  // OPA's decision-log drop and mask rules, when the serving policy has them (compiled from package system.log).
  decisionLog.usePolicyRules({
    hasMask: () => policies.current?.entrypoints.has(LOG_MASK_ENTRYPOINT) ?? false,
    mask: (record) => {
      const engine = policies.current;
      return engine?.entrypoints.has(LOG_MASK_ENTRYPOINT) ? maskOps(engine.evaluate(record as JsonObject, LOG_MASK_ENTRYPOINT)) : undefined;
    },
    drop: (record) => {
      const engine = policies.current;
      return engine?.entrypoints.has(LOG_DROP_ENTRYPOINT) ? dropped(engine.evaluate(record as JsonObject, LOG_DROP_ENTRYPOINT)) : false;
    },
  });
  if (phases.cache) metrics.watchCache(phases.cache);
  const lifecycle = new PolicyLifecycle(config, phases.router.entrypoints, metrics, log, policies);
  uploadResult = (err) => lifecycle.decisionLogResult(err);
  lifecycle.active.onActivate(() => {
    health.setServing(true);
    // Keys carry the revision, so old entries could never be served; clearing frees their memory now.
    phases.cache?.clear();
    phases.shortcut?.table.clear();
  });
  await lifecycle.start().catch(async (err: unknown) => {
    await decisionLog.close();
    throw err;
  });
  if (lifecycle.httpSend) metrics.watchHttpSend(lifecycle.httpSend.client.counts);

  let tracing: Tracing | undefined;
  let grpc: GrpcListener | undefined;
  let httpServer: HttpServer | undefined;
  try {
    tracing = await startTracing(
      {
        enabled: config.tracing.enabled,
        exporter: config.tracing.exporter,
        endpoint: config.tracing.endpoint,
        samplerRatio: config.tracing.sampler_ratio,
        serviceName: config.tracing.service_name,
      },
      log,
    );
    const b = config.behavior;
    const behavior = b.enabled
      ? new BehaviorSignals({
          maxIdentities: b.max_identities,
          maxRoutesPerIdentity: b.max_routes_per_identity,
          maxToolsPerIdentity: b.max_tools_per_identity,
          windowSeconds: b.window_seconds,
          baselineWindows: b.baseline_windows,
          learningSeconds: b.learning_seconds,
          rateJumpFactor: b.rate_jump_factor,
          rateJumpMin: b.rate_jump_min,
          denySpikeFactor: b.deny_spike_factor,
          denySpikeMin: b.deny_spike_min,
        })
      : undefined;
    const observer = new Observer({ metrics, decisionLog, tracing, behavior });
    const shadow = lifecycle.shadow.current
      ? new ShadowPolicy(lifecycle.shadow, config.shadow.sample, (report) => {
          metrics.shadowEvaluations.inc({ route: report.route, result: report.result });
          if (report.result !== 'agree') decisionLog.writeEvent({ type: 'shadow', ...report });
        })
      : undefined;
    const pipeline = createPipeline(config, policies, phases, { observer, shadow });
    grpc = await startGrpcListener(config, pipeline, health, log, metrics);
    const h = parseAddr(config.http.addr);
    let httpPort = 0;
    if (opts.http !== false) {
      httpServer = createHttpServer(metrics, policies, () => lifecycle.missingBundles());
      httpPort = await listenHttp(httpServer, h.host, h.port, config.http.addr);
    }
    releaseStartupMemory();
    lifecycle.serving();
    log.info('serving', { grpc: grpc.address, http: `${h.host}:${httpPort}`, tls: config.grpc.tls.mode, runtime: RUNTIME_VERSION });

    // SIGHUP: reopen the decision log (rotation) and reload policies now.
    const onHup = (): void => {
      decisionLog.reopen();
      void lifecycle.reload();
    };
    process.on('SIGHUP', onHup);
    const listener = grpc;
    const http = httpServer;
    const tracer = tracing;
    return {
      grpcPort: listener.port,
      grpcAddress: listener.address,
      httpPort,
      policies,
      metrics,
      bundleStates: () => lifecycle.bundleStates(),
      onBundleChange: (listener) => lifecycle.onBundleChange(listener),
      async stop(graceMs = 10_000) {
        process.off('SIGHUP', onHup);
        lifecycle.stop();
        health.setServing(false);
        health.endWatches();
        await drain(listener, graceMs);
        await lifecycle.close();
        listener.close();
        if (http) {
          await new Promise<void>((resolve) => {
            http.close(() => resolve());
            http.closeAllConnections();
          });
        }
        await tracer.shutdown();
        await decisionLog.close();
      },
    };
  } catch (err) {
    grpc?.server.forceShutdown();
    grpc?.close();
    httpServer?.close();
    await tracing?.shutdown();
    lifecycle.stop();
    await lifecycle.close();
    await decisionLog.close();
    throw err;
  }
}

/** tryShutdown waits for in-flight calls; past the grace period they are cut. */
function drain(listener: GrpcListener, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      listener.server.forceShutdown();
      resolve();
    }, graceMs);
    listener.server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
