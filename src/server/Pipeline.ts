// Builds the Check pipeline's phases from configuration: used by `serve` and
// by `check`, so the two can never decide differently.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { ProtoDescriptorSet } from '../envoy/GrpcBody.ts';
import { ConfigError } from '../config/addr.ts';
import { CheckPipeline } from '../check/CheckPipeline.ts';
import { EvaluatePhase, type RouteCaching } from '../check/EvaluatePhase.ts';
import { IdentifyPhase } from '../check/IdentifyPhase.ts';
import { RoutePhase } from '../check/RoutePhase.ts';
import type { ShadowPolicy } from '../check/ShadowPolicy.ts';
import { DecisionCache } from '../cache/DecisionCache.ts';
import { parseFieldPath } from '../cache/CacheKey.ts';
import { ignoreIsExplicit } from '../cache/PolicyReads.ts';
import { RequestShortcut } from '../cache/RequestShortcut.ts';
import { RawRequestKeyer } from '../envoy/RawRequestKey.ts';
import { WorkloadIdentifier } from '../identity/WorkloadIdentity.ts';
import { UserTokenVerifier } from '../identity/UserToken.ts';
import { Router } from '../route/Router.ts';
import { parseRouteConfig } from '../route/RouteConfig.ts';
import { CATALOGUE } from '../route/Catalogue.ts';
import type { PolicyStore } from '../policy/PolicyStore.ts';
import type { PolicyEngine } from '../policy/PolicyEngine.ts';
import type { Observer } from '../observe/Observer.ts';

/** Everything built from configuration before any request: errors here stop the start with the key named. */
export interface Phases {
  readonly identify: IdentifyPhase;
  readonly router: Router;
  readonly route: RoutePhase;
  readonly evaluate: EvaluatePhase;
  readonly cache: DecisionCache | undefined;
  /** Repeated request bytes to their cache entry; present with the cache. */
  readonly shortcut: { readonly keyer: (engine: PolicyEngine) => RawRequestKeyer; readonly table: RequestShortcut } | undefined;
}

export function buildPhases(config: Config, policies: PolicyStore): Phases {
  const router = configError(
    'routes',
    () =>
      new Router(parseRouteConfig({ mode: config.routes.mode, unmatched: config.routes.unmatched, table: config.routes.table }, 'routes'), {
        defaultEntrypoint: config.policy.decision,
        maxPathBytes: config.request.max_path_bytes,
        maxBodyBytes: config.request.max_body_bytes,
        hasEntrypoint: (path) => policies.current?.entrypoints.has(path) ?? false,
        catalogue: catalogueWithEntrypoints(config.routes.entrypoints),
        maxJsonRpcBatch: config.routes.jsonrpc_max_batch,
      }),
  );
  const cache = config.cache.enabled
    ? new DecisionCache({ maxEntries: config.cache.max_entries, maxBytes: config.cache.max_bytes, ttlMs: config.cache.ttl_ms })
    : undefined;
  return {
    identify: new IdentifyPhase(workloadIdentifier(config), userTokens(config)),
    router,
    route: new RoutePhase(router, routeCaching(config, router)),
    evaluate: new EvaluatePhase({
      cache,
      ignore: config.cache.ignore,
      ignoreExplicit: ignoreIsExplicit(config.cache.ignore),
      timeDependentTtlMs: config.cache.time_dependent_ttl_ms,
      current: () => policies.current,
    }),
    cache,
    shortcut: cache
      ? { keyer: rawRequestKeyer(config), table: new RequestShortcut(config.cache.max_entries, config.cache.max_bytes, config.cache.ttl_ms) }
      : undefined,
  };
}

export interface Observers {
  readonly observer?: Observer | undefined;
  readonly shadow?: ShadowPolicy | undefined;
}

export function createPipeline(config: Config, policies: PolicyStore, phases: Phases, observers: Observers = {}): CheckPipeline {
  return new CheckPipeline(
    {
      limits: {
        maxHeaders: config.request.max_headers,
        maxHeaderBytes: config.request.max_header_bytes,
        maxPathBytes: config.request.max_path_bytes,
        maxBodyBytes: config.request.max_body_bytes,
      },
      input: {
        parseBody: config.request.parse_body,
        truncatedBody: config.request.truncated_body,
        json: {
          maxDepth: config.request.max_body_depth,
          maxKeys: config.request.max_body_keys,
          maxElements: config.request.max_body_elements,
          duplicateKeys: config.request.body_duplicate_keys,
        },
        compat: config.compat === 'opa-envoy',
        protoDescriptors:
          config.request.proto_descriptor && config.request.parse_body ? ProtoDescriptorSet.fromFile(config.request.proto_descriptor) : undefined,
      },
      decisionPath: config.policy.decision,
      dryRun: config.decision.dry_run,
      onError: config.decision.on_error,
      compat: config.compat === 'opa-envoy',
      maxResponseBytes: config.grpc.max_send_msg_bytes,
    },
    {
      policies,
      identify: phases.identify,
      route: phases.route,
      evaluate: phases.evaluate,
      observer: observers.observer,
      shadow: observers.shadow,
      shortcut: phases.shortcut,
    },
  );
}

/** The built-in catalogue with routes.entrypoints applied ("api=entrypoint", its form checked by the schema). */
function catalogueWithEntrypoints(entries: readonly string[]): typeof CATALOGUE {
  const byApi = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const api = entry.slice(0, eq);
    if (!CATALOGUE.some((r) => r.api === api)) throw new ConfigError(`routes.entrypoints: no catalogue route has api ${api}`);
    byApi.set(api, entry.slice(eq + 1));
  }
  return byApi.size === 0 ? CATALOGUE : CATALOGUE.map((r) => (byApi.has(r.api) ? { ...r, entrypoint: byApi.get(r.api)! } : r));
}

/**
 * The shortcut's keyer for a policy, told what the full path refuses on:
 * header limits, and the token headers it reads. It skips only the
 * cache.ignore fields that policy does not read (PolicyEngine.cacheIgnore);
 * made once per loaded policy.
 */
function rawRequestKeyer(config: Config): (engine: PolicyEngine) => RawRequestKeyer {
  const explicit = ignoreIsExplicit(config.cache.ignore);
  const opts = {
    limits: { maxHeaders: config.request.max_headers, maxHeaderBytes: config.request.max_header_bytes },
    readHeaders: config.jwt.issuers.map((i) => i.header ?? 'authorization'),
  };
  const keyers = new WeakMap<PolicyEngine, RawRequestKeyer>();
  return (engine) => {
    let keyer = keyers.get(engine);
    if (!keyer) keyers.set(engine, (keyer = new RawRequestKeyer(engine.cacheIgnore(config.cache.ignore, explicit).ignore, opts)));
    return keyer;
  };
}

function workloadIdentifier(config: Config): WorkloadIdentifier {
  const bundles = new Map<string, string>();
  for (const entry of config.identity.trust_bundles) {
    const eq = entry.indexOf('=');
    const file = entry.slice(eq + 1);
    bundles.set(
      entry.slice(0, eq),
      configError('identity.trust_bundles', () => readFileSync(file, 'utf8')),
    );
  }
  return configError(
    'identity',
    () =>
      new WorkloadIdentifier({
        certificate: config.identity.certificate,
        principal: config.identity.principal,
        xfcc: config.identity.xfcc,
        trustDomains: config.identity.trust_domains,
        trustBundles: bundles,
      }),
  );
}

function userTokens(config: Config): UserTokenVerifier | undefined {
  const j = config.jwt;
  if (j.issuers.length === 0) return undefined;
  return configError(
    'jwt.issuers',
    () =>
      new UserTokenVerifier({
        issuers: j.issuers,
        invalid: j.invalid,
        max_token_bytes: j.max_token_bytes,
        jwks_timeout_ms: j.jwks_timeout_ms,
        jwks_cooldown_ms: j.jwks_cooldown_ms,
        jwks_cache_ms: j.jwks_cache_ms,
      }),
  );
}

function routeCaching(config: Config, router: Router): Map<string, RouteCaching> {
  const out = new Map<string, RouteCaching>();
  // The schema checked each entry's shape (config/schema/nested.ts); what needs the route table is checked here.
  config.cache.routes.forEach(({ route, key, ttl_ms }, i) => {
    const where = `cache.routes[${i}]`;
    if (!router.selector.table.has(route)) throw new ConfigError(`${where}.route: ${JSON.stringify(route)} is not a route of the table`);
    if (out.has(route)) throw new ConfigError(`${where}.route: ${route} is configured twice`);
    out.set(route, { key: key?.map(parseFieldPath), ttlMs: ttl_ms });
  });
  return out;
}

/** Runs a constructor that validates its options; its error becomes a ConfigError naming the key. */
function configError<T>(key: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = (err as Error).message;
    // Validators that already name the key in full (routes.table[0]...) are passed through as they are.
    throw new ConfigError(message.startsWith(key) ? message : `${key}: ${message}`);
  }
}
