// An HTTP echo server standing in for the service behind Envoy: it answers
// every request with 200 and a JSON description of what it received, and
// keeps a list of those requests so a test can assert what did (not) arrive.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoedRequest {
  readonly method: string;
  /** The request target as received (path and query). */
  readonly url: string;
  /** Node's view: lower-case names, repeated headers joined. */
  readonly headers: IncomingHttpHeaders;
  /** Names and values as they arrived, in order (repeats kept apart). */
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

export interface EchoUpstream {
  readonly port: number;
  /** Every request received so far, oldest first. */
  readonly received: readonly EchoedRequest[];
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: EchoedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const echoed: EchoedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(echoed);
      const payload = JSON.stringify({ method: echoed.method, url: echoed.url, headers: echoed.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  return { ...(await listenLoopback(server)), received };
}

/** Listens on 127.0.0.1 on a free port; close() also ends kept-alive connections, so tests stop at once. */
export async function listenLoopback(server: Server): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
