// `ztauthz check --input` as the README's "Debugging a denial" uses it: a real
// `serve` writes its decision log, the denial's JSON line is replayed through
// the real CLI process against the same and a changed policy, and so is a bare
// policy input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckClient } from './support/checkClient.ts';
import { ROOT, runCli, spawnServe } from './support/servers.ts';

const fixture = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/requests', name), 'utf8')) as object;
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';

let dir: string;
/** The decision log's lines for the trainer's denial and the frontend's allow, as serve wrote them. */
let deniedLine: string;
let allowedLine: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ztauthz-replay-'));
  const server = await spawnServe(['--decision-log-output', 'stdout']);
  const client = new CheckClient(server.grpcPort);
  try {
    expect((await client.check(fixture('trainer-infer.json'))).status?.code).toBe(7);
    expect((await client.check(fixture('frontend-infer.json'))).status?.code ?? 0).toBe(0);
  } finally {
    client.close();
    await server.stop();
  }
  const lines = server
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  deniedLine = lines.find((l) => JSON.parse(l).allowed === false)!;
  allowedLine = lines.find((l) => JSON.parse(l).allowed === true)!;
  expect(deniedLine).toBeDefined();
  expect(allowedLine).toBeDefined();
}, 90_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('ztauthz check --input', () => {
  it('replays a logged denial (the JSON line as the decision log wrote it) and denies it again', async () => {
    const record = file('record.json', `${deniedLine}\n`);
    const r = await runCli(['check', '--input', record]);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    const logged = JSON.parse(deniedLine);
    expect(out).toMatchObject({ allowed: false, reason: 'policy_denied', path: 'envoy/authz/allow', revision: logged.revision });
    expect(out.recorded).toMatchObject({ decision_id: logged.decision_id, allowed: false, reason: 'policy_denied' });
    expect(out.response.deniedResponse.status).toEqual({ code: 'Forbidden' });
    expect(out).not.toHaveProperty('input');
  }, 60_000);

  it('replays it against a changed policy, which now allows it', async () => {
    const policy = join(dir, 'fixed');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(policy, { recursive: true });
    writeFileSync(
      join(policy, 'policy.rego'),
      `package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.identity.spiffe_id == "${TRAINER}"\n`,
    );
    const r = await runCli(['check', '--policy', policy, '--input', file('record-fixed.json', deniedLine)]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed: true, reason: 'allowed', recorded: { allowed: false } });
  }, 60_000);

  it('takes a bare policy input too, and --explain shows it', async () => {
    const input = JSON.parse(deniedLine).input;
    const r = await runCli(['check', '--input', file('input.json', JSON.stringify(input, null, 2)), '--explain']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ allowed: false, reason: 'policy_denied', path: 'envoy/authz/allow' });
    expect(out).not.toHaveProperty('recorded');
    expect(out.input.identity.spiffe_id).toBe(TRAINER);
  }, 60_000);

  it('evaluates a record at its own path, unless --decision-path says otherwise', async () => {
    const policy = join(dir, 'paths');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(policy, { recursive: true });
    writeFileSync(join(policy, 'a.rego'), 'package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n');
    writeFileSync(join(policy, 'b.rego'), 'package team.authz\n\nimport rego.v1\n\ndefault allow := true\n');
    const record = file('record-path.json', JSON.stringify({ ...JSON.parse(deniedLine), path: 'team/authz/allow' }));
    const atRecorded = await runCli(['check', '--policy', policy, '--input', record]);
    expect(atRecorded.code, atRecorded.stderr).toBe(0);
    expect(JSON.parse(atRecorded.stdout).path).toBe('team/authz/allow');
    const overridden = await runCli(['check', '--policy', policy, '--input', record, '--decision-path', 'envoy/authz/allow']);
    expect(overridden.code, overridden.stderr).toBe(1);
    expect(JSON.parse(overridden.stdout).path).toBe('envoy/authz/allow');
  }, 60_000);

  it('refuses what it cannot replay, on stderr with exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--input', file('allowed.json', allowedLine)], /decision record .* has no input \(decision_log\.include_input/],
      [['--input', file('two.json', `${deniedLine}\n${deniedLine}\n`)], /holds 2 lines; replay one decision record at a time/],
      [['--input', file('bad.json', '{"attributes":')], /is not JSON/],
      [['--input', file('list.json', '[1]')], /must be a JSON object/],
      [['--input', join(dir, 'missing.json')], /cannot read input/],
      [['--input', file('both.json', '{}'), '--request', 'test/fixtures/requests/frontend-infer.json'], /check needs one of --request FILE and --input FILE/],
      [[], /check needs one of --request FILE and --input FILE/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['check', ...args])));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);
});
