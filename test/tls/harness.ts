// Real servers and clients for the TLS tests: a one-method service on
// ztauthz's own transport (src/server/h2, as the listener runs it) that
// answers with the caller's peer identity, grpc-js mTLS clients, and a raw TLS probe
// that reports which certificate the listener serves to a new connection.
import * as grpc from '@grpc/grpc-js';
import { connect, type TLSSocket } from 'node:tls';
import * as http2 from 'node:http2';
import { type PeerAuth, uriSans, type ParsedSpiffeId } from '../../src/tls/PeerAuth.ts';
import type { RotatingCertificateProvider } from '../../src/tls/RotatingCertificateProvider.ts';
import { H2Transport } from '../../src/server/h2/H2Transport.ts';

export const SERVER_ID = 'spiffe://test.example/ztauthz';
const SNI = 'ztauthz.test';

/** A small SPIFFE ID parser for these tests only (the project's lives in src/identity/). */
export function parseTestId(uri: string): (ParsedSpiffeId & { path: string }) | null {
  const m = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/.exec(uri);
  if (!m) return null;
  const path = m[2]!;
  if (path.split('/').some((s) => s === '.' || s === '..')) return null;
  return { spiffe_id: uri, trust_domain: m[1]!, path };
}

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const unjson = (b: Buffer): unknown => JSON.parse(b.toString());

const whoDefinition = {
  Who: {
    path: '/ztauthz.test.Echo/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: json,
    requestDeserialize: unjson,
    responseSerialize: json,
    responseDeserialize: unjson,
  },
} satisfies grpc.ServiceDefinition;

export interface EchoServer {
  readonly port: number;
  /** Calls that reached the handler (refused ones never do). */
  readonly handled: number;
  stop(): Promise<void>;
}

/**
 * An mTLS server on 127.0.0.1:0 serving `provider`'s material (and following
 * its updates), refusing callers `auth` does not allow, as GrpcListener
 * builds it; `open` leaves out the allowlist (the handshake still needs a
 * certificate the CA bundle verifies).
 */
export async function startEchoServer(provider: RotatingCertificateProvider, auth: PeerAuth, open = false): Promise<EchoServer> {
  const server = new H2Transport({
    maxRecvBytes: 4 * 1024 * 1024,
    maxSendBytes: 4 * 1024 * 1024,
    maxConcurrentStreams: 100,
    maxConnectionAgeMs: 0,
    maxConnectionAgeGraceMs: 0,
    tls: provider,
    authorize: open ? undefined : (ctx) => auth.authorize({ getAuthContext: () => ctx }).error,
  });
  const state = { handled: 0 };
  server.addService(whoDefinition, {
    Who(call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
      state.handled++;
      cb(null, { peer: auth.peerIdentity(call) });
    },
  });
  const port = await server.listen({ host: '127.0.0.1', port: 0 });
  return {
    port,
    get handled() {
      return state.handled;
    },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export interface ClientTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** Checks the server's X509-SVID names SERVER_ID (Node only checks DNS/IP names). */
function checkServerSpiffeId(_host: string, cert: { subjectaltname?: string }): Error | undefined {
  return uriSans(cert.subjectaltname)?.includes(SERVER_ID) ? undefined : new Error(`server is not ${SERVER_ID}`);
}

const WhoClient = grpc.makeGenericClientConstructor(whoDefinition, 'Echo');

export interface WhoClient {
  who(): Promise<{ peer: unknown }>;
  close(): void;
}

/** An mTLS client with its own connection (no subchannel shared with other clients). */
export function whoClient(port: number, tls: ClientTls): WhoClient {
  const creds = grpc.credentials.createSsl(Buffer.from(tls.ca), tls.key ? Buffer.from(tls.key) : null, tls.cert ? Buffer.from(tls.cert) : null, {
    checkServerIdentity: checkServerSpiffeId,
  });
  const client = new WhoClient(`127.0.0.1:${port}`, creds, {
    'grpc.use_local_subchannel_pool': 1,
    // SNI must be a name, not 127.0.0.1 (RFC 6066); the identity check is checkServerSpiffeId.
    'grpc.ssl_target_name_override': SNI,
  });
  const stub = client as unknown as { Who(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { peer: unknown }) => void): void };
  return {
    who: () => new Promise((resolve, reject) => stub.Who({}, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res)))),
    close: () => client.close(),
  };
}

/** Calls who() and returns the gRPC error it fails with (throws if it succeeds). */
export async function whoError(client: WhoClient): Promise<grpc.ServiceError> {
  try {
    await client.who();
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('call unexpectedly succeeded');
}

/** The serial of the certificate a new TLS connection to `port` is served. */
export function servedSerial(port: number, tls: Required<ClientTls>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: SNI,
      ALPNProtocols: ['h2'],
      checkServerIdentity: checkServerSpiffeId,
    });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

export interface RawConnection {
  /** Serial of the certificate this connection was served at its handshake. */
  readonly serial: string;
  /** One Who call on this very connection; resolves with its grpc-status. */
  call(): Promise<string>;
  close(): void;
}

/**
 * One HTTP/2 connection held open by hand, so a test can show that a
 * connection made before a rotation still serves calls afterwards.
 */
export function openConnection(port: number, tls: Required<ClientTls>): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${SNI}:${port}`, {
      host: '127.0.0.1',
      servername: SNI,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      checkServerIdentity: checkServerSpiffeId,
    });
    session.once('error', reject);
    session.once('connect', () => {
      const socket = session.socket as unknown as TLSSocket;
      resolve({
        serial: socket.getPeerCertificate().serialNumber,
        call: () =>
          new Promise((done, fail) => {
            const req = session.request({ ':method': 'POST', ':path': '/ztauthz.test.Echo/Who', 'content-type': 'application/grpc', te: 'trailers' });
            const body = Buffer.from('{}');
            const frame = Buffer.alloc(5);
            frame.writeUInt32BE(body.length, 1);
            req.end(Buffer.concat([frame, body]));
            req.on('data', () => undefined);
            req.once('trailers', (t) => done(String(t['grpc-status'])));
            req.once('error', fail);
          }),
        close: () => session.close(),
      });
    });
  });
}

/** Polls `probe` until it returns true; no clock assertions, only a generous bound against hanging. */
export async function until(probe: () => Promise<boolean> | boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
