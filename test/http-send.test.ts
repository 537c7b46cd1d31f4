// http.send against the real OPA: the same Rego, evaluated by `opa eval`
// (OPA v1, natively) and by ztauthz (opa build -t wasm, evaluated on an
// http.send worker), against real HTTP and HTTPS servers on 127.0.0.1.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/policy/PolicyLoader.ts';
import type { PolicyEngine } from '../src/policy/PolicyEngine.ts';
import { HttpSendRuntime } from '../src/policy/httpsend/HttpSendRuntime.ts';
import { OPA } from './support/builtins-opa.ts';
import { makeTestCa, startHttpServer, startHttpsServer, type TestCa, type TestServer } from './support/httpSendServers.ts';

const TIMEOUT = 120_000;

let ca: TestCa;
let http: TestServer;
let https: TestServer;
let mtls: TestServer;
const dirs: string[] = [];
const runtimes: HttpSendRuntime[] = [];

beforeAll(async () => {
  ca = makeTestCa();
  http = await startHttpServer();
  https = await startHttpsServer(ca);
  mtls = await startHttpsServer(ca, true);
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await Promise.all([http?.close(), https?.close(), mtls?.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SUMMARY = `
summary(r) := {"status": r.status, "status_code": r.status_code, "body": r.body, "raw_body": r.raw_body, "headers": object.remove(r.headers, ["date", "connection", "keep-alive"])} if not r.error
summary(r) := {"status_code": r.status_code, "error_code": r.error.code} if r.error
`;

function writeModule(pkg: string, rules: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-httpsend-rego-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'probe.rego'), [`package ${pkg}`, '', SUMMARY, ...rules.map((r, i) => `c${i} := ${r}`), ''].join('\n'));
  return dir;
}

/** `opa eval` without blocking this process's event loop (the test servers live here). */
function opaEval(dir: string, query: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(OPA, ['eval', '--format', 'json', '-d', dir, query], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`opa eval failed: ${stderr}${stdout}`));
      const out = JSON.parse(stdout) as { result?: { expressions: { value: Record<string, unknown> }[] }[] };
      resolve(out.result?.[0]?.expressions[0]?.value ?? {});
    });
  });
}

function runtime(overrides: Partial<ConstructorParameters<typeof HttpSendRuntime>[0]> = {}): HttpSendRuntime {
  const r = new HttpSendRuntime({ allowedHosts: ['127.0.0.1', 'localhost'], timeoutMs: 5000, maxResponseBytes: 1 << 20, cacheMaxBytes: 1 << 20, workers: 2, ...overrides });
  runtimes.push(r);
  return r;
}

async function engineFor(dir: string, pkg: string, count: number, rt: HttpSendRuntime): Promise<PolicyEngine> {
  return loadPolicy(dir, {
    entrypoints: Array.from({ length: count }, (_, i) => `${pkg}/c${i}`),
    maxMemoryPages: 2048,
    requireSignature: false,
    validateResult: () => {},
    httpSend: rt,
  });
}

type Outcome = { value: unknown } | { error: string };

async function ztauthzEval(engine: PolicyEngine, entrypoint: string): Promise<Outcome> {
  try {
    const rs = (await engine.evaluateAnywhere({}, entrypoint)) as { result: unknown }[];
    return rs.length === 0 ? { error: 'undefined' } : { value: rs[0]!.result };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const req = (fields: Record<string, unknown>): string => `summary(http.send(${JSON.stringify(fields)}))`;

describe('http.send matches opa eval', () => {
  it('requests, responses, decoding, redirects, TLS and errors', { timeout: TIMEOUT }, async () => {
    const cases: { name: string; rule: string }[] = [
      { name: 'json', rule: req({ method: 'GET', url: `${http.url}/json` }) },
      { name: 'method lower case', rule: req({ method: 'get', url: `${http.url}/json` }) },
      { name: '+json content type', rule: req({ method: 'GET', url: `${http.url}/problem` }) },
      { name: 'text is not decoded', rule: req({ method: 'GET', url: `${http.url}/text` }) },
      { name: 'force_json_decode', rule: req({ method: 'GET', url: `${http.url}/text`, force_json_decode: true }) },
      { name: 'yaml', rule: req({ method: 'GET', url: `${http.url}/yaml` }) },
      { name: 'force_yaml_decode', rule: req({ method: 'GET', url: `${http.url}/textyaml`, force_yaml_decode: true }) },
      { name: 'undecodable json body is null', rule: req({ method: 'GET', url: `${http.url}/badjson` }) },
      { name: 'multi-valued headers', rule: req({ method: 'GET', url: `${http.url}/multi` }) },
      { name: 'POST body', rule: `http.send({"method": "POST", "url": "${http.url}/echo", "body": {"x": [1, 2], "y": "z"}}).body.body` },
      { name: 'POST raw_body', rule: `http.send({"method": "POST", "url": "${http.url}/echo", "raw_body": "a=b&c"}).body` },
      { name: 'headers', rule: `http.send({"method": "PUT", "url": "${http.url}/echo", "headers": {"X-Custom": "v1", "Content-Type": "text/x"}, "raw_body": "q"}).body` },
      { name: 'redirect not followed', rule: req({ method: 'GET', url: `${http.url}/redirect` }) },
      { name: 'enable_redirect', rule: req({ method: 'GET', url: `${http.url}/redirect`, enable_redirect: true }) },
      { name: '404', rule: req({ method: 'GET', url: `${http.url}/status/404` }) },
      { name: '500', rule: req({ method: 'GET', url: `${http.url}/status/500` }) },
      { name: 'network error, raise_error false', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/', raise_error: false }) },
      { name: 'network error, raise_error true', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/' }) },
      { name: 'timeout, raise_error false', rule: req({ method: 'GET', url: `${http.url}/slow?ms=1500`, timeout: '200ms', raise_error: false }) },
      { name: 'timeout in ns', rule: req({ method: 'GET', url: `${http.url}/slow?ms=1500`, timeout: 200_000_000, raise_error: false }) },
      { name: 'unknown request key', rule: req({ method: 'GET', url: `${http.url}/json`, nope: 1 }) },
      { name: 'unknown request key, raise_error false', rule: `http.send({"method": "GET", "url": "${http.url}/json", "nope": 1, "raise_error": false}).error.code` },
      { name: 'missing url', rule: req({ method: 'GET' }) },
      { name: 'https with tls_ca_cert', rule: req({ method: 'GET', url: `${https.url}/json`, tls_ca_cert: ca.caPem }) },
      { name: 'https, unknown CA', rule: req({ method: 'GET', url: `${https.url}/json`, raise_error: false }) },
      { name: 'https, tls_insecure_skip_verify', rule: req({ method: 'GET', url: `${https.url}/json`, tls_insecure_skip_verify: true }) },
      { name: 'mTLS with client cert', rule: `http.send(${JSON.stringify({ method: 'GET', url: `${mtls.url}/client`, tls_ca_cert: ca.caPem, tls_client_cert: ca.clientCert, tls_client_key: ca.clientKey })}).body` },
      { name: 'mTLS without client cert', rule: `http.send(${JSON.stringify({ method: 'GET', url: `${mtls.url}/client`, tls_ca_cert: ca.caPem, raise_error: false })}).status_code` },
      { name: 'force_cache without duration', rule: req({ method: 'GET', url: `${http.url}/json`, force_cache: true }) },
      { name: 'cache: true', rule: req({ method: 'GET', url: `${http.url}/json`, cache: true }) },
      { name: 'bad caching_mode', rule: req({ method: 'GET', url: `${http.url}/json`, caching_mode: 'x' }) },
      { name: 'max_retry_attempts', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/', max_retry_attempts: 1, raise_error: false }) },
    ];
    const dir = writeModule('probe', cases.map((c) => c.rule));
    const expected = await opaEval(dir, 'data.probe');
    const engine = await engineFor(dir, 'probe', cases.length, runtime());
    const mismatches: unknown[] = [];
    for (const [i, c] of cases.entries()) {
      const want: Outcome = Object.hasOwn(expected, `c${i}`) ? { value: expected[`c${i}`] } : { error: 'undefined under opa eval' };
      const got = await ztauthzEval(engine, `probe/c${i}`);
      // Where OPA's (non-strict) evaluation leaves the rule undefined, ztauthz fails the evaluation (the Check is denied).
      const same = 'value' in want ? 'value' in got && isDeepStrictEqual(got.value, want.value) : 'error' in got;
      if (!same) mismatches.push({ name: c.name, opa: want, ztauthz: got });
    }
    expect(mismatches).toEqual([]);
  });
});
