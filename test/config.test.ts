import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseAddr, ConfigError } from '../src/config/load.ts';
import { SCHEMA, envName, flagName } from '../src/config/schema.ts';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-cfg-'));
  const f = join(dir, 'config.yaml');
  writeFileSync(f, text);
  return f;
}

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig();
    expect(c.grpc.addr).toBe(':9191');
    expect(c.http.addr).toBe(':8181');
    expect(c.grpc.max_recv_msg_bytes).toBe(4 * 1024 * 1024);
    expect(c.policy.decision).toBe('envoy/authz/allow');
    expect(c.decision.on_error).toBe('deny');
    expect(c.decision.dry_run).toBe(false);
    expect(c.grpc.max_send_msg_bytes).toBe(4 * 1024 * 1024);
    expect(c.grpc.reflection).toBe(false);
    expect(c.policy.rego_version).toBe('v1');
    expect(c.request.proto_descriptor).toBe('');
  });

  it('takes the opa-envoy-plugin server settings (unix addr, reflection, v0, max send size, proto descriptor)', () => {
    const file = yamlFile(
      'grpc:\n  addr: unix:///run/ztauthz/authz.sock\n  reflection: true\n  max_send_msg_bytes: 2147483647\npolicy:\n  rego_version: v0\nrequest:\n  proto_descriptor: /etc/ztauthz/api.pb\n',
    );
    const c = loadConfig({ file });
    expect(c.grpc).toMatchObject({ addr: 'unix:///run/ztauthz/authz.sock', reflection: true, max_send_msg_bytes: 2147483647 });
    expect(c.policy.rego_version).toBe('v0');
    expect(c.request.proto_descriptor).toBe('/etc/ztauthz/api.pb');
    // opa-envoy-plugin's flag name for reflection works as an alias.
    expect(loadConfig({ flags: { 'enable-reflection': 'true' } }).grpc.reflection).toBe(true);
    expect(() => loadConfig({ flags: { 'policy-rego-version': 'v2' } })).toThrow(/policy.rego_version: must be one of v1, v0/);
    expect(() => loadConfig({ flags: { 'grpc-max-send-msg-bytes': '100' } })).toThrow(/grpc.max_send_msg_bytes: must be between 4096 and 2147483647/);
  });

  it('layers file < environment < flags', () => {
    const file = yamlFile('grpc:\n  addr: "127.0.0.1:1000"\nhttp:\n  addr: "127.0.0.1:2000"\ndecision:\n  dry_run: true\n');
    const c = loadConfig({
      file,
      env: { ZTAUTHZ_HTTP_ADDR: '127.0.0.1:3000', ZTAUTHZ_DECISION_DRY_RUN: 'false' },
      flags: { 'grpc-addr': '127.0.0.1:4000' },
    });
    expect(c.grpc.addr).toBe('127.0.0.1:4000');
    expect(c.http.addr).toBe('127.0.0.1:3000');
    expect(c.decision.dry_run).toBe(false);
  });

  it('derives a flag and an environment variable for every key', () => {
    for (const spec of SCHEMA) {
      expect(flagName(spec.key)).toMatch(/^[a-z0-9-]+$/);
      expect(envName(spec.key)).toMatch(/^ZTAUTHZ_[A-Z0-9_]+$/);
    }
    const c = loadConfig({ flags: { policy: '/x', 'request-max-headers': '10', 'policy-entrypoints': 'a/b, c/d' } });
    expect(c.policy.path).toBe('/x');
    expect(c.request.max_headers).toBe(10);
    expect(c.policy.entrypoints).toEqual(['a/b', 'c/d']);
  });

  it.each([
    [{ flags: { 'grpc-max-recv-msg-bytes': 'lots' } }, /grpc\.max_recv_msg_bytes: must be an integer .*--grpc-max-recv-msg-bytes/],
    [{ flags: { 'grpc-max-recv-msg-bytes': '10' } }, /grpc\.max_recv_msg_bytes: must be between/],
    [{ flags: { 'decision-on-error': 'allow' } }, /decision\.on_error: must be one of deny, grpc_error/],
    [{ flags: { 'grpc-addr': 'nowhere' } }, /grpc\.addr: must be host:port/],
    [{ flags: { 'decision-path': 'envoy/../x' } }, /policy\.decision: must be a decision path/],
    [{ env: { ZTAUTHZ_REQUEST_PARSE_BODY: 'maybe' } }, /request\.parse_body: must be true or false .*\$ZTAUTHZ_REQUEST_PARSE_BODY/],
    [{ flags: { 'no-such-flag': '1' } }, /unknown flag --no-such-flag/],
  ])('refuses bad values naming the key: %j', (sources, message) => {
    expect(() => loadConfig(sources as never)).toThrow(message);
  });

  it('refuses unknown and mistyped keys in the file, naming them', () => {
    expect(() => loadConfig({ file: yamlFile('grpc:\n  adr: ":1"\n') })).toThrow(/unknown key grpc\.adr/);
    expect(() => loadConfig({ file: yamlFile('grpc: 5\n') })).toThrow(/grpc must be a mapping/);
    expect(() => loadConfig({ file: yamlFile('request:\n  max_headers: "x"\n') })).toThrow(/request\.max_headers: must be an integer/);
    expect(() => loadConfig({ file: yamlFile('grpc: [\n') })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: '/nonexistent/ztauthz.yaml' })).toThrow(ConfigError);
  });

  it('parses listen addresses', () => {
    expect(parseAddr(':9191')).toEqual({ host: '0.0.0.0', port: 9191 });
    expect(parseAddr('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseAddr('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseAddr('1.2.3.4:70000')).toThrow(/65535/);
  });
});
