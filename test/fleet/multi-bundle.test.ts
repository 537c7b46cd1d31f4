// Several bundles per server, as OPA allows: a policy bundle from nginx and a
// data bundle (grants) from a second bundle server, each with its own polling,
// ETag and state. Decisions use both; updating the data bundle alone changes
// them with no failed Check; readiness waits for every bundle; overlapping
// roots and a corrupt bundle are refused while the previous combination keeps
// serving; a prebuilt wasm bundle takes a data-only bundle's data.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { decisionFromResultSet } from '../../src/envoy/PolicyResult.ts';
import { opaBinary } from '../../src/policy/OpaCompiler.ts';
import { combineBundles } from '../../src/policy/remote/BundleCombine.ts';
import { readBundlePart } from '../../src/policy/remote/BundleParts.ts';
import type { RunningServer } from '../../src/server/Server.ts';
import { CheckClient, checkRequest } from '../support/checkClient.ts';
import { LongPollServer, metricsText, readyz, rsaKeyFiles, startFromConfig, tempDir, waitFor } from '../support/bundleServers.ts';
import { startNginx } from '../support/fleetServers.ts';

const OK = 0;
const DENIED = 7;

const POLICY = `package envoy.authz

default allow := false

allow if input.attributes.request.http.path == "/common"

allow if data.grants.paths[input.attributes.request.http.path]
`;

/** A bundle built by opa from `files` (path -> text) and a manifest; `-t wasm` for a prebuilt wasm bundle; `args` e.g. signing. */
function build(files: Record<string, string>, manifest: object | undefined, wasm = false, args: string[] = []): Buffer {
  const dir = tempDir('ztauthz-multi-src-');
  const src = join(dir, 'src');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  mkdirSync(src, { recursive: true });
  if (manifest) writeFileSync(join(src, '.manifest'), JSON.stringify(manifest));
  const out = join(dir, 'bundle.tar.gz');
  execFileSync(opaBinary(), ['build', ...(wasm ? ['-t', 'wasm', '-e', 'envoy/authz/allow'] : []), '-b', src, '-o', out, ...args], { stdio: 'pipe' });
  return readFileSync(out);
}

/** A bundle archive written as is (tar-stream), for what opa build itself would refuse. */
async function rawBundle(files: Record<string, string>): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => tar.on('end', () => resolve()));
  for (const [path, text] of Object.entries(files)) tar.entry({ name: path }, text);
  tar.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** roots null: a manifest without roots (OPA: the whole data tree). */
const policyBundle = (revision: string, roots: string[] | null = ['envoy']) => build({ 'policy.rego': POLICY }, roots ? { revision, roots } : { revision });
const grantsBundle = (revision: string, paths: string[], roots: string[] | null = ['grants']) =>
  build({ 'grants/data.json': JSON.stringify({ paths: Object.fromEntries(paths.map((p) => [p, true])) }) }, roots ? { revision, roots } : { revision });

async function decide(client: CheckClient, path: string): Promise<number> {
  return (await client.check(checkRequest({ path }))).status?.code ?? OK;
}

const revisionOf = async (s: RunningServer) => (await readyz(s.httpPort)).body.policy_revision;
const stateOf = (s: RunningServer, name: string) => s.bundleStates().find((b) => b.name === name)!;
const failures = (metrics: string, bundle: string) =>
  Number(new RegExp(`ztauthz_bundle_downloads_total\\{bundle="${bundle}",result="failure"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);

/** nginx serving the policy bundle (authz.tar.gz), published by renaming over it. */
async function policyServer(first: Buffer) {
  const root = tempDir();
  const publish = (bytes: Buffer) => {
    writeFileSync(join(root, 'authz.tar.gz.tmp'), bytes);
    renameSync(join(root, 'authz.tar.gz.tmp'), join(root, 'authz.tar.gz'));
  };
  publish(first);
  return { nginx: await startNginx(root), publish };
}

function twoBundles(nginxPort: number, grantsPort: number, extra = ''): string {
  const polling = '    polling:\n      min_delay_seconds: 1\n      max_delay_seconds: 2\n';
  return (
    `services:\n  web:\n    url: http://127.0.0.1:${nginxPort}\n  grants-server:\n    url: http://127.0.0.1:${grantsPort}/v1\n` +
    `bundles:\n  authz:\n    service: web\n    resource: authz.tar.gz\n${polling}  grants:\n    service: grants-server\n    resource: bundles/grants.tar.gz\n${polling}${extra}`
  );
}

describe('a policy bundle and a data bundle from two services', () => {
  it('waits for both, decides with both, and takes a data-only update with every Check decided', async () => {
    const { nginx } = await policyServer(policyBundle('p1'));
    const grants = await new LongPollServer(false).start();
    const server = await startFromConfig(twoBundles(nginx.port, grants.port));
    const client = new CheckClient(server.grpcPort);
    let changes = 0;
    server.onBundleChange(() => changes++);
    try {
      // The policy bundle alone: loaded, but nothing serves until the grants arrive too.
      await waitFor('authz waiting', () => stateOf(server, 'authz').phase === 'waiting', 10_000);
      expect(await readyz(server.httpPort)).toEqual({ status: 503, body: { status: 'not ready', reason: 'waiting for bundles: grants' } });
      expect(await decide(client, '/common')).not.toBe(OK);
      expect(stateOf(server, 'grants')).toMatchObject({ phase: 'not_loaded', active_revision: undefined });
      expect(stateOf(server, 'grants').last_error?.stage).toBe('download');

      grants.serve(grantsBundle('g1', ['/one']));
      await waitFor('both active', async () => (await revisionOf(server)) === 'authz:p1,grants:g1', 10_000);
      expect(await decide(client, '/common')).toBe(OK);
      expect(await decide(client, '/one')).toBe(OK);
      expect(await decide(client, '/two')).toBe(DENIED);
      expect(stateOf(server, 'authz')).toMatchObject({ phase: 'active', active_revision: 'p1', last_error: undefined });
      expect(stateOf(server, 'grants')).toMatchObject({ phase: 'active', active_revision: 'g1', last_error: undefined });
      // The first activation activated both.
      expect(stateOf(server, 'authz').last_successful_activation).toEqual(expect.any(String));
      expect(stateOf(server, 'grants').last_successful_activation).toEqual(expect.any(String));
      const authzActivated = stateOf(server, 'authz').last_successful_activation;
      expect(changes).toBeGreaterThan(0);

      // Sequential Checks on paths both grant revisions decide alike, across the data-only update.
      let stop = false;
      const wrong: string[] = [];
      let checks = 0;
      const load = (async () => {
        for (let i = 0; i < 20_000 && !stop; i++) {
          const [path, want] = i % 3 === 0 ? ['/common', OK] : i % 3 === 1 ? ['/one', OK] : ['/never', DENIED];
          try {
            const code = await decide(client, path);
            if (code !== want) wrong.push(`${path}: ${code}`);
          } catch (err) {
            wrong.push(`${path}: ${(err as Error).message}`);
          }
          checks++;
        }
      })();
      grants.serve(grantsBundle('g2', ['/one', '/two']));
      await waitFor('g2', async () => (await revisionOf(server)) === 'authz:p1,grants:g2', 10_000);
      stop = true;
      await load;
      expect(wrong).toEqual([]);
      expect(checks).toBeGreaterThan(0);
      expect(await decide(client, '/two')).toBe(OK);
      expect(stateOf(server, 'authz')).toMatchObject({ active_revision: 'p1', last_successful_activation: authzActivated });
      const metrics = await metricsText(server.httpPort);
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="authz",revision="p1"} 1');
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="grants",revision="g2"} 1');
      expect(metrics).not.toContain('revision="g1"');
      // nginx's ETag came back: the unchanged policy bundle is answered 304.
      await waitFor('a 304 for authz', async () => /bundle="authz",result="not_modified"\} [1-9]/.test(await metricsText(server.httpPort)), 10_000);
    } finally {
      client.close();
      await server.stop(0);
      await grants.stop();
      await nginx.stop();
    }
  });

  it('keeps serving the previous combination when one bundle is corrupt or steps outside its roots, and says so', async () => {
    const { nginx, publish } = await policyServer(policyBundle('p1'));
    const grants = await new LongPollServer(false).start();
    grants.serve(grantsBundle('g1', ['/one']));
    const server = await startFromConfig(twoBundles(nginx.port, grants.port));
    const client = new CheckClient(server.grpcPort);
    try {
      await waitFor('both active', async () => (await revisionOf(server)) === 'authz:p1,grants:g1', 10_000);
      const bad: Array<[Buffer, RegExp]> = [
        [Buffer.from('not a gzip archive'), /not a gzip archive/],
        // Grants that also claim the policy's package: the roots overlap.
        [grantsBundle('g-overlap', ['/two'], ['grants', 'envoy/authz']), /bundles authz and grants have overlapping roots: "envoy" and "envoy\/authz"/],
        // Data outside the manifest roots.
        [
          await rawBundle({ '.manifest': '{"revision":"g-outside","roots":["grants"]}', 'other/data.json': '{"x":1}' }),
          /bundle grants: data at \/other is outside its manifest roots \["grants"\]/,
        ],
      ];
      for (const [bytes, message] of bad) {
        const before = failures(await metricsText(server.httpPort), 'grants');
        grants.serve(bytes);
        await waitFor('the bad grants refused', async () => failures(await metricsText(server.httpPort), 'grants') > before, 10_000);
        expect(await revisionOf(server)).toBe('authz:p1,grants:g1');
        expect(await decide(client, '/one')).toBe(OK);
        expect(await decide(client, '/two')).toBe(DENIED);
        const state = stateOf(server, 'grants');
        expect(state).toMatchObject({ phase: 'active', active_revision: 'g1', last_error: { stage: 'load' } });
        expect(state.last_error!.message).toMatch(message);
        expect(stateOf(server, 'authz').last_error).toBeUndefined();
      }
      // A policy update meanwhile still combines with the last good grants (g1).
      publish(build({ 'policy.rego': POLICY.replace('"/common"', '"/common2"') }, { revision: 'p2', roots: ['envoy'] }));
      await waitFor('p2 with g1', async () => (await revisionOf(server)) === 'authz:p2,grants:g1', 10_000);
      expect(await decide(client, '/common2')).toBe(OK);
      expect(await decide(client, '/one')).toBe(OK);
      grants.serve(grantsBundle('g3', ['/two']));
      await waitFor('g3', async () => (await revisionOf(server)) === 'authz:p2,grants:g3', 10_000);
      expect(stateOf(server, 'grants').last_error).toBeUndefined();
      expect(await decide(client, '/two')).toBe(OK);
    } finally {
      client.close();
      await server.stop(0);
      await grants.stop();
      await nginx.stop();
    }
  });

  it('refuses two bundles without manifest roots (both the whole tree), and never serves', async () => {
    const { nginx } = await policyServer(policyBundle('p1', null));
    const grants = await new LongPollServer(false).start();
    grants.serve(grantsBundle('g1', ['/one'], null));
    const server = await startFromConfig(twoBundles(nginx.port, grants.port));
    try {
      await waitFor('a refused combination', () => server.bundleStates().some((b) => b.last_error?.stage === 'load'), 10_000);
      const refused = server.bundleStates().find((b) => b.last_error)!;
      expect(refused.last_error!.message).toContain('have overlapping roots: "" (no roots in its manifest: the whole data tree)');
      expect((await readyz(server.httpPort)).status).toBe(503);
      expect(server.bundleStates().every((b) => b.active_revision === undefined)).toBe(true);
    } finally {
      await server.stop(0);
      await grants.stop();
      await nginx.stop();
    }
  });

  it('keeps both persisted copies and serves them through a restart while both services are down', async () => {
    const { nginx } = await policyServer(policyBundle('p1'));
    const grants = await new LongPollServer(false).start();
    grants.serve(grantsBundle('g1', ['/one']));
    const dir = tempDir();
    const persist = `persistence_directory: ${dir}\n`;
    const yaml = twoBundles(nginx.port, grants.port, persist).replace(/( {4}resource: .*\n)/g, '$1    persist: true\n');
    let server = await startFromConfig(yaml);
    await waitFor('both active', async () => (await revisionOf(server)) === 'authz:p1,grants:g1', 10_000);
    await server.stop(0);
    await grants.stop();
    await nginx.stop();
    server = await startFromConfig(yaml);
    const client = new CheckClient(server.grpcPort);
    try {
      expect(await readyz(server.httpPort)).toEqual({ status: 200, body: expect.objectContaining({ policy_revision: 'authz:p1,grants:g1' }) });
      expect(await decide(client, '/one')).toBe(OK);
    } finally {
      client.close();
      await server.stop(0);
    }
  });
});

describe('each bundle with its own signing key', () => {
  it('verifies each bundle with its key, and refuses grants signed with the policy key or unsigned', async () => {
    const policyKey = rsaKeyFiles();
    const grantsKey = rsaKeyFiles();
    // opa build writes kid "default"; with a claims file it writes none, and the bundle's keyid applies (as in OPA).
    const claims = join(tempDir(), 'claims.json');
    writeFileSync(claims, '{}');
    const signed = (key: { privateKeyFile: string }, kidless: boolean) => ['--signing-key', key.privateKeyFile, ...(kidless ? ['--claims-file', claims] : [])];
    const grantsFiles = (paths: string[]) => ({ 'grants/data.json': JSON.stringify({ paths: Object.fromEntries(paths.map((p) => [p, true])) }) });
    const policy = await new LongPollServer(false).start();
    const grants = await new LongPollServer(false).start();
    policy.serve(build({ 'policy.rego': POLICY }, { revision: 'p1', roots: ['envoy'] }, false, signed(policyKey, false)));
    grants.serve(build(grantsFiles(['/one']), { revision: 'g1', roots: ['grants'] }, false, signed(grantsKey, true)));
    const pem = (k: { publicPem: string }) =>
      k.publicPem
        .trim()
        .split('\n')
        .map((l) => `      ${l}`)
        .join('\n');
    const yaml =
      `services:\n  p:\n    url: http://127.0.0.1:${policy.port}\n  g:\n    url: http://127.0.0.1:${grants.port}\n` +
      `bundles:\n  authz:\n    service: p\n    resource: authz.tar.gz\n    signing:\n      keyid: default\n    polling: {min_delay_seconds: 1, max_delay_seconds: 2}\n` +
      `  grants:\n    service: g\n    resource: grants.tar.gz\n    signing:\n      keyid: grants-key\n    polling: {min_delay_seconds: 1, max_delay_seconds: 2}\n` +
      `keys:\n  default:\n    key: |\n${pem(policyKey)}\n  grants-key:\n    key: |\n${pem(grantsKey)}\n`;
    const server = await startFromConfig(yaml);
    const client = new CheckClient(server.grpcPort);
    try {
      await waitFor('both active', async () => (await revisionOf(server)) === 'authz:p1,grants:g1', 10_000);
      expect(await decide(client, '/one')).toBe(OK);
      const bad: Array<[Buffer, string]> = [
        [build(grantsFiles(['/two']), { revision: 'g-policykey', roots: ['grants'] }, false, signed(policyKey, true)), 'signature'],
        [build(grantsFiles(['/two']), { revision: 'g-unsigned', roots: ['grants'] }), 'bundle grants is not signed and a signature is required'],
      ];
      for (const [bytes, message] of bad) {
        const before = failures(await metricsText(server.httpPort), 'grants');
        grants.serve(bytes);
        await waitFor('the bad grants refused', async () => failures(await metricsText(server.httpPort), 'grants') > before, 10_000);
        expect(stateOf(server, 'grants').last_error!.message).toContain(message);
        expect(await revisionOf(server)).toBe('authz:p1,grants:g1');
        expect(await decide(client, '/two')).toBe(DENIED);
      }
      grants.serve(build(grantsFiles(['/two']), { revision: 'g2', roots: ['grants'] }, false, signed(grantsKey, true)));
      await waitFor('g2', async () => (await revisionOf(server)) === 'authz:p1,grants:g2', 10_000);
      expect(await decide(client, '/two')).toBe(OK);
    } finally {
      client.close();
      await server.stop(0);
      await policy.stop();
      await grants.stop();
    }
  });
});

describe('combining a prebuilt wasm bundle', () => {
  const opts = {
    entrypoints: ['envoy/authz/allow'],
    maxMemoryPages: 1024,
    requireSignature: false,
    validateResult: decisionFromResultSet,
  };
  const input = (path: string) => ({ attributes: { request: { http: { method: 'GET', path, headers: {} } } } });

  it('takes a data-only bundle beside it, and refuses it beside a Rego bundle', async () => {
    const wasm = await readBundlePart('authz', build({ 'policy.rego': POLICY }, { revision: 'w1', roots: ['envoy'] }, true), opts);
    const data = await readBundlePart('grants', grantsBundle('g1', ['/one']), opts);
    expect([wasm.kind, data.kind]).toEqual(['wasm', 'data']);
    const engine = await combineBundles([wasm, data], opts);
    expect(engine.revision).toBe('authz:w1,grants:g1');
    expect(engine.evaluate(input('/one'), 'envoy/authz/allow')).toEqual([{ result: true }]);
    expect(engine.evaluate(input('/two'), 'envoy/authz/allow')).toEqual([{ result: false }]);
    const rego = await readBundlePart('extra', build({ 'extra.rego': 'package extra\n\nx := 1\n' }, { revision: 'e1', roots: ['extra'] }), opts);
    await expect(combineBundles([wasm, rego, data], opts)).rejects.toThrow(/bundle authz holds a prebuilt policy.wasm and extra hold Rego/);
    const outside = await readBundlePart(
      'grants',
      await rawBundle({ '.manifest': '{"revision":"g2","roots":["grants"]}', 'other/data.json': '{"x":1}' }),
      opts,
    );
    await expect(combineBundles([wasm, outside], opts)).rejects.toThrow('bundle grants: data at /other is outside its manifest roots ["grants"]');
  });

  it('has opa check Rego bundles: a package outside the roots, and Rego that does not compile, are refused naming the bundle', async () => {
    const data = await readBundlePart('grants', grantsBundle('g1', ['/one']), opts);
    const outside = await readBundlePart('authz', await rawBundle({ '.manifest': '{"revision":"p1","roots":["other"]}', 'policy.rego': POLICY }), opts);
    await expect(combineBundles([outside, data], opts)).rejects.toThrow(/bundle authz: manifest roots \[other\] do not permit 'package envoy.authz'/);
    const broken = await readBundlePart(
      'authz',
      await rawBundle({ '.manifest': '{"revision":"p2","roots":["envoy"]}', 'policy.rego': 'package envoy.authz\n\nallow if {' }),
      opts,
    );
    await expect(combineBundles([broken, data], opts)).rejects.toThrow(/opa build failed for authz: .*authz\/policy.rego/);
  });
});
