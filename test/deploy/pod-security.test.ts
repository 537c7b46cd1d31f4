// Pod Security "restricted": the rendered workloads pass it, and a pod spec
// edit that breaks it is refused, by deploycheck's evaluation with
// k8s.io/pod-security-admission (the PodSecurity admission plugin's own
// checks). The schema alone does not catch these edits: kubeconform accepts
// every mutated copy below.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_TIMEOUT_MS, deploycheck, find, kubeconform, parseManifests, renderDeploy, toYaml, type Manifest, type Rendered } from './support.ts';

let rendered: Rendered;

beforeAll(() => {
  rendered = renderDeploy();
}, INSTALL_TIMEOUT_MS);

afterAll(() => rendered?.cleanup());

const OVERLAYS = ['kubernetes/base', 'kubernetes/overlays/central', 'kubernetes/overlays/sidecar'] as const;

function manifests(k: string): Manifest[] {
  return parseManifests(rendered.builds.get(k)!);
}

describe('the rendered workloads', () => {
  it.each(OVERLAYS)('%s: every pod template passes restricted:latest, every Namespace enforces it', (k) => {
    const r = deploycheck('psa', rendered.builds.get(k)!);
    expect(r.findings).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/[1-9]\d* pod templates, 0 findings/);
    const ns = manifests(k).filter((m) => m['kind'] === 'Namespace');
    expect(ns.length).toBe(1);
    expect(ns[0]!['metadata']['labels']['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

type Mutation = [name: string, edit: (pod: Manifest, ztauthz: Manifest) => void, refusal: RegExp];

// Each breaks one rule of the restricted profile in the ztauthz pod.
const MUTATIONS: Mutation[] = [
  [
    'runAsNonRoot: false (pod)',
    (p) => {
      p['securityContext']['runAsNonRoot'] = false;
    },
    /runAsNonRoot != true/,
  ],
  [
    'runAsNonRoot: false (container)',
    (_, c) => {
      c['securityContext']['runAsNonRoot'] = false;
    },
    /runAsNonRoot != true/,
  ],
  [
    'runAsUser: 0',
    (p) => {
      p['securityContext']['runAsUser'] = 0;
    },
    /runAsUser=0/,
  ],
  [
    'privileged: true',
    (_, c) => {
      c['securityContext']['privileged'] = true;
    },
    /privileged/,
  ],
  [
    'a hostPath volume',
    (p, c) => {
      p['volumes'].push({ name: 'host', hostPath: { path: '/var/run' } });
      c['volumeMounts'].push({ name: 'host', mountPath: '/host' });
    },
    /restricted volume types.*hostPath|hostPath volumes/,
  ],
  [
    'capabilities without drop ALL',
    (_, c) => {
      delete c['securityContext']['capabilities'];
    },
    /unrestricted capabilities.*drop=\["ALL"\]/,
  ],
  [
    'drop ALL replaced by drop NET_RAW',
    (_, c) => {
      c['securityContext']['capabilities'] = { drop: ['NET_RAW'] };
    },
    /unrestricted capabilities/,
  ],
  [
    'an added capability',
    (_, c) => {
      c['securityContext']['capabilities']['add'] = ['NET_ADMIN'];
    },
    /unrestricted capabilities.*NET_ADMIN/,
  ],
  [
    'allowPrivilegeEscalation: true',
    (_, c) => {
      c['securityContext']['allowPrivilegeEscalation'] = true;
    },
    /allowPrivilegeEscalation != false/,
  ],
  [
    'allowPrivilegeEscalation unset',
    (_, c) => {
      delete c['securityContext']['allowPrivilegeEscalation'];
    },
    /allowPrivilegeEscalation != false/,
  ],
  [
    'seccomp Unconfined',
    (p, c) => {
      p['securityContext']['seccompProfile'] = { type: 'Unconfined' };
      c['securityContext']['seccompProfile'] = { type: 'Unconfined' };
    },
    /seccompProfile/,
  ],
  [
    'no seccomp profile at all',
    (p, c) => {
      delete p['securityContext']['seccompProfile'];
      delete c['securityContext']['seccompProfile'];
    },
    /seccompProfile/,
  ],
  [
    'hostNetwork',
    (p) => {
      p['hostNetwork'] = true;
    },
    /host namespaces/,
  ],
  [
    'a hostPort',
    (_, c) => {
      c['ports'][0]['hostPort'] = 9191;
    },
    /hostPort/,
  ],
];

describe('a pod spec edit that breaks the restricted profile', () => {
  for (const k of ['kubernetes/base', 'kubernetes/overlays/sidecar'] as const) {
    it.each(MUTATIONS)(`${k}: %s is refused, though the schema accepts it`, (_name, edit, refusal) => {
      const all = manifests(k);
      const dep = all.find(
        (m) => m['kind'] === 'Deployment' && (m['spec']['template']['spec']['containers'] as Manifest[]).some((c) => c['name'] === 'ztauthz'),
      )!;
      const pod = dep['spec']['template']['spec'];
      edit(pod, (pod['containers'] as Manifest[]).find((c) => c['name'] === 'ztauthz')!);
      const text = toYaml(all);

      const schema = kubeconform(['-'], toYaml([dep]));
      expect(schema.resources.map((r) => r.status)).toEqual(['statusValid']);

      const r = deploycheck('psa', text);
      expect(r.status).toBe(1);
      expect(r.findings.length).toBe(1);
      expect(r.findings[0]).toContain(`Deployment ${dep['metadata']['namespace']}/${dep['metadata']['name']}: violates PodSecurity "restricted:latest"`);
      expect(r.findings[0]).toMatch(refusal);
    });
  }

  it('a Namespace that enforces less than restricted, or whose label is invalid, is refused', () => {
    const all = manifests('kubernetes/base');
    const ns = find(all, 'Namespace');
    ns['metadata']['labels']['pod-security.kubernetes.io/enforce'] = 'baseline';
    let r = deploycheck('psa', toYaml(all));
    expect(r.status).toBe(1);
    expect(r.findings.join('\n')).toMatch(/Namespace ztauthz: enforces PodSecurity "baseline:latest", not "restricted"/);
    ns['metadata']['labels']['pod-security.kubernetes.io/enforce'] = 'restrictd';
    r = deploycheck('psa', toYaml(all));
    expect(r.status).toBe(1);
    expect(r.findings.join('\n')).toMatch(/Namespace ztauthz: invalid pod-security labels/);
    delete ns['metadata']['labels']['pod-security.kubernetes.io/enforce'];
    r = deploycheck('psa', toYaml(all));
    expect(r.status).toBe(1);
    expect(r.findings.join('\n')).toMatch(/enforces PodSecurity "privileged:latest"/);
  });
});
