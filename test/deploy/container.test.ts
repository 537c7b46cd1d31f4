// ztauthz run the way the rendered Deployment runs it, as near a container as
// this machine allows without a container engine: in its own mount and
// network namespaces, every filesystem read-only except /proc, /sys and /dev
// (readOnlyRootFilesystem), as uid/gid 65532 with no new privileges, with an
// empty environment, the container's args, and the ConfigMaps mounted where
// the pod mounts them in the kubelet's layout (..data symlinks). It must come
// up ready on the Deployment's ports, answer the probes and a real Check,
// and exit 0 on SIGTERM; with a broken configuration it must exit 2 with the
// reason on one line.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, INSTALL_TIMEOUT_MS, ROOT, configMapOfVolume, container, parseManifests, renderDeploy, type Manifest, type Rendered } from './support.ts';
import { NODE } from '../support/servers.ts';
import { RUNTIME } from '../support/runtime.ts';

let rendered: Rendered;
let scratch: string;

beforeAll(() => {
  rendered = renderDeploy();
  scratch = mkdtempSync(join(tmpdir(), 'ztauthz-container-'));
  chmodSync(scratch, 0o755);
}, INSTALL_TIMEOUT_MS);

afterAll(() => {
  rendered?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const UID = 65532;

/** A ConfigMap volume as the kubelet writes it: files behind ..data, mode 0444. */
function configMapVolume(dir: string, cm: Manifest): void {
  const ts = '..2026_01_01_00_00_00.000000001';
  mkdirSync(join(dir, ts), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const entries: Array<[string, Buffer]> = [
    ...Object.entries((cm['data'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)] as [string, Buffer]),
    ...Object.entries((cm['binaryData'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')] as [string, Buffer]),
  ];
  for (const [key, bytes] of entries) {
    writeFileSync(join(dir, ts, key), bytes, { mode: 0o444 });
    symlinkSync(posix.join('..data', key), join(dir, key));
  }
  symlinkSync(ts, join(dir, '..data'));
}

interface Pod {
  args: string[];
  mounts: Array<{ path: string; dir: string }>;
}

/** The ztauthz container of an overlay: its args and its volumes, materialised. */
function podOf(k: string, name: string, editConfig?: (text: string) => string): Pod {
  const all = parseManifests(rendered.builds.get(k)!);
  const dep = all.find((m) => m['kind'] === 'Deployment' && (m['spec']['template']['spec']['containers'] as Manifest[]).some((c) => c['name'] === 'ztauthz'))!;
  const spec = dep['spec']['template']['spec'];
  const c = container(spec, 'ztauthz');
  const runAs = c['securityContext']['runAsUser'] ?? spec['securityContext']['runAsUser'];
  expect(runAs).toBe(UID);
  const mounts = (c['volumeMounts'] as Manifest[]).map((m) => {
    const cm = structuredClone(configMapOfVolume(all, spec, m['name']));
    if (editConfig && cm['data']?.['config.yaml']) cm['data']['config.yaml'] = editConfig(cm['data']['config.yaml']);
    const dir = join(scratch, name, m['name']);
    configMapVolume(dir, cm);
    return { path: m['mountPath'] as string, dir };
  });
  return { args: c['args'] as string[], mounts };
}

const HARNESS = join(ROOT, 'test', 'deploy', 'container-harness.sh');

interface Run {
  code: number | null;
  results: Map<string, string>;
  stdout: string;
  stderr: string;
}

function runPod(pod: Pod, name: string): Promise<Run> {
  const extra = join(scratch, name, 'etc-extra');
  for (const m of pod.mounts) mkdirSync(join(extra, posix.relative('/etc', m.path)), { recursive: true, mode: 0o755 });
  const app = join(scratch, name, 'app');
  for (const d of [app, `${app}.top`]) mkdirSync(d, { recursive: true });
  for (const d of [extra, join(extra, 'ztauthz'), join(scratch, name), app, `${app}.top`]) chmodSync(d, 0o755);
  for (const m of pod.mounts) expect(m.path.startsWith('/etc/ztauthz/'), m.path).toBe(true);
  const env = {
    PATH: `/usr/sbin:/usr/bin:/sbin:/bin`,
    EXTRA: extra,
    MOUNTS: pod.mounts.map((m) => `${m.path}=${m.dir}`).join(' '),
    ROOT,
    APP: app,
    NODE: process.execPath,
    SERVER: NODE,
    GRPCURL: join(BIN, 'grpcurl'),
    RUN_UID: String(UID),
  };
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--net', '--propagation', 'private', 'bash', HARNESS, ...pod.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const results = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const m = /^@@(\w+) ?(.*)$/.exec(line);
        if (m) results.set(m[1]!, m[2]!);
      }
      resolve({ code, results, stdout, stderr });
    });
  });
}

describe.each([
  ['kubernetes/overlays/central', 'central'],
  ['kubernetes/overlays/sidecar', 'sidecar'],
])('%s: the container', (k, name) => {
  it('comes up on a read-only root as uid 65532, answers probes and Checks, drains on SIGTERM and exits 0', async () => {
    const r = await runPod(podOf(k, name), name);
    const why = `${r.stderr}\n${r.stdout.slice(-2000)}`;
    expect(r.code, why).toBe(0);
    // On the chosen runtime (package.json config.runtime or ZTAUTHZ_RUNTIME), as the image would be.
    expect(r.results.get('exe'), why).toMatch(RUNTIME === 'bun' ? /\/bun(\.exe)?$/ : /\/node$/);
    expect(r.results.get('healthz'), why).toMatch(/^200 /);
    expect(r.results.get('readyz'), why).toMatch(/^200 /);
    expect(r.results.get('metrics'), why).toBe('200 true');
    expect(r.results.get('health'), why).toBe('{"status":"SERVING"}');
    expect(r.results.get('check'), why).toContain('"okResponse"');
    expect(r.results.get('denied'), why).toContain('"deniedResponse"');
    expect(r.results.get('exit'), why).toBe('0');
  });
});

describe('a configuration error at start', () => {
  it.each([
    ['an unknown key', (t: string) => t.replace('  watch: false', '  wach: false'), /^ztauthz: .*unknown key policy\.wach; did you mean policy\.watch\?$/],
    [
      'a policy path that is not mounted',
      (t: string) => t.replace('/etc/ztauthz/policy/bundle.tar.gz', '/etc/ztauthz/policy/missing.tar.gz'),
      /^ztauthz: .*missing\.tar\.gz.*$/,
    ],
  ])('%s: the container exits 2 with the reason on one line', async (_what, edit, reason) => {
    const name = `broken-${Math.random().toString(36).slice(2)}`;
    const pod = podOf('kubernetes/base', name, edit);
    const r = await runPod(pod, name);
    expect(r.code, r.stderr).toBe(0);
    expect(r.results.get('exit'), r.stderr).toBe('2');
    expect(r.results.has('readyz')).toBe(false);
    // The reason is the first line, whole; nothing before it. (A configuration
    // error is followed by the command's usage text, as on a terminal.)
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines[0], r.stderr).toMatch(reason);
    expect(
      lines.filter((l) => l.startsWith('ztauthz: ')),
      r.stderr,
    ).toHaveLength(1);
  });
});
