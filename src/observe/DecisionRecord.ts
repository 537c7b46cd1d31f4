// A decision record as the decision log writes it (DecisionLog.ts): OPA's
// decision-log names where the two overlap, plus identity, route, cache and
// behaviour; and the record's timestamp format.
import type { JsonObject, JsonValue } from '../types/Json.ts';

/** The caller as the record names it: the verified workload, the Envoy that asked, the end user (issuer and subject only; claims stay in the input). */
export interface RecordIdentity {
  spiffe_id: string | null;
  trust_domain: string | null;
  namespace: string | null;
  service_account: string | null;
  source: string | null;
  peer: string | null;
  user: { iss: string; sub: string } | null;
}

/** The matched route, without its parameters (those are in input.route). */
export interface RecordRoute {
  name: string;
  api: string;
  action: string;
  model: string | null;
  version: string | null;
}

export interface DecisionRecord {
  decision_id: string;
  /** The Check span's trace and span (hex), when tracing recorded one. */
  trace_id?: string | undefined;
  span_id?: string | undefined;
  timestamp: string;
  path: string;
  revision: string;
  allowed: boolean;
  reason: string;
  message: string;
  dry_run: boolean;
  http_status: number;
  result?: JsonValue | undefined;
  input?: JsonObject | undefined;
  /** null: no verified identity; absent: not known to the writer. */
  identity?: RecordIdentity | null | undefined;
  route?: RecordRoute | null | undefined;
  /** Decision cache: hit, miss, bypass (not cacheable) or off. */
  cache?: 'hit' | 'miss' | 'bypass' | 'off' | undefined;
  /** input.behavior as the policy saw it. */
  behavior?: JsonObject | undefined;
  metrics: {
    timer_check_ns: number;
    timer_eval_ns: number;
    /** OPA's names for the same two timers, for tools that read OPA decision logs. */
    timer_server_handler_ns?: number;
    timer_rego_query_eval_ns?: number;
  };
}

let isoSecond = NaN;
let isoPrefix = '';

/**
 * Date#toISOString for ms since the epoch, with the "YYYY-MM-DDTHH:MM:SS"
 * part cached per second: toISOString costs most of a microsecond on Node 24,
 * which is more than the rest of a decision record together.
 */
export function isoTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 19);
    isoSecond = second;
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${Math.floor(millis)}Z`;
}
