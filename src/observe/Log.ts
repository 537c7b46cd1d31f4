// The service log: one JSON line per event on stderr (stdout carries the
// decision log by default, so the two never interleave), written by pino.
//
// Lines keep the shape operators and tests read:
//   {"level":"warn","time":"2026-…Z","msg":"grpc caller refused","reason":"not_allowed",…}
// level as its name, an ISO time, no pid/hostname, and "msg" before the
// fields. pino writes its own message key last, so the message goes in as
// the first field of the logged object instead (pino writes an object's
// fields in order), and callers keep the msg-first (msg, fields) signature.
//
// The destination is synchronous (pino.destination with sync: true): the
// service log is a few lines a minute (refusal warnings are rate-limited by
// the caller), a synchronous write holds nothing in memory, and a line logged
// just before process.exit (a worker that keeps dying, a fatal start-up
// error) is not lost. The decision log, which is high-volume, is the one that
// writes asynchronously (DecisionLog.ts).
import { pino, type DestinationStream } from 'pino';

type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** stderr, written synchronously (see above). */
function stderr(): DestinationStream {
  return pino.destination({ dest: 2, sync: true });
}

/**
 * A logger at `level` writing to `destination` (default: stderr). Lines below
 * the level are dropped by pino before anything is built.
 */
export function createLogger(level: Level, destination: DestinationStream = stderr()): Logger {
  const p = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const emit =
    (lvl: Level) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      p[lvl](fields === undefined ? { msg } : { msg, ...fields });
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
