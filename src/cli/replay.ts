// `ztauthz check --input FILE`: evaluates a policy input document against the
// configured policy, or replays a decision-log record (the JSON line the
// decision log writes: its `input` at its `path`). The policy alone decides:
// identity, route and request checks already happened when the input was
// built, so they are not made again. Exit 0 allowed, 1 denied.
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { checkResponseToJson, encodeCheckResponse, toCheckResponse } from '../envoy/CheckResponse.ts';
import { decisionFromResultSet } from '../envoy/PolicyResult.ts';
import { errorText } from '../policy/PolicyEngine.ts';
import { loadConfiguredPolicy } from '../server/PolicyLifecycle.ts';
import { denial, type Decision } from '../types/Decision.ts';
import type { JsonObject } from '../types/Json.ts';
import { CheckError, Reason } from '../types/Reason.ts';
import { UsageError } from './args.ts';

/** Larger than any record the decision log writes with the default request bounds; a bound on what is read. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export interface Replayed {
  readonly input: JsonObject;
  /** The record's decision path; undefined for a bare input. */
  readonly path: string | undefined;
  /** What the record says was decided; undefined for a bare input. */
  readonly recorded: JsonObject | undefined;
}

/** Reads a policy input or a decision record (a JSON document, or a file holding one JSON line). */
export function readReplay(file: string): Replayed {
  let text: string;
  try {
    // Sized before it is read: a log file given by mistake is refused, not loaded whole.
    if (statSync(file).size > MAX_FILE_BYTES) throw new UsageError(`input ${file} is larger than ${MAX_FILE_BYTES} bytes; replay one decision record`, 'check');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read input ${file}: ${(err as Error).message}`, 'check');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    if (lines.length > 1) throw new UsageError(`input ${file} holds ${lines.length} lines; replay one decision record at a time`, 'check');
    throw new UsageError(`input ${file} is not JSON: ${(err as Error).message}`, 'check');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`input ${file} must be a JSON object`, 'check');
  const obj = doc as JsonObject;
  // A decision record has an id and a decision; a policy input has neither.
  if (typeof obj['decision_id'] !== 'string' || typeof obj['allowed'] !== 'boolean') return { input: obj, path: undefined, recorded: undefined };
  const input = obj['input'];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new UsageError(
      `decision record ${obj['decision_id']} in ${file} has no input (decision_log.include_input decides which records carry it: by default denials only)`,
      'check',
    );
  }
  const recorded: JsonObject = {};
  for (const k of ['decision_id', 'timestamp', 'revision', 'allowed', 'reason', 'message'] as const) if (obj[k] !== undefined) recorded[k] = obj[k];
  return { input, path: typeof obj['path'] === 'string' ? obj['path'] : undefined, recorded };
}

export interface ReplayOptions {
  /** The decision path was given on this command line: it wins over the record's. */
  readonly explicitPath: boolean;
  readonly explain: boolean;
}

export async function runReplay(config: Config, file: string, opts: ReplayOptions, print: (s: string) => void): Promise<number> {
  const replayed = readReplay(file);
  const path = opts.explicitPath ? config.policy.decision : (replayed.path ?? config.policy.decision);
  const engine = await loadConfiguredPolicy(config, [path]);
  let decision: Decision;
  try {
    decision = decisionFromResultSet(await engine.evaluateAnywhere(replayed.input, path));
  } catch (err) {
    // As the pipeline denies them: 403 with only the reason as body.
    decision =
      err instanceof CheckError
        ? denial(err.reason, err.message, 403, err.reason)
        : denial(Reason.policyError, `policy evaluation of ${path} failed: ${errorText(err)}`, 403, Reason.policyError);
  }
  const decisionId = randomUUID();
  const response = toCheckResponse(decision, decisionId, { dryRun: config.decision.dry_run, compat: config.compat === 'opa-envoy' });
  const out: Record<string, unknown> = {
    allowed: decision.allowed,
    reason: decision.reason,
    message: decision.message,
    decision_id: decisionId,
    revision: engine.revision,
    path,
    response: checkResponseToJson(encodeCheckResponse(response)),
    result: decision.result ?? null,
  };
  if (replayed.recorded) out['recorded'] = replayed.recorded;
  if (opts.explain) out['input'] = replayed.input;
  print(`${JSON.stringify(out, null, 2)}\n`);
  return decision.allowed ? 0 : 1;
}
