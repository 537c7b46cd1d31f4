// grpc.addr as a Unix socket (opa-envoy-plugin's `addr: unix:///path`):
// Check and Health through a grpc-js client with a unix: target, the stale
// socket rules (a dead socket file is replaced; a live one, or a file that is
// not a socket, is left alone and the start fails), and a real Envoy whose
// ztauthz cluster is a `pipe` address: deploy/envoy/ext-authz.yaml with the
// cluster's socket_address swapped for the socket path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, spawnServe, startInProcess, type ServeProcess } from './support/servers.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { startEnvoy, type RunningEnvoy } from './support/envoy.ts';
import { startEchoUpstream, type EchoUpstream } from './support/upstream.ts';
import { loadConfig } from '../src/config/load.ts';
import type { RunningServer } from '../src/server/Server.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';
const INFER = { method: 'POST', path: '/v2/models/fraud-detector/infer' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ztauthz-uds-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A socket file nobody listens on, as a process killed while serving leaves it. */
function staleSocket(path: string): void {
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', path]);
}

function listenOn(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => s.destroy());
    srv.once('error', reject);
    srv.listen(path, () => resolve(srv));
  });
}

describe('grpc.addr validation', () => {
  const addr = (value: string) => loadConfig({ flags: { 'grpc-addr': value } }).grpc.addr;
  it('takes host:port, grpc://host:port and unix:// paths', () => {
    expect(addr('127.0.0.1:9191')).toBe('127.0.0.1:9191');
    expect(addr('grpc://:9191')).toBe('grpc://:9191');
    expect(addr('unix:///run/ztauthz/authz.sock')).toBe('unix:///run/ztauthz/authz.sock');
    expect(addr('unix://authz.sock')).toBe('unix://authz.sock');
  });
  it.each([
    ['unix:/run/a.sock', /unix:\/\/\/absolute\/path/],
    ['unix://', /path is empty/],
    ['unix://@abstract', /abstract Unix sockets/],
    [`unix:///${'x'.repeat(120)}`, /longer than 107 bytes/],
    ['http://127.0.0.1:9191', /host:port, grpc:\/\/host:port or unix/],
    ['nonsense', /must be host:port/],
  ])('refuses %s', (value, why) => {
    expect(() => addr(value)).toThrow(why);
  });
  it('http.addr stays host:port', () => {
    expect(() => loadConfig({ flags: { 'http-addr': 'unix:///tmp/h.sock' } })).toThrow(/http.addr: must be host:port/);
  });
});

describe('serving on a Unix socket (in process)', () => {
  let server: RunningServer;
  let client: CheckClient;
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'authz.sock');
    server = await startInProcess({ 'grpc-addr': `unix://${path}` });
    client = new CheckClient(`unix://${path}`);
  });
  afterAll(async () => {
    client.close();
    await server?.stop(1000);
  });

  it('reports the socket as its address and makes a socket file', () => {
    expect(server.grpcAddress).toBe(`unix://${path}`);
    expect(server.grpcPort).toBe(0);
    expect(lstatSync(path).isSocket()).toBe(true);
  });

  it('answers Check (allow and deny) and Health over the socket', async () => {
    const allowed = await client.check(checkRequest({ ...INFER, principal: FRONTEND }));
    expect(allowed.status?.code ?? 0).toBe(0);
    const denied = await client.check(checkRequest({ ...INFER, principal: TRAINER }));
    expect(denied.status?.code).toBe(7);
    expect(await client.healthCheck()).toEqual({ status: 'SERVING' });
  });

  it('refuses to start a second server on the socket in use, and leaves it serving', async () => {
    await expect(startInProcess({ 'grpc-addr': `unix://${path}` })).rejects.toThrow(/cannot listen on grpc\.addr .*in use: another process listens on it/);
    expect((await client.check(checkRequest({ ...INFER, principal: FRONTEND }))).status?.code ?? 0).toBe(0);
  });

  it('removes its socket file when it stops', async () => {
    client.close();
    await server.stop(1000);
    expect(existsSync(path)).toBe(false);
  });
});

describe('what is at the socket path before the start', () => {
  it('a stale socket file (no listener) is replaced', async () => {
    const path = join(dir, 'stale.sock');
    staleSocket(path);
    expect(lstatSync(path).isSocket()).toBe(true);
    const server = await startInProcess({ 'grpc-addr': `unix://${path}` });
    const client = new CheckClient(`unix://${path}`);
    try {
      expect(await client.healthCheck()).toEqual({ status: 'SERVING' });
    } finally {
      client.close();
      await server.stop(1000);
    }
  });

  it('a socket another process listens on is left alone', async () => {
    const path = join(dir, 'live.sock');
    const other = await listenOn(path);
    try {
      await expect(startInProcess({ 'grpc-addr': `unix://${path}` })).rejects.toThrow(/in use: another process listens on it/);
      expect(lstatSync(path).isSocket()).toBe(true);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('a file that is not a socket is never removed', async () => {
    const path = join(dir, 'precious.txt');
    writeFileSync(path, 'keep me');
    await expect(startInProcess({ 'grpc-addr': `unix://${path}` })).rejects.toThrow(/exists and is not a socket; not removing it/);
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('a directory that does not exist is an error naming the address', async () => {
    await expect(startInProcess({ 'grpc-addr': `unix://${join(dir, 'no/such/dir.sock')}` })).rejects.toThrow(/cannot listen on grpc\.addr unix:\/\//);
  });
});

describe('serve on a Unix socket behind a real Envoy (pipe address)', () => {
  let upstream: EchoUpstream;
  let serve: ServeProcess;
  let envoy: RunningEnvoy;
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'envoy-authz.sock');
    upstream = await startEchoUpstream();
    const policy = join(dir, 'policy');
    mkdirSync(policy);
    writeFileSync(join(policy, 'authz.rego'), 'package envoy.authz\n\ndefault allow := false\n\nallow if input.parsed_path[0] == "public"\n');
    serve = await spawnServe(['--grpc-addr', `unix://${path}`, '--policy', policy, '--decision-log-enabled=false']);
    // The deliverable bootstrap with one change: the ztauthz cluster's endpoint is the socket.
    const bootstrap = readFileSync(join(ROOT, 'deploy/envoy/ext-authz.yaml'), 'utf8');
    const endpoint = 'socket_address: { address: 127.0.0.1, port_value: ${ZTAUTHZ_GRPC_PORT} }';
    expect(bootstrap).toContain(endpoint);
    const configFile = join(dir, 'ext-authz-uds.yaml');
    writeFileSync(configFile, bootstrap.replace(endpoint, 'pipe: { path: "${ZTAUTHZ_SOCKET}" }'));
    envoy = await startEnvoy({ configFile, vars: { UPSTREAM_PORT: upstream.port, ZTAUTHZ_SOCKET: path, ZTAUTHZ_GRPC_PORT: 'unused' } });
  }, 90_000);
  afterAll(async () => {
    await envoy?.stop();
    await serve?.stop();
    await upstream?.close();
  });

  it('logs the socket in its "serving" line', () => {
    expect(serve.grpcAddress).toBe(`unix://${path}`);
    expect(serve.stderr()).toContain(`"grpc":"unix://${path}"`);
  });

  it('Envoy asks ztauthz over the socket: allowed requests reach the upstream, others get 403', async () => {
    const allowed = await fetch(`http://127.0.0.1:${envoy.listenPort}/public/hello`);
    expect(allowed.status).toBe(200);
    expect(upstream.received.map((r) => r.url)).toContain('/public/hello');
    const denied = await fetch(`http://127.0.0.1:${envoy.listenPort}/private`);
    expect(denied.status).toBe(403);
    const stats = await envoy.stats('ext_authz');
    const stat = (name: string) => Object.entries(stats).find(([k]) => k.endsWith(`ext_authz.${name}`))?.[1] ?? 0;
    expect(stat('ok')).toBeGreaterThanOrEqual(1);
    expect(stat('denied')).toBeGreaterThanOrEqual(1);
    expect(stat('error')).toBe(0);
  });
});

describe('serve --workers 2 on a Unix socket', () => {
  it('the workers share the socket, and it is gone after the stop', async () => {
    const path = join(dir, 'workers.sock');
    staleSocket(path);
    const serve = await spawnServe(['--workers', '2', '--grpc-addr', `unix://${path}`, '--decision-log-enabled=false']);
    const client = new CheckClient(`unix://${path}`);
    try {
      expect(serve.grpcAddress).toBe(`unix://${path}`);
      for (let i = 0; i < 4; i++) expect((await client.check(checkRequest({ ...INFER, principal: FRONTEND }))).status?.code ?? 0).toBe(0);
    } finally {
      client.close();
      expect(await serve.stop()).toBe(0);
    }
    expect(existsSync(path)).toBe(false);
  }, 60_000);
});

describe('mTLS on a Unix socket', () => {
  it('the peer allowlist applies as on TCP', async () => {
    const { TestPki } = await import('./tls/pki.ts');
    const grpc = await import('@grpc/grpc-js');
    const pki = new TestPki();
    const ca = pki.ca('ca', 'cluster.local');
    const serverLeaf = pki.leaf(ca, { uris: ['spiffe://cluster.local/ns/authz/sa/ztauthz'] });
    writeFileSync(pki.file('server.crt'), serverLeaf.certPem);
    writeFileSync(pki.file('server.key'), serverLeaf.keyPem);
    writeFileSync(pki.file('bundle.crt'), ca.certPem);
    const path = join(dir, 'mtls.sock');
    const server = await startInProcess({
      'grpc-addr': `unix://${path}`,
      'grpc-tls-mode': 'files',
      'grpc-tls-cert-file': pki.file('server.crt'),
      'grpc-tls-key-file': pki.file('server.key'),
      'grpc-tls-ca-file': pki.file('bundle.crt'),
      'grpc-tls-allowed-peers': 'spiffe://cluster.local/ns/mesh/sa/envoy',
    });
    const clientFor = (id: string) => {
      const leaf = pki.leaf(ca, { uris: [id] });
      // The server certificate names a SPIFFE ID, not the socket's "localhost".
      return new CheckClient(
        `unix://${path}`,
        grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(leaf.keyPem), Buffer.from(leaf.certPem), { checkServerIdentity: () => undefined }),
      );
    };
    const envoy = clientFor('spiffe://cluster.local/ns/mesh/sa/envoy');
    const other = clientFor('spiffe://cluster.local/ns/web/sa/frontend');
    try {
      expect(await envoy.healthCheck()).toEqual({ status: 'SERVING' });
      expect((await envoy.check(checkRequest({ ...INFER, principal: FRONTEND }))).status?.code ?? 0).toBe(0);
      await expect(other.check(checkRequest({ ...INFER, principal: FRONTEND }))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    } finally {
      envoy.close();
      other.close();
      await server.stop(1000);
      pki.cleanup();
    }
  });
});
