// `serve --workers N`: a primary and N worker processes sharing the gRPC
// port. Real processes, real gRPC: Checks are answered by more than one
// worker, /metrics is their sum, /readyz lists them, a killed worker comes
// back, SIGTERM drains them all, a start-up error is one line and exit 2.
// And the connection ageing that spreads Envoy's few connections over the
// workers reaches grpc-js.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { loadConfig } from '../src/config/load.ts';
import { connectionAgeMs, WORKERS_DEFAULT_CONNECTION_AGE_MS } from '../src/server/GrpcListener.ts';
import { MAX_RESTARTS_PER_MINUTE } from '../src/server/Cluster.ts';
import { runCli, spawnServe, startInProcess, type ServeProcess } from './support/servers.ts';
import { CheckClient, checkRequest } from './support/checkClient.ts';
import { promtool } from './observe/support/checks.ts';

const FRONTEND_INFER = { method: 'POST', path: '/v2/models/fraud-detector/infer', principal: 'spiffe://cluster.local/ns/web/sa/frontend' };

/** A client on its own connection (grpc-js otherwise shares one connection between clients of the same target). */
function ownConnectionClient(port: number): CheckClient {
  return new CheckClient(port, undefined, { 'grpc.use_local_subchannel_pool': 1 });
}

async function allowed(client: CheckClient, spec: object = FRONTEND_INFER): Promise<void> {
  const res = await client.check(checkRequest(spec));
  expect(res.status?.code ?? 0).toBe(0);
}

interface WorkerReport {
  worker: number;
  pid?: number;
  status: string;
  policy_revision?: string | null;
}

async function readyz(s: ServeProcess): Promise<{ code: number; body: { status: string; policy_revision?: string; workers?: WorkerReport[] } }> {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`);
  return { code: res.status, body: (await res.json()) as never };
}

async function metricsText(s: ServeProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${s.httpPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Sum of a metric's samples, optionally only those whose label text matches. */
function sample(text: string, name: string, labels?: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (!labels || labels.test(m[2] ?? ''))) sum += Number(m[3]);
  }
  return sum;
}

function perWorkerChecks(text: string): Map<string, number> {
  return new Map([...text.matchAll(/^ztauthz_worker_checks_total\{worker="(\d+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

function parentOf(pid: number): number {
  return Number(
    readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ')[1],
  );
}

function alive(pid: number): boolean {
  // Signal 0 only checks that the process exists (the primary reaps its workers, so none lingers as a zombie).
  try {
    return process.kill(pid, 0);
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('serve --workers 2', () => {
  let server: ServeProcess;
  let workerPids: number[] = [];

  beforeAll(async () => {
    // Connections are aged out quickly so that one client's Checks visit both workers.
    // Every record with its input: the large ones below must be larger than a pipe's atomic write.
    server = await spawnServe([
      '--workers',
      '2',
      '--grpc-max-connection-age-ms',
      '300',
      '--grpc-max-connection-age-grace-ms',
      '2000',
      '--decision-log-include-input',
      'all',
    ]);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('logs one "serving" line once both workers serve; the primary answers HTTP for both', async () => {
    const serving = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"msg":"serving"'));
    expect(serving).toHaveLength(1);
    expect(JSON.parse(serving[0]!)).toMatchObject({
      grpc: `127.0.0.1:${server.grpcPort}`,
      http: `127.0.0.1:${server.httpPort}`,
      workers: 2,
      max_connection_age_ms: 300,
    });
    // Each worker's own line comes through the primary's relay, possibly just after the primary's.
    await until('two "worker serving" lines', () => (server.stderr().match(/"msg":"worker serving"/g)?.length === 2 ? true : undefined));
    expect((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status).toBe(200);
    const { code, body } = await readyz(server);
    expect(code).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.policy_revision).toMatch(/^sha256:/);
    expect(body.workers).toHaveLength(2);
    for (const w of body.workers!) expect(w).toMatchObject({ status: 'ready', policy_revision: body.policy_revision });
    workerPids = body.workers!.map((w) => w.pid!);
    expect(new Set(workerPids).size).toBe(2);
    // Both are the primary's children, and neither is the primary.
    for (const pid of workerPids) {
      expect(pid).not.toBe(server.child.pid);
      expect(parentOf(pid)).toBe(server.child.pid);
    }
  });

  it('answers Checks from both workers; /metrics is the sum over workers and passes promtool', async () => {
    const clients = [0, 1, 2, 3].map(() => ownConnectionClient(server.grpcPort));
    // Half the requests carry a header that makes their decision record larger than a pipe's atomic write (4 KiB).
    const big = { ...FRONTEND_INFER, headers: { 'x-padding': 'p'.repeat(20_000) } };
    await Promise.all(clients.map((c) => Promise.all(Array.from({ length: 10 }, (_, i) => allowed(c, i % 2 ? big : FRONTEND_INFER)))));
    for (const c of clients) c.close();
    const text = await metricsText(server);
    expect(sample(text, 'ztauthz_checks_total')).toBe(40);
    expect(sample(text, 'ztauthz_checks_total', /decision="allow"/)).toBe(40);
    expect(sample(text, 'ztauthz_check_duration_seconds_count')).toBe(40);
    const perWorker = perWorkerChecks(text);
    expect([...perWorker.keys()].sort()).toEqual(['0', '1']);
    expect(
      [...perWorker.values()].every((n) => n > 0),
      `both workers answered: ${[...perWorker.values()]}`,
    ).toBe(true);
    expect([...perWorker.values()].reduce((a, b) => a + b)).toBe(40);
    // Not summed: the active revision is 1 however many workers run it.
    expect(text).toMatch(/^ztauthz_policy_info\{revision="sha256:[0-9a-f]+"\} 1$/m);
    expect(sample(text, 'ztauthz_workers')).toBe(2);
    expect(sample(text, 'ztauthz_workers_ready')).toBe(2);
    const check = promtool(['check', 'metrics'], text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);

    // Every decision record is a whole line, however the workers' writes fell.
    const records = await until('40 decision records', () => {
      const lines = server
        .stdout()
        .split('\n')
        .filter((l) => l.length > 0);
      return lines.length >= 40 ? lines : undefined;
    });
    expect(records).toHaveLength(40);
    for (const line of records) expect(() => JSON.parse(line), line.slice(0, 200)).not.toThrow();
    expect(records.filter((l) => l.length > 20_000)).toHaveLength(20);
  });

  it('ages a connection out, so that even one client reaches both workers', async () => {
    const before = perWorkerChecks(await metricsText(server));
    const client = ownConnectionClient(server.grpcPort);
    const end = Date.now() + 2_000;
    let sent = 0;
    while (Date.now() < end) {
      await allowed(client);
      sent++;
      await new Promise((r) => setTimeout(r, 20));
    }
    client.close();
    const after = perWorkerChecks(await metricsText(server));
    const delta = ['0', '1'].map((w) => (after.get(w) ?? 0) - (before.get(w) ?? 0));
    expect(delta.reduce((a, b) => a + b)).toBe(sent);
    expect(
      delta.every((n) => n > 0),
      `Checks per worker from one client: ${delta}`,
    ).toBe(true);
  });

  it('forwards SIGHUP: both workers reload their policy and keep serving', async () => {
    const reloadedBefore = server.stderr().match(/"msg":"active policy reloaded"/g)?.length ?? 0;
    server.child.kill('SIGHUP');
    await until('two reloads', () => ((server.stderr().match(/"msg":"active policy reloaded"/g)?.length ?? 0) - reloadedBefore >= 2 ? true : undefined));
    const { code, body } = await readyz(server);
    expect(code).toBe(200);
    expect(body.workers!.map((w) => w.pid)).toEqual(workerPids);
  });

  it('restarts a worker killed with SIGKILL; Checks keep succeeding meanwhile', async () => {
    const victim = workerPids[0]!;
    const survivor = workerPids[1]!;
    const client = ownConnectionClient(server.grpcPort);
    await allowed(client);
    process.kill(victim, 'SIGKILL');
    // Node's cluster hands a connection accepted in the moment between a worker's death and the primary noticing
    // it to the dead worker, where nobody answers it (nodejs/node-v0.x-archive#7928); the primary logs the death
    // as soon as it notices.
    const exited = new RegExp(`"msg":"worker exited","worker":0,"pid":${victim},"code":null,"signal":"SIGKILL"`);
    await until('the primary to notice', () => (exited.test(server.stderr()) ? true : undefined));
    // Checks right away, on new connections and on the existing one. If that one was the killed worker's, the
    // first Check on it may find it reset (as a Check in flight in a killed worker is lost); the next ones reconnect.
    const lost: string[] = [];
    for (let i = 0; i < 20; i++) {
      const fresh = ownConnectionClient(server.grpcPort);
      await allowed(fresh);
      fresh.close();
      await allowed(client).catch((err: Error) => lost.push(`${i}: ${err.message}`));
    }
    expect(lost.length, lost.join('; ')).toBeLessThanOrEqual(1);
    if (lost.length === 1) expect(lost[0]).toMatch(/^0: 14 UNAVAILABLE/);
    const back = await until('the worker back', async () => {
      const r = await readyz(server);
      return r.code === 200 && !r.body.workers!.some((w) => w.pid === victim) ? r.body : undefined;
    });
    expect(back.workers!.map((w) => w.pid)).toContain(survivor);
    workerPids = back.workers!.map((w) => w.pid!);
    expect(server.stderr()).toMatch(/"msg":"worker restarted","worker":0/);
    expect(sample(await metricsText(server), 'ztauthz_worker_restarts_total')).toBe(1);
    for (let i = 0; i < 10; i++) await allowed(client);
    client.close();
  });

  it('on SIGTERM drains every worker and exits 0, leaving no worker behind', async () => {
    expect(workerPids.every(alive)).toBe(true);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(workerPids.filter(alive)).toEqual([]);
    expect(server.stderr().match(/"msg":"stopped"/g)).toHaveLength(3);
  });
});

describe('serve --workers 2 with the decision log in a file', () => {
  it('keeps every record whole (O_APPEND), and SIGHUP reopens the file in every worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztauthz-workers-'));
    const file = join(dir, 'decisions.log');
    const s = await spawnServe(['--workers', '2', '--decision-log-output', file]);
    try {
      const big = { ...FRONTEND_INFER, headers: { 'x-padding': 'q'.repeat(30_000) } };
      const burst = async (): Promise<Map<string, number>> => {
        const before = perWorkerChecks(await metricsText(s));
        const clients = [0, 1, 2, 3, 4, 5].map(() => ownConnectionClient(s.grpcPort));
        await Promise.all(clients.map((c) => Promise.all(Array.from({ length: 8 }, () => allowed(c, big)))));
        for (const c of clients) c.close();
        const after = perWorkerChecks(await metricsText(s));
        return new Map([...after].map(([w, n]) => [w, n - (before.get(w) ?? 0)]));
      };
      const lines = (f: string, n: number): Promise<string[]> =>
        until(`${n} records in ${f}`, () => {
          const l = readFileSync(f, 'utf8').split('\n').filter(Boolean);
          return l.length >= n ? l : undefined;
        });
      const first = await burst();
      expect(
        [...first.values()].filter((n) => n > 0),
        'both workers answered',
      ).toHaveLength(2);
      const records = await lines(file, 48);
      expect(records).toHaveLength(48);
      for (const line of records) expect(JSON.parse(line)).toMatchObject({ allowed: true });
      // Rotation: move the file away, SIGHUP the primary; both workers write to the new file.
      renameSync(file, `${file}.1`);
      s.child.kill('SIGHUP');
      await until('both workers reopened', () => ((s.stderr().match(/"msg":"active policy reloaded"/g)?.length ?? 0) >= 2 ? true : undefined));
      const second = await burst();
      expect(
        [...second.values()].filter((n) => n > 0),
        'both workers answered',
      ).toHaveLength(2);
      const rotated = await lines(file, 48);
      expect(rotated).toHaveLength(48);
      for (const line of rotated) expect(JSON.parse(line)).toMatchObject({ allowed: true });
      expect(readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean)).toHaveLength(48);
    } finally {
      expect(await s.stop('SIGTERM')).toBe(0);
    }
  });
});

describe('serve --workers 2, when workers keep dying or the primary does', () => {
  it(`stops with status 1 when one worker dies more than ${MAX_RESTARTS_PER_MINUTE} times a minute`, async () => {
    const s = await spawnServe(['--workers', '2']);
    const seen: number[] = [];
    try {
      for (let i = 0; i <= MAX_RESTARTS_PER_MINUTE; i++) {
        const pid = await until('worker 0 serving', async () => {
          const r = await readyz(s).catch(() => undefined);
          const w = r?.body.workers?.find((x) => x.worker === 0);
          return r?.code === 200 && w?.pid && !seen.includes(w.pid) ? w.pid : undefined;
        });
        seen.push(pid);
        process.kill(pid, 'SIGKILL');
      }
      const code = await new Promise<number | null>((resolve) => (s.child.exitCode !== null ? resolve(s.child.exitCode) : s.child.once('exit', resolve)));
      expect(code).toBe(1);
      expect(s.stderr()).toMatch(/"msg":"worker keeps dying; stopping","worker":0/);
      expect(s.stderr().match(/"msg":"worker restarted","worker":0/g)).toHaveLength(MAX_RESTARTS_PER_MINUTE);
    } finally {
      await s.stop('SIGKILL');
    }
  });

  it('takes the workers down with it when the primary is killed', async () => {
    const s = await spawnServe(['--workers', '2']);
    const pids = (await readyz(s)).body.workers!.map((w) => w.pid!);
    expect(pids.every(alive)).toBe(true);
    await s.stop('SIGKILL');
    await until('the workers gone', () => (pids.some(alive) ? undefined : true));
  });
});

describe('serve --workers: start-up and configuration', () => {
  it('exits 2 with one line when the policy cannot load, as a single process does', async () => {
    const args = ['serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--policy', '/nonexistent/policy'];
    const [many, one] = await Promise.all([runCli([...args, '--workers', '2']), runCli(args)]);
    expect(one.code).toBe(2);
    expect(many.code).toBe(2);
    expect(many.stderr.trimEnd().split('\n')).toEqual([one.stderr.trimEnd()]);
    expect(many.stderr).toMatch(/^ztauthz: .*\/nonexistent\/policy/);
  });

  it('refuses --workers 0', async () => {
    const r = await runCli(['serve', '--workers', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/server\.workers: must be between 1 and 64 \(got "0" from --workers\)/);
  });

  it('takes server.workers from a flag, the environment or the file; ageing defaults to 30 s with workers', () => {
    expect(loadConfig().server.workers).toBe(1);
    expect(loadConfig({ flags: { workers: '4' } }).server.workers).toBe(4);
    expect(loadConfig({ flags: { 'server-workers': '3' } }).server.workers).toBe(3);
    expect(loadConfig({ env: { ZTAUTHZ_SERVER_WORKERS: '2' } }).server.workers).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'ztauthz-workers-cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'server:\n  workers: 8\ngrpc:\n  max_connection_age_ms: 60000\n  max_connection_age_grace_ms: 5000\n');
    const fromFile = loadConfig({ file: join(dir, 'c.yaml') });
    expect(fromFile.server.workers).toBe(8);
    expect(fromFile.grpc).toMatchObject({ max_connection_age_ms: 60000, max_connection_age_grace_ms: 5000 });
    expect(() => loadConfig({ flags: { 'server-workers': '65' } })).toThrow(/server\.workers: must be between 1 and 64/);
    expect(connectionAgeMs(loadConfig())).toBe(0);
    expect(connectionAgeMs(loadConfig({ flags: { workers: '2' } }))).toBe(WORKERS_DEFAULT_CONNECTION_AGE_MS);
    expect(connectionAgeMs(loadConfig({ flags: { workers: '2', 'grpc-max-connection-age-ms': '5000' } }))).toBe(5000);
    expect(connectionAgeMs(loadConfig({ flags: { 'grpc-max-connection-age-ms': '5000' } }))).toBe(5000);
  });

  it('with --workers 1 (the default) runs as one process, as before', async () => {
    const s = await spawnServe(['--workers', '1']);
    try {
      const children = readFileSync(`/proc/${s.child.pid}/task/${s.child.pid}/children`, 'utf8').trim();
      expect(children).toBe('');
      const { code, body } = await readyz(s);
      expect(code).toBe(200);
      expect(body).toEqual({ status: 'ready', policy_revision: expect.stringMatching(/^sha256:/) });
      expect(s.stderr()).not.toMatch(/"workers"/);
    } finally {
      expect(await s.stop('SIGTERM')).toBe(0);
    }
  });
});

describe('grpc.max_connection_age_ms', () => {
  /** A TCP forwarder that counts the connections the client opens. */
  async function countingProxy(target: number): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
    let connections = 0;
    const open = new Set<Socket>();
    const proxy = createServer((down) => {
      connections++;
      const up = createConnection(target, '127.0.0.1');
      for (const [a, b] of [
        [down, up],
        [up, down],
      ] as const) {
        open.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          open.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    return {
      port: (proxy.address() as AddressInfo).port,
      connections: () => connections,
      close: () =>
        new Promise<void>((r) => {
          for (const s of open) s.destroy();
          proxy.close(() => r());
        }),
    };
  }

  async function connectionsOver(flags: Record<string, string>, ms: number): Promise<{ connections: number; sent: number }> {
    const server = await startInProcess(flags);
    const proxy = await countingProxy(server.grpcPort);
    const client = ownConnectionClient(proxy.port);
    let sent = 0;
    try {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await allowed(client);
        sent++;
        await new Promise((r) => setTimeout(r, 10));
      }
      return { connections: proxy.connections(), sent };
    } finally {
      client.close();
      await proxy.close();
      await server.stop(1000);
    }
  }

  it('sends aged connections a GOAWAY: the client reconnects and every call succeeds', async () => {
    const aged = await connectionsOver({ 'grpc-max-connection-age-ms': '200', 'grpc-max-connection-age-grace-ms': '1000' }, 1_500);
    expect(aged.sent).toBeGreaterThan(20);
    // 1.5 s at 200 ms (+ up to 10% jitter) per connection.
    expect(aged.connections).toBeGreaterThanOrEqual(4);
    const forever = await connectionsOver({}, 1_000);
    expect(forever.connections).toBe(1);
  });
});
