// Builders for what the pipeline hands the Observer: identities, routes,
// decisions and whole ObservedChecks, with realistic shapes.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { denial, type Decision } from '../../../src/types/Decision.ts';
import type { Identity } from '../../../src/types/Identity.ts';
import type { JsonObject } from '../../../src/types/Json.ts';
import type { RouteMatch } from '../../../src/types/Route.ts';
import { Reason, type ReasonCode } from '../../../src/types/Reason.ts';
import type { ObservedCheck } from '../../../src/observe/Observer.ts';

export const FRONTEND = 'spiffe://cluster.local/ns/fraud-web/sa/frontend';
export const MODEL_SERVER = 'spiffe://cluster.local/ns/fraud-serving/sa/model-server';

export function workload(spiffeId: string): Identity {
  const m = /^spiffe:\/\/([^/]+)(\/ns\/([^/]+)\/sa\/([^/]+))?/.exec(spiffeId);
  return {
    spiffe_id: spiffeId,
    trust_domain: m?.[1] ?? null,
    path: spiffeId.replace(/^spiffe:\/\/[^/]+/, ''),
    namespace: m?.[3] ?? null,
    service_account: m?.[4] ?? null,
    source: 'principal',
    peer: null,
    user: null,
  };
}

export function route(name: string, action = 'infer', model: string | null = 'fraud-detector'): RouteMatch {
  return { name, api: name.split('-')[0] ?? 'x', action, model, version: null, params: model ? { model } : {}, entrypoint: 'envoy/authz/allow' };
}

export const ALLOW: Decision = {
  ...denial(Reason.allowed, '', 200, ''),
  allowed: true,
  result: { allowed: true },
};

export function deny(reason: ReasonCode = Reason.policyDenied): Decision {
  return reason === Reason.policyDenied
    ? { ...denial(reason, 'no rule allows this', 403, 'denied'), result: { allowed: false } }
    : denial(reason, `${reason} happened`, 403, reason);
}

/** A policy input with the headers the default masks remove. */
export function input(headers: Record<string, string> = {}): JsonObject {
  return {
    attributes: {
      request: {
        http: {
          method: 'POST',
          path: '/v2/models/fraud-detector/infer',
          headers: {
            ':path': '/v2/models/fraud-detector/infer',
            authorization: 'Bearer secret-token',
            cookie: 'session=secret',
            'x-request-id': 'r1',
            ...headers,
          },
        },
      },
    },
  };
}

export function observed(over: Partial<ObservedCheck> = {}): ObservedCheck {
  return {
    decisionId: randomUUID(),
    timestamp: Date.now(),
    identity: workload(FRONTEND),
    route: route('kserve-v2-infer'),
    decision: ALLOW,
    cache: 'miss',
    revision: 'rev-1',
    path: 'envoy/authz/allow',
    dryRun: false,
    input: input(),
    timings: { checkNs: 120_000, evalNs: 40_000 },
    ...over,
  };
}

export const DEFAULT_MASK = [
  '/input/attributes/request/http/headers/authorization',
  '/input/attributes/request/http/headers/cookie',
  '/input/attributes/request/http/headers/proxy-authorization',
];

export function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'ztauthz-observe-')), name);
}

/** The pinned promtool scripts/toolchain.sh installs (npm ci and npm test run it), not whichever is on PATH. */
const PROMTOOL = fileURLToPath(new URL('../../../.tools/bin/promtool', import.meta.url));

/** Runs the pinned promtool with args; returns status and output. */
export function promtool(args: string[], stdin?: string): { status: number; output: string } {
  const r = spawnSync(PROMTOOL, args, { input: stdin, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (bash scripts/toolchain.sh installs it): ${r.error.message}`);
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

export function writeTemp(name: string, text: string): string {
  const file = tempFile(name);
  writeFileSync(file, text);
  return file;
}
