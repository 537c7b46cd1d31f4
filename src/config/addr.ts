// Listen addresses as configuration gives them (grpc.addr, http.addr), and the
// error every configuration problem is reported as.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ListenAddr {
  readonly host: string;
  readonly port: number;
}

/** "host:port", ":port" (every interface) or "[v6]:port". */
export function parseAddr(
  addr: string,
  fail: (why: string) => never = (why) => {
    throw new ConfigError(why);
  },
): ListenAddr {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) return fail('must be host:port');
  const port = Number(m[3]);
  if (port > 65535) return fail('port must be at most 65535');
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Where the gRPC listener binds: TCP, or a Unix socket path. */
export type GrpcListenAddr = ({ readonly kind: 'tcp' } & ListenAddr) | { readonly kind: 'unix'; readonly path: string };

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * grpc.addr, as opa-envoy-plugin reads its `addr`: "host:port" (or
 * "grpc://host:port"), or "unix://" followed by the socket path
 * ("unix:///run/ztauthz/authz.sock"; "unix://rel.sock" is relative to the
 * working directory, as url.Parse makes it there). Abstract sockets
 * ("unix://@name") are not supported.
 */
export function parseListenAddr(
  addr: string,
  fail: (why: string) => never = (why) => {
    throw new ConfigError(why);
  },
): GrpcListenAddr {
  if (addr.startsWith('unix:')) {
    if (!addr.startsWith('unix://')) return fail('a Unix socket address must be unix:///absolute/path');
    const path = addr.slice('unix://'.length);
    if (path === '') return fail('the Unix socket path is empty');
    if (path.startsWith('@')) return fail('abstract Unix sockets (unix://@name) are not supported; use a socket file path');
    if (/[\0?#%]/.test(path)) return fail('the Unix socket path must not contain NUL, "?", "#" or "%"');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return fail(`the Unix socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    return { kind: 'unix', path };
  }
  const hostPort = addr.startsWith('grpc://') ? addr.slice('grpc://'.length) : addr;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(hostPort)) return fail('must be host:port, grpc://host:port or unix:///path');
  return { kind: 'tcp', ...parseAddr(hostPort, fail) };
}

/** How a listen address is shown in the "serving" log line: host:port, or unix:///path. */
export function showListenAddr(addr: GrpcListenAddr, port: number): string {
  return addr.kind === 'unix' ? `unix://${addr.path}` : `${addr.host}:${port}`;
}
