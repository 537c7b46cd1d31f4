// OPA's configuration format beside ztauthz's own keys. Before validation,
// plugins.envoy_ext_authz_grpc (opa-envoy-plugin's settings) is mapped onto the
// ztauthz keys that do the same, and OPA keys or options ztauthz does not
// implement are refused with a line saying so, rather than silently ignored
// (a config that asks for decision-log upload or OAuth2 must not appear to work).
import { ConfigError } from './addr.ts';
import type { Config } from './schema.ts';
import { CONFIG_SCHEMA } from './schema.ts';

/** opa-envoy-plugin's plugin settings -> [ztauthz key, value transform]. */
const PLUGIN_KEYS: Readonly<Record<string, readonly [string, (v: unknown) => unknown]>> = {
  addr: ['grpc.addr', (v) => v],
  // opa-envoy-plugin accepts "envoy/authz/allow" and "/envoy/authz/allow".
  path: ['policy.decision', (v) => (typeof v === 'string' ? v.replace(/^\/+/, '') : v)],
  'dry-run': ['decision.dry_run', (v) => v],
  'enable-reflection': ['grpc.reflection', (v) => v],
  'skip-request-body-parse': ['request.parse_body', (v) => (typeof v === 'boolean' ? !v : v)],
  'grpc-max-recv-msg-size': ['grpc.max_recv_msg_bytes', (v) => v],
  'grpc-max-send-msg-size': ['grpc.max_send_msg_bytes', (v) => v],
  'proto-descriptor': ['request.proto_descriptor', (v) => v],
};

/** Plugin settings with no ztauthz counterpart, and why. */
const PLUGIN_UNSUPPORTED: Readonly<Record<string, string>> = {
  query: 'the deprecated query setting is not supported; use path',
  'enable-performance-metrics': 'ztauthz always exports its timers as Prometheus metrics (/metrics)',
};

/** OPA top-level keys ztauthz does not implement, and what to use instead. */
const OPA_UNSUPPORTED: Readonly<Record<string, string>> = {
  discovery: 'discovery bundles are not supported; list services and bundles in this file',
  decision_logs: 'decision-log upload is not supported; decisions go to decision_log.output',
  default_decision: 'use policy.decision (or plugins.envoy_ext_authz_grpc.path)',
  default_authorization_decision: 'ztauthz has no REST API to authorize',
  server: 'ztauthz serves no OPA REST API; its HTTP side is http.addr',
  storage: 'ztauthz keeps no disk store; bundles are held in memory (persist keeps a copy)',
  caching: 'inter-query caching is configured with http_send.cache_max_bytes',
  distributed_tracing: 'use the tracing section',
  nd_builtin_cache: 'not supported',
};

const CREDENTIALS = ['bearer', 'client_tls'];

/** status settings of OPA's with no ztauthz counterpart, and why. */
const STATUS_UNSUPPORTED: Readonly<Record<string, string>> = {
  plugin: 'custom status plugins are Go plugins of OPA; ztauthz POSTs reports to status.service',
  prometheus_config: "ztauthz's bundle metrics have fixed buckets (see docs/operations.md)",
};

/** Most bundles one server polls: each is a poller, a persisted copy and metric series; OPA sets no limit, a config file with more is a mistake. */
export const MAX_BUNDLES = 16;

/**
 * Rewrites a config file's document in place: plugins.envoy_ext_authz_grpc
 * becomes ztauthz keys (a key also set the ztauthz way is refused as set
 * twice), and unsupported OPA keys throw. Returns the ztauthz keys it set.
 */
export function translateOpaKeys(doc: Record<string, unknown>, file: string): string[] {
  const problems: string[] = [];
  for (const [key, why] of Object.entries(OPA_UNSUPPORTED)) {
    // A key the schema has (another part of ztauthz may implement it) is the schema's business.
    if (Object.hasOwn(doc, key) && !(key in CONFIG_SCHEMA.shape)) problems.push(`${file}: ${key} (OPA) is not supported by ztauthz: ${why}`);
  }
  // OPA also takes services as a list of entries with a name.
  if (Array.isArray(doc['services'])) {
    const byName: Record<string, unknown> = {};
    for (const [i, entry] of (doc['services'] as unknown[]).entries()) {
      const name = isMapping(entry) ? entry['name'] : undefined;
      if (typeof name !== 'string' || name === '') problems.push(`${file}: services[${i}].name: required when services is a list`);
      else if (Object.hasOwn(byName, name)) problems.push(`${file}: services[${i}]: a second service named "${name}"`);
      else {
        const { name: _, ...rest } = entry as Record<string, unknown>;
        byName[name] = rest;
      }
    }
    doc['services'] = byName;
  }
  const services = doc['services'];
  if (isMapping(services)) {
    for (const [name, svc] of Object.entries(services)) {
      const creds = isMapping(svc) ? svc['credentials'] : undefined;
      if (!isMapping(creds)) continue;
      for (const c of Object.keys(creds)) {
        if (!CREDENTIALS.includes(c))
          problems.push(
            `${file}: services.${name}.credentials.${c} is not supported by ztauthz (supported: ${CREDENTIALS.join(', ')}); put a signing proxy in front or use a bearer token`,
          );
      }
    }
  }
  translateStatus(doc, file, problems);
  const set: string[] = [];
  if (Object.hasOwn(doc, 'plugins')) {
    const plugins = doc['plugins'];
    delete doc['plugins'];
    if (!isMapping(plugins)) problems.push(`${file}: plugins must be a mapping`);
    else {
      for (const [name, settings] of Object.entries(plugins)) {
        if (name !== 'envoy_ext_authz_grpc') {
          problems.push(`${file}: plugins.${name} is not supported by ztauthz (only plugins.envoy_ext_authz_grpc)`);
          continue;
        }
        if (!isMapping(settings)) {
          problems.push(`${file}: plugins.envoy_ext_authz_grpc must be a mapping`);
          continue;
        }
        for (const [k, v] of Object.entries(settings)) {
          const at = `plugins.envoy_ext_authz_grpc.${k}`;
          const target = PLUGIN_KEYS[k];
          if (!target) {
            const why = PLUGIN_UNSUPPORTED[k];
            problems.push(
              why ? `${file}: ${at} is not supported by ztauthz: ${why}` : `${file}: unknown key ${at} (known: ${Object.keys(PLUGIN_KEYS).join(', ')})`,
            );
            continue;
          }
          const [key, transform] = target;
          if (getPath(doc, key) !== undefined) {
            problems.push(`${file}: ${at} and ${key} are the same setting; set one`);
            continue;
          }
          setPath(doc, key, transform(v));
          set.push(key);
        }
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return set;
}

/**
 * A status section in the file enables reports as in OPA: without a service,
 * the first service listed is used unless console or prometheus is on (then
 * the deployer may have meant only those). Settings of OPA's status plugin
 * ztauthz has no counterpart for are refused.
 */
function translateStatus(doc: Record<string, unknown>, file: string, problems: string[]): void {
  const status = doc['status'];
  if (!isMapping(status)) return;
  for (const [key, why] of Object.entries(STATUS_UNSUPPORTED)) {
    if (Object.hasOwn(status, key)) problems.push(`${file}: status.${key} is not supported by ztauthz: ${why}`);
  }
  const services = doc['services'];
  const first = isMapping(services) ? Object.keys(services)[0] : undefined;
  const quiet = (v: unknown) => v === undefined || v === false || v === 'false';
  if ((status['service'] === undefined || status['service'] === '') && first !== undefined && quiet(status['console']) && quiet(status['prometheus'])) {
    status['service'] = first;
  }
}

/** Rules across OPA's keys and ztauthz's (after validation). */
export function checkOpaCombinations(c: Config): void {
  const bundles = Object.entries(c.bundles);
  if (bundles.length > MAX_BUNDLES) throw new ConfigError(`bundles: at most ${MAX_BUNDLES} bundles; got ${bundles.length}`);
  for (const [name, b] of bundles) {
    if (c.policy.path) throw new ConfigError(`bundles.${name}: set either bundles or policy.path, not both`);
    if (!Object.hasOwn(c.services, b.service))
      throw new ConfigError(`bundles.${name}.service: no service named "${b.service}" (services: ${Object.keys(c.services).join(', ') || 'none'})`);
    const p = b.polling;
    if (p?.min_delay_seconds !== undefined && p.max_delay_seconds !== undefined && p.min_delay_seconds > p.max_delay_seconds) {
      throw new ConfigError(`bundles.${name}.polling: min_delay_seconds must not exceed max_delay_seconds`);
    }
    if (b.signing && !Object.hasOwn(c.keys, b.signing.keyid)) throw new ConfigError(`bundles.${name}.signing.keyid: no key named "${b.signing.keyid}" in keys`);
  }
  const st = c.status;
  if (st.service !== '' && !Object.hasOwn(c.services, st.service))
    throw new ConfigError(`status.service: no service named "${st.service}" (services: ${Object.keys(c.services).join(', ') || 'none'})`);
  if (st.service !== '' && c.services[st.service]!.type === 'oci')
    throw new ConfigError(`status.service: "${st.service}" is an OCI registry, which takes no status reports`);
  if (st.trigger === 'manual') throw new ConfigError('status.trigger: manual is not supported (ztauthz has no SDK to trigger a report); use periodic');
  if (!/^[A-Za-z0-9_.~-]*(\/[A-Za-z0-9_.~-]+)*$/.test(st.partition_name) || st.partition_name.split('/').some((p) => p === '.' || p === '..'))
    throw new ConfigError(
      `status.partition_name: ${JSON.stringify(st.partition_name)} must be path segments of letters, digits, _ . ~ - (joined by /, none . or ..)`,
    );
  for (const [name, s] of Object.entries(c.services)) {
    const ct = s.credentials?.client_tls;
    if (ct && !s.url.startsWith('https:')) throw new ConfigError(`services.${name}.credentials.client_tls: needs an https url`);
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getPath(root: unknown, key: string): unknown {
  let node = root;
  for (const part of key.split('.')) {
    if (!isMapping(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

function setPath(root: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = root;
  for (const part of parts.slice(0, -1)) {
    if (!isMapping(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}
