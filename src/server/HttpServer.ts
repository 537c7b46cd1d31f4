// The HTTP side: liveness, readiness (with the active policy revision) and
// Prometheus metrics. Nothing here touches the Check path.
import { createServer, type Server } from 'node:http';
import type { Metrics } from '../observe/Metrics.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';

export function createHttpServer(metrics: Metrics, policies: PolicyStore): Server {
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
      case '/readyz': {
        const engine = policies.current;
        const body = engine
          ? { status: 'ready', policy_revision: engine.revision }
          : { status: 'not ready', reason: 'no policy loaded' };
        res.writeHead(engine ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
        return;
      }
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
