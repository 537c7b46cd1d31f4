// Real servers for the remote-bundle tests: nginx (Debian's, serving a
// directory with its own ETags and 304s) and the CNCF distribution registry
// (Debian's docker-registry), with a small OCI push over the distribution API.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { SignJWT } from 'jose';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir, waitFor } from './bundleServers.ts';

export interface Running {
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function startDaemon(cmd: string, args: string[], port: number, what: string): Promise<Running> {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    await waitFor(
      `${what} on port ${port}`,
      async () => {
        if (exited) throw new Error(`${what} exited: ${err}`);
        return fetch(`http://127.0.0.1:${port}/`).then(
          () => true,
          () => false,
        );
      },
      15_000,
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** nginx serving `root` on a loopback port (ETag and If-None-Match are nginx's defaults for static files). */
export async function startNginx(root: string): Promise<Running> {
  const dir = tempDir('ztauthz-nginx-');
  // Run as root, nginx serves files as nobody: the (0700) temporary directory must be readable.
  chmodSync(root, 0o755);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n  types { application/gzip gz; }\n  server {\n    listen 127.0.0.1:${port};\n    root ${root};\n  }\n}\n`,
  );
  return startDaemon('nginx', ['-p', dir, '-c', conf], port, 'nginx');
}

/** Debian's docker-registry (the CNCF distribution registry) with filesystem storage on a loopback port. */
/** With `tokenAuth`, the registry wants a token from the realm (distribution's token auth), signed by the key of `certFile`. */
export async function startRegistry(tokenAuth?: { realm: string; certFile: string }): Promise<Running> {
  const dir = tempDir('ztauthz-registry-');
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const conf = join(dir, 'config.yml');
  writeFileSync(
    conf,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n` +
      (tokenAuth
        ? `auth:\n  token:\n    realm: ${tokenAuth.realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: ${tokenAuth.certFile}\n`
        : ''),
  );
  return startDaemon('docker-registry', ['serve', conf], port, 'docker-registry');
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(base: string, repo: string, blob: Buffer, auth: Record<string, string>): Promise<string> {
  const digest = digestOf(blob);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: blob, headers: { ...auth, 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** Pushes a bundle as an OCI artifact (config blob, one tar+gzip layer, manifest) as `opa`/oras would; returns the manifest digest. */
export async function pushOciBundle(port: number, repo: string, tag: string, bundle: Buffer, token?: string): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const config = Buffer.from('{}');
  const configDigest = await pushBlob(base, repo, config, auth);
  const layerDigest = await pushBlob(base, repo, bundle, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: layerDigest,
          size: bundle.length,
          annotations: { 'org.opencontainers.image.title': 'bundle.tar.gz' },
        },
      ],
    }),
  );
  const put = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (put.status !== 201) throw new Error(`manifest push: HTTP ${put.status} ${await put.text()}`);
  return digestOf(manifest);
}

/**
 * A registry token server (distribution's token auth): answers
 * GET /token?service=&scope= with a JWT the registry verifies through the
 * x5c certificate in its header, only for the Basic credentials `basic`.
 */
export async function startTokenServer(basic: string): Promise<Running & { certFile: string; mint(scope: string): Promise<string>; requests: string[] }> {
  const dir = tempDir('ztauthz-token-');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=test-token'],
    { stdio: 'ignore' },
  );
  const key = createPrivateKey(readFileSync(join(dir, 'key.pem')));
  const der = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw.toString('base64');
  const mint = async (scope: string) => {
    // scope: repository:<name>:<actions>
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access: [{ type, name, actions: actions!.split(',') }] })
      .setProtectedHeader({ alg: 'RS256', x5c: [der] })
      .setIssuer('test-issuer')
      .setAudience('test-registry')
      .setSubject('ztauthz')
      .setIssuedAt(now - 60)
      .setNotBefore(now - 60)
      .setExpirationTime(now + 600)
      .setJti(String(Math.random()))
      .sign(key);
  };
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.search);
    if (req.headers['authorization'] !== `Basic ${basic}`) return void res.writeHead(401).end();
    void mint(url.searchParams.get('scope') ?? '').then((token) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, certFile: join(dir, 'cert.pem'), mint, requests, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
