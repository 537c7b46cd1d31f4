// The zod configuration schema: nested values are validated where they are
// given, errors name the key path and where the value came from, and an
// unknown key or flag gets the closest known one suggested.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../src/config/load.ts';
import { CONFIG_SCHEMA, FIELDS, envName, flagName, type Config } from '../src/config/schema.ts';
import { closest } from '../src/config/suggest.ts';
import { runCli } from './support/servers.ts';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-schema-'));
  const f = join(dir, 'config.yaml');
  writeFileSync(f, text);
  return f;
}

const message = (sources: Parameters<typeof loadConfig>[0]): string => {
  try {
    loadConfig(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted it');
};

describe('configuration schema', () => {
  it('an issuer without audiences is a configuration error naming the path, from any source', () => {
    const issuers = [{ issuer: 'https://idp.test', jwks_file: '/etc/jwks.json' }];
    expect(message({ flags: { 'jwt-issuers': JSON.stringify(issuers) } })).toBe('jwt.issuers[0].audiences: required (in jwt.issuers from --jwt-issuers)');
    expect(message({ env: { ZTAUTHZ_JWT_ISSUERS: JSON.stringify(issuers) } })).toMatch(/^jwt\.issuers\[0\]\.audiences: required .*\$ZTAUTHZ_JWT_ISSUERS/);
    const file = yamlFile('jwt:\n  issuers:\n    - issuer: https://idp.test\n      jwks_file: /etc/jwks.json\n');
    expect(message({ file })).toBe(`jwt.issuers[0].audiences: required (in jwt.issuers from ${file})`);
  });

  it('validates the other fields of an issuer', () => {
    const one = (i: Record<string, unknown>) =>
      message({ flags: { 'jwt-issuers': JSON.stringify([{ issuer: 'https://idp.test', audiences: ['api'], ...i }]) } });
    expect(one({})).toMatch(/^jwt\.issuers\[0\]: set exactly one of jwks_file and jwks_url/);
    expect(one({ jwks_file: '/j', jwks_url: 'https://idp.test/jwks' })).toMatch(/^jwt\.issuers\[0\]: set exactly one/);
    expect(one({ jwks_url: 'ftp://idp.test/jwks' })).toMatch(/^jwt\.issuers\[0\]\.jwks_url: must be an http\(s\) URL/);
    expect(one({ jwks_file: '/j', audiences: [] })).toMatch(/^jwt\.issuers\[0\]\.audiences: must name at least one audience/);
    expect(one({ jwks_file: '/j', clock_tolerance_s: 301 })).toMatch(/^jwt\.issuers\[0\]\.clock_tolerance_s: must be at most 300/);
    expect(one({ jwks_file: '/j', audience: ['api'] })).toMatch(/unknown key jwt\.issuers\[0\]\.audience; did you mean jwt\.issuers\[0\]\.audiences\?/);
    expect(message({ flags: { 'jwt-issuers': '[{"issuer":' } })).toMatch(/^jwt\.issuers: must be a list of objects/);
    // A valid one arrives typed.
    const c: Config = loadConfig({ flags: { 'jwt-issuers': JSON.stringify([{ issuer: 'https://idp.test', audiences: ['api'], jwks_file: '/j' }]) } });
    expect(c.jwt.issuers[0]?.audiences).toEqual(['api']);
  });

  it('validates route tables and per-route caching, naming the entry and field', () => {
    const file = yamlFile('routes:\n  table:\n    - {name: score, methods: [get], path: /score, api: custom, action: infer}\n');
    expect(message({ file })).toMatch(/^routes\.table\[0\]\.methods\[0\]: must be an upper-case HTTP method/);
    const source = yamlFile(
      'routes:\n  table:\n    - {name: score, methods: [POST], path: /score, api: custom, action: infer, model_from: {json_body: model, query: m}}\n',
    );
    expect(message({ file: source })).toMatch(/^routes\.table\[0\]\.model_from: must have exactly one of json_body, grpc_body, query/);
    expect(message({ flags: { 'cache-routes': '[{"route":"x","key":[]}]' } })).toMatch(/^cache\.routes\[0\]\.key: must not be empty .*--cache-routes/);
    expect(message({ flags: { 'cache-routes': '[{"key":["a"]}]' } })).toMatch(/^cache\.routes\[0\]\.route: required/);
    expect(message({ flags: { 'cache-routes': '[{"route":"x","ttl_ms":1.5}]' } })).toMatch(
      /^cache\.routes\[0\]\.ttl_ms: must be a whole number of milliseconds/,
    );
  });

  it('checks list entries that have a form, naming the entry', () => {
    expect(message({ flags: { 'routes-entrypoints': 'kserve-v2=ztauthz/inference/allow, openai' } })).toMatch(
      /^routes\.entrypoints\[1\]: must be api=decision\/path/,
    );
    expect(message({ env: { ZTAUTHZ_IDENTITY_TRUST_BUNDLES: '/etc/bundle.pem' } })).toMatch(
      /^identity\.trust_bundles\[0\]: must be trust-domain=\/path\/bundle\.pem .*\$ZTAUTHZ_IDENTITY_TRUST_BUNDLES/,
    );
    expect(message({ file: yamlFile('policy:\n  entrypoints: [a/b, a/../c]\n') })).toMatch(/^policy\.entrypoints\[1\]: must be a decision path/);
    expect(loadConfig({ flags: { 'routes-entrypoints': 'kserve-v2=ztauthz/inference/allow' } }).routes.entrypoints).toEqual([
      'kserve-v2=ztauthz/inference/allow',
    ]);
  });

  it('states the rules that span keys, naming the key to set', () => {
    expect(message({ flags: { 'policy-require-signature': 'true' } })).toBe(
      'policy.require_signature: needs policy.signing_key (got "true" from --policy-require-signature)',
    );
    expect(message({ flags: { 'grpc-tls-mode': 'workload_api' } })).toBe(
      'grpc.tls.allowed_peers: must name the callers allowed to ask when grpc.tls.mode is workload_api',
    );
    const files = message({ file: yamlFile('grpc:\n  tls:\n    mode: files\n    allowed_peers: [spiffe://cluster.local]\n    cert_file: /tls/cert.pem\n') });
    expect(files).toBe('grpc.tls.key_file: required when grpc.tls.mode is files\ngrpc.tls.ca_file: required when grpc.tls.mode is files');
  });

  it('suggests the closest key for an unknown one, at any depth', () => {
    expect(message({ file: yamlFile('grpc:\n  adr: ":1"\n') })).toMatch(/unknown key grpc\.adr; did you mean grpc\.addr\?/);
    expect(message({ file: yamlFile('polcy:\n  path: x\n') })).toMatch(/unknown key polcy; did you mean policy\?/);
    expect(message({ file: yamlFile('grpc:\n  tls:\n    mdoe: files\n') })).toMatch(/unknown key grpc\.tls\.mdoe; did you mean grpc\.tls\.mode\?/);
    expect(message({ file: yamlFile('zzzzzz: 1\n') })).toMatch(/unknown key zzzzzz$/);
    expect(message({ flags: { polcy: 'x' } })).toBe('unknown flag --polcy; did you mean --policy?');
    expect(closest('grpc-adr', ['grpc-addr', 'http-addr'])).toBe('grpc-addr');
    expect(closest('frobnicate', ['grpc-addr', 'http-addr'])).toBeUndefined();
  });

  it('reports several problems of one file at once', () => {
    const m = message({ file: yamlFile('grpc:\n  max_recv_msg_bytes: lots\nrequest:\n  max_headers: 0\n') });
    expect(m).toMatch(/grpc\.max_recv_msg_bytes: must be an integer/);
    expect(m).toMatch(/request\.max_headers: must be between 1 and/);
  });

  it('yields a documented flag and variable for every key, and defaults the schema itself accepts', () => {
    expect(FIELDS.length).toBeGreaterThan(90);
    for (const f of FIELDS) {
      expect(f.doc.length, f.key).toBeGreaterThan(10);
      expect(flagName(f.key)).toMatch(/^[a-z0-9-]+$/);
      expect(envName(f.key)).toMatch(/^ZTAUTHZ_[A-Z0-9_]+$/);
      expect(f.schema.safeParse(f.default).success, f.key).toBe(true);
    }
    // The parsed empty configuration is the defaults, key by key.
    const defaults = CONFIG_SCHEMA.parse({});
    const at = (key: string) => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], defaults);
    for (const f of FIELDS) expect(at(f.key), f.key).toEqual(f.default);
  });
});

describe('configuration errors through the CLI', () => {
  it('serve refuses an issuer without audiences with one clear line and exit 2', async () => {
    const issuers = JSON.stringify([{ issuer: 'https://idp.test', jwks_file: '/etc/jwks.json' }]);
    const r = await runCli(['serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--jwt-issuers', issuers]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ztauthz: jwt.issuers[0].audiences: required (in jwt.issuers from --jwt-issuers)\n');
  });
});
