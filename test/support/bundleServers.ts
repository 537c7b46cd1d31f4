// Bundle servers and bundles for the remote-bundle tests: Rego bundles built
// by the real opa (signed or not), a long-polling bundle server per OPA's
// protocol, and ztauthz configured from an OPA-style config file.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observe/Log.ts';
import { opaBinary } from '../../src/policy/OpaCompiler.ts';
import { startServer, type RunningServer } from '../../src/server/Server.ts';

export const BUNDLE_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

export function tempDir(prefix = 'ztauthz-fleet-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A Rego bundle (opa build -b) allowing GET on /common and on `path`, with .manifest revision `revision`. */
/** `padBytes` of incompressible data make a bundle of a known least size. */
export function regoBundle(revision: string, path: string, sign?: { privateKeyFile: string; claims?: object }, padBytes = 0): Buffer {
  const dir = tempDir('ztauthz-fleet-src-');
  mkdirSync(join(dir, 'src'));
  writeFileSync(
    join(dir, 'src', 'policy.rego'),
    `package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.path == "/common"\n\nallow if input.attributes.request.http.path == data.fleet.path\n`,
  );
  mkdirSync(join(dir, 'src', 'fleet'));
  writeFileSync(join(dir, 'src', 'fleet', 'data.json'), JSON.stringify({ path, pad: randomBytes(padBytes / 2).toString('hex') }));
  writeFileSync(join(dir, 'src', '.manifest'), JSON.stringify({ revision, roots: [''] }));
  const out = join(dir, 'bundle.tar.gz');
  const signArgs = sign ? ['--signing-key', sign.privateKeyFile, '--signing-alg', 'RS256'] : [];
  if (sign?.claims) {
    writeFileSync(join(dir, 'claims.json'), JSON.stringify(sign.claims));
    signArgs.push('--claims-file', join(dir, 'claims.json'));
  }
  execFileSync(opaBinary(), ['build', '-b', join(dir, 'src'), '-o', out, ...signArgs], { stdio: 'pipe' });
  return readFileSync(out);
}

export function rsaKeyFiles(): { privateKeyFile: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = tempDir();
  const privateKeyFile = join(dir, 'private.pem');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { privateKeyFile, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/**
 * A bundle server per OPA's protocol: ETag / If-None-Match / 304, and long
 * polling (`Prefer: modes=snapshot;wait=N` is held until the bundle changes or
 * N seconds pass, answered with OPA's bundle content type). Status 503 while
 * it has no bundle.
 */
export class LongPollServer {
  readonly requests: Array<{ ifNoneMatch: string | undefined; prefer: string | undefined; authorization: string | undefined; team: string | undefined }> = [];
  #bundle: { bytes: Buffer; etag: string } | undefined;
  #waiters = new Set<() => void>();
  readonly #server: Server;
  readonly longPoll: boolean;
  port = 0;

  /** With `tls`, serves HTTPS and requires a client certificate the CA verifies. */
  constructor(longPoll = true, tls?: { cert: string; key: string; ca: string }) {
    this.longPoll = longPoll;
    const handler: RequestListener = (req, res) => {
      const ifNoneMatch = req.headers['if-none-match'];
      const prefer = req.headers['prefer'] as string | undefined;
      this.requests.push({ ifNoneMatch, prefer, authorization: req.headers['authorization'], team: req.headers['x-team'] as string | undefined });
      const wait = this.longPoll ? /wait=(\d+)/.exec(String(prefer ?? ''))?.[1] : undefined;
      const answer = () => {
        const b = this.#bundle;
        const type = this.longPoll && wait ? BUNDLE_CONTENT_TYPE : 'application/gzip';
        if (!b) res.writeHead(503).end();
        else if (ifNoneMatch === b.etag) res.writeHead(304, { etag: b.etag, 'content-type': type }).end();
        else res.writeHead(200, { etag: b.etag, 'content-type': type }).end(b.bytes);
      };
      if (wait && this.#bundle && ifNoneMatch === this.#bundle.etag) {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          answer();
        };
        const timer = setTimeout(done, Number(wait) * 1000);
        this.#waiters.add(done);
        req.on('close', () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
        });
      } else answer();
    };
    this.#server = tls ? createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, handler) : createServer(handler);
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  /** Serves these bytes from now on (waiting long polls are answered at once). */
  serve(bytes: Buffer | undefined): void {
    this.#bundle = bytes ? { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"` } : undefined;
    for (const w of [...this.#waiters]) w();
  }

  async stop(): Promise<void> {
    for (const w of [...this.#waiters]) w();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Starts ztauthz in this process from an OPA-style config file text (plus ztauthz keys). */
export async function startFromConfig(yaml: string): Promise<RunningServer> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, yaml);
  const config = loadConfig({ file, flags: { 'grpc-addr': '127.0.0.1:0', 'http-addr': '127.0.0.1:0', 'decision-log-enabled': 'false' } });
  return startServer(config, createLogger('error'));
}

export async function readyz(port: number): Promise<{ status: number; body: { policy_revision?: string } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { policy_revision?: string } };
}

export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Polls `probe` until it returns true or `ms` pass (then throws with `what`). */
export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
