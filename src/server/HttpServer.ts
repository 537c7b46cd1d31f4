// The HTTP side: liveness, readiness (with the active policy revision) and
// Prometheus metrics. Nothing here touches the Check path. With several
// workers (server/Cluster.ts) the primary serves it, from what the workers
// report; the workers themselves bind no HTTP port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../observe/Metrics.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';

/** Where /readyz and /metrics get their answers. */
export interface HttpSource {
  /** `ready` decides 200 or 503; `body` is sent as JSON. */
  readiness(): Promise<{ ready: boolean; body: Record<string, unknown> }>;
  metrics(): Promise<{ contentType: string; text: string }>;
}

/** The HTTP side of one server process. */
export function createHttpServer(metrics: Metrics, policies: PolicyStore, missingBundles?: () => readonly string[]): Server {
  return createHttpSourceServer(localSource(metrics, policies, missingBundles));
}

/**
 * The readiness and metrics of this process: ready once a policy is loaded.
 * With remote bundles, not ready names the bundles that have not loaded yet
 * (the policy serves only once every one has).
 */
export function localSource(metrics: Metrics, policies: PolicyStore, missingBundles?: () => readonly string[]): HttpSource {
  return {
    async readiness() {
      const engine = policies.current;
      if (engine) return { ready: true, body: { status: 'ready', policy_revision: engine.revision } };
      const missing = missingBundles?.() ?? [];
      return { ready: false, body: { status: 'not ready', reason: missing.length > 0 ? `waiting for bundles: ${missing.join(', ')}` : 'no policy loaded' } };
    },
    async metrics() {
      return { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() };
    },
  };
}

export function createHttpSourceServer(source: HttpSource): Server {
  return createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
        return;
      case '/readyz':
        source.readiness().then(
          ({ ready, body }) => res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`),
          (err: Error) => res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: 'not ready', reason: err.message })}\n`),
        );
        return;
      case '/metrics':
        source.metrics().then(
          ({ contentType, text }) => res.writeHead(200, { 'content-type': contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}

/** Binds `server` to host:port (http.addr, named in the error) and resolves with the port bound (port 0: the one the OS picked). */
export function listenHttp(server: Server, host: string, port: number, addr: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on http.addr ${addr}: ${err.message}`)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
