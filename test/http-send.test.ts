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
function opaEval(dir: string, query: string, extra: readonly string[] = []): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(OPA, ['eval', '--format', 'json', ...extra, '-d', dir, query], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`opa eval failed: ${stderr}${stdout}`));
      const out = JSON.parse(stdout) as { result?: { expressions: { value: Record<string, unknown> }[] }[] };
      resolve(out.result?.[0]?.expressions[0]?.value ?? {});
    });
  });
}

function runtime(overrides: Partial<ConstructorParameters<typeof HttpSendRuntime>[0]> = {}): HttpSendRuntime {
  const r = new HttpSendRuntime({
    allowedHosts: ['127.0.0.1', 'localhost'],
    timeoutMs: 5000,
    maxResponseBytes: 1 << 20,
    cacheMaxBytes: 1 << 20,
    workers: 2,
    ...overrides,
  });
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
      {
        name: 'POST body, HTML characters escaped as Go does',
        rule: `http.send({"method": "POST", "url": "${http.url}/echo", "body": {"h": "<a&b>", "n": 1.5, "m": 100}}).body.body`,
      },
      { name: 'POST raw_body', rule: `http.send({"method": "POST", "url": "${http.url}/echo", "raw_body": "a=b&c"}).body` },
      {
        name: 'headers',
        rule: `http.send({"method": "PUT", "url": "${http.url}/echo", "headers": {"X-Custom": "v1", "Content-Type": "text/x"}, "raw_body": "q"}).body`,
      },
      { name: 'redirect not followed', rule: req({ method: 'GET', url: `${http.url}/redirect` }) },
      { name: 'enable_redirect', rule: req({ method: 'GET', url: `${http.url}/redirect`, enable_redirect: true }) },
      {
        name: 'redirect to the same host keeps Authorization',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${http.url}/redirect?to=/echo`, headers: { Authorization: 'Bearer t' }, enable_redirect: true })}).body`,
      },
      {
        name: 'redirect to another host drops Authorization',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${http.url}/redirect?to=${encodeURIComponent(`http://localhost:${http.port}/echo`)}`, headers: { Authorization: 'Bearer t', 'X-Custom': 'kept' }, enable_redirect: true })}).body`,
      },
      {
        name: '307 repeats the POST',
        rule: `http.send(${JSON.stringify({ method: 'POST', url: `${http.url}/redirect307`, raw_body: 'again', enable_redirect: true })}).body`,
      },
      {
        name: 'integers beyond 2^53 in a JSON body stay exact',
        rule: `[b.n == 9007199254740993, b.n == 9007199254740992, json.marshal(b.id)] if { b := http.send({"method": "GET", "url": "${http.url}/bigint"}).body }`,
      },
      { name: '404', rule: req({ method: 'GET', url: `${http.url}/status/404` }) },
      { name: '500', rule: req({ method: 'GET', url: `${http.url}/status/500` }) },
      { name: 'network error, raise_error false', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/', raise_error: false }) },
      { name: 'network error, raise_error true', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/' }) },
      { name: 'timeout, raise_error false', rule: req({ method: 'GET', url: `${http.url}/slow?ms=1500`, timeout: '200ms', raise_error: false }) },
      { name: 'timeout in ns', rule: req({ method: 'GET', url: `${http.url}/slow?ms=1500`, timeout: 200_000_000, raise_error: false }) },
      { name: 'unknown request key', rule: req({ method: 'GET', url: `${http.url}/json`, nope: 1 }) },
      {
        name: 'unknown request key, raise_error false',
        rule: `http.send({"method": "GET", "url": "${http.url}/json", "nope": 1, "raise_error": false}).error.code`,
      },
      { name: 'missing url', rule: req({ method: 'GET' }) },
      { name: 'https with tls_ca_cert', rule: req({ method: 'GET', url: `${https.url}/json`, tls_ca_cert: ca.caPem }) },
      { name: 'https, unknown CA', rule: req({ method: 'GET', url: `${https.url}/json`, raise_error: false }) },
      { name: 'https, tls_insecure_skip_verify', rule: req({ method: 'GET', url: `${https.url}/json`, tls_insecure_skip_verify: true }) },
      {
        name: 'tls_server_name',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${https.url}/json`, tls_ca_cert: ca.caPem, tls_server_name: 'localhost' })}).status_code`,
      },
      {
        name: 'tls_server_name not in the certificate',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${https.url}/json`, tls_ca_cert: ca.caPem, tls_server_name: 'other.example', raise_error: false })}).status_code`,
      },
      {
        name: 'tls_use_system_certs with tls_ca_cert',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${https.url}/json`, tls_ca_cert: ca.caPem, tls_use_system_certs: true })}).status_code`,
      },
      {
        name: 'tls_use_system_certs alone',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${https.url}/json`, tls_use_system_certs: true, raise_error: false })}).status_code`,
      },
      { name: 'cache_ignored_headers', rule: req({ method: 'GET', url: `${http.url}/json`, headers: { 'x-a': '1' }, cache_ignored_headers: ['x-a'] }) },
      {
        name: 'https, url host name',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `https://localhost:${https.port}/json`, tls_ca_cert: ca.caPem })}).status_code`,
      },
      {
        name: 'mTLS with client cert',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${mtls.url}/client`, tls_ca_cert: ca.caPem, tls_client_cert: ca.clientCert, tls_client_key: ca.clientKey })}).body`,
      },
      {
        name: 'mTLS without client cert',
        rule: `http.send(${JSON.stringify({ method: 'GET', url: `${mtls.url}/client`, tls_ca_cert: ca.caPem, raise_error: false })}).status_code`,
      },
      { name: 'force_cache without duration', rule: req({ method: 'GET', url: `${http.url}/json`, force_cache: true }) },
      { name: 'cache: true', rule: req({ method: 'GET', url: `${http.url}/json`, cache: true }) },
      { name: 'bad caching_mode', rule: req({ method: 'GET', url: `${http.url}/json`, caching_mode: 'x' }) },
      { name: 'max_retry_attempts', rule: req({ method: 'GET', url: 'http://127.0.0.1:1/', max_retry_attempts: 1, raise_error: false }) },
    ];
    const dir = writeModule(
      'probe',
      cases.map((c) => c.rule),
    );
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

describe('http.send caching', () => {
  it('the same request twice in one evaluation is sent once, under opa eval and ztauthz', { timeout: TIMEOUT }, async () => {
    const rule = (path: string): string => `[x | some _ in [1, 2]; x := http.send({"method": "GET", "url": "${http.url}${path}"}).body.n]`;
    const opaDir = writeModule('intraopa', [rule('/count/intra-opa')]);
    expect((await opaEval(opaDir, 'data.intraopa'))['c0']).toEqual([1, 1]);
    expect(http.hits.get('/count/intra-opa')).toBe(1);
    const dir = writeModule('intra', [
      rule('/count/intra'),
      `[http.send({"method": "GET", "url": "${http.url}/count/intra2"}).body.n, http.send({"url": "${http.url}/count/intra2", "method": "GET"}).body.n]`,
    ]);
    const engine = await engineFor(dir, 'intra', 2, runtime());
    expect(await ztauthzEval(engine, 'intra/c0')).toEqual({ value: [1, 1] });
    expect(http.hits.get('/count/intra')).toBe(1);
    // Key order does not make another request.
    expect(await ztauthzEval(engine, 'intra/c1')).toEqual({ value: [1, 1] });
    // The next evaluation sends again: the intra-query cache lives for one evaluation.
    expect(await ztauthzEval(engine, 'intra/c0')).toEqual({ value: [2, 2] });
  });

  it('inter-query: cache: true follows Cache-Control, force_cache its duration, within cache_max_bytes', { timeout: TIMEOUT }, async () => {
    const send = (path: string, extra: Record<string, unknown> = {}): string =>
      `http.send(${JSON.stringify({ method: 'GET', url: `${http.url}${path}`, ...extra })}).body.n`;
    const rules = [
      send('/maxage/a', { cache: true }),
      send('/nostore/a', { cache: true }),
      send('/count/plain', { cache: true }),
      send('/count/forced', { force_cache: true, force_cache_duration_seconds: 60 }),
      send('/count/uncached'),
      `count(http.send(${JSON.stringify({ method: 'GET', url: `${http.url}/big/a?bytes=5000`, force_cache: true, force_cache_duration_seconds: 60 })}).raw_body)`,
    ];
    const rt = runtime({ cacheMaxBytes: 4096 });
    const engine = await engineFor(writeModule('inter', rules), 'inter', rules.length, rt);
    const twice = async (i: number): Promise<unknown[]> => [await ztauthzEval(engine, `inter/c${i}`), await ztauthzEval(engine, `inter/c${i}`)];
    expect(await twice(0)).toEqual([{ value: 1 }, { value: 1 }]);
    expect(http.hits.get('/maxage/a')).toBe(1);
    expect(await twice(1)).toEqual([{ value: 1 }, { value: 2 }]);
    // No Cache-Control or Expires: nothing says the response stays fresh.
    expect(await twice(2)).toEqual([{ value: 1 }, { value: 2 }]);
    expect(await twice(3)).toEqual([{ value: 1 }, { value: 1 }]);
    expect(await twice(4)).toEqual([{ value: 1 }, { value: 2 }]);
    // Larger than the cache's bound: served, never stored.
    expect(await twice(5)).toEqual([{ value: 5000 }, { value: 5000 }]);
    expect(http.hits.get('/big/a')).toBe(2);
    expect(rt.client.cachedBytes).toBeLessThanOrEqual(4096);
  });
});

describe('http.send bounds', () => {
  const one = async (rt: HttpSendRuntime, fields: Record<string, unknown>, deadline?: number): Promise<Outcome> => {
    const dir = writeModule('bound', [`http.send(${JSON.stringify(fields)})`]);
    const engine = await engineFor(dir, 'bound', 1, rt);
    try {
      const rs = (await engine.evaluateOffThread({}, 'bound/c0', deadline)) as { result: unknown }[];
      return { value: rs[0]?.result };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };

  it('hosts outside http_send.allowed_hosts, also as a redirect hop, are not reached', { timeout: TIMEOUT }, async () => {
    const rt = runtime({ allowedHosts: [`127.0.0.1:${http.port}`] });
    const before = https.hits.get('/json') ?? 0;
    const direct = await one(rt, { method: 'GET', url: `${https.url}/json`, tls_insecure_skip_verify: true, raise_error: false });
    expect(direct).toMatchObject({
      value: { status_code: 0, error: { code: 'eval_http_send_internal_error', message: expect.stringMatching(/unallowed host/) } },
    });
    const hop = await one(rt, {
      method: 'GET',
      url: `${http.url}/redirect?to=${encodeURIComponent(`${https.url}/json`)}`,
      enable_redirect: true,
      tls_insecure_skip_verify: true,
    });
    expect(hop).toEqual({ error: expect.stringMatching(/http\.send: .*unallowed host/) });
    expect(https.hits.get('/json') ?? 0).toBe(before);
    expect(await one(runtime({ allowedHosts: ['*.example.com'] }), { method: 'GET', url: `${http.url}/json` })).toEqual({
      error: expect.stringMatching(/unallowed host/),
    });
    expect(await one(runtime({ allowedHosts: ['*'] }), { method: 'GET', url: `${http.url}/json` })).toMatchObject({ value: { status_code: 200 } });
  });

  it('refused hosts give the error codes OPA gives with capabilities allow_net', { timeout: TIMEOUT }, async () => {
    const caps = JSON.parse(
      await new Promise<string>((resolve, reject) =>
        execFile(OPA, ['capabilities', '--current'], { maxBuffer: 64 << 20 }, (e, out) => (e ? reject(e) : resolve(out))),
      ),
    ) as Record<string, unknown>;
    caps['allow_net'] = ['127.0.0.1'];
    const capsDir = mkdtempSync(join(tmpdir(), 'ztauthz-httpsend-caps-'));
    dirs.push(capsDir);
    writeFileSync(join(capsDir, 'caps.json'), JSON.stringify(caps));
    const rules = [
      `http.send({"method": "GET", "url": "http://localhost:${http.port}/json", "raise_error": false}).error.code`,
      `http.send({"method": "GET", "url": "${http.url}/redirect?to=${encodeURIComponent(`http://localhost:${http.port}/json`)}", "enable_redirect": true, "raise_error": false}).error.code`,
      `http.send({"method": "GET", "url": "http://localhost:${http.port}/json"}).status_code`,
      `http.send({"method": "GET", "url": "${http.url}/json"}).status_code`,
    ];
    const dir = writeModule('allownet', rules);
    const expected = await opaEval(dir, 'data.allownet', ['--capabilities', join(capsDir, 'caps.json')]);
    expect(expected).toEqual({ c0: 'eval_http_send_internal_error', c1: 'eval_http_send_network_error', c3: 200 });
    const engine = await engineFor(dir, 'allownet', rules.length, runtime({ allowedHosts: ['127.0.0.1'] }));
    const got = await Promise.all(rules.map((_, i) => ztauthzEval(engine, `allownet/c${i}`)));
    expect(got).toEqual([{ value: expected['c0'] }, { value: expected['c1'] }, { error: expect.stringMatching(/unallowed host: localhost/) }, { value: 200 }]);
  });

  it('responses larger than http_send.max_response_bytes are an error', { timeout: TIMEOUT }, async () => {
    const rt = runtime({ maxResponseBytes: 1024 });
    expect(await one(rt, { method: 'GET', url: `${http.url}/big/small?bytes=1000` })).toMatchObject({ value: { status_code: 200 } });
    expect(await one(rt, { method: 'GET', url: `${http.url}/big/large?bytes=5000` })).toEqual({ error: expect.stringMatching(/max_response_bytes/) });
  });

  it('the policy timeout is cut to http_send.timeout_ms and to the Check deadline', { timeout: TIMEOUT }, async () => {
    const rt = runtime({ timeoutMs: 200 });
    let t0 = Date.now();
    expect(await one(rt, { method: 'GET', url: `${http.url}/slow?ms=3000`, timeout: '10s', raise_error: false })).toMatchObject({
      value: { status_code: 0, error: { code: 'eval_http_send_network_error', message: expect.stringMatching(/timed out/) } },
    });
    expect(Date.now() - t0).toBeLessThan(2500);
    t0 = Date.now();
    expect(await one(runtime(), { method: 'GET', url: `${http.url}/slow?ms=3000` }, Date.now() + 300)).toEqual({ error: expect.stringMatching(/timed out/) });
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('policy requests may not read ztauthz files or environment', { timeout: TIMEOUT }, async () => {
    expect(await one(runtime(), { method: 'GET', url: `${https.url}/json`, tls_ca_cert_file: '/etc/hostname' })).toEqual({
      error: expect.stringMatching(/tls_ca_cert_file.*not supported/),
    });
  });
});

describe('http.send workers', () => {
  it('drop a replaced policy once its last evaluation is done, and start no more than http_send.workers', { timeout: TIMEOUT }, async () => {
    const rt = runtime({ workers: 2 });
    const dir = writeModule('retire', [`http.send({"method": "GET", "url": "${http.url}/slow?ms=300"}).status_code`]);
    const a = await engineFor(dir, 'retire', 1, rt);
    const b = await engineFor(dir, 'retire', 1, rt);
    const running = [1, 2, 3].map(() => a.evaluateOffThread({}, 'retire/c0'));
    // Retired while its evaluations run: they finish on it.
    a.retire();
    expect(await Promise.all(running)).toEqual([[{ result: 200 }], [{ result: 200 }], [{ result: 200 }]]);
    expect(rt.workers).toBe(2);
    expect(rt.instances).toBe(0);
    expect(await b.evaluateOffThread({}, 'retire/c0')).toEqual([{ result: 200 }]);
    expect(rt.instances).toBe(1);
  });

  it('close() answers the evaluations in flight and queued with an error', { timeout: TIMEOUT }, async () => {
    const rt = runtime({ workers: 1 });
    const dir = writeModule('closing', [`http.send({"method": "GET", "url": "${http.url}/slow?ms=2000"}).status_code`]);
    const engine = await engineFor(dir, 'closing', 1, rt);
    const before = http.hits.get('/slow') ?? 0;
    const outcome = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'answered',
        (err: Error) => err.message,
      );
    const running = outcome(engine.evaluateOffThread({}, 'closing/c0'));
    const queued = outcome(engine.evaluateOffThread({}, 'closing/c0'));
    while ((http.hits.get('/slow') ?? 0) === before) await new Promise((r) => setTimeout(r, 5));
    await rt.close();
    expect(await running).toMatch(/closed/);
    expect(await queued).toMatch(/closed/);
  });
});

describe('http_send configuration', () => {
  it('validates allowed_hosts entries and defaults to none', async () => {
    const { loadConfig } = await import('../src/config/load.ts');
    expect(loadConfig({}).http_send).toEqual({ allowed_hosts: [], timeout_ms: 1000, max_response_bytes: 1 << 20, workers: 2, cache_max_bytes: 16 << 20 });
    expect(
      loadConfig({ flags: { 'http-send-allowed-hosts': 'jwks.example.com,*.corp.example,10.0.0.1:8443,[::1]:80,*' } }).http_send.allowed_hosts,
    ).toHaveLength(5);
    for (const bad of ['http://jwks.example.com', 'jwks.example.com/keys', 'a b', '*example.com']) {
      expect(() => loadConfig({ flags: { 'http-send-allowed-hosts': bad } })).toThrow(/http_send\.allowed_hosts: .* is not a host/);
    }
  });
});

describe('http.send retries', () => {
  /** A port nothing listens on until start(ms) has a server take it `ms` later. */
  async function latePort(): Promise<{ port: number; start: (ms: number) => void; close: () => void }> {
    const { createServer } = await import('node:http');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const server = createServer((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' });
      s.end('{"late": true}');
    });
    let timer: NodeJS.Timeout | undefined;
    return {
      port,
      start: (ms) => void (timer = setTimeout(() => server.listen(port, '127.0.0.1'), ms)),
      close: () => (clearTimeout(timer), server.close(), server.closeAllConnections()),
    };
  }

  it('max_retry_attempts retries a refused connection until the server is up, as opa eval does', { timeout: TIMEOUT }, async () => {
    const rule = (port: number, retries: number): string =>
      `http.send({"method": "GET", "url": "http://127.0.0.1:${port}/", "max_retry_attempts": ${retries}, "raise_error": false}).status_code`;
    let late = await latePort();
    try {
      const dir = writeModule('retryopa', [rule(late.port, 5)]);
      // opa eval starts in well under 250 ms, then retries after 100, 200, 400... ms.
      late.start(250);
      expect(await opaEval(dir, 'data.retryopa')).toEqual({ c0: 200 });
    } finally {
      late.close();
    }
    late = await latePort();
    try {
      const dir = writeModule('retry', [rule(late.port, 5), rule(late.port, 0)]);
      const engine = await engineFor(dir, 'retry', 2, runtime());
      // Without retries the refused connection is the answer.
      expect(await ztauthzEval(engine, 'retry/c1')).toEqual({ value: 0 });
      late.start(250);
      expect(await ztauthzEval(engine, 'retry/c0')).toEqual({ value: 200 });
    } finally {
      late.close();
    }
  });
});

describe('http.send inter-query cache against an OPA server', () => {
  /** `opa run --server` on a free port, with the module in `dir`. */
  async function opaServer(dir: string): Promise<{ query: (path: string) => Promise<unknown>; stop: () => void }> {
    const { spawn } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const child = spawn(OPA, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', dir], { stdio: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch {
        if (i > 300) throw new Error('opa run --server did not start');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      query: async (path) => ((await (await fetch(`${base}/v1/data/${path}`, { method: 'POST', body: '{}' })).json()) as { result?: unknown }).result,
      stop: () => void child.kill(),
    };
  }

  it('two queries in a row: what is sent again and what is served from the cache', { timeout: TIMEOUT }, async () => {
    const rules = (prefix: string): string[] => {
      const send = (path: string, extra: Record<string, unknown>): string =>
        `http.send(${JSON.stringify({ method: 'GET', url: `${http.url}${path}`, ...extra })}).body.n`;
      return [
        send(`/maxage/${prefix}`, { cache: true }),
        send(`/nostore/${prefix}`, { cache: true }),
        send(`/count/${prefix}-plain`, { cache: true }),
        send(`/count/${prefix}-forced`, { force_cache: true, force_cache_duration_seconds: 60 }),
        send(`/etag/${prefix}`, { cache: true }),
        send(`/expires/${prefix}`, { cache: true }),
        send(`/count/${prefix}-nocache`, {}),
      ];
    };
    const paths = (prefix: string): string[] => [
      `/maxage/${prefix}`,
      `/nostore/${prefix}`,
      `/count/${prefix}-plain`,
      `/count/${prefix}-forced`,
      `/etag/${prefix}`,
      `/expires/${prefix}`,
      `/count/${prefix}-nocache`,
    ];
    const opaDir = writeModule('interopa', rules('opa'));
    const opa = await opaServer(opaDir);
    const want: unknown[] = [];
    try {
      for (let i = 0; i < rules('opa').length; i++) want.push([await opa.query(`interopa/c${i}`), await opa.query(`interopa/c${i}`)]);
    } finally {
      opa.stop();
    }
    const wantHits = paths('opa').map((p) => http.hits.get(p));
    const engine = await engineFor(writeModule('interzt', rules('zt')), 'interzt', rules('zt').length, runtime());
    const got: unknown[] = [];
    for (let i = 0; i < rules('zt').length; i++) {
      const once = async (): Promise<unknown> => ((await engine.evaluateOffThread({}, `interzt/c${i}`)) as { result: unknown }[])[0]?.result;
      got.push([await once(), await once()]);
    }
    expect({ values: got, hits: paths('zt').map((p) => http.hits.get(p)) }).toEqual({ values: want, hits: wantHits });
    // The expected behaviour, spelled out: fresh entries served, no-store and header-less ones sent again, the ETag one revalidated (304).
    expect(want).toEqual([
      [1, 1],
      [1, 2],
      [1, 2],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 2],
    ]);
    expect(wantHits).toEqual([1, 2, 2, 1, 2, 1, 2]);
  });
});
