// The request shortcut through the real server: repeated request bytes are
// answered from the cache without decoding, and every Check is still counted,
// recorded and answered for its own caller.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/Server.ts';
import { CheckClient, checkRequest, headerValue } from '../support/checkClient.ts';
import { inProcessPipeline, startInProcess } from '../support/servers.ts';
import { CheckRequestType } from '../../src/envoy/ProtoCodec.ts';
import type { CheckOutcome } from '../../src/check/CheckPipeline.ts';
import { RequestShortcut } from '../../src/cache/RequestShortcut.ts';
import type { Identity } from '../../src/types/Identity.ts';
import type { RouteMatch } from '../../src/types/Route.ts';

const POLICY = 'test/fixtures/policies/cache-identities';
const SCORER = 'spiffe://cluster.local/ns/web/sa/frontend';

describe('request shortcut over real gRPC', () => {
  let dir: string;
  const running: Array<{ server: RunningServer; client: CheckClient }> = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ztauthz-shortcut-'));
  });
  afterAll(async () => {
    for (const r of running) r.client.close();
    await Promise.all(running.map((r) => r.server.stop(1000)));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(log: string, includeInput: string | undefined, more: Record<string, string> = {}) {
    const server = await startInProcess({
      'policy-path': POLICY,
      'decision-log-enabled': 'true',
      'decision-log-output': log,
      ...(includeInput === undefined ? {} : { 'decision-log-include-input': includeInput }),
      ...more,
    });
    const client = new CheckClient(server.grpcPort);
    running.push({ server, client });
    return { server, client };
  }

  /** The same request as Envoy would send it again: new request id and trace, new client port. */
  const again = (i: number) =>
    checkRequest({
      method: 'POST',
      path: '/v2/models/churn/infer',
      principal: SCORER,
      headers: { 'x-request-id': `req-${i}`, traceparent: `00-${(i + 1).toString(16).padStart(32, '0')}-${'3'.repeat(16)}-01` },
    });

  async function sendSequentially(client: CheckClient, n: number) {
    const answers = [];
    for (let i = 0; i < n; i++) answers.push(await client.check(again(i)));
    return answers;
  }

  const records = (file: string) =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);

  const metric = async (server: RunningServer, re: RegExp): Promise<number> =>
    Number(re.exec(await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text())?.[1] ?? 0);

  it('answers repeats from the cache, still counting and recording each Check with its caller and route', async () => {
    const log = join(dir, 'no-input.log');
    const { server, client } = await start(log, 'none');
    const answers = await sendSequentially(client, 30);
    for (const a of answers) expect(headerValue(a, 'x-cid-caller')).toBe(SCORER);
    expect(await metric(server, /^ztauthz_decision_cache_lookups_total\{result="hit"\} (\d+)$/m)).toBe(29);
    expect(await metric(server, /^ztauthz_request_shortcuts_total (\d+)$/m)).toBe(29);
    expect(await metric(server, /^ztauthz_checks_total\{decision="allow",reason="allowed",route="kserve-v2-infer"\} (\d+)$/m)).toBe(30);
    await server.stop(1000);
    const recs = records(log);
    expect(recs).toHaveLength(30);
    for (const r of recs) {
      expect(r['identity']?.spiffe_id).toBe(SCORER);
      expect(r['route']?.name).toBe('kserve-v2-infer');
      expect(r['input']).toBeUndefined();
    }
    expect(recs.filter((r) => r['cache'] === 'hit')).toHaveLength(29);
    // Each Check keeps its own decision id.
    expect(new Set(recs.map((r) => r['decision_id'])).size).toBe(30);
  });

  it('at defaults (include_input denied) answers repeated allows: their records go without the input', async () => {
    const log = join(dir, 'default.log');
    const { server, client } = await start(log, undefined);
    await sendSequentially(client, 10);
    expect(await metric(server, /^ztauthz_request_shortcuts_total (\d+)$/m)).toBe(9);
    await server.stop(1000);
    const recs = records(log);
    expect(recs).toHaveLength(10);
    for (const r of recs) expect(r).toMatchObject({ allowed: true, identity: { spiffe_id: SCORER }, route: { name: 'kserve-v2-infer' } });
    for (const r of recs) expect(r['input']).toBeUndefined();
  });

  // "true" is the old spelling of "all"; input_sample_allowed 1 makes every allow's record want the input.
  for (const [name, includeInput, more] of [
    ['include_input all (true)', 'true', {}],
    ['include_input denied with input_sample_allowed 1', 'denied', { 'decision-log-input-sample-allowed': '1' }],
  ] as const) {
    it(`is not taken when the records carry the input (${name}): every record has it`, async () => {
      const log = join(dir, `with-input-${includeInput}.log`);
      const { server, client } = await start(log, includeInput, more);
      await sendSequentially(client, 10);
      expect(await metric(server, /^ztauthz_request_shortcuts_total (\d+)$/m)).toBe(0);
      await server.stop(1000);
      const recs = records(log);
      expect(recs).toHaveLength(10);
      for (const r of recs) expect(r['input']?.attributes?.source?.principal).toBe(SCORER);
      expect(recs.filter((r) => r['cache'] === 'hit')).toHaveLength(9);
    });
  }

  it('does not serve a repeat past a change of input.behavior (the caller leaves learning)', async () => {
    const server = await startInProcess({
      'policy-path': 'test/fixtures/policies/behavior-echo',
      'behavior-window-seconds': '1',
      'behavior-learning-seconds': '0',
    });
    const client = new CheckClient(server.grpcPort);
    running.push({ server, client });
    const seen: string[] = [];
    const until = Date.now() + 3_500;
    for (let i = 0; Date.now() < until; i++) {
      const r = await client.check(again(i));
      const state = `learning=${headerValue(r, 'x-learning')} first_seen=${headerValue(r, 'x-first-seen')}`;
      if (seen[seen.length - 1] !== state) seen.push(state);
      await new Promise((res) => setTimeout(res, 20));
    }
    // Each state in turn, each answered fresh when it began: a stale repeat would put a state back.
    // (The route was learned as allowed while learning, so first_seen_route never shows.)
    expect(seen).toEqual(['learning=true first_seen=false', 'learning=false first_seen=false']);
    expect(await metric(server, /^ztauthz_request_shortcuts_total (\d+)$/m)).toBeGreaterThan(20);
  });

  it('answers a repeat without a promise: the shortcut is synchronous, the full path is not', async () => {
    const encode = (o: object): Uint8Array => CheckRequestType.encode(CheckRequestType.fromObject(o)).finish();
    const { policies, load, pipeline } = await inProcessPipeline({ 'policy-path': POLICY, 'decision-log-enabled': 'false' });
    policies.activate(await load());
    const first = pipeline.check(encode(again(0)));
    expect(first).toBeInstanceOf(Promise);
    expect((await first).record.cache).toBe('miss');
    const repeat = pipeline.check(encode(again(1)));
    expect(repeat).not.toBeInstanceOf(Promise);
    expect((repeat as CheckOutcome).record.cache).toBe('hit');
    expect((repeat as CheckOutcome).decision).toBe((await first).decision);
  });

  // The raw key leaves out request.time, http.id, the client port and the
  // trace/request-id headers; a request that differs from a cached one only
  // there still gets the full path's refusal, never the cached answer.
  it('never answers from the cache a request the full path refuses, however close to a cached one', async () => {
    const encode = (o: object): Buffer => Buffer.from(CheckRequestType.encode(CheckRequestType.fromObject(o)).finish());
    const { policies, load, pipeline } = await inProcessPipeline({
      'policy-path': POLICY,
      'decision-log-enabled': 'false',
      'request-max-header-bytes': '4096',
    });
    policies.activate(await load());
    const first = await pipeline.check(encode(again(0)));
    expect(first.record.cache).toBe('miss');
    const repeat = pipeline.check(encode(again(1))) as CheckOutcome;
    expect(repeat.record.cache).toBe('hit');
    const withTime = (time: object) => {
      const o = again(2) as any;
      o.attributes.request.time = time;
      return encode(o);
    };
    const splice = (bytes: Buffer, text: string, replacement: number[]): Buffer => {
      const at = bytes.indexOf(text);
      expect(at).toBeGreaterThan(0);
      const out = Buffer.from(bytes);
      out.set(replacement, at);
      return out;
    };
    const bigId = again(3) as any;
    bigId.attributes.request.http.headers['x-request-id'] = 'r'.repeat(5000);
    const cases: Array<[string, Buffer, string]> = [
      ['time past year 9999', withTime({ seconds: 1e15 }), 'request_malformed'],
      ['time before year 1', withTime({ seconds: -62_135_596_801 }), 'request_malformed'],
      ['time with negative nanos', withTime({ seconds: 1_700_000_000, nanos: -1 }), 'request_malformed'],
      ['time with a whole second of nanos', withTime({ seconds: 1_700_000_000, nanos: 1_000_000_000 }), 'request_malformed'],
      ['http id not UTF-8', splice(encode(again(4)), '1234', [0xff, 0xfe, 0xfd, 0xfc]), 'request_invalid_utf8'],
      ['x-request-id not UTF-8', splice(encode(again(5)), 'req-5', [0x72, 0x65, 0x71, 0xc0, 0xaf]), 'request_invalid_utf8'],
      ['x-request-id over request.max_header_bytes', encode(bigId), 'request_too_large'],
    ];
    for (const [name, bytes, reason] of cases) {
      const out = await pipeline.check(bytes);
      expect({ name, reason: out.decision.reason, cache: out.record.cache }).toEqual({ name, reason, cache: expect.not.stringMatching(/^hit$/) });
    }
    // And the cached answer is still there for the good repeats.
    expect((pipeline.check(encode(again(6))) as CheckOutcome).record.cache).toBe('hit');
  });
});

describe('request shortcut table', () => {
  const identity = (source: Identity['source'] = 'principal'): Identity => ({
    spiffe_id: SCORER,
    trust_domain: 'cluster.local',
    path: '/ns/web/sa/frontend',
    namespace: 'web',
    service_account: 'frontend',
    source,
    peer: null,
    user: null,
  });
  const route = (params: RouteMatch['params'] = { model: 'churn' }): RouteMatch => ({
    name: 'kserve-v2-infer',
    api: 'kserve-v2',
    action: 'infer',
    model: 'churn',
    version: null,
    params,
    entrypoint: 'envoy/authz/allow',
  });
  const entry = (i: Identity | null, r: RouteMatch | null) => ({ cacheKey: 'k', identity: i, route: r, entrypoint: 'envoy/authz/allow', behavior: undefined });

  // Each full-path Check builds its own identity and route objects; entries of one caller and route share one of each.
  it('shares equal identities and routes between entries, and keeps unequal ones apart', () => {
    const table = new RequestShortcut(100, 1 << 20, 60_000);
    table.remember('a', entry(identity(), route()));
    table.remember('b', entry(identity(), route()));
    table.remember('c', entry(identity('certificate'), route({ model: 'churn', extra: ['x'] })));
    table.remember('d', entry(null, null));
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((k) => table.get(k)!);
    expect(b!.identity).toBe(a!.identity);
    expect(b!.route).toBe(a!.route);
    expect(b!.identity).toEqual(identity());
    expect(c!.identity).not.toBe(a!.identity);
    expect(c!.identity!.source).toBe('certificate');
    expect(c!.route).not.toBe(a!.route);
    expect(c!.route!.params).toEqual({ model: 'churn', extra: ['x'] });
    expect(d).toEqual(entry(null, null));
  });
});
