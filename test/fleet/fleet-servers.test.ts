// Remote bundles from real servers: three ztauthz replicas polling nginx
// (its own ETags and 304s) converge on a new revision within the polling max
// delay plus a second, with no failed or wrongly decided Check across the
// change; and a bundle pulled from the CNCF distribution registry (OCI).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/Server.ts';
import { CheckClient, checkRequest } from '../support/checkClient.ts';
import { metricsText, readyz, regoBundle, startFromConfig, tempDir, waitFor } from '../support/bundleServers.ts';
import { pushOciBundle, startNginx, startRegistry, startTokenServer } from '../support/fleetServers.ts';

const OK = 0;
const DENIED = 7;
const MAX_DELAY_S = 2;

const revisionOf = async (s: RunningServer) => (await readyz(s.httpPort)).body.policy_revision;

describe('bundles from nginx, three replicas', () => {
  it('converge on a new revision within max delay + 1 s, with every Check decided right across the change', async () => {
    const root = tempDir();
    const publish = (bytes: Buffer) => {
      // Written beside and renamed over, as a CI job publishing a bundle would.
      writeFileSync(join(root, 'authz.tar.gz.tmp'), bytes);
      renameSync(join(root, 'authz.tar.gz.tmp'), join(root, 'authz.tar.gz'));
    };
    publish(regoBundle('r1', '/one'));
    const r2 = regoBundle('r2', '/two');
    const nginx = await startNginx(root);
    const yaml = `services:\n  web:\n    url: http://127.0.0.1:${nginx.port}\nbundles:\n  authz:\n    service: web\n    resource: authz.tar.gz\n    polling:\n      min_delay_seconds: 1\n      max_delay_seconds: ${MAX_DELAY_S}\n      long_polling_timeout_seconds: 10\n`;
    const replicas = await Promise.all([0, 1, 2].map(() => startFromConfig(yaml)));
    const clients = replicas.map((r) => new CheckClient(r.grpcPort));
    try {
      await waitFor('r1 everywhere', async () => (await Promise.all(replicas.map(revisionOf))).every((r) => r === 'r1'), 15_000);
      // Load: paths both revisions decide alike, until all three serve r2 (bounded).
      let stop = false;
      const wrong: string[] = [];
      let checks = 0;
      let slowestMs = 0;
      const load = (async () => {
        for (let i = 0; i < 20_000 && !stop; i++) {
          const client = clients[i % clients.length]!;
          const [path, want] = i % 2 === 0 ? ['/common', OK] : ['/never', DENIED];
          try {
            const t0 = performance.now();
            const code = (await client.check(checkRequest({ path }))).status?.code ?? OK;
            slowestMs = Math.max(slowestMs, performance.now() - t0);
            if (code !== want) wrong.push(`${path}: ${code}`);
          } catch (err) {
            wrong.push(`${path}: ${(err as Error).message}`);
          }
          checks++;
        }
      })();
      // nginx answered the steady polls with 304 (its ETag came back as If-None-Match).
      await waitFor('a 304', async () => /result="not_modified"\} [1-9]/.test(await metricsText(replicas[0]!.httpPort)), 5_000);
      const published = Date.now();
      publish(r2);
      await waitFor('r2 everywhere', async () => (await Promise.all(replicas.map(revisionOf))).every((r) => r === 'r2'), 30_000);
      const convergedMs = Date.now() - published;
      stop = true;
      await load;
      console.log(
        `three replicas converged on r2 ${convergedMs} ms after it was published (bound ${(MAX_DELAY_S + 1) * 1000} ms); ${checks} Checks, ${wrong.length} wrong, slowest ${slowestMs.toFixed(1)} ms`,
      );
      expect(wrong).toEqual([]);
      expect(checks).toBeGreaterThan(0);
      expect(convergedMs).toBeLessThanOrEqual((MAX_DELAY_S + 1) * 1000);
      for (const c of clients) {
        expect((await c.check(checkRequest({ path: '/two' }))).status?.code ?? OK).toBe(OK);
        expect((await c.check(checkRequest({ path: '/one' }))).status?.code ?? OK).toBe(DENIED);
      }
    } finally {
      for (const c of clients) c.close();
      await Promise.all(replicas.map((r) => r.stop(0)));
      await nginx.stop();
    }
  });
});

describe('bundles from an OCI registry (CNCF distribution)', () => {
  it('pulls the manifest and bundle layer, the digest acting as ETag', async () => {
    const registry = await startRegistry();
    await pushOciBundle(registry.port, 'acme/authz', 'live', regoBundle('o1', '/one'));
    const yaml = `services:\n  registry:\n    url: http://127.0.0.1:${registry.port}\n    type: oci\nbundles:\n  authz:\n    service: registry\n    resource: 127.0.0.1:${registry.port}/acme/authz:live\n    polling:\n      min_delay_seconds: 1\n      max_delay_seconds: 2\n`;
    const server = await startFromConfig(yaml);
    const client = new CheckClient(server.grpcPort);
    try {
      await waitFor('o1', async () => (await revisionOf(server)) === 'o1', 15_000);
      expect((await client.check(checkRequest({ path: '/one' }))).status?.code ?? OK).toBe(OK);
      await waitFor('an unchanged digest', async () => /result="not_modified"\} [1-9]/.test(await metricsText(server.httpPort)), 10_000);
      await pushOciBundle(registry.port, 'acme/authz', 'live', regoBundle('o2', '/two'));
      await waitFor('o2', async () => (await revisionOf(server)) === 'o2', 15_000);
      expect((await client.check(checkRequest({ path: '/two' }))).status?.code ?? OK).toBe(OK);
      expect((await client.check(checkRequest({ path: '/one' }))).status?.code ?? OK).toBe(DENIED);
    } finally {
      client.close();
      await server.stop(0);
      await registry.stop();
    }
  });

  it('exchanges the configured credentials for a registry token on a Bearer challenge', async () => {
    const basic = Buffer.from('ci:s3cret').toString('base64');
    const tokens = await startTokenServer(basic);
    const registry = await startRegistry({ realm: `http://127.0.0.1:${tokens.port}/token`, certFile: tokens.certFile });
    try {
      expect((await fetch(`http://127.0.0.1:${registry.port}/v2/acme/authz/manifests/live`)).status).toBe(401);
      await pushOciBundle(registry.port, 'acme/authz', 'live', regoBundle('t1', '/one'), await tokens.mint('repository:acme/authz:pull,push'));
      const yaml = `services:\n  registry:\n    url: http://127.0.0.1:${registry.port}\n    type: oci\n    credentials:\n      bearer:\n        scheme: Basic\n        token: ${basic}\nbundles:\n  authz:\n    service: registry\n    resource: acme/authz:live\n    polling:\n      min_delay_seconds: 1\n      max_delay_seconds: 2\n`;
      const server = await startFromConfig(yaml);
      try {
        await waitFor('t1', async () => (await revisionOf(server)) === 't1', 15_000);
        expect(tokens.requests.some((q) => q.includes('scope=repository%3Aacme%2Fauthz%3Apull'))).toBe(true);
      } finally {
        await server.stop(0);
      }
      // Wrong credentials: the token server refuses, nothing is served.
      const refused = await startFromConfig(yaml.replace(basic, Buffer.from('ci:wrong').toString('base64')));
      try {
        await waitFor('a failed download', async () => /result="failure"\} [1-9]/.test(await metricsText(refused.httpPort)), 10_000);
        expect((await readyz(refused.httpPort)).status).toBe(503);
      } finally {
        await refused.stop(0);
      }
    } finally {
      await registry.stop();
      await tokens.stop();
    }
  });
});
