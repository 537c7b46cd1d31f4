// A decision-log collector per OPA's decision-log service API, for the
// upload tests: a Node HTTP server on 127.0.0.1 that keeps every request
// (headers, gunzipped JSON body) and answers as the test says: 204, an error
// status, or never (a hung collector). It can go down and come back on the
// same port (a collector restarting mid-run): down, it resets every
// connection, open or new, so nothing it held is answered; the port stays
// bound, so no other socket on the machine can take it meanwhile (closing
// the port and binding it again raced every ephemeral port allocation).
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';

export interface CollectedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Gzipped bytes as received. */
  readonly raw: Buffer;
  /** The gunzipped, parsed array; undefined when the body was not gzipped JSON. */
  readonly events: Array<Record<string, unknown>> | undefined;
  /** What the collector answered. */
  readonly status: number;
  /** Over HTTPS: the subject alternative name of the client certificate presented. */
  readonly clientSan: string | undefined;
}

/** What the collector does with a request: an HTTP status, or 'hang' (no answer until stopped). */
export type Answer = number | 'hang';

export class Collector {
  /** Every answered request, whatever the answer. */
  readonly requests: CollectedRequest[] = [];
  /** Requests received, hung ones included. */
  attempts = 0;
  /** Answers for the next requests, in order; once used up, `fallback`. */
  readonly script: Answer[] = [];
  fallback: Answer = 204;
  port = 0;
  #server: Server | undefined;
  readonly #hung = new Set<ServerResponse>();
  readonly #sockets = new Set<Socket>();
  #down = false;
  readonly #tls: { cert: string; key: string; ca: string } | undefined;

  /** With `tls`, serves HTTPS and requires a client certificate the CA verifies. */
  constructor(tls?: { cert: string; key: string; ca: string }) {
    this.#tls = tls;
  }

  async start(port = this.port): Promise<this> {
    const handler: RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let events: Array<Record<string, unknown>> | undefined;
        try {
          events = JSON.parse(gunzipSync(raw).toString('utf8')) as Array<Record<string, unknown>>;
        } catch {
          events = undefined;
        }
        this.attempts++;
        const answer = this.script.shift() ?? this.fallback;
        if (answer === 'hang') {
          this.#hung.add(res);
          return;
        }
        const peer = this.#tls ? (req.socket as TLSSocket).getPeerCertificate() : undefined;
        const clientSan = peer?.subjectaltname;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, events, status: answer, clientSan });
        res.writeHead(answer).end();
      });
    };
    const server = this.#tls ? createHttpsServer({ ...this.#tls, requestCert: true, rejectUnauthorized: true }, handler) : createServer(handler);
    // Every TCP connection, also one that never becomes a request.
    server.on('connection', (socket: Socket) => {
      if (this.#down) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
    return this;
  }

  /** The events of requests taken (answered 2xx; the others are sent again). */
  get events(): Array<Record<string, unknown>> {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.events ?? []);
  }

  /** Decision ids received so far. */
  get decisionIds(): Set<string> {
    return new Set(this.events.map((e) => String(e['decision_id'])));
  }

  /** Goes down: every open connection is reset (hung requests too), every new one as it arrives. */
  down(): void {
    this.#down = true;
    this.#hung.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Comes back: new connections are served again. */
  up(): void {
    this.#down = false;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
