// Where the decision log writes: pino's asynchronous destination (sonic-boom)
// on stdout, stderr or a file (appended to, O_APPEND, so several workers can
// share one). Its buffer is bounded (maxLength): a piece that would take it
// past MAX_BUFFERED_BYTES is dropped ('drop'), and the log drops what follows
// until the buffer has been written out ('drain'). A failed open or write is
// reported ('error'); sonic-boom keeps the unwritten lines and tries again
// with the next write, within the same bound.
import { closeSync, openSync } from 'node:fs';
import { pino } from 'pino';

/** Past this much unwritten output, pieces are dropped (and their records counted) rather than held without bound. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export type Destination = ReturnType<typeof pino.destination>;

export interface DestinationEvents {
  /** A file is open (standard streams are open from the start). */
  opened(): void;
  /** A piece was dropped: that many records. */
  dropped(records: number): void;
  /** Everything handed over has been written. */
  drained(): void;
  failed(err: NodeJS.ErrnoException): void;
}

export function isStandardStream(output: string): boolean {
  return output === 'stdout' || output === 'stderr';
}

/** Throws, saying why, when a file cannot be opened for appending. */
export function openDestination(output: string, on: DestinationEvents): Destination {
  const dest = output === 'stdout' ? 1 : output === 'stderr' ? 2 : output;
  if (typeof dest === 'string') {
    // sonic-boom opens the file asynchronously and reports a failure only as an event; opening it
    // once here first lets a file that cannot be opened refuse the start, with the reason.
    try {
      closeSync(openSync(dest, 'a'));
    } catch (err) {
      throw new Error(`decision_log.output: cannot open ${dest}: ${(err as Error).message}`);
    }
  }
  const out = pino.destination({ dest, sync: false, append: true, maxLength: MAX_BUFFERED_BYTES });
  out.on('ready', () => on.opened());
  out.on('drop', (piece: string) => on.dropped(countLines(piece)));
  out.on('drain', () => on.drained());
  out.on('error', (err: NodeJS.ErrnoException) => on.failed(err));
  return out;
}

/** Records in a dropped piece: one per line. */
function countLines(piece: string): number {
  let n = 0;
  for (let i = piece.indexOf('\n'); i !== -1; i = piece.indexOf('\n', i + 1)) n++;
  return n;
}
