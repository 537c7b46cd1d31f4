// OPA's configuration format accepted by --config beside ztauthz's own keys.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observe/Log.ts';
import { loadConfiguredPolicy } from '../../src/server/PolicyLifecycle.ts';
import { startServer } from '../../src/server/Server.ts';

function yamlFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ztauthz-opacfg-')), 'config.yaml');
  writeFileSync(f, text);
  return f;
}

function refusal(text: string): string {
  try {
    loadConfig({ file: yamlFile(text) });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

/** The shape of opa-envoy-plugin's documented example configuration. */
const OPA_ENVOY_CONFIG = `
services:
  controller:
    url: https://bundles.example.com/v1
    headers:
      x-team: payments
    credentials:
      bearer:
        token: s3cr3t
bundles:
  authz:
    service: controller
    resource: bundles/authz.tar.gz
    persist: true
    polling:
      min_delay_seconds: 10
      max_delay_seconds: 20
      long_polling_timeout_seconds: 30
    signing:
      keyid: global_key
keys:
  global_key:
    algorithm: RS256
    key: |
      -----BEGIN PUBLIC KEY-----
      MIIB
      -----END PUBLIC KEY-----
plugins:
  envoy_ext_authz_grpc:
    addr: :9292
    path: /envoy/authz/allow
    dry-run: true
    enable-reflection: true
    skip-request-body-parse: true
    grpc-max-recv-msg-size: 8388608
`;

describe('OPA configuration format', () => {
  it('maps an opa-envoy-plugin config file onto ztauthz settings', () => {
    const c = loadConfig({ file: yamlFile(OPA_ENVOY_CONFIG) });
    expect(c.grpc.addr).toBe(':9292');
    expect(c.policy.decision).toBe('envoy/authz/allow');
    expect(c.decision.dry_run).toBe(true);
    expect(c.grpc.reflection).toBe(true);
    expect(c.request.parse_body).toBe(false);
    expect(c.grpc.max_recv_msg_bytes).toBe(8 * 1024 * 1024);
    expect(c.services['controller']?.credentials?.bearer?.token).toBe('s3cr3t');
    expect(c.bundles['authz']?.polling?.long_polling_timeout_seconds).toBe(30);
    expect(c.keys['global_key']?.algorithm).toBe('RS256');
  });

  it('keeps ztauthz keys beside OPA ones, and flags win over the plugin settings', () => {
    const c = loadConfig({ file: yamlFile(`${OPA_ENVOY_CONFIG}\nlog:\n  level: debug\n`), flags: { 'grpc-addr': ':9393' } });
    expect(c.grpc.addr).toBe(':9393');
    expect(c.log.level).toBe('debug');
  });

  it('names unknown keys', () => {
    expect(refusal('plugins:\n  envoy_ext_authz_grpc:\n    adr: :9191\n')).toContain('unknown key plugins.envoy_ext_authz_grpc.adr');
    expect(refusal('services:\n  s:\n    url: http://x\n    timeout: 3\n')).toContain('unknown key services.s.timeout');
    expect(refusal('bundles:\n  b:\n    service: s\n    poling: {}\nservices:\n  s:\n    url: http://x\n')).toContain('unknown key bundles.b.poling');
  });

  it('refuses what ztauthz does not implement with a line saying so', () => {
    const msg = refusal(
      'services:\n  s:\n    url: https://x\n    credentials:\n      s3_signing:\n        environment_credentials: {}\ndiscovery:\n  name: d\nplugins:\n  other_plugin: {}\n',
    );
    expect(msg).toContain('services.s.credentials.s3_signing is not supported by ztauthz');
    expect(msg).toContain('discovery (OPA) is not supported by ztauthz');
    expect(msg).toContain('plugins.other_plugin is not supported by ztauthz');
    expect(refusal('services:\n  s:\n    url: https://x\n    allow_insecure_tls: true\n')).toContain('always verifies the server certificate');
  });

  it('checks the keys against each other', () => {
    expect(refusal('bundles:\n  b:\n    service: nowhere\n')).toContain('no service named "nowhere"');
    expect(refusal('services:\n  s:\n    url: http://x\nbundles:\n  b:\n    service: s\n    signing:\n      keyid: k\n')).toContain('no key named "k"');
    expect(refusal('services:\n  s:\n    url: http://x\nbundles:\n  b:\n    service: s\npolicy:\n  path: /tmp/p\n')).toContain('either bundles or policy.path');
    expect(refusal('plugins:\n  envoy_ext_authz_grpc:\n    addr: :1\ngrpc:\n  addr: :2\n')).toContain('are the same setting');
    expect(
      refusal('services:\n  s:\n    url: http://x\nbundles:\n  b:\n    service: s\n    polling: {min_delay_seconds: 30, max_delay_seconds: 10}\n'),
    ).toContain('min_delay_seconds must not exceed');
  });

  it('takes several bundles, each with its own service and signing key, and refuses more than 16', () => {
    const c = loadConfig({
      file: yamlFile(
        OPA_ENVOY_CONFIG.replace('keys:\n', '  grants:\n    service: other\n    resource: grants.tar.gz\nkeys:\n').replace(
          'services:\n',
          'services:\n  other:\n    url: http://127.0.0.1:1\n',
        ),
      ),
    });
    expect(Object.keys(c.bundles)).toEqual(['authz', 'grants']);
    expect(c.bundles['grants']).toEqual({ service: 'other', resource: 'grants.tar.gz' });
    const many = Array.from({ length: 17 }, (_, i) => `  b${i}:\n    service: s\n`).join('');
    expect(refusal(`services:\n  s:\n    url: http://x\nbundles:\n${many}`)).toContain('bundles: at most 16 bundles; got 17');
  });

  it('check and replay refuse a config with bundles instead of checking the demo policy', async () => {
    const c = loadConfig({ file: yamlFile('services:\n  s:\n    url: http://127.0.0.1:1\nbundles:\n  b:\n    service: s\n') });
    expect(() => loadConfiguredPolicy(c, [])).toThrow('bundles are downloaded by serve; give the bundle as --policy');
  });

  it('serve refuses a signing key that is not a PEM public key, naming it', async () => {
    const file = yamlFile(
      'services:\n  s:\n    url: http://127.0.0.1:1\nbundles:\n  b:\n    service: s\n    signing:\n      keyid: k\nkeys:\n  k:\n    key: not-a-key\n',
    );
    await expect(startServer(loadConfig({ file, flags: { 'grpc-addr': '127.0.0.1:0', 'http-addr': '127.0.0.1:0' } }), createLogger('error'))).rejects.toThrow(
      /^keys\.k\.key: not a PEM public key/,
    );
  });
});
