// decision_logs (OPA) and decision_log.upload (ztauthz): how an OPA config
// file's decision-log settings map onto ztauthz's keys, OPA's defaults, and
// the clear refusals of what ztauthz does not do. The uploads themselves are
// in decision-log-upload.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../support/bundleServers.ts';

describe('decision_logs in an OPA config file', () => {
  function load(yaml: string) {
    const file = join(tempDir(), 'config.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ file });
  }
  function refusal(yaml: string): string {
    try {
      load(yaml);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('config was accepted');
  }
  const services = 'services:\n  a:\n    url: http://127.0.0.1:1\n  b:\n    url: http://127.0.0.1:2\n';

  it("maps onto decision_log.upload and decision_log.enabled, with OPA's defaults", () => {
    const c = load(
      `${services}labels: {app: x}\ndecision_logs:\n  service: b\n  partition_name: team1\n  reporting:\n    upload_size_limit_bytes: 65536\n    min_delay_seconds: 2\n    max_delay_seconds: 4\n    buffer_type: size\n    buffer_size_limit_bytes: 1048576\n    max_decisions_per_second: 250.5\n    trigger: periodic\n`,
    );
    expect(c.decision_log.upload).toEqual({
      service: 'b',
      resource: '/logs/team1',
      upload_size_limit_bytes: 65536,
      min_delay_seconds: 2,
      max_delay_seconds: 4,
      buffer_size_limit_bytes: 1048576,
      buffer_size_limit_events: 100000,
      max_decisions_per_second: 250.5,
    });
    expect(c.labels).toEqual({ app: 'x' });
    // OPA's default mask rule is accepted, with or without its leading slash.
    expect(load(`${services}decision_logs:\n  mask_decision: /system/log/mask\n`).decision_log.upload.service).toBe('a');
    expect(load(`${services}decision_logs:\n  mask_decision: system/log/mask\n  drop_decision: /system/log/drop\n`).decision_log.upload.service).toBe('a');
    // console defaults to false in OPA: no records on stdout unless asked.
    expect(c.decision_log.enabled).toBe(false);
    // The service defaults to the first one; the resource to /logs.
    const d = load(`${services}decision_logs: {}\n`);
    expect(d.decision_log.upload.service).toBe('a');
    expect(d.decision_log.upload.resource).toBe('/logs');
    // console only: no upload, records on the console.
    const e = load(`${services}decision_logs:\n  console: true\n`);
    expect(e.decision_log.upload.service).toBe('');
    expect(e.decision_log.enabled).toBe(true);
    // ztauthz's own keys alone: the console stays on beside the upload.
    const own = loadConfig({
      file: (() => {
        const f = join(tempDir(), 'own.yaml');
        writeFileSync(f, `${services}decision_log:\n  upload:\n    service: b\n`);
        return f;
      })(),
      env: { ZTAUTHZ_DECISION_LOG_UPLOAD_MIN_DELAY_SECONDS: '3' },
    });
    expect(own.decision_log.enabled).toBe(true);
    expect(own.decision_log.upload).toMatchObject({ service: 'b', resource: '/logs', min_delay_seconds: 3 });
    // ztauthz's own key for the console wins when console is not given.
    expect(load(`${services}decision_logs: {}\ndecision_log:\n  enabled: true\n`).decision_log.enabled).toBe(true);
  });

  it('names unknown keys and refuses what ztauthz does not do, with a line each', () => {
    expect(refusal(`${services}decision_logs:\n  servce: a\n`)).toContain('unknown key decision_logs.servce');
    expect(refusal(`${services}decision_logs:\n  reporting:\n    min_delay: 1\n`)).toContain('unknown key decision_logs.reporting.min_delay');
    const msg = refusal(
      `${services}decision_logs:\n  mask_decision: /custom/mask\n  drop_decision: /custom/drop\n  plugin: p\n  reporting:\n    trigger: manual\n`,
    );
    expect(msg).toContain("decision_logs.mask_decision: only OPA's default, system/log/mask, is run (when the policy defines it)");
    expect(msg).toContain("decision_logs.drop_decision: only OPA's default, system/log/drop, is run");
    expect(msg).toContain('decision_logs.plugin is not supported');
    expect(msg).toContain('decision_logs.reporting.trigger: only "periodic"');
    expect(refusal(`${services}decision_logs:\n  reporting:\n    buffer_type: disk\n`)).toContain('buffer_type must be "size" or "event"');
  });

  it('checks the keys against each other and the bounds', () => {
    expect(refusal('decision_logs: {}\n')).toContain('decision_logs.service: no service to upload to');
    expect(refusal(`${services}decision_logs:\n  service: c\n`)).toContain('decision_log.upload.service: no service named "c"');
    expect(refusal(`${services}decision_logs: {service: a, resource: /x, partition_name: p}\n`)).toContain('set one');
    expect(refusal(`${services}decision_logs: {service: a}\ndecision_log:\n  upload:\n    service: b\n`)).toContain(
      'decision_logs.service and decision_log.upload.service are the same setting',
    );
    expect(refusal(`${services}decision_logs:\n  reporting: {min_delay_seconds: 9, max_delay_seconds: 3}\n`)).toContain('min_delay_seconds must not exceed');
    expect(refusal(`${services}decision_logs:\n  reporting: {upload_size_limit_bytes: 10}\n`)).toContain('decision_log.upload.upload_size_limit_bytes');
    expect(refusal(`${services}labels: {id: mine}\n`)).toContain('labels.id: is set by ztauthz');
    expect(refusal('services:\n  r:\n    url: https://ghcr.io\n    type: oci\ndecision_logs: {service: r}\n')).toContain('is an OCI registry');
  });
});
