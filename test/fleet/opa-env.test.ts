// ${VAR} expansion in config files, OPA's labels and the status section, as
// loadConfig reads them (status reports themselves: opa-status.test.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { effectiveLabels } from '../../src/config/labels.ts';
import { runCli } from '../support/servers.ts';

function yamlFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ztauthz-opaenv-')), 'config.yaml');
  writeFileSync(f, text);
  return f;
}

function refusal(text: string, env: Record<string, string> = {}): string {
  try {
    loadConfig({ file: yamlFile(text), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

const BUNDLE = `services:
  acme:
    url: \${BUNDLE_URL}/v1
    credentials:
      bearer:
        token: "\${BUNDLE_TOKEN}"
bundles:
  authz:
    service: acme
    resource: bundles/\${BUNDLE_NAME}.tar.gz
    polling:
      min_delay_seconds: \${MIN_DELAY}
      max_delay_seconds: 30
`;

describe('${VAR} in config files', () => {
  it('expands variables in values, typing a bare number as OPA does and keeping quoted ones strings', () => {
    const c = loadConfig({
      file: yamlFile(`${BUNDLE}labels:\n  replicas: "\${REPLICAS}"\n`),
      env: { BUNDLE_URL: 'https://bundles.example.com', BUNDLE_TOKEN: 'tok: en # not a comment', BUNDLE_NAME: 'authz', MIN_DELAY: '10', REPLICAS: '3' },
    });
    expect(c.services['acme']?.url).toBe('https://bundles.example.com/v1');
    // A value never adds YAML structure: ": " and "#" stay in the one string.
    expect(c.services['acme']?.credentials?.bearer?.token).toBe('tok: en # not a comment');
    expect(c.bundles['authz']?.resource).toBe('bundles/authz.tar.gz');
    expect(c.bundles['authz']?.polling?.min_delay_seconds).toBe(10);
    expect(c.labels).toEqual({ replicas: '3' });
  });

  it('refuses an unset variable, naming it and the line, instead of sending the text', () => {
    const msg = refusal(BUNDLE, { BUNDLE_URL: 'https://b', BUNDLE_NAME: 'authz', MIN_DELAY: '10' });
    expect(msg).toMatch(
      /config\.yaml:6: environment variable BUNDLE_TOKEN is not set \(referenced as \$\{BUNDLE_TOKEN\}; write \$\$\{BUNDLE_TOKEN\} for the text itself\)/,
    );
  });

  it('takes a variable set to the empty string as empty, which the schema then judges', () => {
    expect(refusal(BUNDLE, { BUNDLE_URL: 'https://b', BUNDLE_TOKEN: '', BUNDLE_NAME: 'authz', MIN_DELAY: '10' })).toContain(
      'services.acme.credentials.bearer.token: must not be empty',
    );
  });

  it('writes $${ as a literal ${ and leaves other dollars alone', () => {
    const c = loadConfig({ file: yamlFile('labels:\n  a: "$${NOT_A_VAR}"\n  b: "$$2y$10$hash"\n  c: price $5\n'), env: {} });
    expect(c.labels).toEqual({ a: '${NOT_A_VAR}', b: '$$2y$10$hash', c: 'price $5' });
  });

  it('refuses references that are not a variable name, and unclosed ones', () => {
    expect(refusal('labels:\n  a: "${X:-default}"\n')).toContain('${X:-default} is not an environment variable reference');
    expect(refusal('labels:\n  a: "${}"\n')).toContain('${} is not an environment variable reference');
    expect(refusal('labels:\n  a: "${OPEN"\n')).toContain('without a closing "}"');
  });

  it('serve reads the variables from its environment and stops at an unset one (exit 2)', async () => {
    const file = yamlFile(BUNDLE);
    const r = await runCli(['serve', '--config', file], { BUNDLE_URL: 'http://127.0.0.1:1', BUNDLE_NAME: 'authz', MIN_DELAY: '10' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('environment variable BUNDLE_TOKEN is not set');
  });

  it('does not expand in comments', () => {
    expect(loadConfig({ file: yamlFile('# token: ${UNSET_IN_A_COMMENT}\nlabels:\n  a: b\n'), env: {} }).labels).toEqual({ a: 'b' });
  });
});

describe('labels', () => {
  it('adds id (the same all process long) and version to the configured labels', () => {
    const c = loadConfig({ file: yamlFile('labels:\n  app: payments\n  region: eu-west-1\n') });
    const a = effectiveLabels(c.labels);
    expect(a).toEqual({ app: 'payments', region: 'eu-west-1', id: expect.stringMatching(/^[0-9a-f-]{36}$/), version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(effectiveLabels({}).id).toBe(a.id);
  });

  it('refuses id and version, non-string values and bad names', () => {
    expect(refusal('labels:\n  id: mine\n')).toContain('labels.id: is set by ztauthz (the instance id); remove it');
    expect(refusal('labels:\n  version: "1"\n')).toContain('labels.version: is set by ztauthz');
    expect(refusal('labels:\n  replicas: 3\n')).toContain('labels.replicas: must be a string (quote numbers and booleans)');
    expect(refusal('labels:\n  "a b": x\n')).toContain('labels.a b: must be a mapping of label names to strings');
    expect(refusal('labels: [a]\n')).toContain('labels: must be a mapping of label names to strings');
  });
});

describe('status section', () => {
  const services = 'services:\n  cp:\n    url: http://127.0.0.1:1\n  other:\n    url: http://127.0.0.1:2\n';

  it('reports to the first service when the section names none, as OPA', () => {
    expect(loadConfig({ file: yamlFile(`${services}status: {}\n`) }).status.service).toBe('cp');
    expect(loadConfig({ file: yamlFile(`${services}status:\n  service: other\n  partition_name: team-a\n`) }).status).toEqual({
      service: 'other',
      partition_name: 'team-a',
      console: false,
      trigger: 'periodic',
      prometheus: false,
    });
    // console only: the deployer may have meant only the log, as OPA reads it.
    expect(loadConfig({ file: yamlFile(`${services}status:\n  console: true\n`) }).status.service).toBe('');
    // No status section: no reports.
    expect(loadConfig({ file: yamlFile(services) }).status.service).toBe('');
  });

  it('refuses what it cannot do, with a line saying so', () => {
    expect(refusal(`${services}status:\n  service: nowhere\n`)).toContain('status.service: no service named "nowhere"');
    expect(refusal(`${services}status:\n  trigger: manual\n`)).toContain('status.trigger: manual is not supported');
    expect(refusal(`${services}status:\n  plugin: mine\n`)).toContain('status.plugin is not supported by ztauthz');
    expect(refusal(`${services}status:\n  partition_name: "../x"\n`)).toContain('status.partition_name');
    expect(refusal('services:\n  reg:\n    url: https://ghcr.io\n    type: oci\nstatus: {}\n')).toContain('is an OCI registry, which takes no status reports');
    expect(refusal(`${services}status:\n  servce: cp\n`)).toContain('unknown key status.servce; did you mean status.service?');
  });
});

describe("opa-envoy-plugin's own example config (examples/grpc/opa.yaml, v1.19.1)", () => {
  it('maps as docs/bundles.md says', () => {
    const c = loadConfig({
      file: yamlFile(
        'plugins:\n  envoy_ext_authz_grpc:\n    addr: ":9191"\n    path: envoy/authz/allow\n    dry-run: false\n    enable-reflection: true\n    proto-descriptor: /testsrv.pb\ndecision_logs:\n  console: true\n',
      ),
    });
    expect(c.grpc.addr).toBe(':9191');
    expect(c.policy.decision).toBe('envoy/authz/allow');
    expect(c.decision.dry_run).toBe(false);
    expect(c.grpc.reflection).toBe(true);
    expect(c.request.proto_descriptor).toBe('/testsrv.pb');
    expect(c.decision_log.enabled).toBe(true);
    expect(c.decision_log.upload.service).toBe('');
    expect(c.status.service).toBe('');
  });
});
