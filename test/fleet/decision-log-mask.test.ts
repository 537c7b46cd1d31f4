// OPA's decision-log rules (package system.log, rules mask and drop) in a
// Rego policy: compiled as more entrypoints, run on each record before it is
// written or uploaded. A record the drop rule matches is not logged. Pointers it names are removed (listed in erased),
// upserts replace a value (listed in masked), decision_log.mask still
// applies, the input the policy decided on is unchanged, and a rule that
// names a path outside /input or /result gives the minimal record without
// input or result.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observe/Log.ts';
import { loadBundleArchive } from '../../src/policy/Bundle.ts';
import { compileRegoAsync, compileRegoDirectory, LOG_DROP_ENTRYPOINT, LOG_MASK_ENTRYPOINT, logEntrypoints } from '../../src/policy/OpaCompiler.ts';
import { startServer } from '../../src/server/Server.ts';
import { tempDir, waitFor } from '../support/bundleServers.ts';
import { CheckClient, checkRequest } from '../support/checkClient.ts';
import { Collector } from '../support/collector.ts';

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

const POLICY = `package envoy.authz

import rego.v1

default allow := false

allow if input.attributes.request.http.path == "/ok"
`;

const MASK = `package system.log

import rego.v1

mask contains "/input/attributes/request/http/headers/x-api-key"

mask contains {"op": "upsert", "path": "/input/attributes/request/http/headers/x-user", "value": "**REDACTED**"} if {
  input.input.attributes.request.http.headers["x-user"]
}

# Not a path OPA allows: the record of /bad is written without input or result.
mask contains "/labels/id" if input.input.attributes.request.http.path == "/bad"

drop if input.input.attributes.request.http.path == "/quiet"

# Allowed records carry no input (include_input denied): the rule still sees, and changes, the rest.
mask contains {"op": "upsert", "path": "/result", "value": "hidden"} if input.allowed
`;

const HEADERS = '/input/attributes/request/http/headers';

describe("OPA's decision-log mask rule", () => {
  it('removes and replaces what the rule names, on the console and in uploads, before decision_log.mask', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'policy'));
    writeFileSync(join(dir, 'policy', 'policy.rego'), POLICY);
    writeFileSync(join(dir, 'policy', 'log.rego'), MASK);
    expect(logEntrypoints([join(dir, 'policy')])).toEqual([LOG_MASK_ENTRYPOINT, LOG_DROP_ENTRYPOINT]);
    const logs = await new Collector().start();
    running.push(logs);
    const out = join(dir, 'decisions.log');
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `policy:\n  path: ${join(dir, 'policy')}\nservices:\n  logs:\n    url: http://127.0.0.1:${logs.port}\ndecision_log:\n  output: ${out}\n  upload:\n    service: logs\n    min_delay_seconds: 1\n    max_delay_seconds: 1\n`,
    );
    const server = await startServer(loadConfig({ file, flags: { 'grpc-addr': '127.0.0.1:0', 'http-addr': '127.0.0.1:0' } }), createLogger('error'));
    const client = new CheckClient(server.grpcPort);
    running.push({ stop: () => server.stop(1000) }, { stop: async () => client.client.close() });
    const headers = { 'x-api-key': 'k3y', 'x-user': 'alice', authorization: 'Bearer s3cret', 'x-team': 'payments' };
    const ids: string[] = [];
    // A record after the dropped one: once it is in, the dropped one would be too.
    for (const path of ['/ok', '/no', '/bad', '/quiet', '/ok']) {
      const res = await client.check(checkRequest({ path, headers }));
      ids.push(res.dynamicMetadata!.fields['decision_id']!.stringValue as string);
    }
    const quiet = ids.splice(3, 1)[0]!;
    await waitFor('the four records uploaded', () => ids.every((id) => logs.decisionIds.has(id)), 10_000);
    await waitFor('the four records written', () => readFileSync(out, 'utf8').trim().split('\n').length >= 4, 5_000);
    const console = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    for (const records of [console, logs.events as Array<Record<string, any>>]) {
      const byId = new Map(records.map((r) => [r['decision_id'], r]));
      // Allowed, so without its input: the rule replaced its result.
      const ok = byId.get(ids[0])!;
      expect(ok).not.toHaveProperty('input');
      expect(ok['result']).toBe('hidden');
      expect(ok['masked']).toEqual(['/result']);
      expect(ok).not.toHaveProperty('erased');
      {
        const r = byId.get(ids[1])!;
        const h = r['input'].attributes.request.http.headers;
        expect(h).not.toHaveProperty('x-api-key');
        expect(h).not.toHaveProperty('authorization');
        expect(h['x-user']).toBe('**REDACTED**');
        expect(h['x-team']).toBe('payments');
        expect(r['erased']).toEqual([`${HEADERS}/x-api-key`, `${HEADERS}/authorization`]);
        expect(r['masked']).toEqual([`${HEADERS}/x-user`]);
      }
      // The rule asked for a path outside /input and /result: the record keeps its decision, loses input and result.
      const bad = byId.get(ids[2])!;
      expect(bad['allowed']).toBe(false);
      expect(bad).not.toHaveProperty('input');
      expect(bad).not.toHaveProperty('result');
      expect(bad['log_error']).toContain('not a path under /input or /result');
    }
    // Dropped by the policy's drop rule: in neither.
    expect(console.map((r) => r['decision_id'])).not.toContain(quiet);
    expect(logs.decisionIds.has(quiet)).toBe(false);
    expect(JSON.stringify(console)).not.toContain('k3y');
    expect(JSON.stringify(logs.events)).not.toContain('alice');
    // The policy decided on the unmasked input: /ok was allowed.
    expect(console.find((r) => r['decision_id'] === ids[0])!['allowed']).toBe(true);
  });

  it('are looked for only in package system.log, outside tests', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'policy.rego'), POLICY);
    writeFileSync(join(dir, 'other.rego'), 'package system.logs\n\nimport rego.v1\n\nmask contains "/input/x"\n');
    writeFileSync(join(dir, 'log_test.rego'), MASK);
    expect(logEntrypoints([dir])).toEqual([]);
    writeFileSync(join(dir, 'log.rego'), 'package system.log\n\nimport rego.v1\n\ndrop if input.path == "x"\n');
    expect(logEntrypoints([dir])).toEqual([LOG_DROP_ENTRYPOINT]);
    // A false find (a function named mask) builds again without the log entrypoints.
    writeFileSync(join(dir, 'fn.rego'), 'package system.log\n\nimport rego.v1\n\nmask(x) := x\n');
    expect(logEntrypoints([dir])).toEqual([LOG_MASK_ENTRYPOINT, LOG_DROP_ENTRYPOINT]);
    const bundle = await loadBundleArchive(await compileRegoAsync('wasm', dir, ['envoy/authz/allow']));
    expect(bundle.wasm.length).toBeGreaterThan(0);
    expect(compileRegoDirectory(dir, ['envoy/authz/allow']).length).toBeGreaterThan(0);
  });
});
