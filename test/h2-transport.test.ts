// The gRPC wire behaviour of the listener (src/server/h2 on node:http2), in a
// serve process on the chosen runtime: what a raw HTTP/2 client sees for malformed or hostile calls, and Health's Watch
// stream. Frames are written with node:http2's own
// client, so each case controls headers, the message prefix and when the
// request ends.
import * as grpc from '@grpc/grpc-js';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGrpcMessage, MessageReader, parseGrpcTimeout } from '../src/server/h2/Framing.ts';
import { checkRequest } from './support/checkClient.ts';
import { spawnServe, type ServeProcess } from './support/servers.ts';
import { CheckRequestType } from '../src/envoy/ProtoCodec.ts';

const CHECK = '/envoy.service.auth.v3.Authorization/Check';

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
}

function frame(message: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** One call; `send` writes the request (and ends it unless it leaves the stream open). */
function call(session: ClientHttp2Session, headers: Record<string, string>, send: (write: (b: Buffer) => void, end: () => void) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (head = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    // The answer is complete when the server ends its side, whether or not the request was ended.
    const done = (): void => resolve({ headers: head, trailers, body: Buffer.concat(chunks) });
    req.on('end', done);
    req.on('close', done);
    req.on('error', reject);
    send(
      (b) => req.write(b),
      () => req.end(),
    );
  });
}

/** grpc-status wherever it came (trailers, or the headers of a trailers-only answer). */
const statusOf = (a: Answer): string | undefined => (a.trailers['grpc-status'] ?? a.headers['grpc-status']) as string | undefined;
const messageOf = (a: Answer): string => decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'] ?? ''));

const request = Buffer.from(CheckRequestType.encode(CheckRequestType.fromObject(checkRequest({ path: '/x' }))).finish());

describe('the gRPC listener', () => {
  let server: ServeProcess;
  let session: ClientHttp2Session;
  beforeAll(async () => {
    // A serve process on the chosen runtime (ZTAUTHZ_RUNTIME): the wire is the runtime's HTTP/2 layer's as much as ztauthz's.
    server = await spawnServe(['--grpc-max-recv-msg-bytes', '65536', '--decision-log-enabled=false']);
    session = connect(`http://127.0.0.1:${server.grpcPort}`);
    session.on('error', () => {});
  });
  afterAll(async () => {
    session.close();
    await server.stop();
  });

  it('answers a Check with HTTP 200, application/grpc, one message and grpc-status 0', async () => {
    const a = await call(session, {}, (write, end) => {
      write(frame(request));
      end();
    });
    expect(a.headers[':status']).toBe(200);
    expect(String(a.headers['content-type'])).toMatch(/^application\/grpc/);
    expect(statusOf(a)).toBe('0');
    expect(a.body.readUInt32BE(1)).toBe(a.body.length - 5);
  });

  it('answers a message split over many DATA frames', async () => {
    const bytes = frame(request);
    const a = await call(session, {}, (write, end) => {
      for (let i = 0; i < bytes.length; i += 3) write(bytes.subarray(i, i + 3));
      end();
    });
    expect(statusOf(a)).toBe('0');
  });

  it('refuses an unknown method with UNIMPLEMENTED', async () => {
    const a = await call(session, { ':path': '/no.Such/Method' }, (write, end) => {
      write(frame(request));
      end();
    });
    expect(a.headers[':status']).toBe(200);
    expect(statusOf(a)).toBe(String(grpc.status.UNIMPLEMENTED));
    expect(messageOf(a)).toContain('/no.Such/Method');
  });

  it('refuses a compressed message with UNIMPLEMENTED (no grpc-encoding is supported)', async () => {
    const a = await call(session, { 'grpc-encoding': 'gzip' }, (write, end) => {
      write(frame(request, 1));
      end();
    });
    expect(statusOf(a)).toBe(String(grpc.status.UNIMPLEMENTED));
  });

  it('refuses a message declared past max_recv_msg_bytes with RESOURCE_EXHAUSTED before it has all arrived', async () => {
    // Only the prefix and a little of a 10 MiB message: the answer must come without the rest.
    const a = await call(session, {}, (write) => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(10 * 1024 * 1024, 1);
      write(Buffer.concat([head, Buffer.alloc(1000)]));
    });
    expect(statusOf(a)).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
  });

  it('refuses a unary call without its message, and with two', async () => {
    const none = await call(session, {}, (_write, end) => end());
    expect(statusOf(none)).toBe(String(grpc.status.INTERNAL));
    const two = await call(session, {}, (write, end) => {
      write(Buffer.concat([frame(request), frame(request)]));
      end();
    });
    expect(statusOf(two)).toBe(String(grpc.status.INTERNAL));
  });

  it('still answers on the same connection afterwards', async () => {
    const a = await call(session, { 'grpc-timeout': '5S' }, (write, end) => {
      write(frame(request));
      end();
    });
    expect(statusOf(a)).toBe('0');
  });

  it('streams Health Watch: its first message is the current status (SERVING)', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    // HealthCheckRequest { service = "" } is empty; HealthCheckResponse { status = 1 SERVING } is 08 01.
    const stream = client.makeServerStreamRequest(
      '/grpc.health.v1.Health/Watch',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
    );
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (b: Buffer) => {
        seen.push(b.toString('hex'));
        resolve();
      });
      stream.on('error', reject);
    });
    expect(seen).toEqual(['0801']);
    stream.cancel();
    client.close();
  });
});

describe('http2 transport wire pieces', () => {
  it('parses grpc-timeout as the protocol writes it, and refuses anything else', () => {
    expect(parseGrpcTimeout('500m')).toBe(500);
    expect(parseGrpcTimeout('2S')).toBe(2000);
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('250u')).toBe(0.25);
    expect(parseGrpcTimeout('123456789m')).toBeNull();
    expect(parseGrpcTimeout('5s')).toBeNull();
    expect(parseGrpcTimeout('-1S')).toBeNull();
    expect(parseGrpcTimeout('')).toBeNull();
  });

  it('percent-encodes grpc-message outside printable ASCII and %', () => {
    expect(encodeGrpcMessage('policy_denied: no')).toBe('policy_denied: no');
    expect(encodeGrpcMessage('100% é\n')).toBe('100%25 %C3%A9%0A');
    expect(encodeGrpcMessage('x'.repeat(5000)).length).toBeLessThan(1100);
  });

  it('reads messages across chunk boundaries and refuses a too-large prefix before its body', () => {
    const r = new MessageReader(10);
    const two = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.from('defg'))]);
    const out: string[] = [];
    for (const b of two) {
      const got = r.push(Buffer.from([b]));
      if (!Array.isArray(got)) throw new Error(got.details);
      out.push(...got.map((m) => m.toString()));
    }
    expect(out).toEqual(['abc', 'defg']);
    expect(r.pending).toBe(0);
    const big = new MessageReader(10).push(Buffer.from([0, 0, 0, 0, 11]));
    expect(big).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });
});
