# Model inference: the shared /v1/models routes, KServe v1/v2 (HTTP and gRPC),
# TF Serving, Triton (REST and gRPC statistics), OpenAI-compatible servers.
# A caller reaches a model only if the model is in its own tenant, one of its
# roles grants the action on a model it is granted, the end user carries the
# tier the model asks for, and (for batch identities) it is inside its window.
package ztauthz.inference

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "inference"

model := input.route.model

action := input.route.action

models := data.ztauthz_library.models

# Only reached if the checks themselves cannot be built; keeps the answer a
# denial object instead of an undefined decision.
default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz inference: no rule allows this\n",
	"headers": {"x-ztauthz-policy": "inference"},
	"dynamic_metadata": {"rule": "inference.default"},
}

allow := result.decide(family, checks)

# Tenant checks come before any grant, so a grant naming another tenant's
# model (a data mistake) can never take effect. An unknown model gets the
# same body as a foreign one so callers cannot probe other tenants' catalogs.
checks := array.concat(caller.checks, [
	{"ok": route_ok, "rule": "route", "reason": "route not decided by this policy"},
	{"ok": model_named, "rule": "model_required", "reason": "request names no model"},
	{"ok": model_known, "rule": "unknown_model", "reason": "tenant mismatch"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": model_granted, "rule": "model_not_granted", "reason": "model not granted to caller"},
	{"ok": tier_ok, "rule": "tier_claim", "reason": "tier claim required"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

# Model-less actions (server_live, server_ready, server_metadata,
# /v1/models list_models, Triton's all-model stats) cannot be scoped to a
# tenant, so they fail here and nothing in the library allows
# them: a listing would show every tenant's models behind a shared gateway.
default model_named := false

model_named if {
	is_string(model)
	model != ""
}

default model_known := false

model_known if is_object(models[model])

default same_tenant := false

same_tenant if models[model].tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

default model_granted := false

model_granted if grants.permits_on(family, action, "models", model)

# The claim must come from a verified user token; a workload cannot hold a
# tier itself, so service-to-service calls to such a model need a user.
default tier_ok := false

tier_ok if not models[model].requires_tier

tier_ok if input.identity.user.claims.tier == models[model].requires_tier
