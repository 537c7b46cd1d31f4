# Model registry (MLflow-style) and Triton's model repository API.
# Serving workloads read and load their own models; model managers write
# within their tenant; only a release identity may promote to Production;
# nobody deletes a model through the mesh.
package ztauthz.models

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "models"

model := input.route.model

action := input.route.action

models := data.ztauthz_library.models

# Deleting a registered model destroys its lineage for every consumer and
# cannot be undone by a later request; it stays a break-glass operation
# done outside the mesh, whatever a role in data.json says.
forbidden_actions := {"delete_model"}

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz models: no rule allows this\n",
	"headers": {"x-ztauthz-policy": "models"},
	"dynamic_metadata": {"rule": "models.default"},
}

allow := result.decide(family, checks)

checks := array.concat(caller.checks, [
	{"ok": route_ok, "rule": "route", "reason": "route not decided by this policy"},
	{"ok": not_forbidden, "rule": "delete_forbidden", "reason": "model deletion is not allowed through the mesh"},
	{"ok": model_named, "rule": "model_required", "reason": "request names no model"},
	{"ok": model_known, "rule": "unknown_model", "reason": "tenant mismatch"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": model_granted, "rule": "model_not_granted", "reason": "model not granted to caller"},
	{"ok": stage_named, "rule": "stage_required", "reason": "promotion names no stage"},
	{"ok": stage_ok, "rule": "stage_not_permitted", "reason": "promotion to this stage not permitted for caller"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

default not_forbidden := false

not_forbidden if not action in forbidden_actions

# search_models and Triton's list_models name no model and would list every
# tenant's models from a shared registry; they fail here.
default model_named := false

model_named if {
	is_string(model)
	model != ""
}

# register_model too needs the model declared in data.json first: that
# declaration is what gives a new model its tenant.
default model_known := false

model_known if is_object(models[model])

default same_tenant := false

same_tenant if models[model].tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

default model_granted := false

model_granted if grants.permits_on(family, action, "models", model)

stage := input.route.params.stage

default stage_named := false

stage_named if action != "promote_model"

stage_named if {
	is_string(stage)
	stage != ""
}

# Registries match stage names case-insensitively (MLflow does), so the
# comparison must too, or "production" would slip past a "Production" rule.
# The stage must be allowed by the same grant that allows the promotion.
default stage_ok := false

stage_ok if action != "promote_model"

stage_ok if {
	action == "promote_model"
	some g in grants.for_family(family)
	action in g.actions
	grants.covers(g, "models", model)
	lower(stage) in {lower(s) | some s in g.stages}
}
