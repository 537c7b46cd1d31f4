// Behind an Envoy misconfigured to fail open (failure_mode_allow: true), an
// attacker's best move is to make ztauthz answer with a gRPC error instead of
// a denial. Each input class that once did so goes through the real stack
// here — client -> Envoy -> ztauthz `serve` at its defaults (decision log with
// input on) -> Envoy -> echo upstream — and must be denied by ztauthz's own
// answer, the upstream never reached. The last test proves the stack really
// fails open, so a denial here is ztauthz's doing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, spawnServe, type ServeProcess } from './support/servers.ts';
import { startEnvoy, type RunningEnvoy } from './support/envoy.ts';
import { startEchoUpstream, type EchoUpstream } from './support/upstream.ts';

// Only the public model may be called; anything else is denied by the policy.
const POLICY = `package envoy.authz

default allow := false

allow if input.parsed_body.model == "public"
`;

let upstream: EchoUpstream;
let ztauthz: ServeProcess;
let envoy: RunningEnvoy;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztauthz-failopen-'));
  writeFileSync(join(dir, 'policy.rego'), POLICY);
  // The deliverable bootstrap, with the one misconfiguration this test is about.
  // Beside the policy directory, not in it: opa would load it as data.
  const config = join(mkdtempSync(join(tmpdir(), 'ztauthz-failopen-envoy-')), 'envoy.yaml');
  const text = readFileSync(join(ROOT, 'deploy/envoy/ext-authz.yaml'), 'utf8');
  expect(text).toContain('failure_mode_allow: false');
  writeFileSync(config, text.replace('failure_mode_allow: false', 'failure_mode_allow: true'));
  upstream = await startEchoUpstream();
  ztauthz = await spawnServe(['--policy', dir]);
  envoy = await startEnvoy({ configFile: config, vars: { UPSTREAM_PORT: upstream.port, ZTAUTHZ_GRPC_PORT: ztauthz.grpcPort } });
});

afterAll(async () => {
  await envoy?.stop();
  if (ztauthz && ztauthz.child.exitCode === null && ztauthz.child.signalCode === null) await ztauthz.stop('SIGKILL');
  await upstream?.close();
});

async function post(body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${envoy.listenPort}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe('with failure_mode_allow: true, nothing gets through by making ztauthz fail', () => {
  it('the allowed request reaches the upstream (the stack works)', async () => {
    const before = upstream.received.length;
    expect((await post('{"model":"public"}')).status).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
  });

  it.each([
    ['arrays', `{"model":"public","x":${'['.repeat(5000)}${']'.repeat(5000)}}`],
    ['objects', `{"model":"public","x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
  ])('a body nested 5,000 deep (%s) is denied by ztauthz', async (_kind, body) => {
    const before = upstream.received.length;
    const res = await post(body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    // ztauthz's denial body names its reason; Envoy's own 403 would be empty.
    expect(res.text).toMatch(/^body_/);
    expect(upstream.received.length).toBe(before);
  });

  it.each([
    ['plain', '{"model":"secret","model":"public"}'],
    ['escaped', '{"model":"secret","mod\\u0065l":"public"}'],
    ['nested', '{"model":"public","options":{"a":1,"a":2}}'],
  ])('a body with a duplicate key (%s) is refused as ambiguous', async (_kind, body) => {
    const before = upstream.received.length;
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/^body_duplicate_key/);
    expect(upstream.received.length).toBe(before);
  });

  it('ztauthz is still serving, and the stack really fails open without it', async () => {
    expect((await post('{"model":"public"}')).status).toBe(200);
    await ztauthz.stop('SIGKILL');
    const before = upstream.received.length;
    // With ztauthz gone, Envoy lets even a policy-denied request through: what failure_mode_allow means.
    expect((await post('{"model":"secret"}')).status).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
  });
});
