// Decision-log lines written through the Observer: allow, deny, cache hit and
// error records with OPA's field names, masking of secrets (and `erased`),
// which records carry the input (include_input), sampling of allowed
// decisions only, and behaviour events; records queued by the Check and
// written after it, in batches, bounded, with failures replaced and counted.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DecisionLog, isoTimestamp, type DecisionLogOptions, type LogEntry } from '../../src/observe/DecisionLog.ts';
import { Metrics } from '../../src/observe/Metrics.ts';
import { Observer } from '../../src/observe/Observer.ts';
import { Reason } from '../../src/types/Reason.ts';
import { DEFAULT_MASK, FRONTEND, MODEL_SERVER, deny, input, observed, route, tempFile, workload } from './support/checks.ts';

async function withLog(opts: Partial<DecisionLogOptions>, run: (observer: Observer, metrics: Metrics) => void): Promise<any[]> {
  const file = tempFile('decisions.log');
  const metrics = new Metrics({ processMetrics: false });
  const log = new DecisionLog({ enabled: true, output: file, includeInput: true, mask: DEFAULT_MASK, ...opts }, metrics);
  run(new Observer({ metrics, decisionLog: log }), metrics);
  await log.close();
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('decision records', () => {
  it('one line per decision: allow, deny, cache hit, error; OPA names; secrets masked and listed in erased', async () => {
    const liveInput = input();
    const lines = await withLog({}, (o) => {
      o.finish(o.begin(undefined), observed({ input: liveInput }));
      o.finish(
        o.begin(undefined),
        observed({ decision: deny(), identity: workload(MODEL_SERVER), route: route('feast-get-online-features', 'read_features', null) }),
      );
      o.finish(o.begin(undefined), observed({ cache: 'hit', timings: { checkNs: 9000, evalNs: 0 } }));
      o.finish(o.begin(undefined), observed({ decision: deny(Reason.policyError), cache: 'bypass' }));
      o.finish(
        o.begin(undefined),
        observed({ decision: deny(Reason.requestMalformed), identity: null, route: null, input: undefined, cache: 'off', revision: '' }),
      );
    });
    expect(lines).toHaveLength(5);
    const [allow, denied, hit, error, malformed] = lines;
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(
        expect.arrayContaining(['decision_id', 'timestamp', 'path', 'revision', 'allowed', 'reason', 'metrics', 'identity', 'route', 'cache']),
      );
      expect(l.decision_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(l.timestamp).toISOString()).toBe(l.timestamp);
    }
    expect(allow).toMatchObject({
      allowed: true,
      reason: 'allowed',
      http_status: 200,
      revision: 'rev-1',
      path: 'envoy/authz/allow',
      cache: 'miss',
      dry_run: false,
      identity: {
        spiffe_id: FRONTEND,
        trust_domain: 'cluster.local',
        namespace: 'fraud-web',
        service_account: 'frontend',
        source: 'principal',
        peer: null,
        user: null,
      },
      route: { name: 'kserve-v2-infer', api: 'kserve', action: 'infer', model: 'fraud-detector', version: null },
      metrics: { timer_check_ns: 120000, timer_eval_ns: 40000, timer_server_handler_ns: 120000, timer_rego_query_eval_ns: 40000 },
      result: { allowed: true },
    });
    // Masking: the secrets are gone from the line, the rest of the input stays, and the live input is untouched.
    const headers = allow.input.attributes.request.http.headers;
    expect(headers.authorization).toBeUndefined();
    expect(headers.cookie).toBeUndefined();
    expect(headers['x-request-id']).toBe('r1');
    expect(allow.erased).toEqual(DEFAULT_MASK.slice(0, 2));
    expect(JSON.stringify(lines)).not.toContain('secret');
    expect((liveInput as any).attributes.request.http.headers.authorization).toBe('Bearer secret-token');
    expect(denied).toMatchObject({
      allowed: false,
      reason: 'policy_denied',
      http_status: 403,
      identity: { spiffe_id: MODEL_SERVER },
      route: { name: 'feast-get-online-features', action: 'read_features' },
    });
    expect(hit).toMatchObject({ allowed: true, cache: 'hit', metrics: { timer_eval_ns: 0 } });
    expect(error).toMatchObject({ allowed: false, reason: 'policy_error', message: 'policy_error happened', cache: 'bypass' });
    expect(malformed).toMatchObject({ allowed: false, reason: 'request_malformed', identity: null, route: null, cache: 'off', revision: '' });
    expect(malformed.input).toBeUndefined();
    expect(malformed.erased).toBeUndefined();
  });

  it('timestamps are Date#toISOString, to the millisecond', () => {
    for (const ms of [0, 1, 999, 1000, 1767225600123, 1767225600005.7, 1767225659999, Date.now()]) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    let t = 1767225600000;
    for (let i = 0; i < 5000; i++, t += 7.3) expect(isoTimestamp(t)).toBe(new Date(t).toISOString());
  });

  it('notes from the pipeline are appended to the message', async () => {
    const [line] = await withLog({}, (o) => o.finish(o.begin(undefined), observed({ decision: deny(), notes: ['token ignored: expired', 'xfcc untrusted'] })));
    expect(line.message).toBe('no rule allows this (token ignored: expired; xfcc untrusted)');
  });

  it('dry run records the real decision', async () => {
    const [line] = await withLog({}, (o) => o.finish(o.begin(undefined), observed({ decision: deny(), dryRun: true })));
    expect(line).toMatchObject({ allowed: false, dry_run: true, reason: 'policy_denied' });
  });

  it('include_input denied (the default): denials with the input, allows without it but otherwise whole', async () => {
    const lines = await withLog({ includeInput: 'denied' }, (o) => {
      o.finish(o.begin(undefined), observed());
      o.finish(o.begin(undefined), observed({ decision: deny() }));
      o.finish(o.begin(undefined), observed({ decision: deny(Reason.internalError) }));
      o.finish(o.begin(undefined), observed({ decision: deny(), dryRun: true }));
      // Answered by the shortcut: the pipeline says the record goes without input.
      o.finish(o.begin(undefined), observed({ input: undefined, shortcut: true, recordInput: false, cache: 'hit' }));
    });
    const [allow, denied, error, dry, hit] = lines;
    expect(allow.input).toBeUndefined();
    expect(allow.erased).toBeUndefined();
    expect(allow).toMatchObject({
      allowed: true,
      revision: 'rev-1',
      result: { allowed: true },
      identity: { spiffe_id: FRONTEND },
      route: { name: 'kserve-v2-infer' },
      metrics: { timer_check_ns: 120000 },
    });
    expect(allow.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    for (const d of [denied, error, dry]) {
      expect(d.input.attributes.request.http.headers['x-request-id']).toBe('r1');
      expect(d.erased).toEqual(DEFAULT_MASK.slice(0, 2));
    }
    expect(hit).toMatchObject({ allowed: true, cache: 'hit' });
    expect(hit.input).toBeUndefined();
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('input_sample_allowed: that share of allows carries the input (one draw per Check); all and none ignore it', async () => {
    let n = 0;
    const lines = await withLog({ includeInput: 'denied', inputSampleAllowed: 0.25, random: () => (n++ % 4) / 4 }, (o) => {
      for (let i = 0; i < 400; i++) o.finish(o.begin(undefined), observed());
      for (let i = 0; i < 10; i++) o.finish(o.begin(undefined), observed({ decision: deny() }));
    });
    expect(lines.filter((l) => l.allowed && l.input)).toHaveLength(100);
    expect(lines.filter((l) => !l.allowed && l.input)).toHaveLength(10);
    const log = new DecisionLog({ enabled: true, output: tempFile('x.log'), includeInput: 'denied', inputSampleAllowed: 0.5, mask: [], random: () => 0.4 });
    expect([log.inputFor(true), log.inputFor(false), log.inputOnEveryRecord]).toEqual([true, true, false]);
    const all = new DecisionLog({ enabled: true, output: tempFile('y.log'), includeInput: true, inputSampleAllowed: 0, mask: [] });
    expect([all.inputFor(true), all.inputOnEveryRecord]).toEqual([true, true]);
    const none = new DecisionLog({ enabled: true, output: tempFile('z.log'), includeInput: 'none', inputSampleAllowed: 1, mask: [] });
    expect([none.inputFor(true), none.inputFor(false), none.inputOnEveryRecord]).toEqual([false, false, false]);
    const off = new DecisionLog({ enabled: false, output: 'stdout', includeInput: 'all', mask: [] });
    expect([off.inputFor(false), off.inputOnEveryRecord]).toEqual([false, false]);
    await Promise.all([log.close(), all.close(), none.close()]);
  });

  it("a line over the limit keeps everything but the input, replaced by the masked input's size in bytes", async () => {
    const big = input({ 'x-big': 'é'.repeat(3000) });
    const [line, small] = await withLog({ maxLineBytes: 4096 }, (o) => {
      o.finish(o.begin(undefined), observed({ decision: deny(), input: big }));
      o.finish(o.begin(undefined), observed({ decision: deny() }));
    });
    const masked = structuredClone(big) as any;
    delete masked.attributes.request.http.headers.authorization;
    delete masked.attributes.request.http.headers.cookie;
    expect(line.input).toEqual({ erased: 'input too large to log', bytes: Buffer.byteLength(JSON.stringify(masked)) });
    expect(line).toMatchObject({ allowed: false, reason: 'policy_denied', erased: DEFAULT_MASK.slice(0, 2), route: { name: 'kserve-v2-infer' } });
    expect(small.input.attributes.request.http.headers['x-request-id']).toBe('r1');
  });

  it('include_input: false leaves the input out entirely', async () => {
    const [line] = await withLog({ includeInput: false }, (o) => o.finish(o.begin(undefined), observed()));
    expect(line.input).toBeUndefined();
    expect(line.erased).toBeUndefined();
  });
});

describe('sampling', () => {
  it('sample_allowed: 0 drops every allowed decision and no denial', async () => {
    let metrics!: Metrics;
    const lines = await withLog({ sampleAllowed: 0 }, (o, m) => {
      metrics = m;
      for (let i = 0; i < 1000; i++) {
        o.finish(o.begin(undefined), observed());
        o.finish(o.begin(undefined), observed({ decision: i % 2 ? deny() : deny(Reason.internalError) }));
        o.finish(o.begin(undefined), observed({ decision: deny(), dryRun: true }));
      }
    });
    expect(lines).toHaveLength(2000);
    expect(lines.every((l) => l.allowed === false)).toBe(true);
    expect((await metrics.decisionLogSampledOut.get()).values[0]!.value).toBe(1000);
  });

  it('sample_allowed: 0.25 keeps a quarter of allowed decisions (by the random source) and every denial', async () => {
    let n = 0;
    const lines = await withLog({ sampleAllowed: 0.25, random: () => (n++ % 4) / 4 }, (o) => {
      for (let i = 0; i < 400; i++) o.finish(o.begin(undefined), observed({ decision: i % 4 === 3 ? deny() : observed().decision }));
    });
    expect(lines.filter((l) => l.allowed)).toHaveLength(75);
    expect(lines.filter((l) => !l.allowed)).toHaveLength(100);
  });
});

describe('off the Check path', () => {
  const entry = (over: Partial<LogEntry> = {}): LogEntry => {
    const rec = {
      decision_id: randomUUID(),
      timestamp: new Date().toISOString(),
      path: 'p',
      revision: 'r',
      allowed: true,
      reason: 'allowed',
      message: '',
      dry_run: false,
      http_status: 200,
      metrics: { timer_check_ns: 1, timer_eval_ns: 0 },
    };
    return { decisionId: rec.decision_id, allowed: true, reason: 'allowed', timestamp: Date.now(), withInput: false, build: () => rec, ...over };
  };

  it('a Check only queues: records are built and written once per turn of the event loop, in order with events', async () => {
    const file = tempFile('decisions.log');
    const log = new DecisionLog({ enabled: true, output: file, includeInput: 'denied', mask: DEFAULT_MASK });
    const o = new Observer({ decisionLog: log });
    let built = 0;
    const first = entry();
    log.write({ ...first, build: () => (built++, first.build()) });
    log.writeEvent({ type: 'behavior', decision_id: first.decisionId });
    o.finish(o.begin(undefined), observed({ decision: deny() }));
    expect(built).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(built).toBe(1);
    await log.close();
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type ?? l.reason)).toEqual(['allowed', 'behavior', 'policy_denied']);
    expect(new Date(lines[1].timestamp).toISOString()).toBe(lines[1].timestamp);
  });

  it('a record that fails to build or serialise later is a minimal record with log_error, counted; the others are whole', async () => {
    const file = tempFile('decisions.log');
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: file, includeInput: 'all', mask: ['/input/x', '/revision'] }, metrics);
    const throwing = {
      get boom(): never {
        throw new TypeError('no reading this');
      },
    };
    const bad = entry();
    log.write({ ...bad, build: () => ({ ...bad.build(), input: throwing as never }), withInput: true });
    log.write(
      entry({
        decisionId: 'no-record',
        reason: 'policy_denied',
        allowed: false,
        build: () => {
          throw new RangeError('Maximum call stack size exceeded');
        },
      }),
    );
    // A cycle is not a failure: pino writes it marked. (Policy inputs come from protobuf and JSON, so never have one.)
    const cyclic: any = { a: 1 };
    cyclic.self = cyclic;
    const odd = entry();
    log.write({ ...odd, build: () => ({ ...odd.build(), input: cyclic }), withInput: true });
    await log.close();
    const [a, b, c] = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(a).toMatchObject({
      decision_id: bad.decisionId,
      allowed: true,
      reason: 'allowed',
      path: 'p',
      http_status: 200,
      log_error: 'the record could not be serialised: TypeError: no reading this',
    });
    // A top-level field a mask names stays out of the minimal record too.
    expect(a).not.toHaveProperty('revision');
    expect(a).not.toHaveProperty('input');
    expect(b).toEqual({
      decision_id: 'no-record',
      timestamp: expect.any(String),
      allowed: false,
      reason: 'policy_denied',
      log_error: 'the record could not be built: RangeError: Maximum call stack size exceeded',
    });
    expect(c).toMatchObject({ decision_id: odd.decisionId, input: { a: 1, self: { a: 1, self: '[Circular]' } }, erased: ['/revision'] });
    expect(c).not.toHaveProperty('revision');
    expect(c.log_error).toBeUndefined();
    expect((await metrics.decisionLogErrors.get()).values[0]!.value).toBe(2);
  });

  it('masks are JSON pointers: keys with dots, dashes, colons, quotes and ~ escapes are removed exactly; one pino cannot express is refused', async () => {
    const mask = ['/input/a.b', '/input/x-y/:z', '/input/q"uote', '/input/t~1s~0', '/input/list/1', '/input/absent/k'];
    const [line] = await withLog({ mask }, (o) =>
      o.finish(o.begin(undefined), observed({ input: { 'a.b': 1, a: { b: 2 }, 'x-y': { ':z': 3, keep: 4 }, 'q"uote': 5, 't/s~': 6, list: [7, 8, 9] } })),
    );
    expect(line.input).toEqual({ a: { b: 2 }, 'x-y': { keep: 4 }, list: [7, null, 9] });
    expect(line.erased).toEqual(mask.slice(0, 5));
    expect(() => new DecisionLog({ enabled: false, output: 'stdout', includeInput: 'denied', mask: ['/input/*'] })).toThrow(
      /decision_log\.mask: "\/input\/\*" cannot be masked: a "\*" segment/,
    );
  });

  it('the queue is bounded: past it new records are dropped and counted, and the next turn takes records again', async () => {
    const file = tempFile('decisions.log');
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: file, includeInput: 'denied', mask: [] }, metrics);
    let queued = 0;
    for (let i = 0; i < 25_000; i++) if (log.write(entry())) queued++;
    expect(queued).toBe(20_000);
    expect((await metrics.decisionLogDropped.get()).values[0]!.value).toBe(5_000);
    await new Promise((r) => setImmediate(r));
    expect(log.write(entry())).toBe(true);
    await log.close();
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(20_001);
  });

  it('the output buffer is bounded: with a reader that stops reading, records are dropped and counted, none lost uncounted', async () => {
    // A FIFO whose reader reads nothing until the end: the writer's buffer (16 MiB) fills up.
    const fifo = tempFile('decisions.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: fifo, includeInput: 'denied', mask: [] }, metrics);
    const big = 'x'.repeat(100_000);
    const sent = 400; // 40 MB of lines
    for (let i = 0; i < sent; i++) {
      log.write(entry({ build: () => ({ ...entry().build(), message: big }) }));
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    const dropped = async (): Promise<number> => (await metrics.decisionLogDropped.get()).values[0]?.value ?? 0;
    expect(await dropped()).toBeGreaterThan(0);
    // While the output is behind, new records are refused at once (not built), and counted.
    let built = false;
    expect(log.write(entry({ build: () => ((built = true), entry().build()) }))).toBe(false);
    expect(built).toBe(false);
    // Now read everything: every record is either received whole or counted as dropped.
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 20);
    const readSome = (): number => {
      try {
        const n = readSync(reader, buf);
        if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
        return n;
      } catch {
        return -1; // EAGAIN: nothing there yet
      }
    };
    const closed = log.close();
    let done = false;
    void closed.then(() => (done = true));
    while (!done) if (readSome() <= 0) await new Promise((r) => setTimeout(r, 5));
    while (readSome() > 0);
    closeSync(reader);
    const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
    for (const l of lines) expect(JSON.parse(l).message).toBe(big);
    expect(lines.length).toBeLessThan(sent);
    expect(lines.length + (await dropped())).toBe(sent + 1);
  });

  it('an output that refuses writes (ENOSPC on /dev/full) is counted; the Checks go on and close() returns', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: '/dev/full', includeInput: 'denied', mask: [] }, metrics);
    for (let i = 0; i < 10; i++) expect(log.write(entry())).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    await log.close();
    expect((await metrics.decisionLogErrors.get()).values[0]!.value).toBeGreaterThan(0);
  });

  it('a pipe whose reader went away (EPIPE): the error is counted, later records are dropped and counted', async () => {
    const fifo = tempFile('decisions.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const metrics = new Metrics({ processMetrics: false });
    const log = new DecisionLog({ enabled: true, output: fifo, includeInput: 'denied', mask: [] }, metrics);
    await new Promise((r) => setTimeout(r, 50)); // opened
    closeSync(reader);
    log.write(entry());
    const errors = async (): Promise<number> => (await metrics.decisionLogErrors.get()).values[0]?.value ?? 0;
    for (let i = 0; i < 100 && (await errors()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await errors()).toBeGreaterThan(0);
    expect(log.write(entry())).toBe(false);
    expect((await metrics.decisionLogDropped.get()).values[0]!.value).toBe(1);
    await log.close();
  });

  it('a file that cannot be opened is refused at once, saying why', () => {
    expect(() => new DecisionLog({ enabled: true, output: '/nonexistent/dir/decisions.log', includeInput: 'denied', mask: [] })).toThrow(
      'decision_log.output: cannot open /nonexistent/dir/decisions.log: ENOENT',
    );
  });

  it('a mask that is not a JSON pointer is refused with the reason', () => {
    expect(() => new DecisionLog({ enabled: false, output: 'stdout', includeInput: 'denied', mask: ['input.attributes.request'] })).toThrow(
      /decision_log\.mask: "input\.attributes\.request" is not a JSON pointer/,
    );
  });

  it('a lone record reaches the file without close() (small writes are gathered, then written shortly after)', async () => {
    const file = tempFile('decisions.log');
    const log = new DecisionLog({ enabled: true, output: file, includeInput: 'denied', mask: [] });
    const one = entry();
    log.write(one);
    let text = '';
    for (let i = 0; i < 200 && !text.includes(one.decisionId); i++) {
      await new Promise((r) => setTimeout(r, 10));
      text = readFileSync(file, 'utf8');
    }
    expect(text).toContain(one.decisionId);
    await log.close();
  });

  it('reopen (SIGHUP) writes what is queued to the old file first; close writes the rest', async () => {
    const file = tempFile('decisions.log');
    const log = new DecisionLog({ enabled: true, output: file, includeInput: 'denied', mask: [] });
    log.write(entry());
    log.reopen();
    log.write(entry());
    await log.close();
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });
});
