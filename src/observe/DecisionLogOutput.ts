// Where the decision log writes: pino's asynchronous destination (sonic-boom)
// on stdout, stderr or a file (appended to, O_APPEND, so several workers can
// share one).
//
// Bounded: a piece that would take the destination's buffer past
// MAX_BUFFERED_BYTES is dropped ('drop'), and the output then reports itself
// full until that buffer has been written out ('drain'), so the log drops
// later records without building them. A failed write is counted; sonic-boom
// keeps the unwritten lines and tries again with the next write, within the
// same bound. Once the reader of a pipe has gone away (EPIPE) or a file could
// not be opened after all, the output is dead: nothing more is written.
//
// Each piece is written at once (an fs.write on libuv's thread pool), or, while
// a write is in flight, gathered into the next one: records reach the output
// right after their Check, which operators tailing the log and the end-to-end
// tests expect. (Gathering 32 KiB per write with a 20 ms timer looked a few
// per cent cheaper per cache hit in the bench, within its noise, and delayed
// every record: not taken.)
import { closeSync, openSync } from 'node:fs';
import { pino } from 'pino';

/** Past this much unwritten output, pieces are dropped (and their records counted) rather than held without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Largest single write (sonic-boom's default is 16 KiB), for a backlog gathered while a write was in flight. */
const MAX_WRITE = 256 * 1024;
/** How long end() waits for the output to take what is buffered (a stdout nobody reads never does). */
const END_WAIT_MS = 5_000;

export interface OutputEvents {
  /** A piece was dropped: that many records. */
  dropped(records: number): void;
  /** A write (or the open) failed. */
  failed(): void;
}

export function isStandardStream(output: string): boolean {
  return output === 'stdout' || output === 'stderr';
}

export class LogOutput {
  readonly #output: string;
  readonly #dest: ReturnType<typeof pino.destination>;
  /** Open: a standard stream from the start, a file once sonic-boom says 'ready'. */
  #opened: boolean;
  #full = false;
  #dead = false;

  /** Throws, saying why, when a file cannot be opened for appending. */
  constructor(output: string, on: OutputEvents) {
    this.#output = output;
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
    this.#opened = typeof dest === 'number';
    const d = pino.destination({ dest, sync: false, append: true, maxLength: MAX_BUFFERED_BYTES, maxWrite: MAX_WRITE });
    d.on('ready', () => (this.#opened = true));
    d.on('drop', (piece: string) => {
      this.#full = true;
      on.dropped(countLines(piece));
    });
    d.on('drain', () => (this.#full = false));
    d.on('error', (err: NodeJS.ErrnoException) => {
      // pino's destination turns every later write into a no-op on EPIPE; sonic-boom would wait for a failed open forever.
      if (!this.#opened || err.code === 'EPIPE') this.#dead = true;
      on.failed();
    });
    this.#dest = d;
  }

  /** Whether new records should be dropped unbuilt: the buffer overflowed and is not written out yet, or nothing can be written. */
  get refusing(): boolean {
    return this.#full || this.#dead;
  }

  /** Hands a piece over; false when it throws (only a destroyed destination does). */
  write(piece: string): boolean {
    try {
      this.#dest.write(piece);
      return true;
    } catch {
      return false;
    }
  }

  /** Reopens a file (log rotation); what was not written yet goes to the new file. False when it throws. */
  reopen(): boolean {
    if (isStandardStream(this.#output)) return true;
    try {
      this.#dest.reopen();
      return true;
    } catch {
      return false;
    }
  }

  /** Writes what is buffered and closes a file (a standard stream is left open), waiting up to END_WAIT_MS. */
  end(): Promise<void> {
    const d = this.#dest;
    if (this.#dead) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, END_WAIT_MS);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      d.once('close', done);
      d.once('error', done);
      try {
        d.end();
      } catch {
        done();
      }
    });
  }
}

/** Records in a dropped piece: one per line. */
function countLines(piece: string): number {
  let n = 0;
  for (let i = piece.indexOf('\n'); i !== -1; i = piece.indexOf('\n', i + 1)) n++;
  return n;
}
