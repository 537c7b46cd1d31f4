// The configuration schema: one table that drives defaults, YAML validation,
// flags (--grpc-addr), environment variables (ZTAUTHZ_GRPC_ADDR) and the
// README's reference, so the four can never disagree.

export type FieldType = 'string' | 'int' | 'float' | 'bool' | 'enum' | 'addr' | 'list' | 'decision_path';

export interface FieldSpec {
  /** Dotted key, e.g. "grpc.addr". */
  readonly key: string;
  readonly type: FieldType;
  readonly default: string | number | boolean | readonly string[];
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Extra flag names, e.g. --policy for policy.path. */
  readonly aliases?: readonly string[];
}

const MiB = 1024 * 1024;

export const SCHEMA: readonly FieldSpec[] = [
  { key: 'grpc.addr', type: 'addr', default: ':9191', doc: 'gRPC listen address (host:port; ":9191" is every interface). Serves envoy.service.auth.v3.Authorization and grpc.health.v1.Health.' },
  { key: 'grpc.max_recv_msg_bytes', type: 'int', default: 4 * MiB, min: 1024, max: 64 * MiB, doc: 'Largest CheckRequest accepted; larger ones are refused by gRPC with RESOURCE_EXHAUSTED (Envoy then denies).' },
  { key: 'http.addr', type: 'addr', default: ':8181', doc: 'HTTP listen address for /healthz, /readyz and /metrics.' },
  { key: 'policy.path', type: 'string', default: '', aliases: ['policy'], doc: 'Policy to load: an OPA bundle (.tar.gz, or a directory with policy.wasm), a directory of .rego files (compiled at start with opa), or a .wasm file. Empty: the embedded demo policy (policies/demo).' },
  { key: 'policy.decision', type: 'decision_path', default: 'envoy/authz/allow', aliases: ['decision-path'], doc: 'Default decision path (entrypoint), as opa-envoy-plugin\'s `path`.' },
  { key: 'policy.entrypoints', type: 'list', default: [], doc: 'More entrypoints to compile when policy.path is Rego (comma-separated on the command line).' },
  { key: 'policy.opa', type: 'string', default: '', doc: 'opa binary used to compile Rego. Empty: $ZTAUTHZ_OPA, then .tools/bin/opa, then PATH.' },
  { key: 'policy.max_memory_pages', type: 'int', default: 2048, min: 16, max: 65536, doc: 'Upper bound on the policy\'s wasm memory in 64 KiB pages (2048 = 128 MiB); an evaluation that needs more fails and is denied.' },
  { key: 'policy.watch', type: 'bool', default: true, doc: 'Watch policy.path and hot-swap it when it changes; a change that does not load completely is rejected and the old policy keeps serving.' },
  { key: 'policy.watch_debounce_ms', type: 'int', default: 200, min: 0, max: 60000, doc: 'Quiet time after the last change before a reload (a bundle copied in place fires several events).' },
  { key: 'policy.signing_key', type: 'string', default: '', doc: 'Public key (PEM; for HS* a secret file) that verifies OPA bundle signatures (.signatures.json). Signed bundles are verified whenever it is set.' },
  { key: 'policy.signing_key_id', type: 'string', default: 'default', doc: 'Key id (the JWT `kid`) bundles must be signed with.' },
  { key: 'policy.signing_alg', type: 'enum', values: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'], default: 'RS256', doc: 'Signature algorithm bundles must use.' },
  { key: 'policy.require_signature', type: 'bool', default: false, doc: 'Refuse bundles without a valid signature (and Rego directories, which are compiled here and never signed). Needs policy.signing_key.' },
  { key: 'shadow.path', type: 'string', default: '', doc: 'A candidate policy (same forms as policy.path) evaluated on live traffic but never enforced; disagreements with the active decision are counted per route and logged. Empty: off.' },
  { key: 'shadow.sample', type: 'float', default: 1, min: 0, max: 1, doc: 'Fraction of Checks the shadow policy evaluates.' },
  { key: 'decision.dry_run', type: 'bool', default: false, aliases: ['dry-run'], doc: 'Answer every Check with OK; the decision record keeps the real decision.' },
  { key: 'decision.on_error', type: 'enum', values: ['deny', 'grpc_error'], default: 'deny', doc: '"deny": errors are PERMISSION_DENIED CheckResponses with HTTP 403, so even Envoy with failure_mode_allow denies. "grpc_error": errors are gRPC errors, as opa-envoy-plugin does (Envoy\'s failure_mode_allow/status_on_error decide).' },
  { key: 'request.max_headers', type: 'int', default: 200, min: 1, max: 10000, doc: 'Most headers a request may carry; more is denied (request_too_large).' },
  { key: 'request.max_header_bytes', type: 'int', default: 128 * 1024, min: 1024, max: 64 * MiB, doc: 'Most bytes of header names and values together; more is denied (request_too_large).' },
  { key: 'request.max_path_bytes', type: 'int', default: 8192, min: 256, max: 1024 * 1024, doc: 'Longest request path (with query); longer is denied (request_too_large).' },
  { key: 'request.max_body_bytes', type: 'int', default: 1 * MiB, min: 0, max: 64 * MiB, doc: 'Largest body (body or raw_body) looked at; larger is denied (request_too_large).' },
  { key: 'request.parse_body', type: 'bool', default: true, doc: 'Fill parsed_body and truncated_body (opa-envoy-plugin\'s skip-request-body-parse, inverted).' },
  { key: 'request.truncated_body', type: 'enum', values: ['deny', 'policy'], default: 'deny', doc: '"deny": a body Envoy sent only in part is denied (body_truncated) before the policy runs. "policy": the policy sees truncated_body: true and parsed_body: null, as in opa-envoy-plugin.' },
  { key: 'decision_log.enabled', type: 'bool', default: true, doc: 'Write one JSON line per decision.' },
  { key: 'decision_log.output', type: 'string', default: 'stdout', doc: '"stdout", "stderr" or a file path (appended to; reopened on SIGHUP for log rotation).' },
  { key: 'decision_log.include_input', type: 'bool', default: true, doc: 'Include the policy input in decision records.' },
  { key: 'decision_log.mask', type: 'list', default: ['/input/attributes/request/http/headers/authorization', '/input/attributes/request/http/headers/cookie', '/input/attributes/request/http/headers/proxy-authorization'], doc: 'JSON pointers removed from logged records (the input is never changed for the policy).' },
  { key: 'log.level', type: 'enum', values: ['debug', 'info', 'warn', 'error'], default: 'info', doc: 'Level of the service log (stderr).' },
];

export interface Config {
  grpc: { addr: string; max_recv_msg_bytes: number };
  http: { addr: string };
  policy: {
    path: string;
    decision: string;
    entrypoints: string[];
    opa: string;
    max_memory_pages: number;
    watch: boolean;
    watch_debounce_ms: number;
    signing_key: string;
    signing_key_id: string;
    signing_alg: string;
    require_signature: boolean;
  };
  shadow: { path: string; sample: number };
  decision: { dry_run: boolean; on_error: 'deny' | 'grpc_error' };
  request: {
    max_headers: number;
    max_header_bytes: number;
    max_path_bytes: number;
    max_body_bytes: number;
    parse_body: boolean;
    truncated_body: 'deny' | 'policy';
  };
  decision_log: { enabled: boolean; output: string; include_input: boolean; mask: string[] };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export function flagName(key: string): string {
  return key.replace(/[._]/g, '-');
}

export function envName(key: string): string {
  return 'ZTAUTHZ_' + key.replace(/\./g, '_').toUpperCase();
}
