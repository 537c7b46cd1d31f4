// A gRPC server on bare node:http2, in place of grpc-js on the serving path.
// Why hand-written: a no-op Check costs 36-40 µs of CPU on grpc-js under Bun
// and ~53 µs under Node 24, against 22 and ~30 µs for a bare node:http2
// responder (bench/transport.ts, ghz at saturation, 2026-12-05): grpc-js's
// per-call machinery (interceptor chain, metadata objects, call stream
// wrappers, channelz) was a third to half of the cost of a cache-hit Check.
// This does what ztauthz's listener needs and no more: unary, server-streaming
// and bidi methods from grpc-js ServiceDefinitions (so grpc-health-check and
// @grpc/reflection run unchanged, Calls.ts), grpc-timeout deadlines, message
// size bounds, connection age with a GOAWAY, mTLS with a rotating context and
// a per-connection caller check. Compression is refused (UNIMPLEMENTED);
// Envoy does not compress ext_authz calls.
import http2, { type Http2Server, type Http2SecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { PeerAuthContext } from '../../tls/PeerAuth.ts';
import type { RotatingCertificateProvider } from '../../tls/RotatingCertificateProvider.ts';
import { asCallError, type CallContext, sendError, sendUnary, StreamingCall, UnaryCall } from './Calls.ts';
import { type CallError, MessageReader, parseGrpcTimeout, Status } from './Framing.ts';

/** A method as grpc-js's ServiceDefinition describes it. */
export interface MethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
  readonly responseSerialize: (value: never) => Buffer;
}
type Handler = (call: any, callback?: any) => void;

export interface H2TransportOptions {
  readonly maxRecvBytes: number;
  readonly maxSendBytes: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS (see MAX_CONCURRENT_STREAMS in GrpcListener.ts for why 100). */
  readonly maxConcurrentStreams: number;
  /** 0: connections are never aged out. */
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  /** mTLS: the server's certificate and the CAs client certificates must chain to; the context follows its updates. */
  readonly tls?: RotatingCertificateProvider | undefined;
  /** Refuses a call before its method runs (the peer allowlist); undefined lets it through. */
  readonly authorize?: ((auth: PeerAuthContext) => CallError | undefined) | undefined;
}

interface Route {
  readonly def: MethodDefinition;
  readonly handler: Handler;
}

/** Errors on sessions and streams end them; there is nobody to tell (the client sees the reset). */
const ignore = (): void => {};
const PLAINTEXT: PeerAuthContext = Object.freeze({ transportSecurityType: 'insecure' });
const AUTH = Symbol('ztauthz.auth');
const VERDICT = Symbol('ztauthz.verdict');
type Session = Http2Session & { [AUTH]?: PeerAuthContext; [VERDICT]?: CallError | null };

export class H2Transport {
  readonly #routes = new Map<string, Route>();
  readonly #sessions = new Set<Http2Session>();
  readonly #server: Http2Server | Http2SecureServer;
  readonly #opts: H2TransportOptions;
  #unsubscribe: (() => void) | undefined;
  #lastTimeout = '';
  #lastTimeoutMs: number | null = null;

  constructor(opts: H2TransportOptions) {
    this.#opts = opts;
    const options: http2.SecureServerOptions = {
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams },
      // grpc-js leaves Node's per-session memory limit off (Node degrades badly at it); streams are bounded by the settings above.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    };
    const material = opts.tls?.current();
    if (opts.tls && !material) throw new Error('grpc tls: no certificate to serve yet');
    this.#server = material
      ? http2.createSecureServer({
          ...options,
          cert: material.certChainPem,
          key: material.privateKeyPem,
          ca: material.caBundlePem,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        })
      : http2.createServer(options);
    if (opts.tls) {
      const server = this.#server as Http2SecureServer;
      // New handshakes get the new material; established connections keep theirs.
      this.#unsubscribe = opts.tls.onUpdate((m) => server.setSecureContext({ cert: m.certChainPem, key: m.privateKeyPem, ca: m.caBundlePem }));
      // A TLS client that does not offer h2 gets nothing (rather than Node's 10 s wait).
      server.on('unknownProtocol', (socket) => socket.destroy());
      server.on('secureConnection', (socket) => socket.on('error', () => {}));
      server.on('tlsClientError', () => {});
    }
    this.#server.on('session', (session) => this.#onSession(session));
    this.#server.on('sessionError', () => {});
    this.#server.on('stream', (stream, headers) => this.#onStream(stream, headers));
  }

  /** Adds every method of a grpc-js ServiceDefinition with its implementation. */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    for (const [name, def] of Object.entries(service) as [string, MethodDefinition][]) {
      const handler = (implementation[name] ?? implementation[name.charAt(0).toLowerCase() + name.slice(1)]) as Handler | undefined;
      if (!handler) throw new Error(`no implementation of ${def.path}`);
      this.#routes.set(def.path, { def, handler });
    }
  }

  /** Listens on a TCP host and port (0: any free port) or a Unix socket path; resolves with the port (0 on a socket). */
  listen(target: { host: string; port: number } | { path: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.#server;
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        server.on('error', () => {});
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      };
      if ('path' in target) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
  }

  /** Stops accepting; open connections get a GOAWAY and finish their calls; `done` once all have closed. */
  tryShutdown(done: () => void): void {
    this.#unsubscribe?.();
    let pending = 1 + this.#sessions.size;
    const one = (): void => {
      if (--pending === 0) done();
    };
    this.#server.close(() => one());
    for (const s of this.#sessions) {
      if (s.closed || s.destroyed) one();
      else {
        s.once('close', one);
        s.close();
      }
    }
  }

  /** Cuts every connection now. */
  forceShutdown(): void {
    this.#unsubscribe?.();
    this.#server.close();
    for (const s of this.#sessions) s.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
  }

  #onSession(session: Http2Session): void {
    this.#sessions.add(session);
    session.on('error', ignore);
    const age = this.#opts.maxConnectionAgeMs;
    let ageTimer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    if (age > 0) {
      // ±10% jitter, as grpc-js and grpc-go, so that connections opened together are not all closed together.
      ageTimer = setTimeout(() => this.#age(session, (t) => (graceTimer = t)), age * (0.9 + Math.random() * 0.2));
      ageTimer.unref();
    }
    session.once('close', () => {
      this.#sessions.delete(session);
      clearTimeout(ageTimer);
      clearTimeout(graceTimer);
    });
  }

  #age(session: Http2Session, setGrace: (t: NodeJS.Timeout) => void): void {
    if (session.closed || session.destroyed) return;
    try {
      // A first GOAWAY with the highest stream id: the client stops opening streams, those in flight finish.
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1, Buffer.from('max_age'));
      session.close();
    } catch {
      session.destroy();
      return;
    }
    const grace = setTimeout(() => session.destroy(), this.#opts.maxConnectionAgeGraceMs);
    grace.unref();
    setGrace(grace);
  }

  #authOf(session: Session): PeerAuthContext {
    let auth = session[AUTH];
    if (auth) return auth;
    const socket = session.socket as TLSSocket | undefined;
    if (socket?.encrypted) {
      const cert = socket.authorized ? socket.getPeerCertificate() : undefined;
      auth = { transportSecurityType: 'ssl', ...(cert?.raw ? { sslPeerCertificate: cert } : {}) };
    } else auth = PLAINTEXT;
    session[AUTH] = auth;
    return auth;
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    stream.on('error', ignore);
    const path = headers[':path'] ?? '';
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: HTTP 415, as the gRPC protocol asks.
      if (!stream.destroyed && !stream.closed) {
        try {
          stream.respond(
            { ':status': 415, 'grpc-status': String(Status.INTERNAL), 'grpc-message': 'content-type must be application/grpc' },
            { endStream: true },
          );
          if (!stream.readableEnded) stream.close();
        } catch {}
      }
      return;
    }
    const route = this.#routes.get(path);
    if (!route) return sendError(stream, { code: Status.UNIMPLEMENTED, details: `unknown method ${path.slice(0, 200)}` });
    let deadline = Infinity;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      const ms = timeout === this.#lastTimeout ? this.#lastTimeoutMs : parseGrpcTimeout(timeout as string);
      if (ms === null) return sendError(stream, { code: Status.INTERNAL, details: `malformed grpc-timeout ${String(timeout).slice(0, 20)}` });
      // Envoy sends the same grpc-timeout on every call (its configured timeout): parsed once.
      this.#lastTimeout = timeout as string;
      this.#lastTimeoutMs = ms;
      deadline = Date.now() + ms;
    }
    const session = stream.session as Session;
    const auth = this.#authOf(session);
    if (this.#opts.authorize) {
      // One verdict per connection: its certificate does not change.
      let verdict = session[VERDICT];
      if (verdict === undefined) session[VERDICT] = verdict = this.#opts.authorize(auth) ?? null;
      if (verdict) return sendError(stream, verdict);
    }
    const ctx: CallContext = { stream, deadline, auth, path };
    if (route.def.requestStream || route.def.responseStream) this.#streaming(route, ctx);
    else this.#unary(route, ctx);
  }

  #unary(route: Route, ctx: CallContext): void {
    const { stream } = ctx;
    // The common case allocates nothing but the closures: one DATA chunk holding the whole message.
    let reader: MessageReader | undefined;
    let message: Buffer | undefined;
    let failed = false;
    const fail = (err: CallError) => {
      failed = true;
      sendError(stream, err);
    };
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      if (
        reader === undefined &&
        message === undefined &&
        chunk.length >= 5 &&
        chunk[0] === 0 &&
        chunk.readUInt32BE(1) === chunk.length - 5 &&
        chunk.length - 5 <= this.#opts.maxRecvBytes
      ) {
        message = chunk.subarray(5);
        return;
      }
      if (message !== undefined) return fail({ code: Status.INTERNAL, details: 'more than one request message for a unary method' });
      reader ??= new MessageReader(this.#opts.maxRecvBytes);
      const got = reader.push(chunk);
      if (!Array.isArray(got)) return fail(got);
      if (got.length > 1) return fail({ code: Status.INTERNAL, details: 'more than one request message for a unary method' });
      message = got[0];
    });
    stream.on('end', () => {
      if (failed) return;
      if (message === undefined || (reader !== undefined && reader.pending > 0)) {
        return fail({ code: Status.INTERNAL, details: 'the request message is missing or incomplete' });
      }
      let request: unknown;
      try {
        request = route.def.requestDeserialize(message);
      } catch (err) {
        return fail({ code: Status.INTERNAL, details: `request deserialization failed: ${(err as Error).message}` });
      }
      let answered = false;
      const callback = (err: unknown, value?: unknown) => {
        if (answered) return;
        answered = true;
        if (err) return sendError(stream, asCallError(err));
        let bytes: Buffer;
        try {
          bytes = route.def.responseSerialize(value as never);
        } catch (e) {
          return sendError(stream, { code: Status.INTERNAL, details: `response serialization failed: ${(e as Error).message}` });
        }
        if (bytes.length > this.#opts.maxSendBytes) {
          return sendError(stream, { code: Status.RESOURCE_EXHAUSTED, details: `response larger than max (${bytes.length} vs. ${this.#opts.maxSendBytes})` });
        }
        sendUnary(stream, bytes);
      };
      try {
        route.handler(new UnaryCall(request, ctx), callback);
      } catch (err) {
        callback({ code: Status.UNKNOWN, details: `handler failed: ${(err as Error).message}` });
      }
    });
  }

  #streaming(route: Route, ctx: CallContext): void {
    const { stream } = ctx;
    const call = new StreamingCall<unknown, unknown>(ctx, route.def.responseSerialize as (v: unknown) => Buffer);
    const reader = new MessageReader(this.#opts.maxRecvBytes);
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(ctx.deadline)) {
      timer = setTimeout(() => call.fail({ code: Status.DEADLINE_EXCEEDED, details: 'deadline exceeded' }), Math.max(0, ctx.deadline - Date.now()));
      timer.unref();
    }
    stream.once('close', () => {
      clearTimeout(timer);
      call.cancel();
    });
    const deserialize = (m: Buffer): unknown => route.def.requestDeserialize(m);
    if (route.def.requestStream) {
      // Duplex: each message is a 'data' event; the client's half-close is 'end'.
      stream.on('data', (chunk: Buffer) => {
        const got = reader.push(chunk);
        if (!Array.isArray(got)) return call.fail(got);
        for (const m of got) {
          try {
            call.emit('data', deserialize(m));
          } catch (err) {
            return call.fail({ code: Status.INTERNAL, details: `request deserialization failed: ${(err as Error).message}` });
          }
        }
      });
      stream.on('end', () => call.emit('end'));
      this.#run(route, call);
      return;
    }
    // Server streaming: one request message, then the handler writes.
    let message: Buffer | undefined;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      const got = reader.push(chunk);
      if (!Array.isArray(got)) {
        failed = true;
        return call.fail(got);
      }
      if (got.length > 1 || (got.length === 1 && message !== undefined)) {
        failed = true;
        return call.fail({ code: Status.INTERNAL, details: 'more than one request message for a server-streaming method' });
      }
      message ??= got[0];
    });
    stream.on('end', () => {
      if (failed) return;
      if (message === undefined || reader.pending > 0) return call.fail({ code: Status.INTERNAL, details: 'the request message is missing or incomplete' });
      try {
        call.request = deserialize(message);
      } catch (err) {
        return call.fail({ code: Status.INTERNAL, details: `request deserialization failed: ${(err as Error).message}` });
      }
      this.#run(route, call);
    });
  }

  #run(route: Route, call: StreamingCall<unknown, unknown>): void {
    try {
      route.handler(call);
    } catch (err) {
      call.fail({ code: Status.UNKNOWN, details: `handler failed: ${(err as Error).message}` });
    }
  }
}
