// http.send through the real Check path: a policy that calls a real local
// HTTP server, served by ztauthz in-process and as a `serve` process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/Server.ts';
import { CheckClient, checkRequest, type CheckResult } from './support/checkClient.ts';
import { runCli, spawnServe, startInProcess } from './support/servers.ts';
import { startHttpServer, type TestServer } from './support/httpSendServers.ts';

let upstream: TestServer;
let policyDir: string;

const allowed = (r: CheckResult): boolean => (r.status?.code ?? 0) === 0;

beforeAll(async () => {
  upstream = await startHttpServer();
  policyDir = mkdtempSync(join(tmpdir(), 'ztauthz-httpsend-policy-'));
  // /fast/*: decided without http.send; /quick/*: a fast http.send; /slow: an
  // upstream that answers when the test releases it (/held); /count/*: counts the policy's requests; /down: a closed port.
  writeFileSync(
    join(policyDir, 'policy.rego'),
    `package envoy.authz

import rego.v1

default allow := false

allow if input.parsed_path[0] == "fast"

# For \`ztauthz check\`: an entrypoint that always calls out.
quick if http.send({"method": "GET", "url": "${upstream.url}/json"}).body.ok

allow if {
	input.parsed_path[0] == "quick"
	http.send({"method": "GET", "url": "${upstream.url}/json"}).body.ok
}

allow if {
	input.parsed_path[0] == "slow"
	http.send({"method": "GET", "url": "${upstream.url}/held"}).status_code == 200
}

allow if {
	input.parsed_path[0] == "count"
	http.send({"method": "GET", "url": concat("/", ["${upstream.url}/count", input.parsed_path[1]])}).status_code == 200
}

allow if {
	input.parsed_path[0] == "bignum"
	input.parsed_body.id == 12345678901234567891
	http.send({"method": "GET", "url": "${upstream.url}/json"}).body.ok
}

allow if {
	input.parsed_path[0] == "gofmt"
	http.send({"method": "GET", "url": "${upstream.url}/json"}).body.ok
	sprintf("%v %d", [{2, 1}, 3.5]) == "{1, 2} %!d(float64=3.5)"
}

allow if {
	input.parsed_path[0] == "down"
	http.send({"method": "GET", "url": "http://127.0.0.1:1/"}).status_code == 200
}
`,
  );
});

afterAll(async () => {
  await upstream?.close();
  if (policyDir) rmSync(policyDir, { recursive: true, force: true });
});

describe('http.send on the Check path', () => {
  let server: RunningServer;
  let client: CheckClient;

  beforeAll(async () => {
    // A long http.send timeout: the held request waits for as long as the other 60 Checks take on a loaded machine.
    server = await startInProcess({ policy: policyDir, 'http-send-allowed-hosts': '127.0.0.1', 'http-send-timeout-ms': '30000', 'http-send-workers': '2' });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop(1000);
  });

  it('one Check waiting on a slow server does not hold up the others', async () => {
    const order: string[] = [];
    // The server holds this answer until the test releases it, so nothing here depends on timing.
    const slow = client.check(checkRequest({ path: '/slow' }), 30_000).then((r) => {
      order.push('slow');
      return r;
    });
    // Wait until the slow request has reached the server: its Check is now blocked in a worker.
    while (!upstream.hits.get('/held')) await new Promise((r) => setTimeout(r, 5));
    const others = [
      // 50 Checks decided without http.send (evaluated on the main thread) ...
      ...Array.from({ length: 50 }, (_, i) => client.check(checkRequest({ path: `/fast/${i}` }), 30_000).then((r) => (order.push('fast'), r))),
      // ... and 10 whose http.send answers at once (the other worker).
      ...Array.from({ length: 10 }, (_, i) => client.check(checkRequest({ path: `/quick/${i}` }), 30_000).then((r) => (order.push('quick'), r))),
    ];
    // All of them are answered while the slow one still waits (were they held up, this would never resolve).
    const answered = await Promise.all(others);
    expect(answered.every(allowed)).toBe(true);
    expect(order).toHaveLength(60);
    expect(order).not.toContain('slow');
    upstream.release();
    expect(allowed(await slow)).toBe(true);
    expect(order.at(-1)).toBe('slow');
  });

  it('decisions of a policy calling http.send are not cached', async () => {
    const req = checkRequest({ path: '/count/nocache' });
    expect(allowed(await client.check(req))).toBe(true);
    expect(allowed(await client.check(req))).toBe(true);
    expect(upstream.hits.get('/count/nocache')).toBe(2);
  });

  it('an http.send error denies the Check (policy_error)', async () => {
    const r = await client.check(checkRequest({ path: '/down' }));
    expect(allowed(r)).toBe(false);
    expect(r.deniedResponse?.status?.code).toBe('Forbidden');
  });

  it('counts http.send calls by result in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const count = (result: string): number => Number(new RegExp(`ztauthz_http_send_calls_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
    // The slow one, 10 quick ones, 2 counted ones; the closed port.
    expect(count('response')).toBe(13);
    expect(count('error')).toBe(1);
    expect(count('cache_hit')).toBe(0);
  });

  it("evaluates in a worker an input whose body keeps a number's text (JSON.rawJSON, which structured cloning refuses)", async () => {
    const post = (id: string) => checkRequest({ method: 'POST', path: '/bignum', headers: { 'content-type': 'application/json' }, body: `{"id":${id}}` });
    expect(allowed(await client.check(post('12345678901234567891')))).toBe(true);
    // One more than a double tells apart: denied.
    expect(allowed(await client.check(post('12345678901234567890')))).toBe(false);
  });

  it("answers sprintf with Go's fmt on the worker too (loadHostPolicy, not opa-wasm's sprintf-js)", async () => {
    expect(allowed(await client.check(checkRequest({ path: '/gofmt' })))).toBe(true);
  });
});

describe('http.send and the decision cache', () => {
  it('cache.time_dependent_ttl_ms lets identical Checks be answered from the cache', async () => {
    const server = await startInProcess({ policy: policyDir, 'http-send-allowed-hosts': '127.0.0.1', 'cache-time-dependent-ttl-ms': '60000' });
    const client = new CheckClient(server.grpcPort);
    try {
      const req = checkRequest({ path: '/count/cached' });
      expect(allowed(await client.check(req))).toBe(true);
      expect(allowed(await client.check(req))).toBe(true);
      expect(upstream.hits.get('/count/cached')).toBe(1);
    } finally {
      client.close();
      await server.stop(1000);
    }
  });
});

describe('http.send and shutdown', () => {
  it('a Check waiting on http.send when the server stops is answered before the workers end', async () => {
    const server = await startInProcess({ policy: policyDir, 'http-send-allowed-hosts': '127.0.0.1', 'http-send-timeout-ms': '3000' });
    const client = new CheckClient(server.grpcPort);
    try {
      const before = upstream.hits.get('/held') ?? 0;
      const pending = client.check(checkRequest({ path: '/slow' }));
      while ((upstream.hits.get('/held') ?? 0) === before) await new Promise((r) => setTimeout(r, 5));
      const stopped = server.stop(5000);
      // The stop is under way while the Check still waits on http.send.
      upstream.release();
      expect(allowed(await pending)).toBe(true);
      await stopped;
    } finally {
      client.close();
    }
  });
});

describe('http.send in a shadow policy', () => {
  it('is evaluated on a worker after the answer, and counted', async () => {
    const server = await startInProcess({ 'shadow-path': policyDir, 'http-send-allowed-hosts': '127.0.0.1' });
    const client = new CheckClient(server.grpcPort);
    try {
      const before = upstream.hits.get('/json') ?? 0;
      await client.check(checkRequest({ path: '/quick/shadow' }));
      const series = async (): Promise<string> =>
        (await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text())
          .split('\n')
          .filter((l) => l.startsWith('ztauthz_shadow_evaluations_total{'))
          .join('\n');
      for (let i = 0; i < 200 && !(await series()); i++) await new Promise((r) => setTimeout(r, 10));
      expect(await series()).toMatch(/result="(agree|disagree)"\} 1/);
      expect(upstream.hits.get('/json')).toBe(before + 1);
    } finally {
      client.close();
      await server.stop(1000);
    }
  });
});

describe('http.send in a serve process', () => {
  it('loads the worker and answers', { timeout: 120_000 }, async () => {
    const serve = await spawnServe(['--policy', policyDir, '--http-send-allowed-hosts', '127.0.0.1']);
    const client = new CheckClient(serve.grpcPort);
    try {
      expect(allowed(await client.check(checkRequest({ path: '/quick/serve' })))).toBe(true);
      expect(allowed(await client.check(checkRequest({ path: '/nothing' })))).toBe(false);
    } finally {
      client.close();
      await serve.stop();
    }
  });

  it('`ztauthz check` evaluates on a worker and exits once it has answered', { timeout: 120_000 }, async () => {
    const before = upstream.hits.get('/json') ?? 0;
    const r = await runCli([
      'check',
      '--request',
      'test/fixtures/requests/frontend-infer.json',
      '--policy',
      policyDir,
      '--http-send-allowed-hosts',
      '127.0.0.1',
      '--policy-decision',
      'envoy/authz/quick',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed: true });
    expect(upstream.hits.get('/json')).toBe(before + 1);
  });

  it('without http_send.allowed_hosts the policy is refused at start', { timeout: 120_000 }, async () => {
    await expect(spawnServe(['--policy', policyDir])).rejects.toThrow(/http_send\.allowed_hosts/);
  });
});
