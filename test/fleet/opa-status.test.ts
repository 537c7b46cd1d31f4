// Status reports per OPA's status API, against a control plane written here
// (a Node HTTP server on 127.0.0.1): ztauthz configured with an OPA config
// file (labels, ${VAR} from the environment) reports its bundle's state on
// start, the active revision once a bundle is served, and the error when the
// bundle server breaks; a report the control plane refuses is retried.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observe/Log.ts';
import { opaBinary } from '../../src/policy/OpaCompiler.ts';
import { serviceHeaders, serviceRequest } from '../../src/policy/remote/BundleHttp.ts';
import { NEVER, StatusReporter, type StatusReport } from '../../src/policy/remote/StatusReporter.ts';
import { startServer, type RunningServer } from '../../src/server/Server.ts';
import type { BundleState } from '../../src/types/BundleState.ts';
import { CheckClient, checkRequest } from '../support/checkClient.ts';
import { LongPollServer, metricsText, regoBundle, tempDir, waitFor } from '../support/bundleServers.ts';
import { promtool } from '../observe/support/checks.ts';

interface Received {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly report: StatusReport;
}

/** A control plane taking status reports (answers `failFirst` of them with 500) and decision logs (answered `logsAnswer`). */
class ControlPlane {
  readonly received: Received[] = [];
  logsAnswer = 200;
  logUploads = 0;
  readonly refused: Received[] = [];
  readonly #server: Server;
  port = 0;
  failFirst: number;

  constructor(failFirst = 0) {
    this.failFirst = failFirst;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url?.endsWith('/logs')) {
          this.logUploads++;
          res.writeHead(this.logsAnswer).end();
          return;
        }
        const r: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          authorization: req.headers['authorization'],
          contentType: req.headers['content-type'],
          report: JSON.parse(Buffer.concat(chunks).toString('utf8')) as StatusReport,
        };
        if (this.failFirst > 0) {
          this.failFirst--;
          this.refused.push(r);
          res.writeHead(500).end('try later');
          return;
        }
        this.received.push(r);
        res.writeHead(200).end();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  last(): StatusReport | undefined {
    return this.received.at(-1)?.report;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Service log lines, parsed. */
function captureLog(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

function opaConfig(bundlePort: number, cpPort: number, status: string): string {
  return `services:
  control:
    url: http://127.0.0.1:${cpPort}/api
    credentials:
      bearer:
        token: "\${CP_TOKEN}"
  bundles:
    url: http://127.0.0.1:${bundlePort}/v1
bundles:
  authz:
    service: bundles
    resource: bundles/authz.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 1
labels:
  app: payments
  region: "\${REGION}"
${status}`;
}

async function serve(yaml: string, env: Record<string, string>, log = captureLog()): Promise<RunningServer> {
  const file = join(tempDir(), 'config.yaml');
  writeFileSync(file, yaml);
  const config = loadConfig({ file, env, flags: { 'grpc-addr': '127.0.0.1:0', 'http-addr': '127.0.0.1:0', 'decision-log-enabled': 'false' } });
  return startServer(config, createLogger('info', log.stream));
}

describe('status reports (OPA status API)', () => {
  let r1: Buffer;
  beforeAll(() => {
    r1 = regoBundle('r1', '/one');
  });

  it('reports labels, the active revision once a bundle is served, and the error when the bundle server breaks', async () => {
    const bundles = await new LongPollServer(false).start();
    const cp = await new ControlPlane().start();
    const log = captureLog();
    const server = await serve(
      opaConfig(bundles.port, cp.port, 'status:\n  service: control\n  partition_name: fleet-a\n  console: true\n'),
      { CP_TOKEN: 'cp-s3cret', REGION: 'eu-west-1' },
      log,
    );
    try {
      // The bundle server has nothing yet (503): the first reports say the bundle is not ready, with the error.
      await waitFor('a report of the failed first download', () => cp.last()?.bundles['authz']?.code === 'bundle_error', 10_000);
      const first = cp.received[0]!;
      expect(first).toMatchObject({ method: 'POST', path: '/api/status/fleet-a', authorization: 'Bearer cp-s3cret', contentType: 'application/json' });
      expect(first.report.labels).toEqual({ app: 'payments', region: 'eu-west-1', id: expect.stringMatching(/^[0-9a-f-]{36}$/), version: expect.any(String) });
      expect(first.report.plugins['status']).toEqual({ state: 'OK' });
      const failing = cp.last()!;
      expect(failing.plugins['bundle']).toEqual({ state: 'NOT_READY' });
      expect(failing.bundles['authz']).toMatchObject({ name: 'authz', http_code: 503, last_successful_activation: NEVER, last_successful_download: NEVER });
      expect(failing.bundles['authz']!.message).toContain('HTTP 503');
      expect(failing.bundles['authz']!.active_revision).toBeUndefined();

      bundles.serve(r1);
      await waitFor('a report with revision r1', () => cp.last()?.bundles['authz']?.active_revision === 'r1', 10_000);
      const active = cp.last()!;
      expect(active.bundles['authz']).toMatchObject({ name: 'authz', active_revision: 'r1', type: 'snapshot', size: r1.length });
      expect(active.bundles['authz']!.code).toBeUndefined();
      expect(active.bundles['authz']!.last_successful_activation).not.toBe(NEVER);
      expect(Date.parse(active.bundles['authz']!.last_successful_download)).toBeGreaterThan(Date.parse(failing.bundles['authz']!.last_request) - 1);
      expect(active.plugins).toMatchObject({ bundle: { state: 'OK' }, envoy_ext_authz_grpc: { state: 'OK' }, status: { state: 'OK' } });
      // Every report names the same instance.
      expect(new Set(cp.received.map((r) => r.report.labels['id'])).size).toBe(1);

      // A corrupt bundle: the error is reported while r1 keeps serving.
      bundles.serve(Buffer.from('not a bundle'));
      await waitFor('a report of the failed load', () => cp.last()?.bundles['authz']?.code === 'bundle_error', 10_000);
      expect(cp.last()!.bundles['authz']).toMatchObject({ active_revision: 'r1' });
      expect(cp.last()!.bundles['authz']!.http_code).toBeUndefined();
      // The bundle server gone: the download error, still on r1.
      await bundles.stop();
      await waitFor('a report of the refused connection', () => /ECONNREFUSED/.test(cp.last()?.bundles['authz']?.message ?? ''), 10_000);
      expect(cp.last()!.bundles['authz']!.active_revision).toBe('r1');

      // console: true wrote the reports to the service log too.
      const logged = log.lines.filter((l) => l['msg'] === 'status report');
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.at(-1)).toMatchObject({ type: 'openpolicyagent.org/status', labels: { app: 'payments' }, bundles: { authz: { name: 'authz' } } });

      // The bundle metrics, valid for promtool.
      const metrics = await metricsText(server.httpPort);
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="authz",revision="r1"} 1');
      // One revision series per bundle, failures by stage, when the server last answered, reports sent.
      expect(metrics.match(/^ztauthz_bundle_active_revision\{/gm)).toHaveLength(1);
      expect(metrics).toMatch(/^ztauthz_bundle_failures_total\{bundle="authz",stage="download"\} [1-9]/m);
      expect(metrics).toMatch(/^ztauthz_bundle_failures_total\{bundle="authz",stage="load"\} [1-9]/m);
      const stamp = (name: string) => Number(new RegExp(`^${name}\\{bundle="authz"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      const answered = stamp('ztauthz_bundle_last_successful_request_timestamp_seconds');
      const activated = stamp('ztauthz_bundle_last_successful_activation_timestamp_seconds');
      // The corrupt bundle was downloaded after r1 activated.
      expect(activated).toBeGreaterThan(0);
      expect(answered).toBeGreaterThanOrEqual(activated);
      expect(metrics).toMatch(/^ztauthz_status_reports_total\{result="sent"\} [1-9]/m);
      expect(promtool(['check', 'metrics'], metrics).status).toBe(0);
    } finally {
      await server.stop(0);
      await bundles.stop().catch(() => {});
      await cp.stop();
    }
  });

  it('retries a report the control plane refused, with the newest state', async () => {
    const bundles = await new LongPollServer(false).start();
    bundles.serve(r1);
    const cp = await new ControlPlane(2).start();
    const log = captureLog();
    const server = await serve(opaConfig(bundles.port, cp.port, 'status: {}\n'), { CP_TOKEN: 't', REGION: 'us' }, log);
    try {
      await waitFor('an accepted report with revision r1', () => cp.last()?.bundles['authz']?.active_revision === 'r1', 15_000);
      expect(cp.refused).toHaveLength(2);
      expect(await metricsText(server.httpPort)).toMatch(/^ztauthz_status_reports_total\{result="failed"\} 2$/m);
      // status: {} reports to the first service, at /status.
      expect(cp.received[0]!.path).toBe('/api/status');
      expect(log.lines.filter((l) => l['msg'] === 'status report failed; retrying with the newest status')).toHaveLength(2);
      // No console: the reports are not in the log.
      expect(log.lines.some((l) => l['msg'] === 'status report')).toBe(false);
      // Stopping sends a last report: the listener is going away.
      await server.stop(0);
      expect(cp.last()!.plugins['envoy_ext_authz_grpc']).toEqual({ state: 'NOT_READY' });
      expect(cp.last()!.bundles['authz']!.active_revision).toBe('r1');
    } finally {
      await server.stop(0);
      await bundles.stop();
      await cp.stop();
    }
  });

  it('keeps one report in flight and one waiting, the newest state winning', async () => {
    // A control plane that holds every report until released.
    const held: Array<() => void> = [];
    const bodies: StatusReport[] = [];
    const slow = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as StatusReport);
        held.push(() => res.writeHead(204).end());
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const service = { url: `http://127.0.0.1:${(slow.address() as { port: number }).port}`, headers: {}, headerTimeoutMs: 10_000 };
    let revision: string | undefined;
    const state = (): BundleState => ({
      name: 'authz',
      phase: revision ? 'active' : 'not_loaded',
      active_revision: revision,
      last_request: undefined,
      last_successful_request: undefined,
      last_successful_download: undefined,
      last_successful_activation: undefined,
      size: undefined,
      last_error: undefined,
    });
    const reporter = new StatusReporter({
      labels: { id: 'test' },
      bundles: () => [state()],
      send: async (body, signal) => {
        const url = new URL('status', `${service.url}/`);
        const { res } = await serviceRequest(service, url, {
          method: 'POST',
          headers: serviceHeaders(service),
          body,
          timeoutMs: 10_000,
          maxBytes: 1024,
          signal,
        });
        if (res.statusCode !== 204) throw new Error(`HTTP ${res.statusCode}`);
      },
      failed: () => {},
      retryMinMs: 1000,
      retryMaxMs: 1000,
    });
    try {
      reporter.start();
      await waitFor('the first report', () => held.length === 1, 5_000);
      for (let i = 1; i <= 50; i++) {
        revision = `r${i}`;
        reporter.changed();
      }
      // Fifty changes while the first report is held: once it is answered, one report carries the last of them.
      expect(bodies).toHaveLength(1);
      held.shift()!();
      await waitFor('the second report', () => held.length === 1, 5_000);
      expect(bodies).toHaveLength(2);
      expect(bodies[1]!.bundles['authz']!.active_revision).toBe('r50');
      held.shift()!();
      // A later change goes out as the next report, one at a time still.
      reporter.setPlugin('status', 'OK');
      await waitFor('the third report', () => held.length === 1, 5_000);
      expect(bodies).toHaveLength(3);
      held.shift()!();
    } finally {
      await reporter.stop();
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('reports each of several bundles by name, the bundle plugin ready only once all have activated', async () => {
    const policy = await new LongPollServer(false).start();
    const grants = await new LongPollServer(false).start();
    const cp = await new ControlPlane().start();
    policy.serve(
      opaBundle({ 'policy.rego': 'package envoy.authz\n\ndefault allow := false\n\nallow if data.grants.open\n' }, { revision: 'p1', roots: ['envoy'] }),
    );
    const yaml = `services:
  control:
    url: http://127.0.0.1:${cp.port}
  policy:
    url: http://127.0.0.1:${policy.port}
  grants:
    url: http://127.0.0.1:${grants.port}
bundles:
  authz:
    service: policy
    resource: authz.tar.gz
    polling: {min_delay_seconds: 1, max_delay_seconds: 1}
  grants:
    service: grants
    resource: grants.tar.gz
    polling: {min_delay_seconds: 1, max_delay_seconds: 1}
status:
  service: control
`;
    const server = await serve(yaml, {});
    const grantsBundle = (revision: string) => opaBundle({ 'grants/data.json': '{"open": true}' }, { revision, roots: ['grants'] });
    try {
      // The policy bundle loaded, the grants server has nothing (503): nothing serves, and the report says which.
      await waitFor('a report of the grants failure', () => cp.last()?.bundles['grants']?.http_code === 503, 10_000);
      const waiting = cp.last()!;
      expect(Object.keys(waiting.bundles).sort()).toEqual(['authz', 'grants']);
      expect(waiting.plugins['bundle']).toEqual({ state: 'NOT_READY' });
      expect(waiting.bundles['authz']!.code).toBeUndefined();
      expect(waiting.bundles['authz']!.last_successful_download).not.toBe(NEVER);

      grants.serve(grantsBundle('g1'));
      await waitFor('both bundles active', () => cp.last()?.plugins['bundle']?.state === 'OK', 10_000);
      expect(cp.last()!.bundles['authz']!.active_revision).toBe('p1');
      expect(cp.last()!.bundles['grants']).toMatchObject({ name: 'grants', active_revision: 'g1' });
      expect(cp.last()!.bundles['grants']!.code).toBeUndefined();

      // Only the data bundle changes: its revision moves, the policy's stays.
      grants.serve(grantsBundle('g2'));
      await waitFor('grants g2 reported', () => cp.last()?.bundles['grants']?.active_revision === 'g2', 10_000);
      expect(cp.last()!.bundles['authz']!.active_revision).toBe('p1');
      const metrics = await metricsText(server.httpPort);
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="grants",revision="g2"} 1');
      expect(metrics).toContain('ztauthz_bundle_active_revision{bundle="authz",revision="p1"} 1');
      expect(metrics.match(/^ztauthz_bundle_active_revision\{/gm)).toHaveLength(2);
    } finally {
      await server.stop(0);
      await policy.stop();
      await grants.stop();
      await cp.stop();
    }
  });

  it('carries the decision-log upload status: the error while the collector refuses, cleared once it takes them', async () => {
    const bundles = await new LongPollServer(false).start();
    bundles.serve(r1);
    const cp = await new ControlPlane().start();
    cp.logsAnswer = 503;
    const server = await serve(
      opaConfig(
        bundles.port,
        cp.port,
        'status:\n  service: control\ndecision_logs:\n  service: control\n  reporting:\n    min_delay_seconds: 1\n    max_delay_seconds: 1\n',
      ),
      { CP_TOKEN: 't', REGION: 'eu' },
    );
    const client = new CheckClient(server.grpcPort);
    try {
      await waitFor('revision r1 reported', () => cp.last()?.bundles['authz']?.active_revision === 'r1', 10_000);
      expect(cp.last()!.plugins['decision_logs']).toEqual({ state: 'OK' });
      // No upload tried yet: no decision_logs field, as OPA.
      expect(cp.last()!.decision_logs).toBeUndefined();
      await client.check(checkRequest({ path: '/one' }));
      await waitFor('a report of the refused upload', () => cp.last()?.decision_logs?.code === 'decision_log_error', 10_000);
      expect(cp.last()!.decision_logs).toMatchObject({ http_code: 503, message: expect.stringContaining('HTTP 503') });
      cp.logsAnswer = 200;
      await waitFor('a report of the upload taken', () => cp.last()?.decision_logs !== undefined && cp.last()!.decision_logs!.code === undefined, 15_000);
      expect(cp.last()!.decision_logs).toEqual({});
      expect(cp.logUploads).toBeGreaterThanOrEqual(2);
    } finally {
      client.close();
      await server.stop(0);
      await bundles.stop();
      await cp.stop();
    }
  });
});

/** A bundle opa builds from `files` (path -> text) with this manifest. */
function opaBundle(files: Record<string, string>, manifest: object): Buffer {
  const src = join(tempDir('ztauthz-status-src-'), 'src');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  writeFileSync(join(src, '.manifest'), JSON.stringify(manifest));
  const out = join(src, '..', 'bundle.tar.gz');
  execFileSync(opaBinary(), ['build', '-b', src, '-o', out], { stdio: 'pipe' });
  return readFileSync(out);
}
