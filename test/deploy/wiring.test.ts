// The Deployment wires what the server needs, and the pieces agree with each
// other: ports and probe paths against ztauthz's own configuration (loaded
// with its loader from the very ConfigMap the pod mounts), the mounts against
// the paths the configuration names, the Istio extension providers against
// the Service and the configuration, NetworkPolicy egress against the
// endpoints the configuration calls, the Dockerfile against the pod's user.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAddr, loadConfig } from '../../src/config/load.ts';
import { readPolicySource } from '../../src/policy/PolicySource.ts';
import type { Config } from '../../src/config/schema.ts';
import { INSTALL_TIMEOUT_MS, ROOT, configMapOfVolume, container, find, parseManifests, renderDeploy, type Manifest, type Rendered } from './support.ts';

let rendered: Rendered;
let scratch: string;

beforeAll(() => {
  rendered = renderDeploy();
  scratch = mkdtempSync(join(tmpdir(), 'ztauthz-wiring-'));
}, INSTALL_TIMEOUT_MS);

afterAll(() => {
  rendered?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Wired {
  all: Manifest[];
  deployment: Manifest;
  pod: Manifest;
  ztauthz: Manifest;
  config: Config;
  configMapText: string;
}

/** The ztauthz container of an overlay, and its configuration as the pod reads it. */
function wired(k: string): Wired {
  const all = parseManifests(rendered.builds.get(k)!);
  const deployment = all.find(
    (m) => m['kind'] === 'Deployment' && (m['spec']['template']['spec']['containers'] as Manifest[]).some((c) => c['name'] === 'ztauthz'),
  )!;
  const pod = deployment['spec']['template']['spec'];
  const ztauthz = container(pod, 'ztauthz');
  const args = ztauthz['args'] as string[];
  expect(args[0]).toBe('serve');
  const configPath = args[args.indexOf('--config') + 1]!;
  const mount = (ztauthz['volumeMounts'] as Manifest[]).find((m) => m['mountPath'] === posix.dirname(configPath))!;
  expect(mount, `a volume mounted at ${posix.dirname(configPath)}`).toBeDefined();
  const cm = configMapOfVolume(all, pod, mount['name']);
  const configMapText = cm['data'][posix.basename(configPath)] as string;
  expect(typeof configMapText).toBe('string');
  const file = join(scratch, `${k.replace(/\W/g, '_')}.yaml`);
  writeFileSync(file, configMapText);
  return { all, deployment, pod, ztauthz, config: loadConfig({ file }), configMapText };
}

const port = (c: Manifest, name: string): number => (c['ports'] as Manifest[]).find((p) => p['name'] === name)!['containerPort'] as number;

describe.each(['kubernetes/base', 'kubernetes/overlays/central', 'kubernetes/overlays/sidecar'])('%s', (k) => {
  it('the container runs `serve --config` on the mounted ConfigMap, which the config loader accepts', () => {
    const w = wired(k);
    expect(w.ztauthz['args']).toEqual(['serve', '--config', '/etc/ztauthz/config/config.yaml']);
    // The file in the ConfigMap is the one in the repository.
    const source = k === 'kubernetes/base' ? 'deploy/kubernetes/base/config.yaml' : `deploy/${k}/config.yaml`;
    expect(w.configMapText).toBe(readFileSync(join(ROOT, source), 'utf8'));
  });

  it('container ports, probes and the listen addresses agree: gRPC 9191, HTTP 8181 with /healthz and /readyz', () => {
    const { ztauthz, config } = wired(k);
    const grpcName = (ztauthz['ports'] as Manifest[]).find((p) => p['containerPort'] === 9191)!['name'] as string;
    const httpName = (ztauthz['ports'] as Manifest[]).find((p) => p['containerPort'] === 8181)!['name'] as string;
    expect(parseAddr(config.grpc.addr).port).toBe(port(ztauthz, grpcName));
    expect(parseAddr(config.http.addr).port).toBe(port(ztauthz, httpName));
    expect(port(ztauthz, grpcName)).toBe(9191);
    expect(port(ztauthz, httpName)).toBe(8181);
    // The kubelet probes the pod address: HTTP must listen on every interface.
    expect(parseAddr(config.http.addr).host).toBe('0.0.0.0');
    expect(ztauthz['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: httpName });
    expect(ztauthz['livenessProbe']['httpGet']).toEqual({ path: '/healthz', port: httpName });
    expect(ztauthz['startupProbe']['httpGet']).toEqual({ path: '/healthz', port: httpName });
  });

  it('the policy the configuration names is in the mounted policy ConfigMap, and loads', async () => {
    const { all, pod, ztauthz, config } = wired(k);
    const mount = (ztauthz['volumeMounts'] as Manifest[]).find((m) => m['mountPath'] === posix.dirname(config.policy.path))!;
    expect(mount, `a volume mounted at ${posix.dirname(config.policy.path)}`).toBeDefined();
    expect(mount['readOnly']).toBe(true);
    const cm = configMapOfVolume(all, pod, mount['name']);
    const b64 = cm['binaryData'][posix.basename(config.policy.path)] as string;
    const file = join(scratch, `${k.replace(/\W/g, '_')}-bundle.tar.gz`);
    writeFileSync(file, Buffer.from(b64, 'base64'));
    const bundle = await readPolicySource(file, { entrypoints: [config.policy.decision] });
    expect(bundle.wasm.length).toBeGreaterThan(0);
    // No reload on change under a mounted ConfigMap: a new bundle is a rollout.
    expect(config.policy.watch).toBe(false);
  });

  it("every mount is read-only and the root filesystem too; the pod runs as the image's user", () => {
    const { pod, ztauthz } = wired(k);
    for (const m of ztauthz['volumeMounts'] as Manifest[]) expect(m['readOnly'], m['mountPath']).toBe(true);
    expect(ztauthz['securityContext']['readOnlyRootFilesystem']).toBe(true);
    const user = /^USER\s+(\d+):(\d+)\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(user, 'Dockerfile: numeric USER uid:gid').not.toBeNull();
    const uid = ztauthz['securityContext']['runAsUser'] ?? pod['securityContext']['runAsUser'];
    const gid = ztauthz['securityContext']['runAsGroup'] ?? pod['securityContext']['runAsGroup'];
    expect([String(uid), String(gid)]).toEqual([user![1], user![2]]);
    // ztauthz drains for up to 10 s after SIGTERM; the pod waits longer.
    expect(pod['terminationGracePeriodSeconds']).toBeGreaterThan(10);
  });
});

describe('central service', () => {
  it("the Service: named gRPC port 9191 (appProtocol grpc) to the container's gRPC port, same selector", () => {
    const { all, deployment, ztauthz } = wired('kubernetes/base');
    const svc = find(all, 'Service', 'ztauthz');
    const grpc = (svc['spec']['ports'] as Manifest[]).find((p) => p['name'] === 'grpc')!;
    expect(grpc).toMatchObject({ port: 9191, appProtocol: 'grpc', targetPort: 'grpc' });
    expect(port(ztauthz, 'grpc')).toBe(9191);
    for (const [l, v] of Object.entries(svc['spec']['selector'] as Record<string, string>)) {
      expect(deployment['spec']['template']['metadata']['labels'][l]).toBe(v);
    }
  });

  it("HPA, PDB and NetworkPolicy select the Deployment's pods; the HPA owns the replica count", () => {
    const { all, deployment } = wired('kubernetes/overlays/central');
    const labels = deployment['spec']['template']['metadata']['labels'] as Record<string, string>;
    const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([l, v]) => labels[l] === v);
    const hpa = find(all, 'HorizontalPodAutoscaler');
    expect(hpa['spec']['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment['metadata']['name'] });
    expect(hpa['spec']['minReplicas']).toBeGreaterThanOrEqual(2);
    expect(deployment['spec']['replicas']).toBeUndefined();
    expect(matches(find(all, 'PodDisruptionBudget')['spec']['selector']['matchLabels'])).toBe(true);
    for (const np of all.filter((m) => m['kind'] === 'NetworkPolicy'))
      expect(matches(np['spec']['podSelector']['matchLabels']), np['metadata']['name']).toBe(true);
    expect(deployment['spec']['template']['spec']['topologySpreadConstraints'].length).toBeGreaterThan(0);
  });

  it('NetworkPolicy: mesh proxies to gRPC only, the monitoring namespace to metrics only', () => {
    const { all } = wired('kubernetes/base');
    const np = find(all, 'NetworkPolicy', 'ztauthz');
    expect(np['spec']['policyTypes']).toEqual(['Ingress', 'Egress']);
    const rules = np['spec']['ingress'] as Manifest[];
    expect(rules).toHaveLength(2);
    expect(rules[0]!['from']).toEqual([{ namespaceSelector: {}, podSelector: { matchLabels: { 'security.istio.io/tlsMode': 'istio' } } }]);
    expect(rules[0]!['ports']).toEqual([{ port: 9191, protocol: 'TCP' }]);
    expect(rules[1]!['from']).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect((rules[1]!['ports'] as Manifest[]).map((p) => p['port'])).toEqual([8181, 15020]);
  });

  it('egress: DNS and istiod in the base; overlays/central adds exactly its JWKS and OTLP endpoints', () => {
    const egressOf = (k: string): Array<{ ns: string; port: number }> =>
      parseManifests(rendered.builds.get(k)!)
        .filter((m) => m['kind'] === 'NetworkPolicy')
        .flatMap((np) =>
          ((np['spec']['egress'] ?? []) as Manifest[]).flatMap((rule) =>
            (rule['to'] as Manifest[]).flatMap((to) =>
              (rule['ports'] as Manifest[]).map((p) => ({
                ns: to['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name'] as string,
                port: p['port'] as number,
              })),
            ),
          ),
        );
    const base = egressOf('kubernetes/base');
    expect(new Set(base.map((e) => `${e.ns}:${e.port}`))).toEqual(new Set(['kube-system:53', 'istio-system:15012']));
    const base_config = wired('kubernetes/base').config;
    expect(base_config.jwt.issuers).toEqual([]);
    expect(base_config.tracing.enabled).toBe(false);

    const { config } = wired('kubernetes/overlays/central');
    // The endpoints the configuration calls, as namespace and (pod) port.
    const endpoints = [...config.jwt.issuers.map((i) => String(i['jwks_url'])), ...(config.tracing.enabled ? [config.tracing.endpoint] : [])].map(
      (u) => new URL(u),
    );
    expect(endpoints.length).toBe(2);
    const added = egressOf('kubernetes/overlays/central').filter((e) => !base.some((b) => b.ns === e.ns && b.port === e.port));
    expect(added.map((e) => e.ns).sort()).toEqual(endpoints.map((u) => u.hostname.split('.')[1]).sort());
    const otlp = endpoints.find((u) => u.port === '4317')!;
    expect(added).toContainEqual({ ns: otlp.hostname.split('.')[1], port: 4317 });
  });
});

describe('sidecar', () => {
  it('gRPC on loopback only; the ServiceEntry the provider names points there', () => {
    const { all, config } = wired('kubernetes/overlays/sidecar');
    expect(parseAddr(config.grpc.addr)).toEqual({ host: '127.0.0.1', port: 9191 });
    const se = find(all, 'ServiceEntry', 'ztauthz-local');
    expect(se['spec']).toMatchObject({ hosts: ['ztauthz.local'], endpoints: [{ address: '127.0.0.1' }], resolution: 'STATIC' });
    expect(se['spec']['ports']).toEqual([{ name: 'grpc', number: 9191, protocol: 'GRPC' }]);
    const custom = all.find((m) => m['kind'] === 'AuthorizationPolicy' && m['spec']['action'] === 'CUSTOM')!;
    expect(custom['spec']['provider']['name']).toBe('ztauthz-local');
    expect(custom['spec']['selector']).toBeDefined();
  });
});

describe('Istio', () => {
  const mesh = (): Manifest => parseManifests(readFileSync(join(ROOT, 'deploy/istio/mesh-config.yaml'), 'utf8'))[0]!['spec']['meshConfig'];
  const provider = (name: string): Manifest => (mesh()['extensionProviders'] as Manifest[]).find((p) => p['name'] === name)!['envoyExtAuthzGrpc'];

  it('the providers fail closed with 403, bound the Check time, send the body as ztauthz reads it', () => {
    for (const [name, k] of [
      ['ztauthz', 'kubernetes/overlays/central'],
      ['ztauthz-local', 'kubernetes/overlays/sidecar'],
    ] as const) {
      const p = provider(name);
      const { config } = wired(k);
      expect(p['failOpen']).toBe(false);
      expect(p['statusOnError']).toBe('403');
      expect(p['timeout']).toBe('0.5s');
      expect(p['includeRequestBodyInCheck']['maxRequestBytes']).toBe(config.request.max_body_bytes);
      expect(p['includeRequestBodyInCheck']['allowPartialMessage']).toBe(true);
      expect(config.request.truncated_body).toBe('deny');
      expect(p['port']).toBe(9191);
    }
  });

  it("the central provider names the Service's DNS name and gRPC port", () => {
    const { all } = wired('kubernetes/base');
    const svc = find(all, 'Service', 'ztauthz');
    expect(provider('ztauthz')['service']).toBe(`${svc['metadata']['name']}.${svc['metadata']['namespace']}.svc.cluster.local`);
    expect(provider('ztauthz')['port']).toBe((svc['spec']['ports'] as Manifest[]).find((p) => p['name'] === 'grpc')!['port']);
  });

  it("path normalization resolves dot segments and merges slashes; trust domain matches ztauthz's", () => {
    expect(mesh()['pathNormalization']).toEqual({ normalization: 'MERGE_SLASHES' });
    for (const k of ['kubernetes/base', 'kubernetes/overlays/central', 'kubernetes/overlays/sidecar']) {
      expect(wired(k).config.identity.trust_domains).toEqual([mesh()['trustDomain']]);
    }
  });

  it('mesh-wide STRICT mTLS and allow-nothing; CUSTOM on model-serving; the ztauthz namespace admits its callers', () => {
    const istio = parseManifests(rendered.builds.get('istio')!);
    const peer = find(istio, 'PeerAuthentication');
    expect(peer['metadata']['namespace']).toBe('istio-system');
    expect(peer['spec']).toEqual({ mtls: { mode: 'STRICT' } });
    const nothing = find(istio, 'AuthorizationPolicy', 'allow-nothing');
    expect(nothing['metadata']['namespace']).toBe('istio-system');
    expect(nothing['spec']).toEqual({});
    const custom = find(istio, 'AuthorizationPolicy', 'ext-authz-ztauthz');
    expect(custom['metadata']['namespace']).toBe('model-serving');
    expect(custom['spec']).toEqual({ action: 'CUSTOM', provider: { name: 'ztauthz' }, rules: [{}] });
    const names = (mesh()['extensionProviders'] as Manifest[]).map((p) => p['name']);
    expect(names).toContain(custom['spec']['provider']['name']);
    const allowZtauthz = find(istio, 'AuthorizationPolicy', 'ztauthz');
    expect(allowZtauthz['metadata']['namespace']).toBe('ztauthz');
    const checkRule = (allowZtauthz['spec']['rules'] as Manifest[])[0]!;
    expect(checkRule['from'][0]['source']['namespaces']).toEqual([custom['metadata']['namespace']]);
    expect(checkRule['to'][0]['operation']['paths']).toContain('/envoy.service.auth.v3.Authorization/Check');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM\s+/m).slice(1);
  const runtime = stages[stages.length - 1]!;

  it('multi-stage: the sources are compiled to JavaScript in a build stage; dist/ and the prebuilt demo bundle reach the image, not src/', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(stages.some((s) => /^RUN node_modules\/\.bin\/tsc -p tsconfig\.build\.json$/m.test(s))).toBe(true);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^COPY policies\/demo\.tar\.gz \.\/policies\/demo\.tar\.gz$/m);
    expect(runtime).not.toMatch(/^COPY src\b/m);
  });

  it('the runtime stage: distroless Node 24 or Bun, no shell used, numeric non-root user, exec-form entrypoint', () => {
    expect(/ARG NODE_RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian\d+:nonroot/.test(text)).toBe(true);
    expect(text).toMatch(/^ARG BUN_RUNTIME_IMAGE=oven\/bun:[\d.]+-distroless$/m);
    expect(runtime).toMatch(/^runtime-\$\{RUNTIME\}\n/);
    const base = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS runtime-${name}\\n`).test(s))!;
    expect(base('node')).toMatch(/^\$\{NODE_RUNTIME_IMAGE\} AS runtime-node\n/);
    // The compiled dist/, with scripts/runtime.sh's flags for that runtime.
    const entrypoint = (name: string): string[] => JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(base(name))![1]!);
    const flags = (name: string): string[] =>
      execFileSync('bash', [join(ROOT, 'scripts/runtime.sh'), '--flags'], { env: { ...process.env, ZTAUTHZ_RUNTIME: name }, encoding: 'utf8' })
        .split(/\s+/)
        .filter(Boolean);
    expect(entrypoint('node')).toEqual(['/nodejs/bin/node', ...flags('node'), 'dist/cli.js']);
    expect(base('bun')).toMatch(/^\$\{BUN_RUNTIME_IMAGE\} AS runtime-bun\n/);
    expect(entrypoint('bun')).toEqual(['/usr/local/bin/bun', ...flags('bun'), 'dist/bun/cli.js']);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    for (const s of [runtime, base('node'), base('bun')]) expect(s).not.toMatch(/^RUN /m);
    const user = /^USER\s+(\d+):(\d+)/m.exec(runtime);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    // No ZTAUTHZ_* environment: it would override the mounted configuration file.
    const env = runtime.match(/^ENV[^\n]*(?:\\\n[^\n]*)*/gm) ?? [];
    expect(env.length).toBeGreaterThan(0);
    for (const e of env) expect(e).not.toMatch(/ZTAUTHZ_/);
    const cmd = /^CMD (\[.*\])$/m.exec(runtime);
    expect(JSON.parse(cmd![1]!)).toEqual(['serve']);
  });

  it("the runtime is chosen in one place: RUNTIME's default is package.json config.runtime, and the images are the pinned devDependencies'", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(['node', 'bun']).toContain(pkg.config.runtime);
    expect(/^ARG RUNTIME=(\w+)$/m.exec(text)?.[1]).toBe(pkg.config.runtime);
    expect(/^ARG BUN_RUNTIME_IMAGE=oven\/bun:([\d.]+)-distroless$/m.exec(text)?.[1]).toBe(pkg.devDependencies.bun);
    const nodeMajor = /(\d+)\./.exec(pkg.devDependencies.node)?.[1];
    expect(/^ARG NODE_RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs(\d+)-/m.exec(text)?.[1]).toBe(nodeMajor);
    // The npm scripts that run ztauthz go through the launcher that reads it.
    for (const script of ['start', 'ztauthz', 'demo']) expect(pkg.scripts[script]).toMatch(/^bash scripts\/runtime\.sh /);
  });
});
