// Shared by test/deploy/*.test.ts: the validators scripts/validators.sh
// installs (kubeconform with Kubernetes and Istio schemas, kustomize,
// deploycheck), and deploy/ rendered the way a user renders it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS = join(ROOT, '.tools');
export const BIN = join(TOOLS, 'bin');
/** The Kubernetes version whose schemas the manifests are validated against. */
export const K8S_VERSION = '1.37.0';
/** A cold install builds three Go programs; generous on 2 cores. */
export const INSTALL_TIMEOUT_MS = 900_000;

export type Manifest = Record<string, any>;

/** Runs scripts/validators.sh (idempotent; a no-op once installed). */
export function installValidators(): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'validators.sh')], { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`scripts/validators.sh failed (${r.status}):\n${r.stderr}`);
}

function run(cmd: string, args: readonly string[], input?: string, cwd = ROOT): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

export interface KubeconformResource {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg: string;
}

/**
 * kubeconform, strict (unknown fields and duplicate keys are errors), with
 * the Kubernetes schemas first and the Istio CRD schemas second; a kind with
 * no schema in either is an error, not skipped. `files` may be "-" with input.
 */
export function kubeconform(files: readonly string[], input?: string, skip: readonly string[] = []): { status: number; resources: KubeconformResource[] } {
  const args = [
    '-strict',
    '-verbose',
    '-output',
    'json',
    '-kubernetes-version',
    K8S_VERSION,
    '-schema-location',
    join(TOOLS, 'schemas', 'kubernetes', '{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}', '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
    '-schema-location',
    join(TOOLS, 'schemas', 'istio', '{{ .Group }}', '{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'),
  ];
  if (skip.length) args.push('-skip', skip.join(','));
  const r = run(join(BIN, 'kubeconform'), [...args, ...files], input);
  let out: { resources?: KubeconformResource[] };
  try {
    out = JSON.parse(r.stdout) as { resources?: KubeconformResource[] };
  } catch {
    throw new Error(`kubeconform printed no JSON (${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status ?? -1, resources: out.resources ?? [] };
}

/** deploycheck psa|meshconfig on YAML text; findings are its stdout lines. */
export function deploycheck(mode: 'psa' | 'meshconfig', yamlText: string): { status: number; findings: string[]; stderr: string } {
  const r = run(join(BIN, 'deploycheck'), [mode, '-'], yamlText);
  return {
    status: r.status ?? -1,
    findings: r.stdout.split('\n').filter((l) => l.trim() !== ''),
    stderr: r.stderr,
  };
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(d.errors[0]!.message);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

export function toYaml(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m)).join('---\n');
}

/** Every file under dir (relative to ROOT), sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(ROOT, full));
    }
  };
  walk(join(ROOT, dir));
  return out.sort();
}

/** Directories (relative to deploy/) holding a kustomization.yaml. */
export function kustomizations(): string[] {
  return [...filesUnder('deploy/kubernetes'), ...filesUnder('deploy/istio')]
    .filter((f) => f.endsWith('/kustomization.yaml'))
    .map((f) => relative('deploy', dirname(f)));
}

export interface Rendered {
  /** A copy of deploy/ with the demo policy bundle built into it. */
  readonly dir: string;
  /** kustomize build output per kustomization (relative to deploy/). */
  readonly builds: ReadonlyMap<string, string>;
  cleanup(): void;
}

/**
 * What a user does: copy deploy/, build the policy bundle with the pinned
 * opa (deploy/kubernetes/policy/kustomization.yaml says how), and run
 * kustomize build on each kustomization.
 */
export function renderDeploy(): Rendered {
  const tmp = mkdtempSync(join(tmpdir(), 'ztauthz-deploy-'));
  const dir = join(tmp, 'deploy');
  cpSync(join(ROOT, 'deploy'), dir, { recursive: true });
  const bundle = join(dir, 'kubernetes', 'policy', 'bundle.tar.gz');
  rmSync(bundle, { force: true });
  const opa = run(join(BIN, 'opa'), [
    'build',
    '-t',
    'wasm',
    '-e',
    'envoy/authz/allow',
    '--ignore',
    '*_test.rego',
    '-o',
    bundle,
    join(ROOT, 'policies', 'demo'),
  ]);
  if (opa.status !== 0) throw new Error(`opa build failed: ${opa.stderr}`);
  const builds = new Map<string, string>();
  for (const k of kustomizations()) builds.set(k, kustomizeBuild(join(dir, k)));
  return { dir, builds, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

export function kustomizeBuild(dir: string): string {
  const r = run(join(BIN, 'kustomize'), ['build', dir]);
  if (r.status !== 0) throw new Error(`kustomize build ${dir} failed: ${r.stderr}`);
  return r.stdout;
}

export function find(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const m = manifests.find((x) => x['kind'] === kind && (name === undefined || x['metadata']?.['name'] === name));
  if (!m) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the manifests`);
  return m;
}

/** The ConfigMap the Deployment's volume `volume` mounts (generated names carry a hash). */
export function configMapOfVolume(manifests: readonly Manifest[], podSpec: Manifest, volume: string): Manifest {
  const v = (podSpec['volumes'] as Manifest[]).find((x) => x['name'] === volume);
  const name = v?.['configMap']?.['name'] as string | undefined;
  if (!name) throw new Error(`volume ${volume} is not a ConfigMap volume`);
  return find(manifests, 'ConfigMap', name);
}

export function container(podSpec: Manifest, name: string): Manifest {
  const c = (podSpec['containers'] as Manifest[]).find((x) => x['name'] === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}
