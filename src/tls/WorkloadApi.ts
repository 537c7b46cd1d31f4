// Client of the SPIFFE Workload API's FetchX509SVID stream. Keeps one stream open
// to the agent, hands every complete snapshot to onUpdate, and reconnects with
// bounded exponential backoff whenever the stream ends. Like go-spiffe's
// watcher, it retries every failure except INVALID_ARGUMENT (the agent saying
// our request is malformed, which retrying cannot fix): UNAVAILABLE (agent
// restarting) and PERMISSION_DENIED (not attested / no registration entry yet)
// are the usual ones, and an agent that ends the stream or resets it is just
// as transient. A long-running listener must never stop following rotations.
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { WORKLOAD_API_HEADER, toX509Context, workloadApiServiceDefinition, type X509Context, type X509SvidResponseMessage } from './WorkloadApiProto.ts';

export type { X509Context, X509Svid } from './WorkloadApiProto.ts';

export interface BackoffOptions {
  /** First delay after a failure (default 500 ms). */
  initialMs?: number;
  /** Upper bound of a delay (default 30 s). */
  maxMs?: number;
  /** Growth per consecutive failure (default 2). */
  multiplier?: number;
}

export interface WorkloadApiOptions {
  /** unix:///absolute/path or tcp://ip:port; default $SPIFFE_ENDPOINT_SOCKET. */
  endpoint?: string;
  /** Every complete snapshot, in order. Each replaces the previous one entirely. */
  onUpdate: (ctx: X509Context) => void;
  /** Every failure: stream errors (before a retry) and snapshots that do not parse. */
  onError?: (err: Error) => void;
  backoff?: BackoffOptions;
}

/** Turns a SPIFFE_ENDPOINT_SOCKET value into a grpc-js target. Throws on anything else. */
export function workloadApiTarget(endpoint: string | undefined): string {
  if (!endpoint) throw new Error('no Workload API endpoint: set SPIFFE_ENDPOINT_SOCKET (unix:///path or tcp://ip:port)');
  if (endpoint.startsWith('unix://')) {
    const path = endpoint.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`Workload API endpoint ${endpoint}: a unix socket path must be absolute (unix:///path)`);
    return `unix://${path}`;
  }
  if (endpoint.startsWith('tcp://')) {
    const hostPort = endpoint.slice('tcp://'.length);
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(hostPort);
    const host = m?.[1] ?? m?.[2];
    // The standard allows an IP address only: a name would need a resolver the agent does not trust.
    if (!m || !host || !isIP(host) || Number(m[3]) > 65535) {
      throw new Error(`Workload API endpoint ${endpoint}: tcp:// needs an IP address and a port`);
    }
    return isIP(host) === 6 ? `[${host}]:${m[3]}` : `${host}:${m[3]}`;
  }
  throw new Error(`Workload API endpoint ${endpoint}: must start with unix:// or tcp://`);
}

const FetchClient = grpc.makeGenericClientConstructor(workloadApiServiceDefinition, 'SpiffeWorkloadAPI');

export class WorkloadApiClient {
  private readonly options: WorkloadApiOptions;
  private readonly client: grpc.Client;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private delayMs: number;
  private call: grpc.ClientReadableStream<X509SvidResponseMessage> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private started = false;
  private latestCtx: X509Context | null = null;
  private lastErr: Error | null = null;
  private rejectFatal: ((err: Error) => void) | null = null;
  private readonly fatalPromise: Promise<never>;

  constructor(options: WorkloadApiOptions) {
    this.options = options;
    this.initialMs = options.backoff?.initialMs ?? 500;
    this.maxMs = options.backoff?.maxMs ?? 30_000;
    this.multiplier = options.backoff?.multiplier ?? 2;
    this.delayMs = this.initialMs;
    const target = workloadApiTarget(options.endpoint ?? process.env['SPIFFE_ENDPOINT_SOCKET']);
    this.client = new FetchClient(target, grpc.credentials.createInsecure(), {
      // The channel's own reconnect backoff, kept in step with ours so a
      // restarted agent is found again as soon as our next attempt runs.
      'grpc.initial_reconnect_backoff_ms': this.initialMs,
      'grpc.max_reconnect_backoff_ms': this.maxMs,
    });
    this.fatalPromise = new Promise<never>((_, reject) => (this.rejectFatal = reject));
    // Nobody may be listening for the fatal case; that is not an unhandled rejection.
    this.fatalPromise.catch(() => undefined);
  }

  /** Opens the stream. Updates arrive through onUpdate. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  /** Closes the stream and the channel; no further callbacks. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const call = this.call;
    this.call = null;
    call?.cancel();
    this.client.close();
  }

  /** The latest snapshot, or null before the first one. */
  latest(): X509Context | null {
    return this.latestCtx;
  }

  /** The last failure, as one line, or null. */
  lastError(): string | null {
    return this.lastErr ? this.lastErr.message : null;
  }

  /** Rejects when the client gives up (INVALID_ARGUMENT); never resolves. */
  fatal(): Promise<never> {
    return this.fatalPromise;
  }

  private connect(): void {
    if (this.stopped) return;
    const metadata = new grpc.Metadata();
    metadata.set(WORKLOAD_API_HEADER, 'true');
    const call = (this.client as unknown as FetchStub).FetchX509SVID({}, metadata);
    this.call = call;
    call.on('data', (msg: X509SvidResponseMessage) => {
      if (this.call !== call) return;
      let ctx: X509Context;
      try {
        ctx = toX509Context(msg);
      } catch (err) {
        this.report(new Error(`Workload API sent an unusable X509-SVID update: ${(err as Error).message}`));
        return;
      }
      // A snapshot arrived: the agent is healthy again, start backoff from scratch.
      this.delayMs = this.initialMs;
      this.latestCtx = ctx;
      this.options.onUpdate(ctx);
    });
    // 'error' comes with every non-OK status; 'status' alone decides what happens next.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call !== call || this.stopped) return;
      this.call = null;
      const err = new Error(
        status.code === grpc.status.OK
          ? 'Workload API ended the X509-SVID stream'
          : `Workload API FetchX509SVID failed: ${grpc.status[status.code]}: ${status.details}`,
      );
      this.report(err);
      if (status.code === grpc.status.INVALID_ARGUMENT) {
        this.stopped = true;
        this.client.close();
        this.rejectFatal?.(err);
        return;
      }
      this.retryLater();
    });
  }

  private retryLater(): void {
    // Full jitter on the upper half: spread a fleet's reconnects after an agent restart.
    const delay = Math.round(this.delayMs / 2 + (Math.random() * this.delayMs) / 2);
    this.delayMs = Math.min(this.maxMs, this.delayMs * this.multiplier);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
    this.timer.unref();
  }

  private report(err: Error): void {
    this.lastErr = err;
    this.options.onError?.(err);
  }
}

interface FetchStub {
  FetchX509SVID(request: object, metadata: grpc.Metadata): grpc.ClientReadableStream<X509SvidResponseMessage>;
}
