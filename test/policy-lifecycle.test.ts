// The policy lifecycle in a running server: hot reload under continuous load
// with zero failed or wrongly decided requests, rejection of broken, unsigned
// and tampered bundles while the old one serves, and the shadow policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startInProcess } from './support/servers.ts';
import { CheckClient, checkRequest, type CheckResult } from './support/checkClient.ts';
import { opaBinary } from '../src/policy/OpaCompiler.ts';
import { loadPolicy } from '../src/policy/PolicyLoader.ts';
import { readSigningKey } from '../src/policy/BundleSignature.ts';
import { decisionFromResultSet } from '../src/envoy/PolicyResult.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-lifecycle-'));

/** A policy that allows GET for the listed paths and names its version in dynamic metadata. */
function policyDir(name: string, version: string, allowedPaths: string[]): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'policy.rego'),
    `package envoy.authz
import rego.v1
default allowed := false
allowed if input.attributes.request.http.path in data.allowed_paths
allow := {"allowed": allowed, "dynamic_metadata": {"policy_version": "${version}"}}
`,
  );
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ allowed_paths: allowedPaths }));
  writeFileSync(join(dir, '.manifest'), JSON.stringify({ revision: version }));
  return dir;
}

function build(dir: string, out: string, signArgs: string[] = []): Buffer {
  execFileSync(opaBinary(), ['build', '-b', '-t', 'wasm', '-e', 'envoy/authz/allow', '--ignore', '*_test.rego', ...signArgs, '-o', out, dir]);
  return readFileSync(out);
}

const V1 = policyDir('v1', 'v1', ['/a', '/b']);
const V2 = policyDir('v2', 'v2', ['/b', '/c']);
const PATHS = ['/a', '/b', '/c', '/d'];
const expected: Record<string, Record<string, boolean>> = {
  v1: { '/a': true, '/b': true, '/c': false, '/d': false },
  v2: { '/a': false, '/b': true, '/c': true, '/d': false },
};

const versionOf = (r: CheckResult) => r.dynamicMetadata?.fields['policy_version']?.stringValue;
const allowedOf = (r: CheckResult) => (r.status?.code ?? 0) === 0;

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function metric(port: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Writes a file the way deploy tools do not: in place, in two halves, with a pause between. */
async function writeInTwoHalves(path: string, bytes: Buffer, pauseMs: number): Promise<void> {
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await new Promise((r) => setTimeout(r, pauseMs));
  writeFileSync(path, bytes);
}

describe('hot reload of a watched bundle', () => {
  const bundle = join(tmp, 'active.tar.gz');
  const v1 = build(V1, join(tmp, 'v1.tar.gz'));
  const v2 = build(V2, join(tmp, 'v2.tar.gz'));
  let server: Awaited<ReturnType<typeof startInProcess>>;
  let client: CheckClient;

  beforeAll(async () => {
    writeFileSync(bundle, v1);
    server = await startInProcess({ policy: bundle, 'policy-watch-debounce-ms': '100' });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('swaps v1 -> v2 under continuous load with no failed or wrongly decided request', async () => {
    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const loop = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const path = PATHS[(i + worker) % PATHS.length]!;
        try {
          const res = await client.check(checkRequest({ path }));
          sent++;
          const v = versionOf(res);
          if (v === undefined || expected[v]?.[path] !== allowedOf(res)) failures.push(`${path}: version ${v}, allowed ${allowedOf(res)}`);
          else seen.add(v);
        } catch (err) {
          failures.push(`${path}: ${(err as Error).message}`);
        }
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await until('some v1 traffic', () => sent > 50);
    // Atomic replace, as kubectl/ConfigMap updates and bundle downloaders do.
    writeFileSync(`${bundle}.tmp`, v2);
    renameSync(`${bundle}.tmp`, bundle);
    await until('v2 to serve', async () => versionOf(await client.check(checkRequest({ path: '/c' }))) === 'v2');
    const afterSwap = sent;
    await until('traffic after the swap', () => sent > afterSwap + 50);
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual(['v1', 'v2']);
    expect(sent).toBeGreaterThan(100);
    const ready = (await (await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).json()) as { policy_revision: string };
    expect(ready.policy_revision).toBe('v2');
  });

  it('keeps v2 serving through a half-written bundle, then takes the completed v1', async () => {
    const before = await metric(server.httpPort, /ztauthz_policy_loads_total\{policy="active",result="failure"\} (\d+)/);
    await writeInTwoHalves(bundle, v1, 600);
    await until('v1 to serve', async () => versionOf(await client.check(checkRequest({ path: '/a' }))) === 'v1');
    expect(await metric(server.httpPort, /ztauthz_policy_loads_total\{policy="active",result="failure"\} (\d+)/)).toBeGreaterThan(before);
  });

  it('rejects a bundle lacking the entrypoint, and garbage, keeping the old policy', async () => {
    const before = await metric(server.httpPort, /ztauthz_policy_loads_total\{policy="active",result="failure"\} (\d+)/);
    const other = policyDir('other-entry', 'x', []);
    writeFileSync(join(other, 'policy.rego'), 'package other\nimport rego.v1\nallow := true\n');
    execFileSync(opaBinary(), ['build', '-b', '-t', 'wasm', '-e', 'other/allow', '-o', join(tmp, 'other.tar.gz'), other]);
    writeFileSync(bundle, readFileSync(join(tmp, 'other.tar.gz')));
    await until('a rejection', async () => (await metric(server.httpPort, /ztauthz_policy_loads_total\{policy="active",result="failure"\} (\d+)/)) > before);
    writeFileSync(bundle, Buffer.from('garbage'));
    await until(
      'a second rejection',
      async () => (await metric(server.httpPort, /ztauthz_policy_loads_total\{policy="active",result="failure"\} (\d+)/)) > before + 1,
    );
    expect(versionOf(await client.check(checkRequest({ path: '/a' })))).toBe('v1');
  });
});

describe('a bundle mounted from a Kubernetes ConfigMap', () => {
  it("reloads when the kubelet swaps the ..data link, and ignores the kubelet's hidden entries", async () => {
    // The kubelet's layout: <vol>/..<ts>/file, <vol>/..data -> ..<ts>, <vol>/file -> ..data/file.
    const { mkdirSync, symlinkSync } = await import('node:fs');
    const vol = join(tmp, 'configmap');
    mkdirSync(join(vol, '..2026_01'), { recursive: true });
    writeFileSync(join(vol, '..2026_01', 'bundle.tar.gz'), readFileSync(join(tmp, 'v1.tar.gz')));
    symlinkSync('..2026_01', join(vol, '..data'));
    symlinkSync('..data/bundle.tar.gz', join(vol, 'bundle.tar.gz'));
    const server = await startInProcess({ policy: join(vol, 'bundle.tar.gz'), 'policy-watch-debounce-ms': '50' });
    const client = new CheckClient(server.grpcPort);
    try {
      expect(versionOf(await client.check(checkRequest({ path: '/a' })))).toBe('v1');
      mkdirSync(join(vol, '..2026_02'));
      writeFileSync(join(vol, '..2026_02', 'bundle.tar.gz'), readFileSync(join(tmp, 'v2.tar.gz')));
      symlinkSync('..2026_02', join(vol, '..data_tmp'));
      renameSync(join(vol, '..data_tmp'), join(vol, '..data'));
      await until('v2 from the swapped ConfigMap', async () => versionOf(await client.check(checkRequest({ path: '/c' }))) === 'v2');
    } finally {
      client.close();
      await server.stop(1000);
    }
    // A bundle directory on such a volume reads only the visible files.
    const dirVol = join(tmp, 'configmap-dir');
    mkdirSync(join(dirVol, '..2026_01'), { recursive: true });
    const files = await (await import('../src/policy/Bundle.ts')).readBundleArchive(readFileSync(join(tmp, 'v1.tar.gz')));
    writeFileSync(join(dirVol, 'policy.wasm'), files.wasm);
    writeFileSync(join(dirVol, 'data.json'), JSON.stringify(files.data));
    writeFileSync(join(dirVol, '..2026_01', 'data.json'), '{"stale": true}');
    const { readBundleDirectory } = await import('../src/policy/Bundle.ts');
    expect(readBundleDirectory(dirVol).data).toEqual(files.data);
  });
});

describe('signed bundles (OPA signature format, signed by the real opa)', () => {
  const priv = join(tmp, 'priv.pem');
  const pub = join(tmp, 'pub.pem');
  const otherPriv = join(tmp, 'other.pem');
  beforeAll(() => {
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', priv], { stdio: 'ignore' });
    execFileSync('openssl', ['pkey', '-in', priv, '-pubout', '-out', pub]);
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherPriv], { stdio: 'ignore' });
  });
  const opts = () => ({
    entrypoints: ['envoy/authz/allow'],
    maxMemoryPages: 256,
    signingKey: readSigningKey(pub, 'default', 'RS256'),
    requireSignature: true,
    validateResult: decisionFromResultSet,
  });

  it('loads a bundle signed with the configured key', async () => {
    const out = join(tmp, 'signed.tar.gz');
    build(V1, out, ['--signing-key', priv, '--signing-alg', 'RS256']);
    expect((await loadPolicy(out, opts())).revision).toBe('v1');
  });

  it('refuses a bundle signed with another key', async () => {
    const out = join(tmp, 'wrong-key.tar.gz');
    build(V1, out, ['--signing-key', otherPriv, '--signing-alg', 'RS256']);
    await expect(loadPolicy(out, opts())).rejects.toThrow(/signature does not verify/);
  });

  it('refuses an unsigned bundle and a Rego directory when signatures are required', async () => {
    await expect(loadPolicy(join(tmp, 'v1.tar.gz'), opts())).rejects.toThrow(/not signed/);
    await expect(loadPolicy(V1, opts())).rejects.toThrow(/not signed/);
  });

  it('refuses a tampered bundle (data.json changed after signing)', async () => {
    const out = join(tmp, 'tampered.tar.gz');
    const signed = gunzipSync(build(V1, out, ['--signing-key', priv, '--signing-alg', 'RS256']));
    // Rewrite data.json's content inside the tar (same length, so headers stay valid apart from the checksum-free body).
    const text = signed.toString('latin1');
    const orig = JSON.stringify({ allowed_paths: ['/a', '/b'] });
    const idx = text.indexOf(orig);
    expect(idx).toBeGreaterThan(0);
    const forged = Buffer.from(signed);
    forged.write(JSON.stringify({ allowed_paths: ['/a', '/z'] }), idx, 'latin1');
    writeFileSync(out, gzipSync(forged));
    await expect(loadPolicy(out, opts())).rejects.toThrow(/does not match its signed hash/);
  });
});

describe('shadow policy', () => {
  it('counts disagreements with the active policy on a known set of requests, never enforcing the candidate', async () => {
    const server = await startInProcess({ policy: V1, 'shadow-path': V2, 'policy-watch': 'false' });
    const client = new CheckClient(server.grpcPort);
    try {
      // v1 vs v2 disagree on /a and /c, agree on /b and /d.
      for (let round = 0; round < 5; round++) {
        for (const path of PATHS) {
          const res = await client.check(checkRequest({ path }));
          expect(versionOf(res)).toBe('v1');
          expect(allowedOf(res)).toBe(expected['v1']![path]);
        }
      }
      await until(
        'shadow evaluations',
        async () => (await metric(server.httpPort, /ztauthz_shadow_evaluations_total\{route="none",result="agree"\} (\d+)/)) === 10,
      );
      expect(await metric(server.httpPort, /ztauthz_shadow_evaluations_total\{route="none",result="disagree"\} (\d+)/)).toBe(10);
    } finally {
      client.close();
      await server.stop(1000);
    }
  });
});
