package envoy.authz

import rego.v1

import input.attributes.request.http as http_request

default allow := false

# Read-only API access for known tenants.
allow if {
	http_request.method in {"GET", "HEAD"}
	input.parsed_path[0] == "api"
	http_request.headers["x-tenant"] in data.tenants
}

# Writes need the tenant's API key as well.
allow if {
	http_request.method == "POST"
	input.parsed_path[0] == "api"
	key := data.api_keys[http_request.headers["x-tenant"]]
	http_request.headers["x-api-key"] == key
}
