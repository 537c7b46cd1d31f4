// Configuration sections for serving: compat preset, listeners, workers, the
// policy and its shadow. Part of the schema in ../schema.ts.
import { addr, bool, DECISION_PATH, decisionPath, entry, float, grpcAddr, int, list, MiB, oneOf, section, str } from './fields.ts';

export const SERVING = {
  compat: oneOf(
    ['', 'opa-envoy'],
    '',
    '"opa-envoy": behave as opa-envoy-plugin v1.19.1-envoy wherever ztauthz deliberately differs (docs/compatibility.md lists each switch): decision.on_error grpc_error (with not_ready as UNKNOWN too), no route catalogue (routes.mode replace), request.truncated_body policy, request size limits at grpc.max_recv_msg_bytes, an empty cache.ignore, jwt.invalid policy, no input.identity/route/canonical/behavior, no path or host canonicalisation refusals (parsed_path and parsed_query as Go\'s url package gives them), headerMap not folded into headers, a CheckRequest without http evaluated, no reason in status.message, no dry-run over a request that does not parse, request bodies read as opa-envoy-plugin reads them (content-type matched case-sensitively, multipart without a boundary not parsed, LF multipart and JSON parts, Go\'s content-length and JSON quirks) with its 400 texts (request_parse_error: <Go error>). A key you set yourself (file, environment or flag) wins over the preset.',
  ),
  grpc: section({
    addr: grpcAddr(
      ':9191',
      'gRPC listen address: host:port (":9191" is every interface; "grpc://host:port" is accepted too, as in opa-envoy-plugin), or a Unix socket, unix:///absolute/path.sock (as opa-envoy-plugin\'s addr; with server.workers above 1 the workers share it). The socket file is made with the process umask and its directory\'s permissions decide who may connect (connecting needs write permission on it): put it in a directory only Envoy and ztauthz share. A socket file left by a process that died is removed at start; a path held by a live listener, or that is not a socket, is refused. Abstract sockets (unix://@name, which opa-envoy-plugin takes) are not supported. Serves envoy.service.auth.v3.Authorization and grpc.health.v1.Health.',
    ),
    transport: oneOf(
      ['http2', 'grpc-js'],
      'http2',
      'The gRPC server implementation: "http2", ztauthz\'s own on node:http2 (about half the CPU per call of grpc-js), or "grpc-js". Both serve the same methods, limits, TLS and caller checks (docs/performance.md#the-grpc-transport).',
    ),
    max_recv_msg_bytes: int(
      4 * MiB,
      1024,
      64 * MiB,
      'Largest CheckRequest accepted; larger ones are refused by gRPC with RESOURCE_EXHAUSTED (Envoy then denies).',
    ),
    max_send_msg_bytes: int(
      4 * MiB,
      4 * 1024,
      2147483647,
      "Largest CheckResponse sent (opa-envoy-plugin's grpc-max-send-msg-size, whose default is 2147483647). A policy result that encodes larger (huge headers or body) is answered as internal_error instead (a denial, or with decision.on_error grpc_error an INTERNAL gRPC error).",
    ),
    reflection: bool(
      false,
      "Serve gRPC server reflection (grpc.reflection.v1 and v1alpha) for envoy.service.auth.v3.Authorization and grpc.health.v1.Health, so grpcurl list/describe/invoke work without -proto flags (opa-envoy-plugin's enable-reflection).",
      { aliases: ['enable-reflection'] },
    ),
    max_connection_age_ms: int(
      0,
      0,
      86400000,
      'Oldest a client connection may get: past it (plus up to 10% jitter) the server sends a GOAWAY, the client (Envoy) opens a new connection for its next calls, and calls in flight finish within grpc.max_connection_age_grace_ms. Envoy keeps few long-lived HTTP/2 connections to ztauthz, so with several workers (server.workers) connections must be aged out for load to spread, and keep spreading, across them. 0: connections live forever, except that with server.workers above 1 it means 30000 (30 s).',
    ),
    max_connection_age_grace_ms: int(
      10000,
      0,
      3600000,
      'After the GOAWAY of an aged connection, how long its calls in flight may take before the connection is closed under them.',
    ),
    tls: section({
      mode: oneOf(
        ['off', 'files', 'workload_api'],
        'off',
        'mTLS on the gRPC listener: "files" (grpc.tls.cert_file/key_file/ca_file, re-read when they change) or "workload_api" (X509-SVID and bundle from the SPIFFE Workload API, rotated as the agent rotates them). Callers must present a certificate the CA bundle verifies.',
      ),
      cert_file: str('', 'Server certificate chain (PEM), for mode "files".'),
      key_file: str('', 'Server private key (PEM), for mode "files".'),
      ca_file: str('', 'CA bundle (PEM) that verifies callers, for mode "files".'),
      reload_interval_ms: int(
        5000,
        100,
        3600000,
        'How often certificate files are checked for changes; a new set is served only once certificate, key and CA load consistently.',
      ),
      workload_api_endpoint: str('', 'Workload API endpoint (unix:///path or tcp://ip:port). Empty: $SPIFFE_ENDPOINT_SOCKET.'),
      svid_hint: str('', 'Which X509-SVID to serve when the Workload API offers several (its hint). Empty: the first.'),
      trust_federated_bundles: bool(false, "Also accept callers from federated trust domains' bundles."),
      allowed_peers: list(
        [],
        'Who may call ztauthz at all: SPIFFE IDs, or spiffe://<trust-domain> for a whole domain. Required when grpc.tls.mode is not "off". Others get PERMISSION_DENIED (unidentifiable callers UNAUTHENTICATED). The caller is input.identity.peer.',
      ),
    }),
  }),
  http: section({
    addr: addr(':8181', 'HTTP listen address for /healthz, /readyz and /metrics.'),
  }),
  server: section({
    workers: int(
      1,
      1,
      64,
      'Processes serving Checks (0 is not allowed). Above 1, a primary process forks this many workers that share the gRPC port (connections are handed out round-robin; see grpc.max_connection_age_ms) and serves the HTTP side itself: /metrics summed over the workers, /readyz ready once every worker is. Each worker is a whole ztauthz with its own policy instance (memory, watch, reloads), decision cache, behaviour tracking and metrics. A worker that dies is restarted.',
      { aliases: ['workers'] },
    ),
  }),
  policy: section({
    path: str(
      '',
      'Policy to load: an OPA bundle (.tar.gz, or a directory with policy.wasm), a directory of .rego files (compiled at start with opa), or a .wasm file. Empty: the embedded demo policy (policies/demo).',
      { aliases: ['policy'] },
    ),
    decision: decisionPath('envoy/authz/allow', "Default decision path (entrypoint), as opa-envoy-plugin's `path`.", { aliases: ['decision-path'] }),
    entrypoints: list([], 'More entrypoints to compile when policy.path is Rego (comma-separated on the command line).', {
      item: entry(DECISION_PATH, 'a decision path like envoy/authz/allow'),
    }),
    rego_version: oneOf(
      ['v1', 'v0'],
      'v1',
      'Rego syntax of a Rego directory in policy.path or shadow.path: "v1" (OPA 1.x, `if` and `contains` required), or "v0" for policies written before OPA 1.0 (`allow { ... }`, `default allow = false`), compiled with opa build --v0-compatible (opa-envoy-plugin\'s --v0-compatible). Bundles and .wasm files are compiled already and are not affected.',
    ),
    opa: str('', 'opa binary used to compile Rego. Empty: $ZTAUTHZ_OPA, then .tools/bin/opa, then PATH.'),
    max_memory_pages: int(
      2 * 1024,
      16,
      64 * 1024,
      "Upper bound on the policy's wasm memory in 64 KiB pages (2048 = 128 MiB); an evaluation that needs more fails and is denied.",
    ),
    strict_builtin_errors: bool(
      false,
      'false (as opa-envoy-plugin and opa eval): a builtin that fails (a malformed token to io.jwt.decode, bad base64…) makes its expression undefined and evaluation goes on. true (opa eval --strict-builtin-errors): the evaluation fails, a policy_error handled as decision.on_error says.',
    ),
    watch: bool(
      true,
      'Watch policy.path and hot-swap it when it changes; a change that does not load completely is rejected and the old policy keeps serving.',
    ),
    watch_debounce_ms: int(200, 0, 60000, 'Quiet time after the last change before a reload (a bundle copied in place fires several events).'),
    signing_key: str(
      '',
      'Public key (PEM; for HS* a secret file) that verifies OPA bundle signatures (.signatures.json). Signed bundles are verified whenever it is set.',
    ),
    signing_key_id: str('default', 'Key id (the JWT `kid`) bundles must be signed with.'),
    signing_alg: oneOf(
      ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'],
      'RS256',
      'Signature algorithm bundles must use.',
    ),
    require_signature: bool(
      false,
      'Refuse bundles without a valid signature (and Rego directories, which are compiled here and never signed). Needs policy.signing_key.',
    ),
  }),
  shadow: section({
    path: str(
      '',
      'A candidate policy (same forms as policy.path) evaluated on live traffic but never enforced; disagreements with the active decision are counted per route and logged. Empty: off.',
    ),
    sample: float(1, 0, 1, 'Fraction of Checks the shadow policy evaluates.'),
  }),
};
