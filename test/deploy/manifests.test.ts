// Every file under deploy/kubernetes and deploy/istio is validated offline by
// a real validator: kubeconform against the Kubernetes 1.37 schemas and
// Istio's CRD schemas, kustomize for each kustomization (its output validated
// again), Istio's own MeshConfig code for the mesh settings, ztauthz's config
// loader for ztauthz configuration. A file that fits none of these fails.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INSTALL_TIMEOUT_MS,
  ROOT,
  deploycheck,
  filesUnder,
  installValidators,
  kubeconform,
  kustomizations,
  parseManifests,
  renderDeploy,
  toYaml,
  type Manifest,
  type Rendered,
} from './support.ts';
import { loadConfig } from '../../src/config/load.ts';

const FILES = [...filesUnder('deploy/kubernetes'), ...filesUnder('deploy/istio')];

/** How each file is validated. */
function classify(file: string): 'resources' | 'kustomization' | 'patch' | 'ztauthz-config' | 'istio-operator' | 'doc' | 'ignore' {
  if (file.endsWith('.md')) return 'doc';
  if (file.endsWith('/.gitignore')) return 'ignore';
  if (file.endsWith('/kustomization.yaml')) return 'kustomization';
  if (file.endsWith('/config.yaml')) return 'ztauthz-config';
  if (file === 'deploy/istio/mesh-config.yaml') return 'istio-operator';
  if (file === 'deploy/kubernetes/overlays/sidecar/ztauthz-sidecar.yaml') return 'patch';
  return 'resources';
}

let rendered: Rendered;

beforeAll(() => {
  installValidators();
  rendered = renderDeploy();
}, INSTALL_TIMEOUT_MS);

afterAll(() => rendered?.cleanup());

describe('every file under deploy/kubernetes and deploy/istio', () => {
  it('is of a kind this test validates', () => {
    for (const f of FILES) expect(['resources', 'kustomization', 'patch', 'ztauthz-config', 'istio-operator', 'doc', 'ignore'], f).toContain(classify(f));
    // Files that are neither resources nor docs are few and known.
    expect(FILES.filter((f) => classify(f) === 'patch')).toEqual(['deploy/kubernetes/overlays/sidecar/ztauthz-sidecar.yaml']);
    expect(FILES.filter((f) => classify(f) === 'resources').length).toBeGreaterThanOrEqual(12);
  });

  it('resource files: valid against the Kubernetes and Istio schemas, strictly', () => {
    const files = FILES.filter((f) => classify(f) === 'resources');
    const { status, resources } = kubeconform(files);
    const bad = resources.filter((r) => r.status !== 'statusValid');
    expect(bad, JSON.stringify(bad, null, 2)).toEqual([]);
    expect(status).toBe(0);
    // Each file contributed at least one validated resource.
    for (const f of files)
      expect(
        resources.some((r) => r.filename === f),
        f,
      ).toBe(true);
  });

  it('kustomizations: each builds, and what it renders is valid', () => {
    expect([...rendered.builds.keys()].sort()).toEqual(kustomizations().sort());
    expect(kustomizations()).toEqual(expect.arrayContaining(['kubernetes/base', 'kubernetes/overlays/central', 'kubernetes/overlays/sidecar', 'istio']));
    for (const [k, text] of rendered.builds) {
      const { status, resources } = kubeconform(['-'], text);
      const bad = resources.filter((r) => r.status !== 'statusValid');
      expect(bad, `${k}: ${JSON.stringify(bad, null, 2)}`).toEqual([]);
      expect(status, k).toBe(0);
      expect(resources.length, k).toBeGreaterThan(0);
    }
  });

  it('the sidecar patch: its overlay renders it into a valid, complete Deployment', () => {
    const out = parseManifests(rendered.builds.get('kubernetes/overlays/sidecar')!);
    const dep = out.find((m) => m['kind'] === 'Deployment' && m['metadata']['name'] === 'model-server')!;
    const names = (dep['spec']['template']['spec']['containers'] as Manifest[]).map((c) => c['name']);
    expect(names.sort()).toEqual(['model-server', 'ztauthz']);
    expect(out.some((m) => m['metadata']['name'] === 'any')).toBe(false);
  });

  it("ztauthz configuration files: accepted by ztauthz's own config loader", () => {
    const configs = FILES.filter((f) => classify(f) === 'ztauthz-config');
    expect(configs.length).toBe(3);
    for (const f of configs) expect(() => loadConfig({ file: join(ROOT, f) }), f).not.toThrow();
  });

  it("the IstioOperator: accepted by Istio's MeshConfig code, extension providers included", () => {
    const r = deploycheck('meshconfig', readFileSync(join(ROOT, 'deploy/istio/mesh-config.yaml'), 'utf8'));
    expect(r.findings).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('1 mesh configs, 0 findings');
  });
});

describe('the validators refuse what is wrong', () => {
  const deployment = (): Manifest => parseManifests(readFileSync(join(ROOT, 'deploy/kubernetes/base/deployment.yaml'), 'utf8'))[0]!;
  const istio = (file: string): Manifest[] => parseManifests(readFileSync(join(ROOT, 'deploy/istio', file), 'utf8'));

  const refused = (manifests: Manifest[], expected: RegExp): void => {
    const { status, resources } = kubeconform(['-'], toYaml(manifests));
    expect(status).toBe(1);
    const msgs = resources
      .filter((r) => r.status !== 'statusValid')
      .map((r) => r.msg)
      .join('\n');
    expect(msgs).toMatch(expected);
  };

  it('a port given as text, an unknown field, a misspelt field', () => {
    const d = deployment();
    d['spec']['template']['spec']['containers'][0]['ports'][0]['containerPort'] = '9191';
    refused([d], /containerPort.*got string, want integer/);
    const e = deployment();
    e['spec']['template']['spec']['containers'][0]['securityContext']['readOnlyRootFs'] = true;
    refused([e], /additional properties 'readOnlyRootFs' not allowed/);
  });

  it('a kind with no schema is an error, not skipped', () => {
    refused([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }], /could not find schema for Widget/);
  });

  it('Istio resources: an unknown action, a misspelt field, a misspelt top-level key', () => {
    const [custom] = istio('model-serving.yaml');
    refused([{ ...custom, spec: { ...custom!['spec'], action: 'EXTERNAL' } }], /action/);
    refused([{ ...custom, spec: { ...custom!['spec'], providers: { name: 'ztauthz' } } }], /additional properties 'providers' not allowed/);
    const [peer] = istio('peer-authentication.yaml');
    const { spec, ...rest } = peer!;
    refused([{ ...rest, sepc: spec }], /additional properties 'sepc' not allowed/);
    refused([{ ...peer, spec: { mtls: { mode: 'STRICTLY' } } }], /mode/);
  });

  it('the mesh settings: an unknown field, an invalid provider port or status', () => {
    const text = readFileSync(join(ROOT, 'deploy/istio/mesh-config.yaml'), 'utf8');
    const cases: Array<[string, string, RegExp]> = [
      ['failOpen: false', 'failopen: false', /unknown field "failopen"/],
      ['port: 9191', 'port: 91910', /extension provider ztauthz.*port number 91910/],
      ['statusOnError: "403"', 'statusOnError: "forbidden"', /extension provider ztauthz.*status/i],
      ['normalization: MERGE_SLASHES', 'normalization: MERGE', /MERGE/],
    ];
    for (const [from, to, expected] of cases) {
      expect(text).toContain(from);
      const r = deploycheck('meshconfig', text.replace(from, to));
      expect(r.status, to).toBe(1);
      expect(r.findings.join('\n'), to).toMatch(expected);
    }
  });

  it('ztauthz configuration: an unknown key or a bad value stops the loader', () => {
    const text = readFileSync(join(ROOT, 'deploy/kubernetes/base/config.yaml'), 'utf8');
    const dir = rendered.dir;
    const cases: Array<[string, string, RegExp]> = [
      ['  watch: false', '  wach: false', /unknown key policy\.wach/],
      ['  addr: ":9191"', '  addr: "9191"', /grpc\.addr: must be host:port/],
    ];
    for (const [from, to, expected] of cases) {
      expect(text).toContain(from);
      const file = join(dir, 'bad-config.yaml');
      writeFileSync(file, text.replace(from, to));
      expect(() => loadConfig({ file })).toThrow(expected);
    }
  });
});
