// Configuration sections for handling a request and reporting on it: decision
// mode, request bounds, decision log, tracing, metrics, behaviour signals and
// the service log. Part of the schema in ../schema.ts.
import { bool, float, int, list, MiB, oneOf, section, str } from './fields.ts';

export const HANDLING = {
  decision: section({
    dry_run: bool(false, 'Answer every Check with OK; the decision record keeps the real decision.', { aliases: ['dry-run'] }),
    on_error: oneOf(
      ['deny', 'grpc_error'],
      'deny',
      '"deny": errors are PERMISSION_DENIED CheckResponses with HTTP 403, so even Envoy with failure_mode_allow denies. "grpc_error": errors are gRPC errors, as opa-envoy-plugin does (Envoy\'s failure_mode_allow/status_on_error decide).',
    ),
  }),
  request: section({
    max_headers: int(200, 1, 64 * MiB, 'Most headers a request may carry; more is denied (request_too_large).'),
    max_header_bytes: int(128 * 1024, 1024, 64 * MiB, 'Most bytes of header names and values together; more is denied (request_too_large).'),
    max_path_bytes: int(8 * 1024, 256, 64 * MiB, 'Longest request path (with query); longer is denied (request_too_large).'),
    max_body_bytes: int(1 * MiB, 0, 64 * MiB, 'Largest body (body or raw_body) looked at; larger is denied (request_too_large).'),
    max_body_depth: int(
      64,
      1,
      512,
      'Deepest nesting of arrays and objects in a JSON body (the top-level container is 1); deeper is denied (body_too_deep) before it is parsed.',
    ),
    max_body_keys: int(
      10000,
      1,
      100000000,
      "Most object keys in a whole JSON body (all objects together), or names in a form or multipart body; more is denied (body_too_many_keys) before the body is parsed. Each key costs 1 to 2 us of a Check (parsing, the cache key, the policy's copy of the input), an array element about a tenth of that.",
    ),
    max_body_elements: int(
      1000000,
      1,
      100000000,
      'Most array elements in a whole JSON body (all arrays together, e.g. tensor data), or values (parts) in a form or multipart body; more is denied (body_too_many_elements) before the body is parsed. A body of request.max_body_bytes at its default cannot hold more.',
    ),
    body_duplicate_keys: oneOf(
      ['deny', 'deny_any_case', 'last'],
      'deny',
      '"deny": a JSON body with a key twice in one object (also when spelt with escapes, "mod\\u0065l") is denied (body_duplicate_key): backends that keep the first would serve another value than the one authorized. "deny_any_case": also keys that differ in case only ("model", "Model"), for backends in Go (Ollama, for one), whose encoding/json fills a struct field from any case and keeps the last. "last": the last one counts, as JSON.parse and opa-envoy-plugin do.',
    ),
    parse_body: bool(true, "Fill parsed_body and truncated_body (opa-envoy-plugin's skip-request-body-parse, inverted)."),
    proto_descriptor: str(
      '',
      "A FileDescriptorSet file (protoc --include_imports --descriptor_set_out) that decodes gRPC request bodies (content-type application/grpc, sent by Envoy as raw_body: with_request_body.pack_as_bytes) into parsed_body, as opa-envoy-plugin's proto-descriptor: the method comes from the path /package.Service/Method, its input message is decoded into protojson (JSON field names, 64-bit integers as strings, bytes as base64, enums by name). Only the first message of a stream is read; a compressed message, an unknown service or method, or a client-streaming method give parsed_body null; a message that does not decode, nests deeper than 100 messages, holds more than 100,000 messages (map entries included), or holds a google.protobuf.Any of a type outside google.protobuf (opa-envoy-plugin resolves Any only among the types compiled into it) is denied (body_invalid). The path must be /package.Service/Method. Read once at start (a changed file needs a restart); a file that is not a complete FileDescriptorSet stops the start. Empty: gRPC bodies are not parsed.",
    ),
    truncated_body: oneOf(
      ['deny', 'policy'],
      'deny',
      '"deny": a body Envoy sent only in part is denied (body_truncated) before the policy runs. "policy": the policy sees truncated_body: true and parsed_body: null, as in opa-envoy-plugin.',
    ),
  }),
  decision_log: section({
    enabled: bool(
      true,
      "Write one JSON line per decision to decision_log.output (OPA's decision_logs.console). Off, records are still built for decision_log.upload when that names a service.",
    ),
    output: str('stdout', '"stdout", "stderr" or a file path (appended to; reopened on SIGHUP for log rotation).'),
    include_input: oneOf(
      ['denied', 'all', 'none'],
      'denied',
      'Which records carry the policy input (masked, see decision_log.mask). "denied": every denial (errors and dry-run denials included) and the allowed decisions decision_log.input_sample_allowed picks; the other allowed records have everything else (identity, route, result, decision id, revision, timers) but no input. "all": every record (true, the default before, is accepted for it); turns off the request shortcut (see Decision cache), which answers repeated requests without building an input. "none": no record (false is accepted for it). With "denied" the shortcut answers repeated allowed requests; a repeated denial takes the full path, since its record needs the input.',
      { valueAliases: { true: 'all', false: 'none' } },
    ),
    input_sample_allowed: float(
      0,
      0,
      1,
      'With include_input "denied": fraction of allowed decisions whose record carries the input too (picked at random per Check; a picked repeat takes the full path instead of the request shortcut).',
    ),
    mask: list(
      [
        '/input/attributes/request/http/headers/authorization',
        '/input/attributes/request/http/headers/cookie',
        '/input/attributes/request/http/headers/proxy-authorization',
      ],
      'JSON pointers removed from logged records (the input is never changed for the policy).',
    ),
    sample_allowed: float(1, 0, 1, 'Fraction of allowed decisions written; denials (and errors, and dry-run denials) are always written.'),
    upload: section({
      service: str(
        '',
        "Name of the services entry decision records are uploaded to, per OPA's decision-log protocol (gzipped JSON arrays POSTed to its url + resource, with its headers, bearer token and TLS); OPA's decision_logs.service. Empty: no upload. Records are masked (decision_log.mask) and carry the input as decision_log.include_input says, as on the console. See docs/decision-logs.md.",
      ),
      resource: str('/logs', "Path under the service's url the records are POSTed to (OPA's decision_logs.resource)."),
      upload_size_limit_bytes: int(32768, 1024, 64 * MiB, 'Largest gzipped body of one upload; more records wait for the next request of the same round.'),
      min_delay_seconds: int(5, 1, 86400, 'Least time between upload rounds (after a failure: the first backoff).'),
      max_delay_seconds: int(
        10,
        1,
        86400,
        "Most time between upload rounds (a random delay in between spreads replicas out; after failures the backoff grows to this). OPA's defaults are 300 and 600; ztauthz's are shorter so its bounded buffer holds the records of a round.",
      ),
      buffer_size_limit_bytes: int(
        16 * MiB,
        1024,
        1024 * MiB,
        'Most bytes of serialised records held for upload (counted in characters, which is bytes for ASCII JSON; OPA keeps no bound by default); past it the oldest are dropped and counted (ztauthz_decision_log_upload_dropped_total{reason="buffer_full"}). A round starts early once half is used.',
      ),
      buffer_size_limit_events: int(100000, 1, 100000000, 'Most records held for upload; past it the oldest are dropped and counted.'),
      max_decisions_per_second: float(
        0,
        0,
        1000000,
        'Most records taken for upload per second (a bucket of one second\'s worth); more are dropped and counted (reason="rate_limited"). 0: no limit.',
      ),
    }),
  }),
  tracing: section({
    enabled: bool(
      false,
      "One span per Check, a child of the request's own trace (W3C traceparent/tracestate, B3 single and multi headers in the CheckRequest), with child spans for identify and evaluate. The standard OTEL_* variables override the tracing.* keys where set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.",
    ),
    exporter: oneOf(['otlp-http', 'otlp-grpc', 'none'], 'otlp-http', 'OTLP over HTTP (protobuf) or gRPC.'),
    endpoint: str('', 'Collector URL (for HTTP a bare origin gets /v1/traces). Empty: the OTLP default.'),
    sampler_ratio: float(1, 0, 1, "Fraction of requests without a sampled parent that are traced; a parent's decision is always followed."),
    service_name: str('ztauthz', 'service.name of the spans.'),
  }),
  metrics: section({
    max_identities: int(1000, 1, 1000000, 'Identities with their own ztauthz_identity_checks_total series; the rest count under identity="__overflow__".'),
    identity_idle_seconds: int(3600, 0, 604800, 'An identity idle this long gives its series slot to a new one (0: never).'),
  }),
  behavior: section({
    enabled: bool(
      true,
      'Behaviour signals per identity (first-seen route, deny spike, rate jump) as metrics, decision-log events and input.behavior; for MCP tool calls first-seen tool and tool deny spike (metrics and events only).',
    ),
    max_identities: int(10000, 1, 10000000, 'Identities tracked (LRU); an evicted one comes back learning.'),
    max_routes_per_identity: int(64, 1, 100000, 'Routes remembered per identity for first_seen_route.'),
    max_tools_per_identity: int(64, 1, 100000, 'MCP tools (per server) remembered per identity for first_seen_tool.'),
    window_seconds: int(60, 1, 86400, 'Length of one counting window.'),
    baseline_windows: int(10, 1, 1000, 'Windows the baseline averages over.'),
    learning_seconds: int(300, 0, 604800, "A new identity's learning time, during which no spike or jump is raised."),
    rate_jump_factor: float(3, 1, 1000, "rate_jump: a window's requests exceed this factor times the baseline ..."),
    rate_jump_min: int(30, 1, 100000000, '... and at least this many.'),
    deny_spike_factor: float(3, 1, 1000, "deny_spike: a window's denials exceed this factor times the baseline ..."),
    deny_spike_min: int(10, 1, 100000000, '... and at least this many.'),
  }),
  log: section({
    level: oneOf(['debug', 'info', 'warn', 'error'], 'info', 'Level of the service log (stderr).'),
  }),
};
