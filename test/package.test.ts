// The package as a user gets it: `npm pack` (prepack builds dist/), the
// tarball installed into an empty directory (dependencies from npm's cache or
// the registry), then `npx ztauthz check` and `ztauthz serve` on the demo
// policy. Every child runs with a PATH of node, npm, npx and sh only: no Go,
// Python or opa to be found, so nothing can quietly compile the demo or the
// tools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { runtimeBin } from './support/runtime.ts';
import { ROOT, spawnServing, type ServeProcess } from './support/servers.ts';

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';

let tmp: string;
let app: string;
let env: NodeJS.ProcessEnv;
let packed: string[];
let installOutput: string;

/** The environment minus npm's own variables (those of an enclosing `npm test` would steer the install), with PATH replaced. */
function childEnv(path: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) e[k] = v;
  return { ...e, PATH: path };
}

function run(command: string, args: string[], cwd: string, timeout = 60_000) {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 16 * 1024 * 1024 });
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-package-'));
  // npm is found where the test runner's PATH has it; node is the pinned Node 24.
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  symlinkSync(runtimeBin('node'), join(bin, 'node'));
  symlinkSync(npmCli, join(bin, 'npm'));
  symlinkSync(join(dirname(npmCli), 'npx-cli.js'), join(bin, 'npx'));
  symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs package scripts with sh
  env = childEnv(bin);

  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', tmp], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: childEnv(`${join(ROOT, 'node_modules', '.bin')}:${process.env['PATH']}`),
  });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path);

  app = join(tmp, 'app');
  mkdirSync(app);
  // allowScripts: npm 11 runs a dependency's install scripts only when allowed; allowed here, ztauthz's postinstall must skip itself.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, allowScripts: { ztauthz: true, protobufjs: true } }));
  for (const f of ['frontend-infer.json', 'trainer-infer.json']) copyFileSync(join(ROOT, 'test', 'fixtures', 'requests', f), join(app, f));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', join(tmp, info.filename)], app, 300_000);
  installOutput = `${install.stdout}${install.stderr}`;
  if (install.status !== 0) throw new Error(`npm install of the tarball failed: ${installOutput}`);
}, 600_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds the built JavaScript, protos, the demo policy and its prebuilt bundle, docs; no sources, tests or tools', () => {
    for (const f of [
      'dist/cli.js',
      'dist/policy/httpsend/evalWorker.js',
      'policies/demo.tar.gz',
      'policies/demo/authz.rego',
      'proto/envoy/service/auth/v3/external_auth.proto',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      expect(packed).toContain(f);
    }
    expect(packed.filter((p) => /^(src|test|bench|scripts|deploy|demo|\.tools|\.ci)\//.test(p) || p.endsWith('.ts'))).toEqual([]);
  });

  it('installs with no Go or Python on PATH: its postinstall runs and installs nothing', () => {
    expect(run('sh', ['-c', 'command -v go || command -v python3 || command -v opa || command -v bash || echo none'], app).stdout.trim()).toBe('none');
    // npm's banner for the script it ran (--foreground-scripts): ran, with no bash to be found, and succeeded.
    expect(installOutput).toMatch(/^> \[ ! -f scripts\/toolchain\.sh \] \|\| bash scripts\/toolchain\.sh/m);
    expect(existsSync(join(app, 'node_modules', 'ztauthz', '.tools'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'ztauthz', 'dist', 'cli.js'))).toBe(true);
  });

  it('npx ztauthz check decides on the demo policy: the frontend allowed (exit 0), the training job denied (exit 1)', () => {
    const allowed = run('npx', ['--no-install', 'ztauthz', 'check', '--request', 'frontend-infer.json'], app);
    expect(allowed.stderr).toBe('');
    expect(allowed.status).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ allowed: true, reason: 'allowed' });
    const denied = run('npx', ['--no-install', 'ztauthz', 'check', '--request', 'trainer-infer.json'], app);
    expect(denied.status).toBe(1);
    expect(JSON.parse(denied.stdout)).toMatchObject({ allowed: false, reason: 'policy_denied' });
  }, 120_000);

  it('ztauthz serve answers Checks on the demo policy and stops on SIGTERM', async () => {
    let server: ServeProcess | undefined;
    let client: CheckClient | undefined;
    try {
      server = await spawnServing(join(app, 'node_modules', '.bin', 'ztauthz'), ['serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0'], {
        cwd: app,
        env,
      });
      client = new CheckClient(server.grpcPort);
      const ok = await client.check(checkRequest({ method: 'POST', path: '/v2/models/m/infer', principal: FRONTEND }));
      expect(ok.status?.code ?? 0).toBe(0);
      expect(ok.okResponse?.headers).toContainEqual({ header: { key: 'x-ztauthz-action', value: 'infer' } });
      const no = await client.check(checkRequest({ method: 'POST', path: '/v2/models/m/infer', principal: TRAINER }));
      expect(no.status).toMatchObject({ code: 7, message: 'policy_denied' });
    } finally {
      client?.close();
      if (server) expect(await server.stop()).toBe(0);
    }
  }, 120_000);
});
