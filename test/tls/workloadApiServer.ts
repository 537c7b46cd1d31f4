// A stand-in SPIFFE Workload API agent for tests: real grpc-js on a unix socket,
// speaking proto/spiffe/workload.proto. It enforces the security header as
// agents do, streams the current snapshot to every open FetchX509SVID call,
// and can be stopped and started again on the same socket (agent restart).
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { WORKLOAD_API_HEADER, workloadApiServiceDefinition, type X509SvidResponseMessage } from '../../src/tls/WorkloadApiProto.ts';
import type { Ca, Leaf } from './pki.ts';

export class TestWorkloadApi {
  readonly socketPath: string;
  /** Header values of every call that was let through. */
  readonly acceptedHeaders: string[] = [];
  /** Calls refused for a missing or wrong security header. */
  refusedCalls = 0;
  /** When set, calls are answered with this code (e.g. PERMISSION_DENIED: workload not attested yet). */
  refuseWith: grpc.status | null = null;
  private snapshot: X509SvidResponseMessage | null = null;
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, X509SvidResponseMessage>>();
  private server: grpc.Server | null = null;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  get endpoint(): string {
    return `unix://${this.socketPath}`;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  async start(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = new grpc.Server();
    server.addService(workloadApiServiceDefinition, {
      FetchX509SVID: (call: grpc.ServerWritableStream<unknown, X509SvidResponseMessage>) => this.fetch(call),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  /** Kills the agent: every open stream breaks, the socket goes away. */
  stop(): void {
    this.streams.clear();
    this.server?.forceShutdown();
    this.server = null;
  }

  /** Sends a new complete snapshot to every open stream (and to later ones). */
  push(snapshot: X509SvidResponseMessage): void {
    this.snapshot = snapshot;
    for (const s of this.streams) s.write(snapshot);
  }

  private fetch(call: grpc.ServerWritableStream<unknown, X509SvidResponseMessage>): void {
    const header = call.metadata.get(WORKLOAD_API_HEADER);
    if (header.length !== 1 || header[0] !== 'true') {
      this.refusedCalls++;
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request' });
      return;
    }
    if (this.refuseWith !== null) {
      call.emit('error', { code: this.refuseWith, details: 'no identity issued' });
      return;
    }
    this.acceptedHeaders.push(String(header[0]));
    this.streams.add(call);
    call.on('cancelled', () => this.streams.delete(call));
    if (this.snapshot) call.write(this.snapshot);
  }
}

/** A Workload API snapshot holding one X509-SVID. */
export function svidSnapshot(spiffeId: string, leaf: Leaf, bundle: Ca[], federated: Record<string, Ca[]> = {}): X509SvidResponseMessage {
  return {
    svids: [{ spiffe_id: spiffeId, x509_svid: leaf.certDer, x509_svid_key: leaf.keyDer, bundle: Buffer.concat(bundle.map((c) => c.certDer)), hint: '' }],
    crl: [],
    federated_bundles: Object.fromEntries(Object.entries(federated).map(([td, cas]) => [td, Buffer.concat(cas.map((c) => c.certDer))])),
  };
}
