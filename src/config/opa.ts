// OPA's configuration format beside ztauthz's own keys. Before validation,
// plugins.envoy_ext_authz_grpc (opa-envoy-plugin's settings) is mapped onto the
// ztauthz keys that do the same, and OPA keys or options ztauthz does not
// implement are refused with a line saying so, rather than silently ignored
// (a config that asks for OAuth2 or a masking policy must not appear to work).
// decision_logs becomes decision_log.upload (and decision_logs.console
// decision_log.enabled); labels are read as they are (schema/opa.ts).
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
  default_decision: 'use policy.decision (or plugins.envoy_ext_authz_grpc.path)',
  default_authorization_decision: 'ztauthz has no REST API to authorize',
  server: 'ztauthz serves no OPA REST API; its HTTP side is http.addr',
  storage: 'ztauthz keeps no disk store; bundles are held in memory (persist keeps a copy)',
  caching: 'inter-query caching is configured with http_send.cache_max_bytes',
  distributed_tracing: 'use the tracing section',
  nd_builtin_cache: 'not supported',
};

const CREDENTIALS = ['bearer', 'client_tls'];

/** OPA's decision_logs settings -> ztauthz keys (reporting.* under decision_log.upload). */
const DECISION_LOGS_KEYS: Readonly<Record<string, string>> = {
  service: 'decision_log.upload.service',
  resource: 'decision_log.upload.resource',
  console: 'decision_log.enabled',
  'reporting.upload_size_limit_bytes': 'decision_log.upload.upload_size_limit_bytes',
  'reporting.min_delay_seconds': 'decision_log.upload.min_delay_seconds',
  'reporting.max_delay_seconds': 'decision_log.upload.max_delay_seconds',
  'reporting.buffer_size_limit_bytes': 'decision_log.upload.buffer_size_limit_bytes',
  'reporting.buffer_size_limit_events': 'decision_log.upload.buffer_size_limit_events',
  'reporting.max_decisions_per_second': 'decision_log.upload.max_decisions_per_second',
};

/** decision_logs settings with no ztauthz counterpart, and why. */
const DECISION_LOGS_UNSUPPORTED: Readonly<Record<string, string>> = {
  plugin: 'decision-log plugins are not supported; records go to decision_logs.service and decision_log.output',
  request_context: 'the request headers are in the input already (masked as decision_log.mask says)',
  nd_builtin_cache: 'not supported',
};

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
 * twice), and so does decision_logs; unsupported OPA keys throw. Returns
 * the ztauthz keys it set, each with the OPA key it came from.
 */
export function translateOpaKeys(doc: Record<string, unknown>, file: string): Map<string, string> {
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
  const set = new Map<string, string>();
  if (Object.hasOwn(doc, 'decision_logs')) translateDecisionLogs(doc, file, problems, set);
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
          set.set(key, 'plugins.envoy_ext_authz_grpc');
        }
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return set;
}

/**
 * decision_logs -> decision_log.upload.*, as OPA reads it: the service
 * defaults to the first one unless console is on; console (default false)
 * becomes decision_log.enabled unless that is set too; partition_name is the
 * old spelling of resource /logs/<name>; only the periodic trigger and
 * either buffer type are taken (ztauthz bounds by bytes and by events both).
 */
function translateDecisionLogs(doc: Record<string, unknown>, file: string, problems: string[], set: Map<string, string>): void {
  const dl = doc['decision_logs'];
  delete doc['decision_logs'];
  if (!isMapping(dl)) {
    problems.push(`${file}: decision_logs must be a mapping`);
    return;
  }
  const values = new Map<string, unknown>();
  for (const [k, v] of Object.entries(dl)) {
    if (k !== 'reporting') values.set(k, v);
    else if (!isMapping(v)) problems.push(`${file}: decision_logs.reporting must be a mapping`);
    else for (const [rk, rv] of Object.entries(v)) values.set(`reporting.${rk}`, rv);
  }
  if (values.has('partition_name')) {
    const name = values.get('partition_name');
    values.delete('partition_name');
    if (values.has('resource'))
      problems.push(`${file}: decision_logs.partition_name and decision_logs.resource: set one (resource; partition_name is its old spelling)`);
    else if (typeof name === 'string' && name !== '') values.set('resource', `/logs/${name}`);
    else problems.push(`${file}: decision_logs.partition_name must be a non-empty string`);
  }
  // The policy's system/log/mask and drop rules are run when the policy has them (OPA's defaults); other rules are not.
  for (const [key, rule, instead] of [
    ['mask_decision', 'system/log/mask', 'list other masks as JSON pointers in decision_log.mask'],
    ['drop_decision', 'system/log/drop', 'sample allowed records with decision_log.sample_allowed'],
  ] as const) {
    const given = values.get(key);
    values.delete(key);
    if (given !== undefined && String(given).replace(/^\/+/, '') !== rule)
      problems.push(`${file}: decision_logs.${key}: only OPA's default, ${rule}, is run (when the policy defines it); ${instead}`);
  }
  const trigger = values.get('reporting.trigger');
  values.delete('reporting.trigger');
  if (trigger !== undefined && trigger !== 'periodic')
    problems.push(`${file}: decision_logs.reporting.trigger: only "periodic" is supported ("manual" needs OPA as a Go library)`);
  const bufferType = values.get('reporting.buffer_type');
  values.delete('reporting.buffer_type');
  if (bufferType !== undefined && bufferType !== 'size' && bufferType !== 'event')
    problems.push(`${file}: decision_logs.reporting.buffer_type must be "size" or "event"`);
  // OPA's default: the first service, unless the records only go to the console.
  if (!values.has('service') && values.get('console') !== true) {
    const first = isMapping(doc['services']) ? Object.keys(doc['services'])[0] : undefined;
    if (first === undefined) problems.push(`${file}: decision_logs.service: no service to upload to (add services, or set decision_logs.console: true)`);
    else values.set('service', first);
  }
  if (!values.has('console') && getPath(doc, 'decision_log.enabled') === undefined) values.set('console', false);
  for (const [k, v] of values) {
    const at = `decision_logs.${k}`;
    const key = DECISION_LOGS_KEYS[k];
    if (!key) {
      const why = DECISION_LOGS_UNSUPPORTED[k];
      problems.push(
        why
          ? `${file}: ${at} is not supported by ztauthz: ${why}`
          : `${file}: unknown key ${at} (known: partition_name, mask_decision, drop_decision, reporting.buffer_type, reporting.trigger, ${Object.keys(DECISION_LOGS_KEYS).join(', ')})`,
      );
      continue;
    }
    if (getPath(doc, key) !== undefined) {
      problems.push(`${file}: ${at} and ${key} are the same setting; set one`);
      continue;
    }
    setPath(doc, key, v);
    set.set(key, at);
  }
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
  const up = c.decision_log.upload;
  if (up.service !== '') {
    const svc = c.services[up.service];
    if (!svc)
      throw new ConfigError(`decision_log.upload.service: no service named "${up.service}" (services: ${Object.keys(c.services).join(', ') || 'none'})`);
    if (svc.type === 'oci') throw new ConfigError(`decision_log.upload.service: "${up.service}" is an OCI registry, which takes no decision logs`);
    if (up.min_delay_seconds > up.max_delay_seconds) throw new ConfigError('decision_log.upload: min_delay_seconds must not exceed max_delay_seconds');
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
