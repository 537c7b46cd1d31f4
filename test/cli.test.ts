// The ztauthz command line as a user runs it: `check` on request files, and
// `serve` refusing to start on bad configuration or policies.
import { describe, expect, it } from 'vitest';
import { runCli } from './support/servers.ts';

const FRONTEND_INFER = 'test/fixtures/requests/frontend-infer.json';
const TRAINER_INFER = 'test/fixtures/requests/trainer-infer.json';

describe('ztauthz check', () => {
  it('allows the frontend with exit 0 and prints response and result', async () => {
    const r = await runCli(['check', '--request', FRONTEND_INFER]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.allowed).toBe(true);
    expect(out.response.status).toEqual({});
    expect(out.response.okResponse.headers).toContainEqual({ header: { key: 'x-ztauthz-action', value: 'infer' } });
    expect(out.result).toMatchObject({ allowed: true });
    expect(out).not.toHaveProperty('input');
  });

  it('denies the training job with exit 1 and explains the input', async () => {
    const r = await runCli(['check', '--request', TRAINER_INFER, '--explain']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.allowed).toBe(false);
    expect(out.reason).toBe('policy_denied');
    expect(out.response.deniedResponse.status).toEqual({ code: 'Forbidden' });
    expect(out.path).toBe('envoy/authz/allow');
    expect(out.input.parsed_path).toEqual(['v2', 'models', 'fraud-detector', 'infer']);
    expect(out.input.parsed_body.inputs[0].name).toBe('x');
    expect(out.input.attributes.source.principal).toBe('spiffe://cluster.local/ns/ml-training/sa/trainer');
  });

  it('answers OK in dry run but reports the real decision', async () => {
    const r = await runCli(['check', '--request', TRAINER_INFER, '--dry-run']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.allowed).toBe(false);
    expect(out.response.status).toEqual({});
    expect(out.response.okResponse).toEqual({});
  });

  it('denies on evaluation errors and bad results; grpc_error mode reports them as errors', async () => {
    const policy = 'test/fixtures/policies/eval-error';
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ztauthz-cli-'));
    const req = (headers: Record<string, string>) => {
      const f = join(dir, `${Object.keys(headers).join('-')}.json`);
      writeFileSync(f, JSON.stringify({ attributes: { request: { http: { method: 'GET', path: '/', headers } } } }));
      return f;
    };
    const conflict = await runCli(['check', '--policy', policy, '--request', req({ 'x-conflict': '1', 'x-bad-result': '1' })]);
    expect(conflict.code).toBe(1);
    expect(JSON.parse(conflict.stdout)).toMatchObject({
      allowed: false,
      reason: 'policy_error',
      response: { deniedResponse: { status: { code: 'Forbidden' }, body: 'policy_error' } },
    });

    const badResult = await runCli(['check', '--policy', policy, '--request', req({ 'x-bad-result': '1' })]);
    expect(JSON.parse(badResult.stdout)).toMatchObject({ allowed: false, reason: 'result_invalid' });

    const asError = await runCli([
      'check',
      '--policy',
      policy,
      '--decision-on-error',
      'grpc_error',
      '--request',
      req({ 'x-conflict': '1', 'x-bad-result': '1' }),
    ]);
    expect(asError.code).toBe(1);
    expect(JSON.parse(asError.stdout)).toMatchObject({ allowed: false, response: null, grpc_error: { reason: 'policy_error' } });
  });

  it('exits 2 with a usage message for bad usage and bad request files', async () => {
    expect((await runCli(['check'])).code).toBe(2);
    const missing = await runCli(['check', '--request', '/nonexistent.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read request \/nonexistent\.json/);
    const unknown = await runCli(['check', '--request', FRONTEND_INFER, '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown flag --frobnicate/);
    expect((await runCli(['bogus'])).code).toBe(2);
    expect((await runCli([])).code).toBe(2);
  });
});

describe('ztauthz serve refuses to start, with a one-line reason', () => {
  it.each([
    [['--policy', '/nonexistent/policy'], /policy \/nonexistent\/policy does not exist/],
    [['--policy', 'test/fixtures/README.md'], /is not a \.tar\.gz bundle, a \.wasm file or a directory/],
    [['--policy', 'policies/demo', '--decision-path', 'envoy/authz/nothing'], /opa build failed.*nothing/],
    [['--policy', 'test/fixtures/policies/needs-http-send'], /uses http\.send, which needs http_send\.allowed_hosts/],
    [['--policy', 'test/fixtures/policies/needs-net-lookup'], /builtins ztauthz does not provide: net\.lookup_ip_addr/],
    [['--grpc-addr', 'not-an-address'], /grpc\.addr: must be host:port/],
    [['--grpc-max-recv-msg-bytes', 'x'], /grpc\.max_recv_msg_bytes: must be an integer/],
    [['--decision-log-output', '/nonexistent/dir/decisions.log'], /decision_log\.output: cannot open \/nonexistent\/dir\/decisions\.log: ENOENT/],
    [['--decision-log-mask', '/input/attributes/*'], /decision_log\.mask: "\/input\/attributes\/\*" cannot be masked: a "\*" segment/],
    [['--decision-log-mask', 'input.attributes'], /decision_log\.mask: "input\.attributes" is not a JSON pointer/],
  ])('%j', async (args, message) => {
    const r = await runCli(['serve', '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', ...args]);
    expect(r.code).toBe(2);
    const firstLine = r.stderr.split('\n')[0];
    expect(firstLine).toMatch(/^ztauthz: /);
    expect(firstLine).toMatch(message);
    // One line, as `kubectl logs` of a crash-looping pod should show it.
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
