// cache.ignore applied per policy: only to the fields the loaded policy
// provably does not read (src/cache/PolicyReads.ts). A drop-in policy that
// decides on a "volatile" field (the request time, the client port, a trace
// header, or every header) keeps it in its cache key at ztauthz's defaults;
// the demo policy and the policy library read none, so they keep every
// default entry and their cache hits.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VOLATILE_FIELDS } from '../../src/cache/CacheKey.ts';
import { analysePlan, effectiveIgnore, ignoreIsExplicit, wasmStrings } from '../../src/cache/PolicyReads.ts';
import { readArchiveFiles } from '../../src/policy/Bundle.ts';
import { compileRegoDirectory, compileRegoPlan } from '../../src/policy/OpaCompiler.ts';
import { CheckRequestType } from '../../src/envoy/ProtoCodec.ts';
import type { CheckOutcome } from '../../src/check/CheckPipeline.ts';
import { checkRequest } from '../support/checkClient.ts';
import { inProcessPipeline } from '../support/servers.ts';
import { loadConfig } from '../../src/config/load.ts';
import { Metrics } from '../../src/observe/Metrics.ts';
import { PolicyLifecycle } from '../../src/server/PolicyLifecycle.ts';

const HEADERS = 'attributes.request.http.headers.';
const HEADER_FIELDS = VOLATILE_FIELDS.filter((f) => f.startsWith(HEADERS));
const LIBRARY_ENTRYPOINTS = ['ztauthz/inference/allow', 'ztauthz/models/allow', 'ztauthz/features/allow', 'ztauthz/training/allow', 'envoy/authz/allow'];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-reads-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function regoDir(body: string): string {
  const dir = join(tmp, `p${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'policy.rego'), `package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\n${body}\n`);
  return dir;
}

async function planOf(dir: string, entrypoints: readonly string[] = ['envoy/authz/allow']): Promise<unknown> {
  const files = await readArchiveFiles(compileRegoPlan(dir, entrypoints));
  return JSON.parse(Buffer.from(files.get('/plan.json')!).toString('utf8'));
}

/** The default cache.ignore entries a policy keeps in its key. */
async function kept(body: string): Promise<string[]> {
  const e = effectiveIgnore(VOLATILE_FIELDS, false, analysePlan(await planOf(regoDir(body))));
  return VOLATILE_FIELDS.filter((f) => !e.ignore.includes(f));
}

describe('plan analysis: the volatile fields a policy reads stay in its key', () => {
  it('a business-hours rule on the request time (also through a rule and a type test)', async () => {
    expect(await kept('allow if input.attributes.request.time.seconds < 1767225600')).toEqual(['attributes.request.time']);
    expect(
      await kept(`t := input.attributes.request.time
ns := t.seconds * 1000000000 if is_object(t)
allow if {
  [h, _, _] := time.clock([ns, "UTC"])
  h >= 9
}`),
    ).toEqual(['attributes.request.time']);
  });

  it('the client port', async () => {
    expect(await kept('allow if input.attributes.source.address.socketAddress.portValue >= 1024')).toEqual([
      'attributes.source.address.socketAddress.portValue',
    ]);
  });

  it('named headers, by dot and by object.get, only those', async () => {
    expect(
      await kept(`allow if {
  startswith(input.attributes.request.http.headers["x-request-id"], "trusted-")
  not contains(object.get(input.attributes.request.http.headers, "traceparent", ""), "deadbeef")
}`),
    ).toEqual([`${HEADERS}x-request-id`, `${HEADERS}traceparent`]);
    expect(await kept(`h := input.attributes.request.http.headers\n\nallow if h["x-b3-traceid"] == "x"`)).toEqual([`${HEADERS}x-b3-traceid`]);
  });

  it('iterating every header keeps every header field (and only those)', async () => {
    expect(await kept(`allow if {\n  every _, value in input.attributes.request.http.headers {\n    not contains(lower(value), "<script")\n  }\n}`)).toEqual(
      HEADER_FIELDS,
    );
    expect(await kept(`allow if {\n  some name, value in input.attributes.request.http.headers\n  contains(value, "<script>")\n}`)).toEqual(HEADER_FIELDS);
    expect(await kept('allow if count(input.attributes.request.http.headers) < 20')).toEqual(HEADER_FIELDS);
    expect(await kept(`allow if {\n  some k in data.names\n  input.attributes.request.http.headers[k] == "x"\n}`)).toEqual(HEADER_FIELDS);
  });

  it('whole subtrees passed to builtins or functions, or the whole input', async () => {
    expect(await kept('allow if count(object.keys(input.attributes.request)) > 2')).toEqual(VOLATILE_FIELDS.filter((f) => f.startsWith('attributes.request.')));
    expect(await kept('allow if contains(json.marshal(input), "x")')).toEqual([...VOLATILE_FIELDS]);
    expect(await kept('allow if walk(input, [["attributes"], 1])')).toEqual([...VOLATILE_FIELDS]);
    expect(await kept(`f(r) := r.time.seconds\n\nallow if f(input.attributes.request) > 0`)).toEqual(['attributes.request.time']);
    expect(await kept(`f(r) := r\n\nallow if count(f(input.attributes.source)) > 0`)).toEqual(['attributes.source.address.socketAddress.portValue']);
  });

  it('a policy that reads none of them keeps none, and the load note says so', async () => {
    const r = analysePlan(await planOf(regoDir('allow if input.attributes.request.http.method == "GET"')));
    expect(effectiveIgnore(VOLATILE_FIELDS, false, r)).toEqual({ ignore: [...VOLATILE_FIELDS], notes: [] });
    const t = effectiveIgnore(VOLATILE_FIELDS, false, analysePlan(await planOf(regoDir('allow if input.attributes.request.time.seconds > 0'))));
    expect(t.notes).toEqual(['policy reads attributes.request.time.seconds']);
  });

  it('the demo policy and the policy library read no volatile field: every default entry stays out of their keys', async () => {
    for (const [dir, entrypoints] of [
      ['policies/demo', ['envoy/authz/allow']],
      ['policies/library', LIBRARY_ENTRYPOINTS],
    ] as const) {
      const e = effectiveIgnore(VOLATILE_FIELDS, false, analysePlan(await planOf(dir, entrypoints)));
      expect(e, dir).toEqual({ ignore: [...VOLATILE_FIELDS], notes: [] });
    }
  });
});

describe('prebuilt wasm: string constants', () => {
  async function wasmOf(body: string): Promise<Uint8Array> {
    const files = await readArchiveFiles(compileRegoDirectory(regoDir(body), ['envoy/authz/allow']));
    return files.get('/policy.wasm')!;
  }

  it('keeps a field whose name is a constant, and every header field when "headers" is one; honours an explicit cache.ignore', async () => {
    const time = wasmStrings(await wasmOf('allow if input.attributes.request.time.seconds < 1767225600'));
    expect(VOLATILE_FIELDS.filter((f) => !effectiveIgnore(VOLATILE_FIELDS, false, { kind: 'wasm', strings: time }).ignore.includes(f))).toContain(
      'attributes.request.time',
    );
    const headers = wasmStrings(await wasmOf('allow if input.attributes.request.http.headers["x-tenant"] == "a"'));
    const e = effectiveIgnore(VOLATILE_FIELDS, false, { kind: 'wasm', strings: headers });
    expect(e.ignore.filter((f) => f.startsWith(HEADERS))).toEqual([]);
    expect(e.notes.join('; ')).toContain('"headers"');
    const plain = wasmStrings(await wasmOf('allow if input.attributes.request.http.method == "GET"'));
    expect(effectiveIgnore(VOLATILE_FIELDS, false, { kind: 'wasm', strings: plain }).ignore).toContain('attributes.source.address.socketAddress.portValue');
    const mine = ['attributes.request.time'];
    expect(effectiveIgnore(mine, true, { kind: 'wasm', strings: time }).ignore).toEqual(mine);
    expect(effectiveIgnore(VOLATILE_FIELDS, false, { kind: 'unknown', why: 'test' }).ignore).toEqual([]);
    expect(effectiveIgnore(mine, true, { kind: 'unknown', why: 'test' }).ignore).toEqual(mine);
  });

  it('cache.ignore is explicit when it is not the default list', () => {
    expect(ignoreIsExplicit([...VOLATILE_FIELDS].reverse())).toBe(false);
    expect(ignoreIsExplicit([])).toBe(true);
    expect(ignoreIsExplicit(VOLATILE_FIELDS.slice(1))).toBe(true);
  });
});

describe('the pipeline at defaults (cache on, default cache.ignore)', () => {
  const encode = (o: object): Uint8Array => CheckRequestType.encode(CheckRequestType.fromObject(o)).finish();
  /** The same request as Envoy sends it again: new request id, trace, time and client port. */
  const again = (i: number, extra: Record<string, string> = {}) => {
    const r = checkRequest({
      method: 'POST',
      path: '/v2/models/churn/infer',
      principal: 'spiffe://cluster.local/ns/web/sa/frontend',
      headers: { 'x-request-id': `req-${i}`, traceparent: `00-${(i + 1).toString(16).padStart(32, '0')}-${'3'.repeat(16)}-01`, ...extra },
    }) as { attributes: { request: { time: { seconds: number } }; source: { address: { socketAddress: { portValue: number } } } } };
    r.attributes.request.time.seconds += i;
    r.attributes.source.address.socketAddress.portValue = 40000 + i;
    return r;
  };

  it('the demo policy answers repeats from the cache', async () => {
    const { policies, load, pipeline } = await inProcessPipeline({ 'decision-log-enabled': 'false' });
    policies.activate(await load());
    expect((await pipeline.check(encode(again(0)))).record.cache).toBe('miss');
    for (let i = 1; i < 4; i++) expect((await pipeline.check(encode(again(i)))).record.cache).toBe('hit');
  });

  it('a policy on x-request-id is never answered from another request', async () => {
    const dir = regoDir('allow if startswith(input.attributes.request.http.headers["x-request-id"], "trusted-")');
    const { policies, load, pipeline } = await inProcessPipeline({ 'policy-path': dir, 'decision-log-enabled': 'false' });
    policies.activate(await load());
    const ask = async (id: string): Promise<CheckOutcome> => pipeline.check(encode({ ...again(0, { 'x-request-id': id }) }));
    const a = await ask('trusted-1');
    const b = await ask('other-2');
    const c = await ask('trusted-1');
    expect([a.record.cache, b.record.cache, c.record.cache]).toEqual(['miss', 'miss', 'hit']);
    expect(a.decision.allowed).toBe(true);
    expect(b.decision.allowed).toBe(false);
  });

  it('a policy iterating every header is never answered from another request', async () => {
    const dir = regoDir('allow if {\n  every _, value in input.attributes.request.http.headers {\n    not contains(lower(value), "<script")\n  }\n}');
    const { policies, load, pipeline } = await inProcessPipeline({ 'policy-path': dir, 'decision-log-enabled': 'false' });
    policies.activate(await load());
    const clean = await pipeline.check(encode(again(0, { 'x-b3-traceid': 'abc' })));
    const dirty = await pipeline.check(encode(again(0, { 'x-b3-traceid': '<script>alert(1)</script>' })));
    expect(clean.decision.allowed).toBe(true);
    expect(dirty.decision.allowed).toBe(false);
  });
});

describe('the load log', () => {
  it('says what of cache.ignore the policy keeps in its key, and why', async () => {
    const dir = regoDir(`allow if {\n  input.attributes.request.time.seconds > 0\n  some v in input.attributes.request.http.headers\n  v == "x"\n}`);
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const log = { debug() {}, info: (m: string, f?: Record<string, unknown>) => lines.push([m, f]), warn() {}, error() {} };
    const lifecycle = new PolicyLifecycle(loadConfig({ flags: { 'policy-path': dir, 'policy-watch': 'false' } }), [], new Metrics(), log);
    await lifecycle.start();
    const loaded = lines.find(([m]) => m === 'active policy loaded')!;
    expect(loaded[1]!['cache_key']).toEqual({
      analysed: 'rego plan',
      ignored: 2,
      kept: VOLATILE_FIELDS.length - 2,
      why: [
        'policy reads attributes.request.time.seconds',
        'policy uses attributes.request.http.headers as a whole (iterates or passes it on): fields under it kept',
      ],
    });
    lifecycle.stop();
  });
});
