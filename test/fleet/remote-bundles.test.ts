// Remote bundles per OPA's bundle protocol, against a long-polling bundle
// server written here: readiness waits for the first bundle, long polls pick
// up a new revision without waiting for the polling delay, a persisted copy
// serves through a restart while the service is down, and tampered, corrupt,
// unsigned or delta bundles never serve.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { decisionFromResultSet } from '../../src/envoy/PolicyResult.ts';
import { backoffDelay } from '../../src/policy/remote/RemoteBundle.ts';
import { loadRemoteBundle } from '../../src/policy/remote/RemoteLoader.ts';
import { signingKeyFromText } from '../../src/policy/BundleSignature.ts';
import type { RunningServer } from '../../src/server/Server.ts';
import { CheckClient, checkRequest } from '../support/checkClient.ts';
import { Pki, writeSvid } from '../support/pki.ts';
import { spawnServe } from '../support/servers.ts';
import { LongPollServer, metricsText, readyz, regoBundle, rsaKeyFiles, startFromConfig, tempDir, waitFor } from '../support/bundleServers.ts';

const OK = 0;
const DENIED = 7;

async function decide(client: CheckClient, path: string): Promise<number | undefined> {
  return (await client.check(checkRequest({ path }))).status?.code ?? OK;
}

function config(port: number, extra = '', bundle = ''): string {
  return `services:
  acme:
    url: http://127.0.0.1:${port}/v1
    headers:
      x-team: payments
    credentials:
      bearer:
        token: t0ken
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 2
${bundle}${extra}`;
}

describe('remote bundles over HTTP (OPA bundle protocol)', () => {
  let r1: Buffer;
  let r2: Buffer;
  beforeAll(() => {
    r1 = regoBundle('r1', '/one');
    r2 = regoBundle('r2', '/two');
  });

  it('is not ready until the first bundle loads, then long-polls a new revision in', async () => {
    const bundles = await new LongPollServer().start();
    // min_delay 1 s, but the long poll of 20 s answers as soon as the bundle changes.
    const server = await startFromConfig(config(bundles.port, '', '      long_polling_timeout_seconds: 20\n'));
    const client = new CheckClient(server.grpcPort);
    try {
      expect((await readyz(server.httpPort)).status).toBe(503);
      expect((await client.healthCheck()).status).toBe('NOT_SERVING');
      expect(await decide(client, '/common')).not.toBe(OK);
      bundles.serve(r1);
      await waitFor('revision r1', async () => (await readyz(server.httpPort)).body.policy_revision === 'r1', 10_000);
      expect(await decide(client, '/one')).toBe(OK);
      expect(await decide(client, '/two')).toBe(DENIED);
      expect((await client.healthCheck()).status).toBe('SERVING');
      // The client sent the bearer token and, once it had the bundle, its ETag and the long-poll preference.
      const last = bundles.requests.at(-1)!;
      expect(last.authorization).toBe('Bearer t0ken');
      expect(last.team).toBe('payments');
      await waitFor('a held long poll', () => bundles.requests.some((r) => r.ifNoneMatch !== undefined && r.prefer === 'modes=snapshot;wait=20'), 5_000);
      const before = bundles.requests.length;
      bundles.serve(r2);
      await waitFor('revision r2', async () => (await readyz(server.httpPort)).body.policy_revision === 'r2', 10_000);
      expect(await decide(client, '/two')).toBe(OK);
      expect(await decide(client, '/one')).toBe(DENIED);
      // Picked up by the held request, not by a new poll after a delay.
      expect(bundles.requests.length - before).toBeLessThanOrEqual(2);
      const metrics = await metricsText(server.httpPort);
      expect(metrics).toMatch(/ztauthz_bundle_downloads_total\{bundle="authz",result="bundle"\} 2/);
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="authz",revision="r2"} 1');
    } finally {
      client.close();
      await server.stop(0);
      await bundles.stop();
    }
  });

  it('keeps the last good bundle through a restart while the service is down (persist)', async () => {
    const dir = tempDir();
    const bundles = await new LongPollServer(false).start();
    bundles.serve(r1);
    const yaml = config(bundles.port, `persistence_directory: ${dir}\n`, '    persist: true\n');
    let server: RunningServer = await startFromConfig(yaml);
    await waitFor('revision r1', async () => (await readyz(server.httpPort)).body.policy_revision === 'r1', 10_000);
    await server.stop(0);
    await bundles.stop();
    // The service is gone: the restarted replica serves the persisted r1 from the start.
    server = await startFromConfig(yaml);
    const client = new CheckClient(server.grpcPort);
    try {
      const ready = await readyz(server.httpPort);
      expect(ready).toEqual({ status: 200, body: expect.objectContaining({ policy_revision: 'r1' }) });
      expect(await decide(client, '/one')).toBe(OK);
      await waitFor(
        'a failed download',
        async () => /ztauthz_bundle_downloads_total\{bundle="authz",result="failure"\} [1-9]/.test(await metricsText(server.httpPort)),
        10_000,
      );
      expect(await decide(client, '/one')).toBe(OK);
    } finally {
      client.close();
      await server.stop(0);
    }
  });

  it('never serves a tampered, corrupt, truncated or unsigned bundle', async () => {
    const keys = rsaKeyFiles();
    const signed1 = regoBundle('s1', '/one', keys);
    const signed2 = regoBundle('s2', '/two', keys);
    // Tampered: data.json of the signed r2 changed after signing (same length, so the tar stays valid).
    const tar = gunzipSync(signed2);
    const at = tar.indexOf('"/two"');
    const tampered = gzipSync(Buffer.concat([tar.subarray(0, at), Buffer.from('"/eve"'), tar.subarray(at + 6)]));
    const bundles = await new LongPollServer(false).start();
    const keyYaml = `keys:\n  default:\n    algorithm: RS256\n    key: |\n${keys.publicPem
      .trim()
      .split('\n')
      .map((l) => `      ${l}`)
      .join('\n')}\n`;
    const server = await startFromConfig(config(bundles.port, keyYaml, '    signing:\n      keyid: default\n'));
    const client = new CheckClient(server.grpcPort);
    try {
      bundles.serve(signed1);
      await waitFor('revision s1', async () => (await readyz(server.httpPort)).body.policy_revision === 's1', 10_000);
      for (const bad of [tampered, Buffer.from('not a gzip archive'), signed2.subarray(0, signed2.length / 2), r2]) {
        const failures = failureCount(await metricsText(server.httpPort));
        bundles.serve(bad);
        await waitFor('the bad bundle refused', async () => failureCount(await metricsText(server.httpPort)) > failures, 10_000);
        expect((await readyz(server.httpPort)).body.policy_revision).toBe('s1');
        expect(await decide(client, '/one')).toBe(OK);
        expect(await decide(client, '/eve')).toBe(DENIED);
        expect(await decide(client, '/two')).toBe(DENIED);
      }
      bundles.serve(signed2);
      await waitFor('revision s2', async () => (await readyz(server.httpPort)).body.policy_revision === 's2', 10_000);
    } finally {
      client.close();
      await server.stop(0);
      await bundles.stop();
    }
  });
});

describe('ztauthz serve --config with an opa-envoy-plugin config file', () => {
  it('downloads and serves the bundle, and SIGHUP polls at once', async () => {
    const bundles = await new LongPollServer(false).start();
    bundles.serve(regoBundle('c1', '/one'));
    const file = join(tempDir(), 'opa-envoy.yaml');
    // Polling every minute or two: only the first poll and the SIGHUP one can bring a revision in time.
    writeFileSync(
      file,
      // services as a list of named entries, a form OPA accepts too.
      `services:\n  - name: acme\n    url: http://127.0.0.1:${bundles.port}\n` +
        `bundles:\n  authz:\n    service: acme\n    resource: authz.tar.gz\nplugins:\n  envoy_ext_authz_grpc:\n    addr: :9191\n    path: /envoy/authz/allow\n    dry-run: false\n    enable-reflection: true\ndecision_log:\n  enabled: false\n`,
    );
    const serve = await spawnServe(['--config', file]);
    const client = new CheckClient(serve.grpcPort);
    try {
      await waitFor('c1', async () => (await readyz(serve.httpPort)).body.policy_revision === 'c1', 15_000);
      expect(await decide(client, '/one')).toBe(OK);
      bundles.serve(regoBundle('c2', '/two'));
      serve.child.kill('SIGHUP');
      await waitFor('c2 after SIGHUP', async () => (await readyz(serve.httpPort)).body.policy_revision === 'c2', 15_000);
      expect(await decide(client, '/two')).toBe(OK);
      expect(serve.stderr()).toContain('"msg":"bundle activated"');
    } finally {
      client.close();
      await serve.stop();
      await bundles.stop();
    }
  });
});

describe('remote bundles with server.workers 2', () => {
  it('every worker downloads, persists into the shared directory and serves the bundle', async () => {
    const bundles = await new LongPollServer(false).start();
    bundles.serve(regoBundle('w1', '/one'));
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `${config(bundles.port, `persistence_directory: ${dir}/persist\ndecision_log:\n  enabled: false\n`, '    persist: true\n')}`);
    const serve = await spawnServe(['--config', file, '--workers', '2']);
    const client = new CheckClient(serve.grpcPort);
    try {
      await waitFor('w1 on both workers', async () => (await readyz(serve.httpPort)).body.policy_revision === 'w1', 20_000);
      for (let i = 0; i < 10; i++) expect(await decide(client, '/one')).toBe(OK);
      expect(readFileSync(join(dir, 'persist', 'bundles', 'authz', 'bundle.tar.gz')).length).toBeGreaterThan(0);
    } finally {
      client.close();
      await serve.stop();
      await bundles.stop();
    }
  });
});

describe('services over HTTPS with client certificates', () => {
  it('verifies the server with tls.ca_cert and presents credentials.client_tls; refuses a bundle over size_limit_bytes', async () => {
    const pki = new Pki();
    const ca = pki.ca('bundles.test');
    const serverCert = pki.leaf(ca, { dns: ['localhost'] });
    const serverKey = readFileSync(join(pki.dir, 'leaf.key'), 'utf8');
    const client = writeSvid(pki, ca, 'spiffe://bundles.test/ztauthz', 'client');
    const bundles = await new LongPollServer(false, { cert: serverCert, key: serverKey, ca: ca.pem }).start();
    const big = regoBundle('big', '/big', undefined, 4096);
    bundles.serve(big);
    const yaml = (limit: number) =>
      `services:\n  acme:\n    url: https://localhost:${bundles.port}\n    tls:\n      ca_cert: ${client.caFile}\n    credentials:\n      client_tls:\n        cert: ${client.certFile}\n        private_key: ${client.keyFile}\nbundles:\n  authz:\n    service: acme\n    resource: authz.tar.gz\n    size_limit_bytes: ${limit}\n    polling:\n      min_delay_seconds: 1\n      max_delay_seconds: 2\n`;
    expect(big.length).toBeGreaterThan(2048);
    let server = await startFromConfig(yaml(2048));
    try {
      await waitFor('the oversized bundle refused', async () => failureCount(await metricsText(server.httpPort)) > 0, 10_000);
      expect((await readyz(server.httpPort)).status).toBe(503);
      await server.stop(0);
      server = await startFromConfig(yaml(big.length));
      await waitFor('revision big', async () => (await readyz(server.httpPort)).body.policy_revision === 'big', 10_000);
    } finally {
      await server.stop(0);
      await bundles.stop();
    }
  });
});

describe('remote bundle loading', () => {
  it('refuses a delta bundle with a clear message', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.manifest'), JSON.stringify({ revision: 'd1', type: 'delta' }));
    writeFileSync(join(dir, 'patch.json'), JSON.stringify({ data: [{ op: 'upsert', path: '/fleet/path', value: '/x' }] }));
    execFileSync('tar', ['czf', join(dir, 'delta.tar.gz'), '-C', dir, '.manifest', 'patch.json']);
    const opts = { entrypoints: ['envoy/authz/allow'], maxMemoryPages: 2048, requireSignature: false, validateResult: decisionFromResultSet };
    await expect(loadRemoteBundle(readFileSync(join(dir, 'delta.tar.gz')), 'bundle authz', opts)).rejects.toThrow(
      'bundle authz is a delta bundle; ztauthz takes snapshot bundles only',
    );
  });
});

function failureCount(metrics: string): number {
  return Number(/ztauthz_bundle_downloads_total\{bundle="authz",result="failure"\} (\d+)/.exec(metrics)?.[1] ?? 0);
}

describe('signing scope', () => {
  it('takes a bundle signed with the configured scope and refuses another scope', async () => {
    const keys = rsaKeyFiles();
    const opts = (scope: string) => ({
      entrypoints: ['envoy/authz/allow'],
      maxMemoryPages: 2048,
      requireSignature: true,
      signingKey: signingKeyFromText(keys.publicPem, 'default', 'RS256', scope),
      validateResult: decisionFromResultSet,
    });
    const bundle = regoBundle('sc1', '/one', { ...keys, claims: { scope: 'authz' } });
    expect((await loadRemoteBundle(bundle, 'bundle authz', opts('authz'))).revision).toBe('sc1');
    await expect(loadRemoteBundle(bundle, 'bundle authz', opts('billing'))).rejects.toThrow('bundle signature scope "authz" is not the configured "billing"');
  });
});

describe('backoff after failures', () => {
  it('doubles from the minimum delay, never past the maximum, jittered down by at most 20%', () => {
    const delays = [1, 2, 3, 4, 5, 30].map((n) => backoffDelay(n, 1000, 10_000, 0.999999));
    expect(delays.map(Math.round)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffDelay(3, 1000, 10_000, 0)).toBe(3200);
  });
});
