import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseAddr, ConfigError } from '../src/config/load.ts';
import { FIELDS, envName, flagName } from '../src/config/schema.ts';

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

  it('decision_log.include_input: denied by default; all, denied, none, and the old true/false from any source', () => {
    const c = loadConfig();
    expect(c.decision_log.include_input).toBe('denied');
    expect(c.decision_log.input_sample_allowed).toBe(0);
    expect(loadConfig({ file: yamlFile('decision_log:\n  include_input: true\n') }).decision_log.include_input).toBe('all');
    expect(loadConfig({ file: yamlFile('decision_log:\n  include_input: false\n') }).decision_log.include_input).toBe('none');
    expect(loadConfig({ file: yamlFile('decision_log:\n  include_input: none\n  input_sample_allowed: 0.01\n') }).decision_log).toMatchObject({
      include_input: 'none',
      input_sample_allowed: 0.01,
    });
    expect(loadConfig({ flags: { 'decision-log-include-input': 'true' } }).decision_log.include_input).toBe('all');
    expect(loadConfig({ env: { ZTAUTHZ_DECISION_LOG_INCLUDE_INPUT: 'false' } }).decision_log.include_input).toBe('none');
    expect(loadConfig({ flags: { 'decision-log-include-input': 'all' } }).decision_log.include_input).toBe('all');
    expect(() => loadConfig({ flags: { 'decision-log-include-input': 'yes' } })).toThrow(
      /decision_log.include_input: must be one of denied, all, none \(or true, false\)/,
    );
    expect(() => loadConfig({ flags: { 'decision-log-include-input': 'constructor' } })).toThrow(/must be one of/);
    expect(() => loadConfig({ flags: { 'decision-log-input-sample-allowed': '2' } })).toThrow(/must be between 0 and 1/);
  });

  it('compat: opa-envoy presets opa-envoy-plugin behaviour, and a key given explicitly wins over the preset', () => {
    const plain = loadConfig();
    expect(plain.compat).toBe('');
    const c = loadConfig({ flags: { compat: 'opa-envoy' } });
    expect(c.decision.on_error).toBe('grpc_error');
    expect(c.routes.mode).toBe('replace');
    expect(c.routes.unmatched).toBe('default');
    expect(c.request.truncated_body).toBe('policy');
    expect(c.cache.ignore).toEqual([]);
    expect(c.jwt.invalid).toBe('policy');
    // Request limits at gRPC's message size, so no field of an accepted message exceeds them.
    for (const k of ['max_body_bytes', 'max_path_bytes', 'max_headers', 'max_header_bytes'] as const) expect(c.request[k]).toBe(c.grpc.max_recv_msg_bytes);
    const bigger = loadConfig({ env: { ZTAUTHZ_COMPAT: 'opa-envoy', ZTAUTHZ_GRPC_MAX_RECV_MSG_BYTES: String(16 * 1024 * 1024) } });
    expect(bigger.request.max_body_bytes).toBe(16 * 1024 * 1024);
    // Explicit keys, from any source, are kept as given.
    const file = yamlFile('compat: opa-envoy\ndecision:\n  on_error: deny\ncache:\n  ignore: [attributes.request.http.id]\n');
    const mixed = loadConfig({ file, flags: { 'request-max-body-bytes': '1024' }, env: { ZTAUTHZ_ROUTES_MODE: 'extend' } });
    expect(mixed.decision.on_error).toBe('deny');
    expect(mixed.cache.ignore).toEqual(['attributes.request.http.id']);
    expect(mixed.request.max_body_bytes).toBe(1024);
    expect(mixed.routes.mode).toBe('extend');
    expect(mixed.request.truncated_body).toBe('policy');
    expect(() => loadConfig({ flags: { compat: 'opa' } })).toThrow(/compat: must be one of , opa-envoy/);
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
    for (const spec of FIELDS) {
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

  it('bounds JSON bodies: depth, keys, elements and duplicate keys, each settable', () => {
    expect(loadConfig().request).toMatchObject({ max_body_depth: 64, max_body_keys: 10_000, max_body_elements: 1_000_000, body_duplicate_keys: 'deny' });
    const c = loadConfig({
      file: yamlFile('request:\n  max_body_depth: 16\n  body_duplicate_keys: last\n'),
      env: { ZTAUTHZ_REQUEST_MAX_BODY_KEYS: '5000' },
      flags: { 'request-max-body-elements': '2000000' },
    });
    expect(c.request).toMatchObject({ max_body_depth: 16, max_body_keys: 5000, max_body_elements: 2_000_000, body_duplicate_keys: 'last' });
    expect(() => loadConfig({ flags: { 'request-body-duplicate-keys': 'first' } })).toThrow(/request\.body_duplicate_keys/);
    expect(() => loadConfig({ flags: { 'request-max-body-depth': '0' } })).toThrow(/request\.max_body_depth/);
    expect(() => loadConfig({ flags: { 'request-max-body-depth': '513' } })).toThrow(/request\.max_body_depth/);
  });

  it('parses listen addresses', () => {
    expect(parseAddr(':9191')).toEqual({ host: '0.0.0.0', port: 9191 });
    expect(parseAddr('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseAddr('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseAddr('1.2.3.4:70000')).toThrow(/65535/);
  });
});
