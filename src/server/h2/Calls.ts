// The call objects handed to service implementations written for grpc-js
// (ztauthz's Check, grpc-health-check's Health, @grpc/reflection's
// ServerReflection), so that the same implementation objects run on the bare
// node:http2 transport: the subset of grpc-js's ServerUnaryCall,
// ServerWritableStream and ServerDuplexStream those implementations use
// (request, getDeadline, getAuthContext, write, end, 'data', 'end',
// 'cancelled'), and the sending of answers with gRPC's framing and trailers.
import { EventEmitter } from 'node:events';
import type { ServerHttp2Stream } from 'node:http2';
import type { PeerAuthContext } from '../../tls/PeerAuth.ts';
import { type CallError, encodeGrpcMessage, frameMessage, Status } from './Framing.ts';

/** Past this many bytes queued to a client that does not read, a streaming call is ended (RESOURCE_EXHAUSTED). */
export const MAX_QUEUED_STREAM_BYTES = 4 * 1024 * 1024;

/** What a call knows about its connection and request. */
export interface CallContext {
  readonly stream: ServerHttp2Stream;
  /** Epoch ms; Infinity without grpc-timeout. */
  readonly deadline: number;
  readonly auth: PeerAuthContext;
  readonly path: string;
}

/** The client's address, read only when a handler asks (the session's socket is a proxy object, not free to reach). */
function peerOf(stream: ServerHttp2Stream): string {
  return stream.session?.socket?.remoteAddress ?? '';
}

/** Ends a call with an error status: trailers-only before any message was sent, trailers after. */
export function sendError(stream: ServerHttp2Stream, err: CallError): void {
  if (stream.destroyed || stream.closed) return;
  const message = encodeGrpcMessage(err.details);
  try {
    if (stream.headersSent) {
      // A stream whose headers went out ends with trailers (waitForTrailers was set when they were sent).
      (stream as ServerHttp2Stream & { grpcStatus?: CallError }).grpcStatus = err;
      stream.end();
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(err.code), 'grpc-message': message }, { endStream: true });
  } catch {
    // The stream closed under us (a reset racing the answer): nobody is left to answer.
    return;
  }
  // The client may still be sending (a message past the limit): stop reading, so nothing more is buffered.
  if (!stream.readableEnded) stream.close();
}

/** Sends one response message and the OK status. */
export function sendUnary(stream: ServerHttp2Stream, message: Uint8Array): void {
  if (stream.destroyed || stream.closed) return;
  try {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', sendOkTrailers);
    stream.end(frameMessage(message));
  } catch {
    // Closed by the client between the check and the answer.
  }
}

function sendOkTrailers(this: ServerHttp2Stream): void {
  const err = (this as ServerHttp2Stream & { grpcStatus?: CallError }).grpcStatus;
  try {
    this.sendTrailers(err ? { 'grpc-status': String(err.code), 'grpc-message': encodeGrpcMessage(err.details) } : { 'grpc-status': '0' });
  } catch {
    // The stream was reset while its last DATA frame was being written.
  }
}

/** A grpc-js style error (status object or Error with a code) as a status. */
export function asCallError(err: unknown): CallError {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' && e.code > 0 && e.code <= 16 ? e.code : Status.UNKNOWN;
  const details = typeof e?.details === 'string' ? e.details : typeof e?.message === 'string' ? e.message : 'unknown error';
  return { code, details };
}

/** grpc-js's ServerUnaryCall, as far as handlers here read it. */
export class UnaryCall<Req> {
  readonly request: Req;
  private readonly ctx: CallContext;
  constructor(request: Req, ctx: CallContext) {
    this.request = request;
    this.ctx = ctx;
  }
  getDeadline(): number {
    return this.ctx.deadline;
  }
  getAuthContext(): PeerAuthContext {
    return this.ctx.auth;
  }
  getPeer(): string {
    return peerOf(this.ctx.stream);
  }
  getPath(): string {
    return this.ctx.path;
  }
  /** The client reset the stream or went away (a unary call has no 'cancelled' event here: its handlers do not listen). */
  get cancelled(): boolean {
    return this.ctx.stream.destroyed;
  }
  on(): this {
    return this;
  }
}

/**
 * grpc-js's ServerWritableStream and ServerDuplexStream: write() sends a
 * message (headers on the first), end() the OK status; 'data' and 'end' carry
 * the client's messages (duplex), 'cancelled' tells a call the client left.
 */
export class StreamingCall<Req, Res> extends EventEmitter {
  cancelled = false;
  request: Req | undefined;
  #ended = false;
  private readonly ctx: CallContext;
  private readonly serialize: (value: Res) => Buffer;

  constructor(ctx: CallContext, serialize: (value: Res) => Buffer) {
    super();
    this.ctx = ctx;
    this.serialize = serialize;
  }

  getDeadline(): number {
    return this.ctx.deadline;
  }
  getAuthContext(): PeerAuthContext {
    return this.ctx.auth;
  }
  getPeer(): string {
    return peerOf(this.ctx.stream);
  }
  getPath(): string {
    return this.ctx.path;
  }

  write(value: Res): boolean {
    const stream = this.ctx.stream;
    if (this.#ended || stream.destroyed || stream.closed) return false;
    if (stream.writableLength > MAX_QUEUED_STREAM_BYTES) {
      this.fail({ code: Status.RESOURCE_EXHAUSTED, details: 'the client does not read its responses' });
      return false;
    }
    let bytes: Buffer;
    try {
      bytes = frameMessage(this.serialize(value));
    } catch (err) {
      this.fail({ code: Status.INTERNAL, details: `response serialization failed: ${(err as Error).message}` });
      return false;
    }
    try {
      if (!stream.headersSent) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', sendOkTrailers);
      }
      return stream.write(bytes);
    } catch {
      return false;
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const stream = this.ctx.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      if (!stream.headersSent) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
        if (!stream.readableEnded) stream.close();
      } else stream.end();
    } catch {
      // Reset by the client meanwhile.
    }
  }

  /** Ends the call with an error status. */
  fail(err: CallError): void {
    if (this.#ended) return;
    this.#ended = true;
    sendError(this.ctx.stream, err);
  }

  /** The client went away before the call ended. */
  cancel(): void {
    if (this.cancelled || this.#ended) return;
    this.cancelled = true;
    this.#ended = true;
    this.emit('cancelled', 'cancelled');
  }
}
