// The demo policy ships prebuilt (policies/demo.tar.gz) so that serving it
// needs no opa: it must be what the pinned opa builds from policies/demo now,
// decide as that Rego does, and key its cache as that Rego does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readArchiveFiles } from '../src/policy/Bundle.ts';
import { DEMO_BUNDLE, DEMO_ENTRYPOINT } from '../src/policy/DemoPolicy.ts';
import { PolicyEngine } from '../src/policy/PolicyEngine.ts';
import { readPolicySource } from '../src/policy/PolicySource.ts';
import { buildDemoFiles, differences } from '../scripts/demo-bundle.ts';
import { ROOT, runCli } from './support/servers.ts';

const OPA = join(ROOT, '.tools', 'bin', 'opa');
const OPTS = { requiredEntrypoints: [DEMO_ENTRYPOINT], maxMemoryPages: 256 };
const load = async (path: string) => PolicyEngine.load(await readPolicySource(path, { entrypoints: [DEMO_ENTRYPOINT], opa: OPA }), OPTS);

const CALLERS = [
  'spiffe://cluster.local/ns/web/sa/frontend',
  'spiffe://cluster.local/ns/ml-training/sa/trainer',
  'spiffe://cluster.local/ns/ml-serving/sa/model-server',
  'spiffe://cluster.local/ns/web/sa/other',
  '',
];
// Every rule of policies/demo/authz.rego, met and just missed.
const REQUESTS: [string, string[]][] = [
  ['POST', ['v2', 'models', 'm', 'infer']],
  ['GET', ['v2', 'models', 'm', 'infer']],
  ['POST', ['v2', 'models', 'm', 'versions', '3', 'infer']],
  ['POST', ['v1', 'models', 'm:predict']],
  ['POST', ['v1', 'models', 'm:explain']],
  ['POST', ['v1', 'chat', 'completions']],
  ['GET', ['features', 'training', 'view']],
  ['POST', ['features', 'training', 'view']],
  ['DELETE', ['features', 'training', 'view']],
  ['GET', ['features', 'online', 'view']],
  ['GET', ['registry', 'models', 'm', 'versions', '1', 'artifacts']],
  ['PUT', ['registry', 'models', 'm', 'versions', '1', 'artifacts']],
  ['GET', ['']],
];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ztauthz-demo-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the shipped demo bundle', () => {
  it('is what the pinned opa builds from policies/demo now', async () => {
    const shipped = await readArchiveFiles(readFileSync(DEMO_BUNDLE));
    const fresh = await buildDemoFiles(OPA);
    expect([...shipped.keys()].sort()).toEqual(['/.manifest', '/data.json', '/plan.json', '/policy.wasm']);
    expect(differences(shipped, fresh), 'policies/demo.tar.gz is stale: node scripts/demo-bundle.ts --write').toEqual([]);
  }, 120_000);

  it('decides as the Rego compiled at start, for every caller and request of the demo', async () => {
    const [shipped, rego] = await Promise.all([load(DEMO_BUNDLE), load('policies/demo')]);
    const outcomes = new Set<boolean>();
    for (const principal of CALLERS) {
      for (const [method, parsed_path] of REQUESTS) {
        const input = { attributes: { source: { principal }, request: { http: { method, path: `/${parsed_path.join('/')}`, headers: {} } } }, parsed_path };
        const expected = rego.evaluate(input, DEMO_ENTRYPOINT) as [{ result: { allowed: boolean } }];
        expect(shipped.evaluate(input, DEMO_ENTRYPOINT), `${principal} ${method} /${parsed_path.join('/')}`).toEqual(expected);
        outcomes.add(expected[0].result.allowed);
      }
    }
    expect([...outcomes].sort()).toEqual([false, true]);
  }, 120_000);

  it('keys the cache as the Rego does (its plan is analysed); the same archive elsewhere is a plain prebuilt wasm', async () => {
    const [shipped, rego] = await Promise.all([load(DEMO_BUNDLE), load('policies/demo')]);
    expect(shipped.inputReads.kind).toBe('plan');
    expect(shipped.inputReads).toEqual(rego.inputReads);
    // A plan.json in someone else's bundle is not taken on trust.
    const copy = join(tmp, 'copy.tar.gz');
    copyFileSync(DEMO_BUNDLE, copy);
    expect((await load(copy)).inputReads.kind).toBe('wasm');
  }, 120_000);

  it('is what check serves without --policy, with no opa to be found', async () => {
    const r = await runCli(['check', '--request', 'test/fixtures/requests/frontend-infer.json'], { ZTAUTHZ_OPA: join(tmp, 'no-opa') });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).allowed).toBe(true);
    const denied = await runCli(['check', '--request', 'test/fixtures/requests/frontend-infer.json', '--policy', 'policies/demo'], {
      ZTAUTHZ_OPA: join(tmp, 'no-opa'),
    });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/cannot run opa/);
  }, 60_000);
});
