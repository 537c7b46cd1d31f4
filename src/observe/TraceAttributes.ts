// Span names and attributes of a Check. OpenTelemetry semantic conventions
// where one exists: the RPC span (rpc.system.name, rpc.method, stable),
// error.type (stable) for failed Checks, and security_rule.* (the policy
// that decided: ruleset = decision path, version = revision). Everything
// without a convention (workload identity, route, decision, cache) is under
// the ztauthz.* namespace. The stable conventions' constants are imported
// in TracingSdk.ts, which only tracing loads.
import type { Attributes } from '@opentelemetry/api';
import type { Identity } from '../types/Identity.ts';
import type { RouteMatch } from '../types/Route.ts';
import type { BehaviorView } from './BehaviorSignals.ts';

/** The RPC semantic conventions name a server span by its fully-qualified method. */
export const CHECK_SPAN_NAME = 'envoy.service.auth.v3.Authorization/Check';

/** Incubating conventions are copied as strings, as the semantic-conventions package advises for them. */
const ATTR_SECURITY_RULE_RULESET_NAME = 'security_rule.ruleset.name';
const ATTR_SECURITY_RULE_VERSION = 'security_rule.version';

export function phaseSpanName(name: string): string {
  return `ztauthz.${name}`;
}

export interface CheckSpanFacts {
  readonly decisionId: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly httpStatus: number;
  readonly dryRun: boolean;
  readonly cache: string;
  readonly path: string;
  readonly revision: string;
  readonly identity: Identity | null;
  readonly route: RouteMatch | null;
  readonly behavior: BehaviorView | undefined;
}

export function checkSpanAttributes(f: CheckSpanFacts): Attributes {
  const a: Attributes = {
    'ztauthz.decision_id': f.decisionId,
    'ztauthz.decision': f.allowed ? 'allow' : 'deny',
    'ztauthz.reason': f.reason,
    'ztauthz.http_status': f.allowed ? 200 : f.httpStatus,
    'ztauthz.dry_run': f.dryRun,
    'ztauthz.cache': f.cache,
    [ATTR_SECURITY_RULE_RULESET_NAME]: f.path,
    [ATTR_SECURITY_RULE_VERSION]: f.revision,
  };
  const id = f.identity;
  if (id) {
    if (id.spiffe_id) a['ztauthz.identity.spiffe_id'] = id.spiffe_id;
    if (id.trust_domain) a['ztauthz.identity.trust_domain'] = id.trust_domain;
    if (id.namespace) a['ztauthz.identity.namespace'] = id.namespace;
    if (id.service_account) a['ztauthz.identity.service_account'] = id.service_account;
    if (id.source) a['ztauthz.identity.source'] = id.source;
    if (id.peer) a['ztauthz.identity.peer'] = id.peer.spiffe_id;
    // The end user is named by issuer only: subjects are personal data and traces are widely readable.
    if (id.user) a['ztauthz.identity.user.iss'] = id.user.iss;
  }
  const r = f.route;
  if (r) {
    a['ztauthz.route.name'] = r.name;
    a['ztauthz.route.api'] = r.api;
    a['ztauthz.route.action'] = r.action;
    if (r.model !== null) a['ztauthz.route.model'] = r.model;
    if (r.version !== null) a['ztauthz.route.version'] = r.version;
  }
  const b = f.behavior;
  if (b) {
    const signals: string[] = [];
    if (b.first_seen_route) signals.push('first_seen_route');
    if (b.deny_spike) signals.push('deny_spike');
    if (b.rate_jump) signals.push('rate_jump');
    a['ztauthz.behavior.signals'] = signals;
    a['ztauthz.behavior.learning'] = b.learning;
  }
  return a;
}
