package envoy.authz

import rego.v1

import input.attributes.request.http as http_request

default allow := false

allow if http_request.headers["x-api-key"] == "let-me-in"

headers["x-ext-auth-allow"] := "yes" if allow

headers["x-validated-by"] := "security-checkpoint"

request_headers_to_remove := ["x-api-key"]

response_headers_to_add["x-ratelimit-tier"] := "gold"

query_parameters_to_set := {"authz": "ok", "tags": ["a", "b"]}

query_parameters_to_remove := ["debug"]

status_code := 200 if allow

else := 401

body := "" if allow

else := "Authentication Failed"

result["allowed"] := allow

result["headers"] := headers

result["response_headers_to_add"] := response_headers_to_add

result["request_headers_to_remove"] := request_headers_to_remove

result["query_parameters_to_set"] := query_parameters_to_set

result["query_parameters_to_remove"] := query_parameters_to_remove

result["body"] := body

result["http_status"] := status_code

result["dynamic_metadata"] := {"tenant": object.get(http_request.headers, "x-tenant", "none")}
