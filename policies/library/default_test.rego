# The default entrypoint, envoy/authz/allow: everything is denied.
package envoy.authz_test

import rego.v1

import data.envoy.authz
import data.ztauthz.test.fixtures as f

test_null_route_denied if {
	d := authz.allow with input as f.request(f.workload(f.fraud_frontend), null)
	f.denied(d, "default", "no_route", "no route matched this request")
}

test_null_route_and_null_identity_denied if {
	d := authz.allow with input as f.request(null, null)
	f.denied(d, "default", "no_route", "no route matched this request")
}

# What opa-envoy-plugin would send, without ztauthz's keys.
test_plain_opa_envoy_input_denied if {
	d := authz.allow with input as {"attributes": {"request": {"http": {"method": "GET", "path": "/healthz"}}}, "parsed_path": ["healthz"]}
	f.denied(d, "default", "no_route", "no route matched this request")
}

# Health endpoints get nothing here either, even from a known workload.
test_health_route_sent_here_denied if {
	rt := object.union(f.route("kserve-v2", "server_live", null, {}), {"entrypoint": "envoy/authz/allow"})
	d := authz.allow with input as f.request(f.workload(f.fraud_frontend), rt)
	f.denied(d, "default", "route_not_handled", "route not decided by this policy")
}
