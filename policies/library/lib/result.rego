# The result object every entrypoint of the library returns, in
# opa-envoy-plugin's shape, and the one place that turns an ordered list of
# checks into a decision.
package ztauthz.lib.result

import rego.v1

# One header on both outcomes: on allow Envoy sets it on the upstream request
# (replacing any value the client sent, so the upstream can trust it), on deny
# the client sees which family refused without learning more.
headers(family) := {"x-ztauthz-policy": family}

allow(family, rule) := {
	"allowed": true,
	"headers": headers(family),
	"dynamic_metadata": {"rule": rule},
}

# The body goes to the client, so reasons are fixed phrases and never echo
# data (model names, tenants, grants). The precise rule goes to
# dynamic_metadata, which Envoy keeps for its access log and later filters.
deny(family, rule, reason) := object.union(plain_deny(family, rule, reason), {"jsonrpc_error": jsonrpc_error(family, reason)}) if {
	family in jsonrpc_families
} else := plain_deny(family, rule, reason)

plain_deny(family, rule, reason) := {
	"allowed": false,
	"http_status": 403,
	"body": concat("", ["ztauthz ", family, ": ", reason, "\n"]),
	"headers": headers(family),
	"dynamic_metadata": {"rule": rule},
}

# Families that decide MCP and A2A calls (JSON-RPC in a POST body). Their
# denials also carry ztauthz's result field jsonrpc_error: on a JSON-RPC POST
# ztauthz answers it as a JSON-RPC error response, application/json, with the
# request's id filled in (an array for a batch), so agent clients report the
# reason as the error of the call. The id is not known here, and must not be:
# decisions are cached without it (deploy/config/library.yaml). `body` stays
# for the GET and DELETE of MCP sessions and the agent card, which are not
# JSON-RPC, and for opa-envoy-plugin, which ignores the field.
jsonrpc_families := {"agents"}

# -32003: the code ztauthz gives authorization refusals, from the range
# JSON-RPC leaves to servers (docs/routes.md lists ztauthz's codes).
jsonrpc_error(family, reason) := {"code": -32003, "message": concat("", ["ztauthz ", family, ": ", reason])}

# Checks are ordered from the most fundamental (who is calling) to the most
# specific (time of day), so the first failure is the reason worth telling.
# A check passes only when its `ok` is exactly true: a check that is missing,
# undefined or not a boolean denies, and allowing needs every check again
# rather than "no failure found", so a malformed list cannot allow.
decide(family, checks) := deny(family, concat(".", [family, first.rule]), first.reason) if {
	failed := [c | some c in checks; not c.ok == true]
	first := failed[0]
} else := allow(family, concat(".", [family, "granted"])) if {
	count(checks) > 0
	every c in checks {
		c.ok == true
	}
} else := deny(family, concat(".", [family, "default"]), "no rule allows this")
