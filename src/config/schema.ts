// The configuration schema: one table that drives defaults, YAML validation,
// flags (--grpc-addr), environment variables (ZTAUTHZ_GRPC_ADDR) and the
// reference in docs/configuration.md, so the four can never disagree.

export type FieldType = 'string' | 'int' | 'float' | 'bool' | 'enum' | 'addr' | 'grpc_addr' | 'list' | 'objects' | 'decision_path';

export interface FieldSpec {
  /** Dotted key, e.g. "grpc.addr". */
  readonly key: string;
  readonly type: FieldType;
  readonly default: string | number | boolean | readonly string[] | readonly Record<string, unknown>[];
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Extra flag names, e.g. --policy for policy.path. */
  readonly aliases?: readonly string[];
  /** For an enum: older spellings of its values still accepted (e.g. true for "all"), as written in a file, variable or flag. */
  readonly valueAliases?: Readonly<Record<string, string>>;
}

import { VOLATILE_FIELDS } from '../cache/CacheKey.ts';

const MiB = 1024 * 1024;

export const SCHEMA: readonly FieldSpec[] = [
  { key: 'compat', type: 'enum', values: ['', 'opa-envoy'], default: '', doc: '"opa-envoy": behave as opa-envoy-plugin v1.19.1-envoy wherever ztauthz deliberately differs (docs/compatibility.md lists each switch): decision.on_error grpc_error (with not_ready as UNKNOWN too), no route catalogue (routes.mode replace), request.truncated_body policy, request size limits at grpc.max_recv_msg_bytes, an empty cache.ignore, jwt.invalid policy, no input.identity/route/canonical/behavior, no path or host canonicalisation refusals (parsed_path and parsed_query as Go\'s url package gives them), headerMap not folded into headers, a CheckRequest without http evaluated, no reason in status.message, no dry-run over a request that does not parse, request bodies read as opa-envoy-plugin reads them (content-type matched case-sensitively, multipart without a boundary not parsed, LF multipart and JSON parts, Go\'s content-length and JSON quirks) with its 400 texts (request_parse_error: <Go error>). A key you set yourself (file, environment or flag) wins over the preset.' },
  { key: 'grpc.addr', type: 'grpc_addr', default: ':9191', doc: 'gRPC listen address: host:port (":9191" is every interface; "grpc://host:port" is accepted too, as in opa-envoy-plugin), or a Unix socket, unix:///absolute/path.sock (as opa-envoy-plugin\'s addr; with server.workers above 1 the workers share it). The socket file is made with the process umask and its directory\'s permissions decide who may connect (connecting needs write permission on it): put it in a directory only Envoy and ztauthz share. A socket file left by a process that died is removed at start; a path held by a live listener, or that is not a socket, is refused. Abstract sockets (unix://@name, which opa-envoy-plugin takes) are not supported. Serves envoy.service.auth.v3.Authorization and grpc.health.v1.Health.' },
  { key: 'grpc.max_recv_msg_bytes', type: 'int', default: 4 * MiB, min: 1024, max: 64 * MiB, doc: 'Largest CheckRequest accepted; larger ones are refused by gRPC with RESOURCE_EXHAUSTED (Envoy then denies).' },
  { key: 'grpc.max_send_msg_bytes', type: 'int', default: 4 * MiB, min: 4096, max: 2147483647, doc: 'Largest CheckResponse sent (opa-envoy-plugin\'s grpc-max-send-msg-size, whose default is 2147483647). A policy result that encodes larger (huge headers or body) is answered as internal_error instead (a denial, or with decision.on_error grpc_error an INTERNAL gRPC error).' },
  { key: 'grpc.reflection', type: 'bool', default: false, aliases: ['enable-reflection'], doc: 'Serve gRPC server reflection (grpc.reflection.v1 and v1alpha) for envoy.service.auth.v3.Authorization and grpc.health.v1.Health, so grpcurl list/describe/invoke work without -proto flags (opa-envoy-plugin\'s enable-reflection).' },
  { key: 'grpc.max_connection_age_ms', type: 'int', default: 0, min: 0, max: 86400000, doc: 'Oldest a client connection may get: past it (plus up to 10% jitter) the server sends a GOAWAY, the client (Envoy) opens a new connection for its next calls, and calls in flight finish within grpc.max_connection_age_grace_ms. Envoy keeps few long-lived HTTP/2 connections to ztauthz, so with several workers (server.workers) connections must be aged out for load to spread, and keep spreading, across them. 0: connections live forever, except that with server.workers above 1 it means 30000 (30 s).' },
  { key: 'grpc.max_connection_age_grace_ms', type: 'int', default: 10000, min: 0, max: 3600000, doc: 'After the GOAWAY of an aged connection, how long its calls in flight may take before the connection is closed under them.' },
  { key: 'grpc.tls.mode', type: 'enum', values: ['off', 'files', 'workload_api'], default: 'off', doc: 'mTLS on the gRPC listener: "files" (grpc.tls.cert_file/key_file/ca_file, re-read when they change) or "workload_api" (X509-SVID and bundle from the SPIFFE Workload API, rotated as the agent rotates them). Callers must present a certificate the CA bundle verifies.' },
  { key: 'grpc.tls.cert_file', type: 'string', default: '', doc: 'Server certificate chain (PEM), for mode "files".' },
  { key: 'grpc.tls.key_file', type: 'string', default: '', doc: 'Server private key (PEM), for mode "files".' },
  { key: 'grpc.tls.ca_file', type: 'string', default: '', doc: 'CA bundle (PEM) that verifies callers, for mode "files".' },
  { key: 'grpc.tls.reload_interval_ms', type: 'int', default: 5000, min: 100, max: 3600000, doc: 'How often certificate files are checked for changes; a new set is served only once certificate, key and CA load consistently.' },
  { key: 'grpc.tls.workload_api_endpoint', type: 'string', default: '', doc: 'Workload API endpoint (unix:///path or tcp://ip:port). Empty: $SPIFFE_ENDPOINT_SOCKET.' },
  { key: 'grpc.tls.svid_hint', type: 'string', default: '', doc: 'Which X509-SVID to serve when the Workload API offers several (its hint). Empty: the first.' },
  { key: 'grpc.tls.trust_federated_bundles', type: 'bool', default: false, doc: 'Also accept callers from federated trust domains\' bundles.' },
  { key: 'grpc.tls.allowed_peers', type: 'list', default: [], doc: 'Who may call ztauthz at all: SPIFFE IDs, or spiffe://<trust-domain> for a whole domain. Required when grpc.tls.mode is not "off". Others get PERMISSION_DENIED (unidentifiable callers UNAUTHENTICATED). The caller is input.identity.peer.' },
  { key: 'http.addr', type: 'addr', default: ':8181', doc: 'HTTP listen address for /healthz, /readyz and /metrics.' },
  { key: 'server.workers', type: 'int', default: 1, min: 1, max: 64, aliases: ['workers'], doc: 'Processes serving Checks (0 is not allowed). Above 1, a primary process forks this many workers that share the gRPC port (connections are handed out round-robin; see grpc.max_connection_age_ms) and serves the HTTP side itself: /metrics summed over the workers, /readyz ready once every worker is. Each worker is a whole ztauthz with its own policy instance (memory, watch, reloads), decision cache, behaviour tracking and metrics. A worker that dies is restarted.' },
  { key: 'policy.path', type: 'string', default: '', aliases: ['policy'], doc: 'Policy to load: an OPA bundle (.tar.gz, or a directory with policy.wasm), a directory of .rego files (compiled at start with opa), or a .wasm file. Empty: the embedded demo policy (policies/demo).' },
  { key: 'policy.decision', type: 'decision_path', default: 'envoy/authz/allow', aliases: ['decision-path'], doc: 'Default decision path (entrypoint), as opa-envoy-plugin\'s `path`.' },
  { key: 'policy.entrypoints', type: 'list', default: [], doc: 'More entrypoints to compile when policy.path is Rego (comma-separated on the command line).' },
  { key: 'policy.rego_version', type: 'enum', values: ['v1', 'v0'], default: 'v1', doc: 'Rego syntax of a Rego directory in policy.path or shadow.path: "v1" (OPA 1.x, `if` and `contains` required), or "v0" for policies written before OPA 1.0 (`allow { ... }`, `default allow = false`), compiled with opa build --v0-compatible (opa-envoy-plugin\'s --v0-compatible). Bundles and .wasm files are compiled already and are not affected.' },
  { key: 'policy.opa', type: 'string', default: '', doc: 'opa binary used to compile Rego. Empty: $ZTAUTHZ_OPA, then .tools/bin/opa, then PATH.' },
  { key: 'policy.max_memory_pages', type: 'int', default: 2048, min: 16, max: 65536, doc: 'Upper bound on the policy\'s wasm memory in 64 KiB pages (2048 = 128 MiB); an evaluation that needs more fails and is denied.' },
  { key: 'policy.strict_builtin_errors', type: 'bool', default: false, doc: 'false (as opa-envoy-plugin and opa eval): a builtin that fails (a malformed token to io.jwt.decode, bad base64…) makes its expression undefined and evaluation goes on. true (opa eval --strict-builtin-errors): the evaluation fails, a policy_error handled as decision.on_error says.' },
  { key: 'policy.watch', type: 'bool', default: true, doc: 'Watch policy.path and hot-swap it when it changes; a change that does not load completely is rejected and the old policy keeps serving.' },
  { key: 'policy.watch_debounce_ms', type: 'int', default: 200, min: 0, max: 60000, doc: 'Quiet time after the last change before a reload (a bundle copied in place fires several events).' },
  { key: 'policy.signing_key', type: 'string', default: '', doc: 'Public key (PEM; for HS* a secret file) that verifies OPA bundle signatures (.signatures.json). Signed bundles are verified whenever it is set.' },
  { key: 'policy.signing_key_id', type: 'string', default: 'default', doc: 'Key id (the JWT `kid`) bundles must be signed with.' },
  { key: 'policy.signing_alg', type: 'enum', values: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'], default: 'RS256', doc: 'Signature algorithm bundles must use.' },
  { key: 'policy.require_signature', type: 'bool', default: false, doc: 'Refuse bundles without a valid signature (and Rego directories, which are compiled here and never signed). Needs policy.signing_key.' },
  { key: 'shadow.path', type: 'string', default: '', doc: 'A candidate policy (same forms as policy.path) evaluated on live traffic but never enforced; disagreements with the active decision are counted per route and logged. Empty: off.' },
  { key: 'shadow.sample', type: 'float', default: 1, min: 0, max: 1, doc: 'Fraction of Checks the shadow policy evaluates.' },
  { key: 'identity.certificate', type: 'bool', default: true, doc: 'Take the workload identity from the peer certificate Envoy forwards (attributes.source.certificate; Envoy\'s include_peer_certificate), validated as an X509-SVID. Highest precedence; if source.principal is also set it must name the same ID.' },
  { key: 'identity.principal', type: 'bool', default: true, doc: 'Take the workload identity from attributes.source.principal when it is a SPIFFE ID (Envoy falls back to DNS SANs and subjects, which are ignored).' },
  { key: 'identity.xfcc', type: 'bool', default: false, doc: 'Take the workload identity from x-forwarded-client-cert (its last element). Only when the proxy in front sanitises XFCC, as Istio sidecars do; otherwise any client can forge it.' },
  { key: 'identity.trust_domains', type: 'list', default: [], doc: 'Accepted trust domains; an ID from any other is treated as no identity. Empty: any.' },
  { key: 'identity.trust_bundles', type: 'list', default: [], doc: 'Per-trust-domain CA bundles that forwarded certificates must chain to, as "trust-domain=/path/bundle.pem". The chain is validated per RFC 5280 (path length and name constraints included) against the bundle of the leaf\'s trust domain. Empty: no chain check (Envoy\'s handshake verified the peer).' },
  { key: 'jwt.issuers', type: 'objects', default: [], doc: 'End-user token issuers (a list of {issuer, audiences, jwks_file | jwks_url, algorithms?, clock_tolerance_s?, header?, spiffe_trust_domain?}; JSON on the command line). Verified claims are input.identity.user.' },
  { key: 'jwt.invalid', type: 'enum', values: ['deny', 'policy'], default: 'deny', doc: '"deny": a present but invalid token is answered 401 with an RFC 6750 www-authenticate before the policy runs. "policy": the policy sees user null and decides.' },
  { key: 'jwt.max_token_bytes', type: 'int', default: 8192, min: 256, max: 1048576, doc: 'Largest token looked at; larger is invalid.' },
  { key: 'jwt.jwks_timeout_ms', type: 'int', default: 2000, min: 100, max: 60000, doc: 'Timeout for fetching a remote JWKS.' },
  { key: 'jwt.jwks_cooldown_ms', type: 'int', default: 30000, min: 0, max: 3600000, doc: 'Least time between two refetches of a remote JWKS on an unknown kid.' },
  { key: 'jwt.jwks_cache_ms', type: 'int', default: 600000, min: 1000, max: 86400000, doc: 'How long a fetched JWKS is used before it is refreshed.' },
  { key: 'http_send.allowed_hosts', type: 'list', default: [], doc: 'Hosts policies may reach with http.send (and every redirect hop): "name", "name:port", "*.domain", or "*" for any. Names are matched as written in the URL, not resolved (as OPA\'s capabilities allow_net). Empty: a policy that calls http.send is refused at load.' },
  { key: 'http_send.timeout_ms', type: 'int', default: 1000, min: 10, max: 60000, doc: 'Longest one http.send call may take, retries included: the policy\'s own timeout (OPA\'s default 5 s) is cut to it, and to what is left of the Check\'s gRPC deadline. Envoy gives ext_authz 200 ms by default; a worker waiting longer than Envoy does is capacity lost.' },
  { key: 'http_send.max_response_bytes', type: 'int', default: 1 * MiB, min: 1024, max: 64 * MiB, doc: 'Largest http.send response body; larger is an http.send error.' },
  { key: 'http_send.workers', type: 'int', default: 2, min: 1, max: 64, doc: 'Worker threads that evaluate policies calling http.send (one Check each at a time, blocked while its request waits); started on first use. Policies without http.send are evaluated on the main thread and never use them.' },
  { key: 'http_send.cache_max_bytes', type: 'int', default: 16 * MiB, min: 0, max: 1024 * MiB, doc: 'Memory for http.send\'s inter-query cache (requests with cache: true, kept as Cache-Control/Expires allow, or force_cache for force_cache_duration_seconds). 0: no inter-query cache.' },
  { key: 'routes.mode', type: 'enum', values: ['extend', 'replace'], default: 'extend', doc: '"extend": the built-in AI route catalogue plus routes.table (a table route with a catalogue route\'s name replaces it). "replace": routes.table only.' },
  { key: 'routes.unmatched', type: 'enum', values: ['default', 'deny'], default: 'default', doc: '"default": a request no route matches goes to policy.decision with input.route null (opa-envoy-plugin policies keep working). "deny": it is denied without evaluation (route_unmatched).' },
  { key: 'routes.entrypoints', type: 'list', default: [], doc: 'Decision path per API family for the built-in catalogue, as "api=entrypoint" (e.g. kserve-v2=ztauthz/inference/allow); catalogue routes of other APIs use policy.decision.' },
  { key: 'routes.table', type: 'objects', default: [], doc: 'Your routes: {name, methods, path (template: /v2/models/{model}/infer, {model}:predict, {path*}), api, action, entrypoint?, model_from?, version_from?, params_from?}. See policies/routes/README.md.' },
  { key: 'cache.enabled', type: 'bool', default: true, doc: 'Cache decisions (allows and denials; never errors). Keys cover the whole input minus cache.ignore, or a route\'s declared fields; entries die with the policy revision.' },
  { key: 'cache.max_entries', type: 'int', default: 100000, min: 1, max: 100000000, doc: 'Most cached decisions.' },
  { key: 'cache.max_bytes', type: 'int', default: 64 * MiB, min: 65536, max: 16384 * MiB, doc: 'Most memory the cached decisions may take (estimated per entry).' },
  { key: 'cache.ttl_ms', type: 'int', default: 30000, min: 1, max: 86400000, doc: 'Longest life of a cached decision; shortened by a policy\'s cache_ttl_seconds result field and by the expiry of the token or certificate that identified the caller.' },
  { key: 'cache.ignore', type: 'list', default: [...VOLATILE_FIELDS], doc: 'Input fields left out of the default cache key: they change per request. Applied per loaded policy only to the fields it provably does not read: for Rego compiled here its plan is analysed (a field it reads, or a subtree it iterates or passes on, e.g. every header, stays in the key); a prebuilt wasm keeps a field whose name is one of its string constants, and every header field if "headers" is one, unless this list was set explicitly (then it is applied as stated). The load log says what was kept and why.' },
  { key: 'cache.time_dependent_ttl_ms', type: 'int', default: 0, min: 0, max: 86400000, doc: 'Cache life for decisions of policies that read the clock (time.now_ns, io.jwt.decode_verify, crypto.x509.parse_and_verify_certificates, uuid.rfc4122, rand.intn) or call http.send (its answers depend on the outside world). 0: such decisions are not cached unless their route says so in cache.routes.' },
  { key: 'cache.routes', type: 'objects', default: [], doc: 'Per-route caching: {route, key?: [input field paths, e.g. identity.spiffe_id, route.model, attributes.request.http.method], ttl_ms?}. A key list is the route author\'s statement that its policy reads nothing else; ttl_ms also allows caching a clock-reading or http.send-calling policy.' },
  { key: 'decision.dry_run', type: 'bool', default: false, aliases: ['dry-run'], doc: 'Answer every Check with OK; the decision record keeps the real decision.' },
  { key: 'decision.on_error', type: 'enum', values: ['deny', 'grpc_error'], default: 'deny', doc: '"deny": errors are PERMISSION_DENIED CheckResponses with HTTP 403, so even Envoy with failure_mode_allow denies. "grpc_error": errors are gRPC errors, as opa-envoy-plugin does (Envoy\'s failure_mode_allow/status_on_error decide).' },
  { key: 'request.max_headers', type: 'int', default: 200, min: 1, max: 64 * MiB, doc: 'Most headers a request may carry; more is denied (request_too_large).' },
  { key: 'request.max_header_bytes', type: 'int', default: 128 * 1024, min: 1024, max: 64 * MiB, doc: 'Most bytes of header names and values together; more is denied (request_too_large).' },
  { key: 'request.max_path_bytes', type: 'int', default: 8192, min: 256, max: 64 * MiB, doc: 'Longest request path (with query); longer is denied (request_too_large).' },
  { key: 'request.max_body_bytes', type: 'int', default: 1 * MiB, min: 0, max: 64 * MiB, doc: 'Largest body (body or raw_body) looked at; larger is denied (request_too_large).' },
  { key: 'request.max_body_depth', type: 'int', default: 64, min: 1, max: 512, doc: 'Deepest nesting of arrays and objects in a JSON body (the top-level container is 1); deeper is denied (body_too_deep) before it is parsed.' },
  { key: 'request.max_body_keys', type: 'int', default: 10000, min: 1, max: 100000000, doc: 'Most object keys in a whole JSON body (all objects together), or names in a form or multipart body; more is denied (body_too_many_keys) before the body is parsed. Each key costs 1 to 2 us of a Check (parsing, the cache key, the policy\'s copy of the input), an array element about a tenth of that.' },
  { key: 'request.max_body_elements', type: 'int', default: 1000000, min: 1, max: 100000000, doc: 'Most array elements in a whole JSON body (all arrays together, e.g. tensor data), or values (parts) in a form or multipart body; more is denied (body_too_many_elements) before the body is parsed. A body of request.max_body_bytes at its default cannot hold more.' },
  { key: 'request.body_duplicate_keys', type: 'enum', values: ['deny', 'deny_any_case', 'last'], default: 'deny', doc: '"deny": a JSON body with a key twice in one object (also when spelt with escapes, "mod\\u0065l") is denied (body_duplicate_key): backends that keep the first would serve another value than the one authorized. "deny_any_case": also keys that differ in case only ("model", "Model"), for backends in Go (Ollama, for one), whose encoding/json fills a struct field from any case and keeps the last. "last": the last one counts, as JSON.parse and opa-envoy-plugin do.' },
  { key: 'request.parse_body', type: 'bool', default: true, doc: 'Fill parsed_body and truncated_body (opa-envoy-plugin\'s skip-request-body-parse, inverted).' },
  { key: 'request.proto_descriptor', type: 'string', default: '', doc: 'A FileDescriptorSet file (protoc --include_imports --descriptor_set_out) that decodes gRPC request bodies (content-type application/grpc, sent by Envoy as raw_body: with_request_body.pack_as_bytes) into parsed_body, as opa-envoy-plugin\'s proto-descriptor: the method comes from the path /package.Service/Method, its input message is decoded into protojson (JSON field names, 64-bit integers as strings, bytes as base64, enums by name). Only the first message of a stream is read; a compressed message, an unknown service or method, or a client-streaming method give parsed_body null; a message that does not decode, nests deeper than 100 messages, holds more than 100,000 messages (map entries included), or holds a google.protobuf.Any of a type outside google.protobuf (opa-envoy-plugin resolves Any only among the types compiled into it) is denied (body_invalid). The path must be /package.Service/Method. Read once at start (a changed file needs a restart); a file that is not a complete FileDescriptorSet stops the start. Empty: gRPC bodies are not parsed.' },
  { key: 'request.truncated_body', type: 'enum', values: ['deny', 'policy'], default: 'deny', doc: '"deny": a body Envoy sent only in part is denied (body_truncated) before the policy runs. "policy": the policy sees truncated_body: true and parsed_body: null, as in opa-envoy-plugin.' },
  { key: 'decision_log.enabled', type: 'bool', default: true, doc: 'Write one JSON line per decision.' },
  { key: 'decision_log.output', type: 'string', default: 'stdout', doc: '"stdout", "stderr" or a file path (appended to; reopened on SIGHUP for log rotation).' },
  { key: 'decision_log.include_input', type: 'enum', values: ['denied', 'all', 'none'], valueAliases: { true: 'all', false: 'none' }, default: 'denied', doc: 'Which records carry the policy input (masked, see decision_log.mask). "denied": every denial (errors and dry-run denials included) and the allowed decisions decision_log.input_sample_allowed picks; the other allowed records have everything else (identity, route, result, decision id, revision, timers) but no input. "all": every record (true, the default before, is accepted for it); turns off the request shortcut (see Decision cache), which answers repeated requests without building an input. "none": no record (false is accepted for it). With "denied" the shortcut answers repeated allowed requests; a repeated denial takes the full path, since its record needs the input.' },
  { key: 'decision_log.input_sample_allowed', type: 'float', default: 0, min: 0, max: 1, doc: 'With include_input "denied": fraction of allowed decisions whose record carries the input too (picked at random per Check; a picked repeat takes the full path instead of the request shortcut).' },
  { key: 'decision_log.mask', type: 'list', default: ['/input/attributes/request/http/headers/authorization', '/input/attributes/request/http/headers/cookie', '/input/attributes/request/http/headers/proxy-authorization'], doc: 'JSON pointers removed from logged records (the input is never changed for the policy).' },
  { key: 'decision_log.sample_allowed', type: 'float', default: 1, min: 0, max: 1, doc: 'Fraction of allowed decisions written; denials (and errors, and dry-run denials) are always written.' },
  { key: 'tracing.enabled', type: 'bool', default: false, doc: 'One span per Check, a child of the request\'s own trace (W3C traceparent/tracestate, B3 single and multi headers in the CheckRequest), with child spans for identify and evaluate. The standard OTEL_* variables override the tracing.* keys where set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.' },
  { key: 'tracing.exporter', type: 'enum', values: ['otlp-http', 'otlp-grpc', 'none'], default: 'otlp-http', doc: 'OTLP over HTTP (protobuf) or gRPC.' },
  { key: 'tracing.endpoint', type: 'string', default: '', doc: 'Collector URL (for HTTP a bare origin gets /v1/traces). Empty: the OTLP default.' },
  { key: 'tracing.sampler_ratio', type: 'float', default: 1, min: 0, max: 1, doc: 'Fraction of requests without a sampled parent that are traced; a parent\'s decision is always followed.' },
  { key: 'tracing.service_name', type: 'string', default: 'ztauthz', doc: 'service.name of the spans.' },
  { key: 'metrics.max_identities', type: 'int', default: 1000, min: 1, max: 1000000, doc: 'Identities with their own ztauthz_identity_checks_total series; the rest count under identity="__overflow__".' },
  { key: 'metrics.identity_idle_seconds', type: 'int', default: 3600, min: 0, max: 604800, doc: 'An identity idle this long gives its series slot to a new one (0: never).' },
  { key: 'behavior.enabled', type: 'bool', default: true, doc: 'Behaviour signals per identity (first-seen route, deny spike, rate jump) as metrics, decision-log events and input.behavior; for MCP tool calls first-seen tool and tool deny spike (metrics and events only).' },
  { key: 'behavior.max_identities', type: 'int', default: 10000, min: 1, max: 10000000, doc: 'Identities tracked (LRU); an evicted one comes back learning.' },
  { key: 'behavior.max_routes_per_identity', type: 'int', default: 64, min: 1, max: 100000, doc: 'Routes remembered per identity for first_seen_route.' },
  { key: 'behavior.max_tools_per_identity', type: 'int', default: 64, min: 1, max: 100000, doc: 'MCP tools (per server) remembered per identity for first_seen_tool.' },
  { key: 'behavior.window_seconds', type: 'int', default: 60, min: 1, max: 86400, doc: 'Length of one counting window.' },
  { key: 'behavior.baseline_windows', type: 'int', default: 10, min: 1, max: 1000, doc: 'Windows the baseline averages over.' },
  { key: 'behavior.learning_seconds', type: 'int', default: 300, min: 0, max: 604800, doc: 'A new identity\'s learning time, during which no spike or jump is raised.' },
  { key: 'behavior.rate_jump_factor', type: 'float', default: 3, min: 1, max: 1000, doc: 'rate_jump: a window\'s requests exceed this factor times the baseline ...' },
  { key: 'behavior.rate_jump_min', type: 'int', default: 30, min: 1, max: 100000000, doc: '... and at least this many.' },
  { key: 'behavior.deny_spike_factor', type: 'float', default: 3, min: 1, max: 1000, doc: 'deny_spike: a window\'s denials exceed this factor times the baseline ...' },
  { key: 'behavior.deny_spike_min', type: 'int', default: 10, min: 1, max: 100000000, doc: '... and at least this many.' },
  { key: 'log.level', type: 'enum', values: ['debug', 'info', 'warn', 'error'], default: 'info', doc: 'Level of the service log (stderr).' },
];

export interface Config {
  compat: '' | 'opa-envoy';
  grpc: {
    addr: string;
    max_recv_msg_bytes: number;
    max_send_msg_bytes: number;
    reflection: boolean;
    max_connection_age_ms: number;
    max_connection_age_grace_ms: number;
    tls: {
      mode: 'off' | 'files' | 'workload_api';
      cert_file: string;
      key_file: string;
      ca_file: string;
      reload_interval_ms: number;
      workload_api_endpoint: string;
      svid_hint: string;
      trust_federated_bundles: boolean;
      allowed_peers: string[];
    };
  };
  http: { addr: string };
  server: { workers: number };
  policy: {
    path: string;
    decision: string;
    entrypoints: string[];
    rego_version: 'v1' | 'v0';
    opa: string;
    max_memory_pages: number;
    strict_builtin_errors: boolean;
    watch: boolean;
    watch_debounce_ms: number;
    signing_key: string;
    signing_key_id: string;
    signing_alg: string;
    require_signature: boolean;
  };
  shadow: { path: string; sample: number };
  routes: { mode: 'extend' | 'replace'; unmatched: 'default' | 'deny'; entrypoints: string[]; table: Record<string, unknown>[] };
  cache: {
    enabled: boolean;
    max_entries: number;
    max_bytes: number;
    ttl_ms: number;
    ignore: string[];
    time_dependent_ttl_ms: number;
    routes: Record<string, unknown>[];
  };
  identity: { certificate: boolean; principal: boolean; xfcc: boolean; trust_domains: string[]; trust_bundles: string[] };
  jwt: {
    issuers: Record<string, unknown>[];
    invalid: 'deny' | 'policy';
    max_token_bytes: number;
    jwks_timeout_ms: number;
    jwks_cooldown_ms: number;
    jwks_cache_ms: number;
  };
  http_send: { allowed_hosts: string[]; timeout_ms: number; max_response_bytes: number; workers: number; cache_max_bytes: number };
  decision: { dry_run: boolean; on_error: 'deny' | 'grpc_error' };
  request: {
    max_headers: number;
    max_header_bytes: number;
    max_path_bytes: number;
    max_body_bytes: number;
    max_body_depth: number;
    max_body_keys: number;
    max_body_elements: number;
    body_duplicate_keys: 'deny' | 'deny_any_case' | 'last';
    parse_body: boolean;
    proto_descriptor: string;
    truncated_body: 'deny' | 'policy';
  };
  decision_log: { enabled: boolean; output: string; include_input: 'denied' | 'all' | 'none'; input_sample_allowed: number; mask: string[]; sample_allowed: number };
  tracing: { enabled: boolean; exporter: 'otlp-http' | 'otlp-grpc' | 'none'; endpoint: string; sampler_ratio: number; service_name: string };
  metrics: { max_identities: number; identity_idle_seconds: number };
  behavior: {
    enabled: boolean;
    max_identities: number;
    max_routes_per_identity: number;
    max_tools_per_identity: number;
    window_seconds: number;
    baseline_windows: number;
    learning_seconds: number;
    rate_jump_factor: number;
    rate_jump_min: number;
    deny_spike_factor: number;
    deny_spike_min: number;
  };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export function flagName(key: string): string {
  return key.replace(/[._]/g, '-');
}

export function envName(key: string): string {
  return 'ZTAUTHZ_' + key.replace(/\./g, '_').toUpperCase();
}
