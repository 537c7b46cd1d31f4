# Inputs shaped like ztauthz's (input.identity, input.route) on top of
# opa-envoy-plugin's, and assertions on the result object. Shared by every
# test file of the library; left out of builds with the other *_test.rego.
package ztauthz.test.fixtures

import rego.v1

fraud_frontend := "spiffe://cluster.local/ns/fraud-web/sa/frontend"

recs_frontend := "spiffe://cluster.local/ns/recs-web/sa/frontend"

fraud_server := "spiffe://cluster.local/ns/fraud-serving/sa/model-server"

recs_server := "spiffe://cluster.local/ns/recs-serving/sa/model-server"

fraud_trainer := "spiffe://cluster.local/ns/fraud-training/sa/trainer"

fraud_admin := "spiffe://cluster.local/ns/fraud-mlops/sa/registry-admin"

fraud_release := "spiffe://cluster.local/ns/fraud-mlops/sa/release"

recs_batch := "spiffe://cluster.local/ns/recs-batch/sa/batch-scorer"

recs_training_service := "spiffe://cluster.local/ns/recs-training/sa/training-operator"

fraud_training_service := "spiffe://cluster.local/ns/fraud-training/sa/training-operator"

# Agents (MCP clients, A2A agents) and the MCP servers they call.
planner := "spiffe://cluster.local/ns/fraud-agents/sa/planner"

reviewer := "spiffe://cluster.local/ns/fraud-agents/sa/reviewer"

recs_assistant := "spiffe://cluster.local/ns/recs-agents/sa/assistant"

docs_mcp := "spiffe://cluster.local/ns/fraud-agents/sa/docs-mcp"

catalog_mcp := "spiffe://cluster.local/ns/recs-agents/sa/catalog-mcp"

# The demo mesh's workloads (README, test/fixtures/requests, the mesh e2e
# test), part of team-fraud.
web_frontend := "spiffe://cluster.local/ns/web/sa/frontend"

ml_server := "spiffe://cluster.local/ns/ml-serving/sa/model-server"

ml_trainer := "spiffe://cluster.local/ns/ml-training/sa/trainer"

# 2025-01-15 in UTC; the batch scorer's window is 01:00-05:00.
t_0230 := 1736908200000000000

t_0100 := 1736902800000000000

t_0059 := 1736902799000000000

t_0459 := 1736917199000000000

t_0500 := 1736917200000000000

t_1200 := 1736942400000000000

t_2330 := 1736983800000000000

# input.identity as ztauthz builds it for a Kubernetes-form SVID.
workload(id) := {
	"spiffe_id": id,
	"trust_domain": parts[2],
	"path": concat("/", ["", "ns", parts[4], "sa", parts[6]]),
	"namespace": parts[4],
	"service_account": parts[6],
	"source": "certificate",
	"peer": null,
	"user": null,
} if {
	parts := split(id, "/")
	count(parts) == 7
}

with_user(identity, claims) := object.union(identity, {"user": {
	"iss": "https://idp.example.com",
	"sub": "alice",
	"aud": ["ztauthz"],
	"claims": object.union({"sub": "alice"}, claims),
}})

# As deploy/config/library.yaml routes the catalogue's apis. triton-grpc
# is split there by route; its model_stats route goes to inference.
entrypoints := {
	"v1-models": "ztauthz/inference/allow",
	"kserve-v1": "ztauthz/inference/allow",
	"tf-serving": "ztauthz/inference/allow",
	"kserve-v2": "ztauthz/inference/allow",
	"kserve-v2-grpc": "ztauthz/inference/allow",
	"triton": "ztauthz/inference/allow",
	"openai": "ztauthz/inference/allow",
	"mlflow": "ztauthz/models/allow",
	"triton-repository": "ztauthz/models/allow",
	"triton-grpc": "ztauthz/models/allow",
	"feast": "ztauthz/features/allow",
	"training": "ztauthz/training/allow",
	"mcp": "ztauthz/agents/allow",
	"a2a": "ztauthz/agents/allow",
}

route(api, action, model, params) := {
	"name": concat("-", [api, action]),
	"api": api,
	"action": action,
	"model": model,
	"version": null,
	"params": params,
	"entrypoint": entrypoint(api, action),
}

entrypoint(api, action) := "ztauthz/inference/allow" if {
	api == "triton-grpc"
	action == "model_stats"
} else := object.get(entrypoints, api, "envoy/authz/allow")

# Envoy's destination principal is the callee sidecar's SVID; only the
# training family reads it.
request_to(identity, rt, callee) := {
	"attributes": {
		"source": {"principal": principal(identity)},
		"destination": {"principal": callee},
		"request": {"http": {"method": "POST", "path": "/", "host": "svc", "headers": {}}},
	},
	"version": {"ext_authz": "v3", "encoding": "protojson"},
	"parsed_path": [""],
	"parsed_query": {},
	"identity": identity,
	"route": rt,
}

# What Envoy would have sent as source.principal; the library never reads it,
# but inputs should look real.
principal(identity) := identity.spiffe_id if is_string(identity.spiffe_id)

else := ""

request(identity, rt) := request_to(identity, rt, "spiffe://cluster.local/ns/unused/sa/unused")

infer(caller, model) := request(workload(caller), route("kserve-v2", "infer", model, {"model_name": model}))

allowed(d, family) if {
	d.allowed == true
	d.headers == {"x-ztauthz-policy": family}
	d.dynamic_metadata == {"rule": concat(".", [family, "granted"])}
	not d.http_status
	not d.body
}

denied(d, family, rule, reason) if {
	d.allowed == false
	d.http_status == 403
	d.body == concat("", ["ztauthz ", family, ": ", reason, "\n"])
	d.headers == {"x-ztauthz-policy": family}
	d.dynamic_metadata == {"rule": concat(".", [family, rule])}
	jsonrpc_error_ok(d, family, reason)
}

# Agents' denials carry the JSON-RPC error ztauthz answers MCP and A2A calls
# with (lib/result.rego); other families' do not.
jsonrpc_error_ok(d, "agents", reason) if d.jsonrpc_error == {"code": -32003, "message": concat("", ["ztauthz agents: ", reason])}

jsonrpc_error_ok(d, family, _) if {
	family != "agents"
	not d.jsonrpc_error
}

# data.json with JSON-patch edits, to be used whole:
#   with data.ztauthz_library as f.patched([...])
# Overriding a deeper path instead is unreliable here: OPA merges an object
# given to `with` into the original when the policy reads a parent of the
# overridden path (as caller.cfg does), so keys meant to disappear survive.
patched(ops) := json.patch(data.ztauthz_library, ops)

set(path, value) := {"op": "add", "path": path, "value": value}
