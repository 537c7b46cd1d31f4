// The command line as a user meets it, through the real CLI process: help for
// each command with its flags and defaults, version, suggestions for mistyped
// commands and flags, usage errors on stderr with exit 2, and `test` running
// the policy's Rego tests with the pinned opa.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIELDS, flagName } from '../src/config/schema.ts';
import { ROOT, runCli } from './support/servers.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztauthz-cli-commands-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('help', () => {
  it('no command: the commands on stderr, exit 2; --help, -h and help: on stdout, exit 0', async () => {
    const [none, long, short, word] = await Promise.all([runCli([]), runCli(['--help']), runCli(['-h']), runCli(['help'])]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^usage: ztauthz COMMAND/);
    for (const r of [long, short, word]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      for (const c of ['serve', 'check', 'test', 'version', 'help']) expect(r.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    }
  }, 60_000);

  it('every command takes -h and --help and lists its own flags; configuration flags with their defaults', async () => {
    const commands = ['serve', 'check', 'test', 'version'];
    const results = await Promise.all(commands.flatMap((c) => [runCli([c, '--help']), runCli([c, '-h'])]));
    const help = (c: string) => results[commands.indexOf(c) * 2]!;
    for (const [i, r] of results.entries()) {
      expect(r.code, commands[i >> 1]).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ztauthz ${commands[i >> 1]}`));
      expect(r.stdout).toMatch(/-h, --help/);
      expect(r.stdout).toBe(results[i ^ 1]!.stdout);
    }
    const check = help('check').stdout;
    expect(check).toMatch(/^ {2}--request FILE +a CheckRequest/m);
    expect(check).toMatch(/^ {2}--input FILE +a policy input document, or a decision-log record/m);
    expect(check).toMatch(/^ {2}--explain +/m);
    expect(help('test').stdout).toMatch(/^ {2}--run REGEX +/m);
    expect(help('serve').stdout).not.toMatch(/--request FILE|--explain/);
    // Every configuration key is a flag of serve, check and test, with its default.
    for (const c of ['serve', 'check', 'test']) {
      const text = help(c).stdout;
      for (const f of FIELDS) expect(text, `${c}: --${flagName(f.key)}`).toContain(`--${flagName(f.key)}`);
      expect(text).toMatch(/--grpc-addr HOST:PORT\|unix:\/\/\/PATH +default ":9191"/);
      expect(text).toMatch(/--routes-jsonrpc-max-batch N +default 64/);
      expect(text).toMatch(/--decision-on-error deny\|grpc_error +default "deny"/);
      expect(text).toMatch(/--policy-path, --policy VALUE +default ""/);
      expect(text).toMatch(/--cache-ignore A,B,\.\.\. +default \d+ entries, see docs\/configuration\.md/);
    }
    expect(help('version').stdout).not.toMatch(/Configuration flags/);
    // `help COMMAND` is the command's --help.
    const viaHelp = await runCli(['help', 'check']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(check);
  }, 120_000);
});

describe('version', () => {
  it('prints the package version and the runtime', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['version'], ['--version']]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^ztauthz ${version.replace(/\./g, '\\.')}\n(node v24\\.|bun )`));
    }
  }, 60_000);
});

describe.concurrent('usage errors: stderr, exit 2, nothing on stdout', () => {
  it.each([
    [['srve'], /^ztauthz: unknown command "srve"; did you mean serve\?\nRun 'ztauthz --help' for usage\.\n$/],
    [['chek', '--request', 'x.json'], /unknown command "chek"; did you mean check\?/],
    [['frobnicate'], /^ztauthz: unknown command "frobnicate"\n/],
    [['check', '--polcy', 'x'], /^ztauthz: unknown flag --polcy; did you mean --policy\?\nRun 'ztauthz check --help' for usage\.\n$/],
    [['serve', '--grpc-adr', ':1'], /unknown flag --grpc-adr; did you mean --grpc-addr\?/],
    [['check', '--requets', 'x.json'], /unknown flag --requets; did you mean --request\?/],
    [['test', '--verbsoe'], /unknown flag --verbsoe; did you mean --verbose\?/],
    [['version', '--policy', 'x'], /unknown flag --policy/],
    [['check', '-x'], /unknown flag -x/],
    [['check', '--request'], /--request needs a value/],
    [['check', '--policy', '--explain'], /--policy needs a value/],
    [['serve', 'now'], /unexpected argument "now"/],
    [['check', '--request', 'x.json', '--dry-run', 'false'], /unexpected argument "false" \(a boolean flag takes its value as --dry-run=false\)/],
    [['--policy', 'x'], /the command comes first/],
    [['help', 'srve'], /unknown command "srve"; did you mean serve\?/],
  ])(
    '%j',
    async (args, message) => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    },
    60_000,
  );
});

describe('ztauthz test', () => {
  const policyDir = (name: string, files: Record<string, string>): string => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  };
  const POLICY = 'package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.user == "alice"\n';

  it("runs the demo policy's tests with the pinned opa: exit 0", async () => {
    const r = await runCli(['test']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASS: \d+\/\d+/);
  }, 60_000);

  it('exit 1 when a test fails, naming it; --run selects tests and --verbose lists them', async () => {
    const policy = policyDir('failing', {
      'policy.rego': POLICY,
      'policy_test.rego':
        'package envoy.authz_test\n\nimport rego.v1\n\nimport data.envoy.authz\n\ntest_alice if authz.allow with input as {"user": "alice"}\n\ntest_bob if authz.allow with input as {"user": "bob"}\n',
    });
    const failing = await runCli(['test', '--policy', policy]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/test_bob: FAIL/);
    expect(failing.stdout).toMatch(/FAIL: 1\/2/);
    const selected = await runCli(['test', '--policy', policy, '--run', 'alice', '--verbose']);
    expect(selected.code, selected.stdout).toBe(0);
    expect(selected.stdout).toMatch(/test_alice: PASS/);
    expect(selected.stdout).not.toMatch(/test_bob/);
  }, 60_000);

  it('Rego v0 tests with --policy-rego-version v0', async () => {
    const policy = policyDir('v0', {
      'policy.rego': 'package envoy.authz\n\ndefault allow = false\n\nallow { input.user == "alice" }\n',
      'policy_test.rego': 'package envoy.authz\n\ntest_alice { allow with input as {"user": "alice"} }\n',
    });
    expect((await runCli(['test', '--policy', policy])).code).toBe(2);
    const r = await runCli(['test', '--policy', policy, '--policy-rego-version', 'v0']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 60_000);

  it('exit 2 when the tests cannot run: a policy that does not parse, a file that is not a directory, no such path', async () => {
    const broken = policyDir('broken', { 'policy.rego': 'package envoy.authz\n\nallow if {\n' });
    const [parse, file, missing] = await Promise.all([
      runCli(['test', '--policy', broken]),
      runCli(['test', '--policy', 'test/fixtures/README.md']),
      runCli(['test', '--policy', join(dir, 'nothing')]),
    ]);
    expect(parse.code).toBe(2);
    expect(parse.stdout + parse.stderr).toMatch(/rego_parse_error/);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/is not a directory: test runs the Rego tests of a policy directory/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
  }, 60_000);
});
