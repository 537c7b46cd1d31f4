// The gRPC listener: TCP or a Unix socket, plain or mTLS (certificate files
// or the SPIFFE Workload API, rotated without a restart), with the caller
// allowlist in front of every method, serving Authorization/Check,
// grpc.health.v1.Health and, when asked for, server reflection, on
// ztauthz's own gRPC transport over node:http2 (h2/H2Transport.ts says why
// not grpc-js).
import cluster from 'node:cluster';
import { resolve as resolvePath } from 'node:path';
import type { Config } from '../config/schema.ts';
import { parseListenAddr, showListenAddr } from '../config/load.ts';
import type { CheckPipeline } from '../check/CheckPipeline.ts';
import { trySpiffeId } from '../identity/SpiffeId.ts';
import { PeerAuth, type Refusal } from '../tls/PeerAuth.ts';
import type { ServerTls } from '../tls/ServerTls.ts';
import type { Logger } from '../observe/Log.ts';
import type { Metrics } from '../observe/Metrics.ts';
import type { SpiffeIdParts } from '../types/Identity.ts';
import { authorizationHandlers, authorizationServiceDefinition } from './AuthorizationService.ts';
import type { HealthState } from './HealthService.ts';
import { prepareSocketPath } from './UnixSocket.ts';
import { H2Transport } from './h2/H2Transport.ts';

export interface GrpcListener {
  /** The TCP port; 0 on a Unix socket. */
  readonly port: number;
  /** Where it listens, as the "serving" line shows it: host:port or unix:///path. */
  readonly address: string;
  /** What Server.ts drains at shutdown. */
  readonly server: Pick<H2Transport, 'tryShutdown' | 'forceShutdown'>;
  close(): void;
}

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS (grpc-js and Node leave it unlimited):
 * without it one connection could hold any number of streams, answered or
 * not, so a client that opens streams and never sends their message, never
 * grants flow-control window, or never reads its socket made the server hold
 * them all (test/h2-abuse: RSS 1.7-7x within 3 s and Checks of other clients
 * past 1 s, on Node 24 and on Bun); a client beyond it gets its streams
 * refused or the connection closed. Envoy's connection pool opens another
 * connection when it reaches the peer's limit, and grpc-js and Go gRPC
 * clients queue, so honest clients only see more connections.
 */
export const MAX_CONCURRENT_STREAMS = 100;

/** Past this many refusal warnings a minute, refusals are only counted. */
const REFUSAL_WARNINGS_PER_MINUTE = 10;

/** grpc.max_connection_age_ms when it is 0 but several workers share the port: without ageing, Envoy's few long-lived connections would stay on whichever workers accepted them. */
export const WORKERS_DEFAULT_CONNECTION_AGE_MS = 30_000;

/** The connection age the listener enforces (0: none). */
export function connectionAgeMs(config: Config): number {
  const age = config.grpc.max_connection_age_ms;
  return age === 0 && config.server.workers > 1 ? WORKERS_DEFAULT_CONNECTION_AGE_MS : age;
}

export async function startGrpcListener(config: Config, pipeline: CheckPipeline, health: HealthState, log: Logger, metrics: Metrics): Promise<GrpcListener> {
  const t = config.grpc.tls;
  let tls: ServerTls | undefined;
  let peerAuth: PeerAuth<SpiffeIdParts> | undefined;
  if (t.mode !== 'off') {
    peerAuth = new PeerAuth({ allowed: t.allowed_peers, parseId: trySpiffeId });
    const events = {
      onRotated: (m: { serial: string; notAfter: Date }, prev: { serial: string } | null) =>
        log.info('grpc tls certificate loaded', { serial: m.serial, not_after: m.notAfter.toISOString(), previous_serial: prev?.serial ?? null }),
      onRejected: (err: Error) => log.warn('grpc tls: new certificate refused, keeping the current one', { error: err.message }),
    };
    // Loaded only with TLS on: the Workload API client brings grpc-js (about 10 MiB of RSS on Bun), which plain listeners never need.
    const { startFileServerTls, startWorkloadApiServerTls } = await import('../tls/ServerTls.ts');
    tls =
      t.mode === 'files'
        ? await startFileServerTls({ certFile: t.cert_file, keyFile: t.key_file, caFile: t.ca_file }, { ...events, refreshIntervalMs: t.reload_interval_ms })
        : await startWorkloadApiServerTls({
            ...events,
            endpoint: t.workload_api_endpoint || undefined,
            trustFederatedBundles: t.trust_federated_bundles,
            ...(t.svid_hint ? { pickSvid: (ctx) => ctx.svids.find((s) => s.hint === t.svid_hint) } : {}),
            onError: (err) => log.warn('grpc tls: workload api', { error: err.message }),
          });
  }
  const maxAge = connectionAgeMs(config);
  const refused = peerAuth ? refusalReporter(log, metrics) : undefined;
  const handlers = authorizationHandlers(pipeline, peerAuth, { compat: config.compat === 'opa-envoy', maxSendBytes: config.grpc.max_send_msg_bytes });
  const addr = parseListenAddr(config.grpc.addr);
  try {
    let path: string | undefined;
    if (addr.kind === 'unix') {
      path = resolvePath(addr.path);
      // With several workers the primary made the path ready before forking (they share its one listener).
      if (!cluster.isWorker) {
        try {
          await prepareSocketPath(path);
        } catch (err) {
          throw new Error(`cannot listen on grpc.addr ${config.grpc.addr}: ${(err as Error).message}`);
        }
      }
    }
    const server = new H2Transport({
      maxRecvBytes: config.grpc.max_recv_msg_bytes,
      maxSendBytes: config.grpc.max_send_msg_bytes,
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      // Aged connections get a GOAWAY (the client reconnects, possibly to another worker); calls in flight get the grace period.
      maxConnectionAgeMs: maxAge,
      maxConnectionAgeGraceMs: config.grpc.max_connection_age_grace_ms,
      tls: tls?.provider,
      // The allowlist in front of every method: a refused caller never reaches a handler.
      authorize:
        peerAuth &&
        ((auth) => {
          const error = peerAuth.authorize({ getAuthContext: () => auth }).error;
          if (error) refused!(error);
          return error;
        }),
    });
    server.addService(authorizationServiceDefinition, handlers);
    health.addToServer(server);
    // Reflection (@grpc/reflection, proto-loader) is off by default; loaded only when on, it costs nothing otherwise.
    if (config.grpc.reflection) (await import('./Reflection.ts')).addReflection(server);
    const bound = await server
      .listen(path !== undefined ? { path } : addr.kind === 'tcp' ? { host: addr.host, port: addr.port } : { path: '' })
      .catch((err: Error) => {
        throw new Error(`cannot listen on grpc.addr ${config.grpc.addr}: ${err.message}`);
      });
    const port = addr.kind === 'unix' ? 0 : bound;
    return {
      port,
      address: showListenAddr(addr, port),
      server,
      close: () => tls?.close(),
    };
  } catch (err) {
    tls?.close();
    throw err;
  }
}

/** Counts every refused caller and logs a bounded number of them (a rogue sidecar must not flood the log). */
function refusalReporter(log: Logger, metrics: Metrics): (status: Refusal) => void {
  let windowStart = 0;
  let warned = 0;
  return (status) => {
    const code = status.code === 7 ? 'not_allowed' : 'unidentified';
    metrics.peersRefused.inc({ reason: code });
    const now = Date.now();
    if (now - windowStart > 60_000) {
      windowStart = now;
      warned = 0;
    }
    if (warned++ < REFUSAL_WARNINGS_PER_MINUTE) log.warn('grpc caller refused', { reason: code, details: status.details.slice(0, 300) });
  };
}
