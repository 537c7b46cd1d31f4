# The default decision path, opa-envoy-plugin's envoy/authz/allow. ztauthz
# sends here every request no route matched (input.route is null), so it
# knows nothing about what is asked and denies everything, health endpoints
# included: per-model readiness is model_ready, decided by the inference
# family with tenant and grant checks, and kubelet probes do not pass
# through ext_authz (Istio rewrites them to the sidecar agent).
package envoy.authz

import rego.v1

import data.ztauthz.lib.result

# A helper rule rather than `not is_object(input.route)`: OPA hoists the
# argument out of the negation, so with no `route` key at all (plain
# opa-envoy-plugin input) that expression is undefined, not true.
has_route if is_object(input.route)

allow := result.deny("default", "default.no_route", "no route matched this request") if {
	not has_route
} else := result.deny("default", "default.route_not_handled", "route not decided by this policy")
