// Every form --policy accepts, and the ways a policy can be unfit to load.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { readPolicySource } from '../src/policy/PolicySource.ts';
import {
  BundleError,
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_ENTRIES,
  checkInflatedSize,
  loadBundleArchive,
  readBundleArchive,
  readBundleDirectory,
} from '../src/policy/Bundle.ts';
import { PolicyEngine } from '../src/policy/PolicyEngine.ts';
import { compileRegoDirectory } from '../src/policy/OpaCompiler.ts';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { JsonObject } from '../src/types/Json.ts';
import { pack } from 'tar-stream';

const ENTRY = ['envoy/authz/allow'];
const OPTS = { requiredEntrypoints: ENTRY, maxMemoryPages: 256 };
let tmp: string;
let archive: Uint8Array;

const load = async (path: string, opts = OPTS) => PolicyEngine.load(await readPolicySource(path, { entrypoints: opts.requiredEntrypoints }), opts);
const input = (principal: string) => ({
  attributes: { source: { principal }, request: { http: { method: 'POST' } } },
  parsed_path: ['v2', 'models', 'm', 'infer'],
});
const allowedFor = (engine: PolicyEngine, principal: string) => (engine.evaluate(input(principal), 'envoy/authz/allow') as any)[0].result.allowed;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-load-'));
  archive = compileRegoDirectory('policies/demo', ENTRY);
});

describe('policy sources', () => {
  it('loads a .tar.gz bundle with its data and a manifest revision', async () => {
    // Add a .manifest with a revision, as a bundle server would ship it.
    const files = await readBundleArchive(archive);
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
    writeFileSync(wasm, (await readBundleArchive(archive)).wasm);
    const engine = await load(wasm);
    expect(allowedFor(engine, 'spiffe://cluster.local/ns/web/sa/frontend')).toBe(false);
  });

  it('compiles a directory of .rego files with several entrypoints', async () => {
    const engine = await load('policies/examples/object-result', { requiredEntrypoints: ['envoy/authz/result', 'envoy/authz/allow'], maxMemoryPages: 256 });
    expect([...engine.entrypoints]).toEqual(expect.arrayContaining(['envoy/authz/allow', 'envoy/authz/result']));
  });
});

describe('policies that must not load', () => {
  it('a corrupt archive', async () => {
    const f = join(tmp, 'corrupt.tar.gz');
    writeFileSync(f, Buffer.from('this is not gzip'));
    await expect(readPolicySource(f, { entrypoints: ENTRY })).rejects.toThrow(/not a gzip archive/);
  });

  it('a truncated archive', async () => {
    const tar = gunzipSync(archive);
    const f = join(tmp, 'truncated.tar.gz');
    writeFileSync(f, gzipSync(tar.subarray(0, Math.floor(tar.length / 2))));
    await expect(readPolicySource(f, { entrypoints: ENTRY })).rejects.toThrow(/truncated|checksum/);
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

  it('Rego that does not compile', async () => {
    const dir = join(tmp, 'bad-rego');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'p.rego'), 'package envoy.authz\nallow if {');
    await expect(readPolicySource(dir, { entrypoints: ENTRY })).rejects.toThrow(/opa build failed/);
  });

  it('a policy needing a builtin ztauthz lacks, named at load time', async () => {
    await expect(load('test/fixtures/policies/needs-net-lookup')).rejects.toThrow(/does not provide: net\.lookup_ip_addr/);
  });

  it('a policy calling http.send without http_send.allowed_hosts, refused naming the setting', async () => {
    await expect(load('test/fixtures/policies/needs-http-send')).rejects.toThrow(/uses http\.send, which needs http_send\.allowed_hosts/);
  });

  it('a data.json that is not JSON', async () => {
    const dir = join(tmp, 'bad-data');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(tmp, 'policy.wasm'), join(dir, 'policy.wasm'));
    writeFileSync(join(dir, 'data.json'), '{"a":');
    await expect(readPolicySource(dir, { entrypoints: ENTRY })).rejects.toThrow(/data\.json is not valid JSON/);
  });

  it('an archive whose entries escape the bundle root', async () => {
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
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const body = Buffer.alloc(512);
    body.write('{}');
    const f = join(tmp, 'escape.tar.gz');
    writeFileSync(f, gzipSync(Buffer.concat([header, body, Buffer.alloc(1024)])));
    await expect(readPolicySource(f, { entrypoints: ENTRY })).rejects.toThrow(/escapes the bundle root/);
  });
});

describe('bundle archives (tar-stream)', () => {
  /** A .tar.gz of `entries`, packed by tar-stream (long names as pax records, as GNU tar and opa write them). */
  async function packed(entries: [name: string, body: string | Buffer, type?: 'directory' | 'symlink'][]): Promise<Buffer> {
    const p = pack();
    for (const [name, body, type] of entries) {
      if (type === 'directory') p.entry({ name, type });
      else if (type === 'symlink') p.entry({ name, type, linkname: String(body) });
      else p.entry({ name }, body);
    }
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    return gzipSync(Buffer.concat(chunks));
  }

  it('reads regular files by normalised path, long names included, and nothing else', async () => {
    const wasm = (await readBundleArchive(archive)).wasm;
    const deep = `${'d'.repeat(120)}/${'e'.repeat(120)}`;
    const files = await readBundleArchive(
      await packed([
        ['./policy.wasm', Buffer.from(wasm)],
        ['a/', '', 'directory'],
        ['a//./data.json', '{"x":1}'],
        [`${deep}/data.json`, '{"y":2}'],
        ['link', '/etc/passwd', 'symlink'],
        ['.manifest', '{"revision":"r7"}'],
      ]),
    );
    expect([...files.files.keys()].sort()).toEqual(['/.manifest', '/a/data.json', `/${deep}/data.json`, '/policy.wasm']);
    expect(files.data).toEqual({ a: { x: 1 }, [deep.split('/')[0]!]: { [deep.split('/')[1]!]: { y: 2 } } });
    expect(files.revision).toBe('r7');
  });

  it('refuses a bad header checksum, and a long name escaping the root', async () => {
    const tar = gunzipSync(archive);
    tar[148] = tar[148] === 0x31 ? 0x32 : 0x31; // the first header's checksum field
    await expect(readBundleArchive(gzipSync(tar))).rejects.toThrow(/not a valid tar \(truncated or corrupt\)/);
    // Over 100 characters: the name travels in a pax record.
    await expect(readBundleArchive(await packed([[`${'a/'.repeat(60)}${'../'.repeat(61)}data.json`, '{}']]))).rejects.toThrow(/escapes the bundle root/);
  });

  it(`refuses more than ${MAX_BUNDLE_ENTRIES} entries`, async () => {
    const headers = Buffer.alloc((MAX_BUNDLE_ENTRIES + 1) * 512 + 1024);
    const one = tarHeader('empty.txt', 0);
    for (let i = 0; i <= MAX_BUNDLE_ENTRIES; i++) one.copy(headers, i * 512);
    await expect(readBundleArchive(gzipSync(headers))).rejects.toThrow(`bundle archive has more than ${MAX_BUNDLE_ENTRIES} entries`);
  });
});

describe('evaluation limits', () => {
  it('fails (and so denies) instead of growing past the memory bound', async () => {
    const engine = await load('policies/demo', { requiredEntrypoints: ENTRY, maxMemoryPages: 24 });
    // In a field the policy reads (parsed_path is compared whole): an unread one never reaches the wasm (InputProjection.ts).
    const big = { ...input('x'), parsed_path: ['v2', 'x'.repeat(4 * 1024 * 1024)] };
    expect(() => engine.evaluate(big, 'envoy/authz/allow')).toThrow();
    expect(engine.evaluate({ ...input('x'), pad: 'x'.repeat(4 * 1024 * 1024) }, 'envoy/authz/allow')).toEqual([
      { result: expect.objectContaining({ allowed: false }) },
    ]);
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
    const files = await readBundleArchive(compileRegoDirectory(dir, ['echo/result']));
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

/** A ustar header for one regular file of `size` bytes. */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** Writes a .tar.gz of one file of `mib` MiB of zeros, streamed: never held in memory. */
async function zeroBomb(file: string, mib: number): Promise<void> {
  const mebibyte = Buffer.alloc(1 << 20);
  async function* tar() {
    yield tarHeader('data.json', mib << 20);
    for (let i = 0; i < mib; i++) yield mebibyte;
    yield Buffer.alloc(1024);
  }
  await pipeline(Readable.from(tar()), createGzip(), createWriteStream(file));
}

describe('gzip bombs', () => {
  it('are refused by size with a clear BundleError, before the tar is read', async () => {
    const small = gzipSync(Buffer.concat([tarHeader('data.json', 3 << 20), Buffer.alloc(3 << 20), Buffer.alloc(1024)]));
    await expect(checkInflatedSize(small, 2 << 20)).rejects.toThrow(BundleError);
    await expect(checkInflatedSize(small, 2 << 20)).rejects.toThrow(/inflates to more than 2097152 bytes/);
    await expect(checkInflatedSize(small, 4 << 20)).resolves.toBeUndefined();
    await expect(checkInflatedSize(Buffer.from('not gzip at all'), 4 << 20)).rejects.toThrow(/not a gzip archive/);
    // A bundle that loads is read as before.
    expect((await loadBundleArchive(archive)).data).toHaveProperty('ztauthz_demo');
  });

  // 300 MiB of zeros is a 300 KB .tar.gz. Refusing it used to inflate up to
  // the 256 MiB limit into memory first, and the process kept that memory
  // (RSS +260 MiB, also after a full GC). Measured in a child process, so
  // nothing else in this one counts; coarse on purpose.
  it('cost little memory to refuse: a 300 MiB-of-zeros .tar.gz, measured in a child process', async () => {
    const bomb = join(tmp, 'bomb.tar.gz');
    await zeroBomb(bomb, 300);
    const out = execFileSync(process.execPath, [join(import.meta.dirname, 'support', 'bundle-bomb-rss.ts'), bomb], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out) as { before: number; after: number; error?: { name: string; message: string } };
    expect(r.error).toEqual({
      name: 'BundleError',
      message: `bundle archive inflates to more than ${MAX_BUNDLE_BYTES} bytes (refused before it was held in memory)`,
    });
    expect(r.after - r.before).toBeLessThan(100 * 1024 * 1024);
  }, 90_000);
});

describe('bundle directories and symlinks', () => {
  let wasm: Uint8Array;
  beforeAll(async () => {
    wasm = (await readBundleArchive(archive)).wasm;
  });
  const fresh = (name: string): string => {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  it('loads a ConfigMap volume as the kubelet lays it out (file -> ..data/file, ..data -> ..<timestamp>)', () => {
    const dir = fresh('configmap');
    const ts = '..2026_12_04_17_00_00.000000001';
    mkdirSync(join(dir, ts));
    writeFileSync(join(dir, ts, 'policy.wasm'), wasm);
    writeFileSync(join(dir, ts, 'data.json'), JSON.stringify({ a: 1 }));
    symlinkSync(ts, join(dir, '..data'));
    symlinkSync('..data/policy.wasm', join(dir, 'policy.wasm'));
    symlinkSync('..data/data.json', join(dir, 'data.json'));
    const b = readBundleDirectory(dir);
    expect([...b.files.keys()].sort()).toEqual(['/data.json', '/policy.wasm']);
    expect(b.data).toEqual({ a: 1 });
    // And through a symlink to the directory itself, and with a link inside it to a subdirectory.
    mkdirSync(join(dir, ts, 'sub'));
    writeFileSync(join(dir, ts, 'sub', 'data.json'), JSON.stringify({ b: 2 }));
    symlinkSync('..data/sub', join(dir, 'sub'));
    symlinkSync(dir, join(tmp, 'configmap-link'));
    expect(readBundleDirectory(join(tmp, 'configmap-link')).data).toEqual({ a: 1, sub: { b: 2 } });
  });

  it('refuses a symlink whose target is outside the bundle directory', () => {
    const outside = fresh('outside');
    writeFileSync(join(outside, 'data.json'), JSON.stringify({ secret: true }));
    const absolute = fresh('escape-absolute');
    writeFileSync(join(absolute, 'policy.wasm'), wasm);
    symlinkSync(join(outside, 'data.json'), join(absolute, 'data.json'));
    expect(() => readBundleDirectory(absolute)).toThrow(BundleError);
    expect(() => readBundleDirectory(absolute)).toThrow(/bundle entry \/data\.json is a symlink to .*outside the bundle directory/);
    const relative = fresh('escape-relative');
    writeFileSync(join(relative, 'policy.wasm'), wasm);
    symlinkSync('../outside/data.json', join(relative, 'data.json'));
    expect(() => readBundleDirectory(relative)).toThrow(/outside the bundle directory/);
    const viaDir = fresh('escape-dir');
    writeFileSync(join(viaDir, 'policy.wasm'), wasm);
    symlinkSync(outside, join(viaDir, 'ns'));
    expect(() => readBundleDirectory(viaDir)).toThrow(/bundle entry \/ns is a symlink to .*outside the bundle directory/);
    // A sibling whose name merely starts with the directory's is outside too.
    const sibling = fresh('escape-dir-sibling');
    writeFileSync(join(sibling, 'data.json'), '{}');
    symlinkSync(join(sibling, 'data.json'), join(viaDir, 'x.json'));
    unlinkSync(join(viaDir, 'ns'));
    expect(() => readBundleDirectory(viaDir)).toThrow(/bundle entry \/x\.json .*outside the bundle directory/);
  });

  it('refuses a symlink loop and a dangling symlink with a BundleError', () => {
    const loop = fresh('loop');
    writeFileSync(join(loop, 'policy.wasm'), wasm);
    mkdirSync(join(loop, 'sub'));
    symlinkSync('..', join(loop, 'sub', 'up'));
    expect(() => readBundleDirectory(loop)).toThrow(/symlink loop/);
    const dangling = fresh('dangling');
    writeFileSync(join(dangling, 'policy.wasm'), wasm);
    symlinkSync('nowhere.json', join(dangling, 'data.json'));
    expect(() => readBundleDirectory(dangling)).toThrow(BundleError);
  });

  it('refuses a Rego directory with a symlink out of it, before opa build follows it', async () => {
    const outside = fresh('rego-outside');
    writeFileSync(join(outside, 'secret.rego'), 'package envoy.authz\n\nallow := true\n');
    const dir = fresh('rego-escape');
    writeFileSync(join(dir, 'policy.rego'), 'package envoy.authz\n\ndefault allow := false\n');
    symlinkSync(join(outside, 'secret.rego'), join(dir, 'linked.rego'));
    await expect(readPolicySource(dir, { entrypoints: ['envoy/authz/allow'] })).rejects.toThrow(
      /bundle entry \/linked\.rego is a symlink to .*outside the bundle directory/,
    );
  });
});

describe('policy.rego_version: Rego written before OPA 1.0', () => {
  // Pre-1.0 syntax: `default allow = false`, rule bodies without `if`, `contains`-less partial sets.
  const V0_POLICY = `package envoy.authz

import input.attributes.request.http

default allow = false

allowed_methods[m] { m := "GET" }
allowed_methods[m] { m := "HEAD" }

allow {
  allowed_methods[http.method]
  input.parsed_path[0] == "public"
}
`;
  let dir: string;
  beforeAll(() => {
    dir = join(tmp, 'v0-policy');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'authz.rego'), V0_POLICY);
  });
  const v0Input = (method: string, first: string) => ({ attributes: { request: { http: { method } } }, parsed_path: [first] });

  it('v1 (the default) refuses v0 syntax, and the error says so', async () => {
    await expect(readPolicySource(dir, { entrypoints: ENTRY })).rejects.toThrow(/opa build failed .*(rego_parse_error|if|contains)/);
  });

  it('v0 compiles it with opa build --v0-compatible and it decides as written', async () => {
    const engine = await PolicyEngine.load(await readPolicySource(dir, { entrypoints: ENTRY, regoVersion: 'v0' }), OPTS);
    const allow = (method: string, first: string) => (engine.evaluate(v0Input(method, first), 'envoy/authz/allow') as any)[0].result;
    expect(allow('GET', 'public')).toBe(true);
    expect(allow('HEAD', 'public')).toBe(true);
    expect(allow('POST', 'public')).toBe(false);
    expect(allow('GET', 'admin')).toBe(false);
  });

  it('serve --policy-rego-version v0 answers Checks with it', async () => {
    const { startInProcess } = await import('./support/servers.ts');
    const { CheckClient, checkRequest } = await import('./support/checkClient.ts');
    const server = await startInProcess({ policy: dir, 'policy-rego-version': 'v0' });
    const client = new CheckClient(server.grpcPort);
    try {
      expect((await client.check(checkRequest({ method: 'GET', path: '/public/x' }))).status?.code ?? 0).toBe(0);
      expect((await client.check(checkRequest({ method: 'POST', path: '/public/x' }))).status?.code).toBe(7);
    } finally {
      client.close();
      await server.stop(1000);
    }
    await expect(startInProcess({ policy: dir })).rejects.toThrow(/opa build failed/);
  });
});

describe('host builtins through the engine', () => {
  let files: Awaited<ReturnType<typeof readBundleArchive>>;
  beforeAll(async () => {
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
    files = await readBundleArchive(compileRegoDirectory(dir, ['p/result']));
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
