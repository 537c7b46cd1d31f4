// `ztauthz check`: one CheckRequest, evaluated offline exactly as `serve`
// would, printed as one JSON object. Exit 0 allowed, 1 denied.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { buildPhases, createPipeline } from '../server/Pipeline.ts';
import { loadConfiguredPolicy } from '../server/PolicyLifecycle.ts';
import { PolicyStore } from '../policy/PolicyStore.ts';
import { encodeCheckRequestJson } from '../envoy/ProtoJson.ts';
import { checkResponseToJson } from '../envoy/CheckResponse.ts';
import { UsageError } from './args.ts';

export async function runCheck(config: Config, requestFile: string, explain: boolean, print: (s: string) => void): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(requestFile, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read request ${requestFile}: ${(err as Error).message}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = encodeCheckRequestJson(json);
  } catch (err) {
    throw new UsageError(`request ${requestFile} is not a CheckRequest: ${(err as Error).message}`);
  }
  const policies = new PolicyStore();
  const phases = buildPhases(config, policies);
  policies.activate(await loadConfiguredPolicy(config, phases.router.entrypoints));
  const outcome = await createPipeline(config, policies, phases).check(bytes);
  const out: Record<string, unknown> = {
    allowed: outcome.decision.allowed,
    reason: outcome.decision.reason,
    message: outcome.decision.message,
    decision_id: outcome.record.decision_id,
    revision: outcome.record.revision,
    response: outcome.response ? checkResponseToJson(outcome.response) : null,
    grpc_error: outcome.error ?? null,
    result: outcome.decision.result ?? null,
  };
  if (explain) {
    out['path'] = outcome.record.path;
    out['cache'] = { outcome: outcome.record.cache, key: outcome.cacheKey ?? null };
    out['input'] = outcome.input ?? null;
  }
  print(`${JSON.stringify(out, null, 2)}\n`);
  return outcome.decision.allowed ? 0 : 1;
}
