// Real servers for the remote-bundle tests: nginx (Debian's, serving a
// directory with its own ETags and 304s) and the CNCF distribution registry
// (Debian's docker-registry), with a small OCI push over the distribution API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
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
    await waitFor(`${what} on port ${port}`, async () => {
      if (exited) throw new Error(`${what} exited: ${err}`);
      return fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
    }, 15_000);
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
export async function startRegistry(): Promise<Running> {
  const dir = tempDir('ztauthz-registry-');
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const conf = join(dir, 'config.yml');
  writeFileSync(conf, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  return startDaemon('docker-registry', ['serve', conf], port, 'docker-registry');
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(base: string, repo: string, blob: Buffer): Promise<string> {
  const digest = digestOf(blob);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** Pushes a bundle as an OCI artifact (config blob, one tar+gzip layer, manifest) as `opa`/oras would; returns the manifest digest. */
export async function pushOciBundle(port: number, repo: string, tag: string, bundle: Buffer): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const config = Buffer.from('{}');
  const configDigest = await pushBlob(base, repo, config);
  const layerDigest = await pushBlob(base, repo, bundle);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: bundle.length, annotations: { 'org.opencontainers.image.title': 'bundle.tar.gz' } }],
    }),
  );
  const put = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (put.status !== 201) throw new Error(`manifest push: HTTP ${put.status} ${await put.text()}`);
  return digestOf(manifest);
}
