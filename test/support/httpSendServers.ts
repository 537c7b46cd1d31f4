// Real HTTP and HTTPS servers on 127.0.0.1 for the http.send tests, with a
// test CA made by openssl: JSON/YAML/text bodies, redirects, slow answers,
// cache headers and per-path request counters.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { listenLoopback } from './upstream.ts';

export interface TestCa {
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, by the openssl CLI. */
export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-httpsend-'));
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=ztauthz http.send test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    const leaf = (name: string, ext: string): void => {
      writeFileSync(join(dir, `${name}.ext`), ext);
      run([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      run([
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      ]);
    };
    leaf(
      'server',
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
    );
    leaf('client', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
    return {
      caPem: read('ca.crt'),
      serverCert: read('server.crt'),
      serverKey: read('server.key'),
      clientCert: read('client.crt'),
      clientKey: read('client.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TestServer {
  readonly port: number;
  readonly url: string;
  /** Requests received per path (without query). */
  readonly hits: Map<string, number>;
  /** Answers every request to /held received so far (they wait until then). */
  release(): void;
  close(): Promise<void>;
}

/** Requests to /held, waiting for release(). */
type Held = Array<() => void>;

function handler(hits: Map<string, number>, held: Held = []) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const json = (status: number, value: unknown, headers: Record<string, string | string[]> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      if (path === '/json') return json(200, { ok: true, list: [1, 'two', null], nested: { a: 1.5 } });
      if (path === '/problem') return json(400, { title: 'bad' }, { 'content-type': 'application/problem+json' });
      if (path === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('{"looks": "like json"}');
      }
      if (path === '/yaml') {
        res.writeHead(200, { 'content-type': 'application/yaml' });
        return void res.end('a: 1\nb: [x, y]\n');
      }
      if (path === '/textyaml') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('a: 1\nb: [x, y]\n');
      }
      if (path === '/badjson') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{not json');
      }
      if (path === '/multi') {
        res.writeHead(200, [
          ['content-type', 'text/plain'],
          ['x-multi', 'a'],
          ['x-multi', 'b'],
          ['X-Mixed-Case', 'v'],
        ]);
        return void res.end('multi');
      }
      if (path === '/echo')
        return json(200, {
          method: req.method,
          body,
          custom: req.headers['x-custom'] ?? null,
          auth: req.headers['authorization'] ?? null,
          type: req.headers['content-type'] ?? null,
        });
      if (path === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/json' });
        return void res.end();
      }
      if (path === '/bigint') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"n": 9007199254740993, "id": 123456789012345678901234567890}');
      }
      if (path === '/redirect307') {
        res.writeHead(307, { location: '/echo' });
        return void res.end();
      }
      if (path.startsWith('/status/')) return json(Number(path.slice(8)), { status: Number(path.slice(8)) });
      if (path === '/held') {
        held.push(() => json(200, { held: true }));
        return;
      }
      if (path === '/slow') {
        const ms = Number(url.searchParams.get('ms') ?? '1000');
        const timer = setTimeout(() => json(200, { slow: true, ms }), ms);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      if (path.startsWith('/count/')) return json(200, { n });
      if (path.startsWith('/maxage/')) return json(200, { n }, { 'cache-control': 'max-age=60' });
      if (path.startsWith('/etag/')) {
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0', 'x-revalidated': String(n) });
          return void res.end();
        }
        return json(200, { n }, { etag: '"v1"', 'cache-control': 'max-age=0' });
      }
      if (path.startsWith('/expires/')) return json(200, { n }, { expires: new Date(Date.now() + 60_000).toUTCString() });
      if (path.startsWith('/nostore/')) return json(200, { n }, { 'cache-control': 'no-store, max-age=60' });
      if (path.startsWith('/big')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('x'.repeat(Number(url.searchParams.get('bytes') ?? '100000')));
      }
      if (path === '/client') {
        const cert = (req.socket as TLSSocket).getPeerCertificate?.();
        return json(200, { client: cert?.subject?.CN ?? null });
      }
      json(404, { error: 'no route' });
    });
  };
}

async function serve(server: Server, scheme: 'http' | 'https', hits: Map<string, number>, held: Held = []): Promise<TestServer> {
  const { port, close } = await listenLoopback(server);
  const release = (): void => {
    for (const answer of held.splice(0)) answer();
  };
  return { port, url: `${scheme}://127.0.0.1:${port}`, hits, release, close };
}

export function startHttpServer(): Promise<TestServer> {
  const hits = new Map<string, number>();
  const held: Held = [];
  return serve(createHttp(handler(hits, held)), 'http', hits, held);
}

/** HTTPS; with requireClient, only clients with a certificate from the test CA. */
export function startHttpsServer(ca: TestCa, requireClient = false): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server = createHttps(
    { cert: ca.serverCert, key: ca.serverKey, ca: ca.caPem, requestCert: requireClient, rejectUnauthorized: requireClient },
    handler(hits),
  );
  return serve(server, 'https', hits);
}
