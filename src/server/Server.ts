// Server wiring: configuration in, listening gRPC and HTTP servers out.
// Owns start-up order (policy first, then listeners) and graceful shutdown.
import * as grpc from '@grpc/grpc-js';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.ts';
import { parseAddr } from '../config/load.ts';
import { CheckPipeline } from '../check/CheckPipeline.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import { ShadowPolicy } from '../check/ShadowPolicy.ts';
import { Metrics } from '../observe/Metrics.ts';
import { DecisionLog } from '../observe/DecisionLog.ts';
import { createLogger, type Logger } from '../observe/Log.ts';
import { authorizationHandlers, authorizationServiceDefinition } from './AuthorizationService.ts';
import { HealthState, healthServiceDefinition } from './HealthService.ts';
import { createHttpServer } from './HttpServer.ts';
import { PolicyLifecycle } from './PolicyLifecycle.ts';

export { loadConfiguredPolicy } from './PolicyLifecycle.ts';

export interface RunningServer {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly policies: PolicyStore;
  readonly metrics: Metrics;
  /** Stops accepting, lets in-flight Checks finish (up to graceMs), then closes. */
  stop(graceMs?: number): Promise<void>;
}

export function createPipeline(
  config: Config,
  policies: PolicyStore,
  metrics?: Metrics,
  decisionLog?: DecisionLog,
  shadow?: ShadowPolicy,
): CheckPipeline {
  return new CheckPipeline(
    {
      limits: {
        maxHeaders: config.request.max_headers,
        maxHeaderBytes: config.request.max_header_bytes,
        maxPathBytes: config.request.max_path_bytes,
        maxBodyBytes: config.request.max_body_bytes,
      },
      input: { parseBody: config.request.parse_body, truncatedBody: config.request.truncated_body },
      decisionPath: config.policy.decision,
      dryRun: config.decision.dry_run,
      onError: config.decision.on_error,
    },
    { policies, metrics, decisionLog, shadow },
  );
}

export async function startServer(config: Config, log: Logger = createLogger(config.log.level)): Promise<RunningServer> {
  const metrics = new Metrics();
  const health = new HealthState();
  const lifecycle = new PolicyLifecycle(config, metrics, log);
  lifecycle.active.onActivate(() => health.setServing(true));
  await lifecycle.start();
  const policies = lifecycle.active;

  const decisionLog = new DecisionLog(
    {
      enabled: config.decision_log.enabled,
      output: config.decision_log.output,
      includeInput: config.decision_log.include_input,
      mask: config.decision_log.mask,
    },
    metrics,
  );
  const shadow = lifecycle.shadow.current
    ? new ShadowPolicy(lifecycle.shadow, config.shadow.sample, (report) => {
        metrics.shadowEvaluations.inc({ route: report.route, result: report.result });
        if (report.result !== 'agree') decisionLog.writeEvent({ type: 'shadow', ...report });
      })
    : undefined;
  const pipeline = createPipeline(config, policies, metrics, decisionLog, shadow);

  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': config.grpc.max_recv_msg_bytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  grpcServer.addService(authorizationServiceDefinition, authorizationHandlers(pipeline));
  grpcServer.addService(healthServiceDefinition, health.handlers());
  const g = parseAddr(config.grpc.addr);
  const grpcPort = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(`${hostForBind(g.host)}:${g.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(new Error(`cannot listen on grpc.addr ${config.grpc.addr}: ${err.message}`)) : resolve(port),
    );
  });

  const httpServer = createHttpServer(metrics, policies);
  const h = parseAddr(config.http.addr);
  let httpPort: number;
  try {
    httpPort = await listen(httpServer, h.host, h.port, config.http.addr);
  } catch (err) {
    grpcServer.forceShutdown();
    lifecycle.stop();
    throw err;
  }
  log.info('serving', { grpc: `${g.host}:${grpcPort}`, http: `${h.host}:${httpPort}` });

  // SIGHUP: reopen the decision log (rotation) and reload policies now.
  const onHup = (): void => {
    decisionLog.reopen();
    void lifecycle.reload();
  };
  process.on('SIGHUP', onHup);

  return {
    grpcPort,
    httpPort,
    policies,
    metrics,
    async stop(graceMs = 10_000) {
      process.off('SIGHUP', onHup);
      lifecycle.stop();
      health.setServing(false);
      health.endWatches();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, graceMs);
        grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await decisionLog.close();
    },
  };
}

function hostForBind(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: HttpServer, host: string, port: number, addr: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on http.addr ${addr}: ${err.message}`)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
