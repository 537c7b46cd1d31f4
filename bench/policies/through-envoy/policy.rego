# The Envoy suite's policy: Envoy builds the CheckRequest itself from a
# plaintext gRPC call (no client certificate, so no source.principal), and
# the call is ghz's envoy.service.auth.v3.Authorization/Check to the
# upstream. Allow exactly that call, so that a run that is denied (or that
# does not reach the authz server) fails its decision check instead of
# measuring 403s. ztauthz and opa-envoy-plugin load it unchanged (package
# envoy.authz: the plugin's path envoy/authz/allow).
package envoy.authz

import rego.v1

default allow := false

allow if {
	input.attributes.request.http.method == "POST"
	input.attributes.request.http.path == "/envoy.service.auth.v3.Authorization/Check"
	input.attributes.request.http.headers["content-type"] == "application/grpc"
}
