// A Unix socket path made ready for listening. opa-envoy-plugin removes
// whatever is at its socket path before it listens; ztauthz removes only a
// socket file nobody listens on (left by a process that died), so a typo in
// grpc.addr cannot delete a file, and a second ztauthz cannot steal the
// socket of one still serving.
import { lstatSync, unlinkSync, type Stats } from 'node:fs';
import { connect } from 'node:net';

/** How long a connection attempt may take before the socket counts as held (a live listener answers at once). */
const PROBE_TIMEOUT_MS = 2_000;

export class SocketPathError extends Error {
  override name = 'SocketPathError';
}

/** Throws SocketPathError when the path cannot be listened on; removes a stale socket file. */
export async function prepareSocketPath(path: string): Promise<void> {
  const before = statOrUndefined(path);
  if (!before) return;
  if (!before.isSocket()) throw new SocketPathError(`${path} exists and is not a socket; not removing it`);
  const probe = await probeSocket(path);
  if (probe === 'gone') return;
  if (probe === 'listening') throw new SocketPathError(`${path} is in use: another process listens on it`);
  if (probe !== 'refused') throw new SocketPathError(`${path} exists and cannot be checked (${probe}); not removing it`);
  // Still the same file that refused? Otherwise someone replaced it meanwhile: leave it alone.
  const now = statOrUndefined(path);
  if (!now) return;
  if (now.ino !== before.ino || now.dev !== before.dev) throw new SocketPathError(`${path} changed while it was checked; not removing it`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new SocketPathError(`cannot remove the stale socket ${path}: ${(err as Error).message}`);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SocketPathError(`cannot inspect ${path}: ${(err as Error).message}`);
  }
}

/** 'listening', 'refused' (a socket file without a listener), 'gone', or the error code that says neither. */
function probeSocket(path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (result: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('timed out'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('listening'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      done(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ENOENT' ? 'gone' : (err.code ?? err.message));
    });
  });
}
