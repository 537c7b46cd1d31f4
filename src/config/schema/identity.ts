// Configuration sections for who is calling and what: workload and user
// identity, http.send, routes and the decision cache. Part of the schema in ../schema.ts.
import { VOLATILE_FIELDS } from '../../cache/CacheKey.ts';
import { DEFAULT_JSONRPC_MAX_BATCH } from '../../route/RouteSelect.ts';
import { bool, DECISION_PATH, entry, int, list, MiB, objects, oneOf, section } from './fields.ts';
import { CACHE_ROUTE, ISSUER, ROUTE } from './nested.ts';

/** routes.entrypoints: "api=decision/path". */
export const API_ENTRYPOINT = new RegExp(`^([a-z][a-z0-9_-]*)=(${DECISION_PATH.source.slice(1, -1)})$`);

export const IDENTITY = {
  identity: section({
    certificate: bool(
      true,
      "Take the workload identity from the peer certificate Envoy forwards (attributes.source.certificate; Envoy's include_peer_certificate), validated as an X509-SVID. Highest precedence; if source.principal is also set it must name the same ID.",
    ),
    principal: bool(
      true,
      'Take the workload identity from attributes.source.principal when it is a SPIFFE ID (Envoy falls back to DNS SANs and subjects, which are ignored).',
    ),
    xfcc: bool(
      false,
      'Take the workload identity from x-forwarded-client-cert (its last element). Only when the proxy in front sanitises XFCC, as Istio sidecars do; otherwise any client can forge it.',
    ),
    trust_domains: list([], 'Accepted trust domains; an ID from any other is treated as no identity. Empty: any.'),
    trust_bundles: list(
      [],
      'Per-trust-domain CA bundles that forwarded certificates must chain to, as "trust-domain=/path/bundle.pem". The chain is validated per RFC 5280 (path length and name constraints included) against the bundle of the leaf\'s trust domain. Empty: no chain check (Envoy\'s handshake verified the peer).',
      { item: entry(/^[^=]+=.+$/, 'trust-domain=/path/bundle.pem') },
    ),
  }),
  jwt: section({
    issuers: objects(
      ISSUER,
      'End-user token issuers (a list of {issuer, audiences, jwks_file | jwks_url, algorithms?, clock_tolerance_s?, header?, spiffe_trust_domain?}; JSON on the command line). Verified claims are input.identity.user.',
    ),
    invalid: oneOf(
      ['deny', 'policy'],
      'deny',
      '"deny": a present but invalid token is answered 401 with an RFC 6750 www-authenticate before the policy runs. "policy": the policy sees user null and decides.',
    ),
    max_token_bytes: int(8 * 1024, 256, 1 * MiB, 'Largest token looked at; larger is invalid.'),
    jwks_timeout_ms: int(2000, 100, 60000, 'Timeout for fetching a remote JWKS.'),
    jwks_cooldown_ms: int(30000, 0, 3600000, 'Least time between two refetches of a remote JWKS on an unknown kid.'),
    jwks_cache_ms: int(600000, 1000, 86400000, 'How long a fetched JWKS is used before it is refreshed.'),
  }),
  http_send: section({
    allowed_hosts: list(
      [],
      'Hosts policies may reach with http.send (and every redirect hop): "name", "name:port", "*.domain", or "*" for any. Names are matched as written in the URL, not resolved (as OPA\'s capabilities allow_net). Empty: a policy that calls http.send is refused at load.',
    ),
    timeout_ms: int(
      1000,
      10,
      60000,
      "Longest one http.send call may take, retries included: the policy's own timeout (OPA's default 5 s) is cut to it, and to what is left of the Check's gRPC deadline. Envoy gives ext_authz 200 ms by default; a worker waiting longer than Envoy does is capacity lost.",
    ),
    max_response_bytes: int(1 * MiB, 1024, 64 * MiB, 'Largest http.send response body; larger is an http.send error.'),
    workers: int(
      2,
      1,
      64,
      'Worker threads that evaluate policies calling http.send (one Check each at a time, blocked while its request waits); started on first use. Policies without http.send are evaluated on the main thread and never use them.',
    ),
    cache_max_bytes: int(
      16 * MiB,
      0,
      1024 * MiB,
      "Memory for http.send's inter-query cache (requests with cache: true, kept as Cache-Control/Expires allow, or force_cache for force_cache_duration_seconds). 0: no inter-query cache.",
    ),
  }),
  routes: section({
    mode: oneOf(
      ['extend', 'replace'],
      'extend',
      '"extend": the built-in AI route catalogue plus routes.table (a table route with a catalogue route\'s name replaces it). "replace": routes.table only.',
    ),
    unmatched: oneOf(
      ['default', 'deny'],
      'default',
      '"default": a request no route matches goes to policy.decision with input.route null (opa-envoy-plugin policies keep working). "deny": it is denied without evaluation (route_unmatched).',
    ),
    entrypoints: list(
      [],
      'Decision path per API family for the built-in catalogue, as "api=entrypoint" (e.g. kserve-v2=ztauthz/inference/allow); catalogue routes of other APIs use policy.decision.',
      { item: entry(API_ENTRYPOINT, 'api=decision/path, e.g. kserve-v2=ztauthz/inference/allow') },
    ),
    table: objects(
      ROUTE,
      'Your routes: {name, methods, path (template: /v2/models/{model}/infer, {model}:predict, {path*}), api, action, entrypoint?, model_from?, version_from?, params_from?}. See policies/routes/README.md.',
    ),
    jsonrpc_max_batch: int(
      DEFAULT_JSONRPC_MAX_BATCH,
      1,
      10000,
      'Most calls one JSON-RPC batch may carry on an agent route (MCP, A2A, or a routes.table route with jsonrpc): each call is decided by its own evaluation, so a larger batch is denied (body_invalid) before any is evaluated.',
    ),
  }),
  cache: section({
    enabled: bool(
      true,
      "Cache decisions (allows and denials; never errors). Keys cover the whole input minus cache.ignore, or a route's declared fields; entries die with the policy revision.",
    ),
    max_entries: int(100000, 1, 100000000, 'Most cached decisions.'),
    // 16 MiB (was 64): bench/cache.ts's realistic mix (Zipf over 10,000 callers x 50 models, 60,000 Checks) keeps its
    // 73.6 % hit ratio with 19,422 entries, 9 MiB by the estimate; the bound applies to the decision cache and the
    // request shortcut each, so it caps what the two may hold at a quarter of before (docs/cache.md "Bounds").
    max_bytes: int(16 * MiB, 64 * 1024, 16384 * MiB, 'Most memory the cached decisions may take (estimated per entry).'),
    ttl_ms: int(
      30000,
      1,
      86400000,
      "Longest life of a cached decision; shortened by a policy's cache_ttl_seconds result field and by the expiry of the token or certificate that identified the caller.",
    ),
    ignore: list(
      VOLATILE_FIELDS,
      'Input fields left out of the default cache key: they change per request. Applied per loaded policy only to the fields it provably does not read: for Rego compiled here its plan is analysed (a field it reads, or a subtree it iterates or passes on, e.g. every header, stays in the key); a prebuilt wasm keeps a field whose name is one of its string constants, and every header field if "headers" is one, unless this list was set explicitly (then it is applied as stated). The load log says what was kept and why.',
    ),
    time_dependent_ttl_ms: int(
      0,
      0,
      86400000,
      'Cache life for decisions of policies that read the clock (time.now_ns, io.jwt.decode_verify, crypto.x509.parse_and_verify_certificates, uuid.rfc4122, rand.intn) or call http.send (its answers depend on the outside world). 0: such decisions are not cached unless their route says so in cache.routes.',
    ),
    routes: objects(
      CACHE_ROUTE,
      "Per-route caching: {route, key?: [input field paths, e.g. identity.spiffe_id, route.model, attributes.request.http.method], ttl_ms?}. A key list is the route author's statement that its policy reads nothing else; ttl_ms also allows caching a clock-reading or http.send-calling policy.",
    ),
  }),
};
