// Every form --policy accepts, and the ways a policy can be unfit to load.
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readPolicySource } from '../src/policy/PolicySource.ts';
import { readBundleArchive } from '../src/policy/Bundle.ts';
import { PolicyEngine } from '../src/policy/PolicyEngine.ts';
import { compileRegoDirectory } from '../src/policy/OpaCompiler.ts';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { JsonObject } from '../src/types/Json.ts';

const ENTRY = ['envoy/authz/allow'];
const OPTS = { requiredEntrypoints: ENTRY, maxMemoryPages: 256 };
let tmp: string;
let archive: Uint8Array;

const load = (path: string, opts = OPTS) => PolicyEngine.load(readPolicySource(path, { entrypoints: opts.requiredEntrypoints }), opts);
const input = (principal: string) => ({ attributes: { source: { principal }, request: { http: { method: 'POST' } } }, parsed_path: ['v2', 'models', 'm', 'infer'] });
const allowedFor = (engine: PolicyEngine, principal: string) => (engine.evaluate(input(principal), 'envoy/authz/allow') as any)[0].result.allowed;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-load-'));
  archive = compileRegoDirectory('policies/demo', ENTRY);
});

describe('policy sources', () => {
  it('loads a .tar.gz bundle with its data and a manifest revision', async () => {
    // Add a .manifest with a revision, as a bundle server would ship it.
    const files = readBundleArchive(archive);
    expect(files.data).toHaveProperty('ztauthz_demo');
    const dir = join(tmp, 'bundle-dir');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'policy.wasm'), files.wasm);
    writeFileSync(join(dir, 'data.json'), JSON.stringify(files.data));
    writeFileSync(join(dir, '.manifest'), JSON.stringify({ revision: 'rev-42' }));
    const engine = await load(dir);
    expect(engine.revision).toBe('rev-42');
    expect(allowedFor(engine, 'spiffe://cluster.local/ns/web/sa/frontend')).toBe(true);
    expect(allowedFor(engine, 'spiffe://cluster.local/ns/web/sa/other')).toBe(false);

    const tgz = join(tmp, 'bundle.tar.gz');
    writeFileSync(tgz, archive);
    const fromTgz = await load(tgz);
    expect(fromTgz.revision).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(allowedFor(fromTgz, 'spiffe://cluster.local/ns/web/sa/frontend')).toBe(true);
  });

  it('loads a bare .wasm file (no data: nothing is granted)', async () => {
    const wasm = join(tmp, 'policy.wasm');
    writeFileSync(wasm, readBundleArchive(archive).wasm);
    const engine = await load(wasm);
    expect(allowedFor(engine, 'spiffe://cluster.local/ns/web/sa/frontend')).toBe(false);
  });

  it('compiles a directory of .rego files with several entrypoints', async () => {
    const engine = await load('policies/examples/object-result', { requiredEntrypoints: ['envoy/authz/result', 'envoy/authz/allow'], maxMemoryPages: 256 });
    expect([...engine.entrypoints]).toEqual(expect.arrayContaining(['envoy/authz/allow', 'envoy/authz/result']));
  });
});

describe('policies that must not load', () => {
  it('a corrupt archive', () => {
    const f = join(tmp, 'corrupt.tar.gz');
    writeFileSync(f, Buffer.from('this is not gzip'));
    expect(() => readPolicySource(f, { entrypoints: ENTRY })).toThrow(/not a gzip archive/);
  });

  it('a truncated archive', () => {
    const tar = gunzipSync(archive);
    const f = join(tmp, 'truncated.tar.gz');
    writeFileSync(f, gzipSync(tar.subarray(0, Math.floor(tar.length / 2))));
    expect(() => readPolicySource(f, { entrypoints: ENTRY })).toThrow(/truncated|checksum/);
  });

  it('a corrupt policy.wasm', async () => {
    const dir = join(tmp, 'bad-wasm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'policy.wasm'), Buffer.from('\0asm garbage'));
    await expect(load(dir)).rejects.toThrow(/policy\.wasm does not load/);
  });

  it('a bundle that lacks the decision path', async () => {
    await expect(load(join(tmp, 'bundle.tar.gz'), { requiredEntrypoints: ['envoy/authz/other'], maxMemoryPages: 256 })).rejects.toThrow(
      /lacks entrypoint\(s\) envoy\/authz\/other \(has: envoy\/authz\/allow\)/,
    );
  });

  it('Rego that does not compile', () => {
    const dir = join(tmp, 'bad-rego');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'p.rego'), 'package envoy.authz\nallow if {');
    expect(() => readPolicySource(dir, { entrypoints: ENTRY })).toThrow(/opa build failed/);
  });

  it('a policy needing a builtin ztauthz lacks, named at load time', async () => {
    await expect(load('test/fixtures/policies/needs-http-send')).rejects.toThrow(/does not provide: http\.send/);
  });

  it('a data.json that is not JSON', () => {
    const dir = join(tmp, 'bad-data');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(tmp, 'policy.wasm'), join(dir, 'policy.wasm'));
    writeFileSync(join(dir, 'data.json'), '{"a":');
    expect(() => readPolicySource(dir, { entrypoints: ENTRY })).toThrow(/data\.json is not valid JSON/);
  });

  it('an archive whose entries escape the bundle root', () => {
    const header = Buffer.alloc(512);
    header.write('../evil/data.json', 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write('00000000002\0', 124);
    header.write('00000000000\0', 136);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const body = Buffer.alloc(512);
    body.write('{}');
    const f = join(tmp, 'escape.tar.gz');
    writeFileSync(f, gzipSync(Buffer.concat([header, body, Buffer.alloc(1024)])));
    expect(() => readPolicySource(f, { entrypoints: ENTRY })).toThrow(/escapes the bundle root/);
  });
});

describe('evaluation limits', () => {
  it('fails (and so denies) instead of growing past the memory bound', async () => {
    const engine = await load('policies/demo', { requiredEntrypoints: ENTRY, maxMemoryPages: 24 });
    const big = { ...input('x'), pad: 'x'.repeat(4 * 1024 * 1024) };
    expect(() => engine.evaluate(big, 'envoy/authz/allow')).toThrow();
    // The instance still evaluates normally afterwards.
    expect(allowedFor(engine, 'spiffe://cluster.local/ns/web/sa/frontend')).toBe(true);
  });
});

describe('evaluation through opa_eval (WasmEval)', () => {
  let engine: PolicyEngine;
  let reference: LoadedPolicy;
  beforeAll(async () => {
    const dir = join(tmp, 'echo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'echo.rego'), 'package echo\n\nresult := {"input": input, "size": count(input.pad)}\n');
    const files = readBundleArchive(compileRegoDirectory(dir, ['echo/result']));
    engine = await PolicyEngine.load(files, { requiredEntrypoints: ['echo/result'], maxMemoryPages: 256 });
    reference = await loadPolicy(files.wasm, { initial: 5, maximum: 256 });
    reference.setData(files.data);
  });

  it('gives the result set opa-wasm gives, for text beyond ASCII and for inputs larger than the starting memory', () => {
    const inputs: JsonObject[] = [
      { pad: '' },
      { pad: 'modèle-日本語-🦙', nested: { list: [1, 2.5, -3, true, null, 'x"y\\z\n'] } },
      // 5 pages (320 KiB) to start with: this input needs the memory grown before it is written.
      { pad: 'é'.repeat(400_000) },
      { pad: 'short again' },
    ];
    for (const input of inputs) {
      expect(engine.evaluate(input, 'echo/result')).toEqual(reference.evaluate(input, 'echo/result'));
    }
  });

  it('names an unknown entrypoint instead of evaluating another one', () => {
    expect(() => engine.evaluate({ pad: '' }, 'echo/other')).toThrow(/entrypoint echo\/other is not valid/);
  });
});

describe('host builtins through the engine', () => {
  let files: ReturnType<typeof readBundleArchive>;
  beforeAll(() => {
    const dir = join(tmp, 'hostbuiltins');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'p.rego'),
      [
        'package p',
        '',
        'default token := "none"',
        'token := "bad token" if not io.jwt.decode(input.t)',
        'nets := net.cidr_merge(["10.0.0.0/9", "10.128.0.0/9"])',
        'result := {"token": token, "merged": nets == {"10.0.0.0/8"}, "member": nets["10.0.0.0/8"] == "10.0.0.0/8", "id": uuid.rfc4122("k")}',
        '',
      ].join('\n'),
    );
    files = readBundleArchive(compileRegoDirectory(dir, ['p/result']));
  });

  it('a failing builtin is undefined by default, and fails the evaluation with strictBuiltinErrors', async () => {
    const lenient = await PolicyEngine.load(files, { requiredEntrypoints: ['p/result'], maxMemoryPages: 256 });
    const [first] = lenient.evaluate({ t: 'garbage' }, 'p/result') as { result: Record<string, unknown> }[];
    expect(first?.result).toMatchObject({ token: 'bad token', merged: true, member: true });
    const strict = await PolicyEngine.load(files, { requiredEntrypoints: ['p/result'], maxMemoryPages: 256, strictBuiltinErrors: true });
    expect(() => strict.evaluate({ t: 'garbage' }, 'p/result')).toThrow(/io\.jwt\.decode/);
  });

  it('a policy drawing random numbers is not cached like a pure one', async () => {
    const engine = await PolicyEngine.load(files, { requiredEntrypoints: ['p/result'], maxMemoryPages: 256 });
    expect(engine.hostBuiltinsUsed).toEqual(expect.arrayContaining(['uuid.rfc4122', 'net.cidr_merge', 'io.jwt.decode']));
    expect(engine.timeDependent).toBe(true);
  });
});
