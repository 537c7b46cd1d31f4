# The MLflow model registry and artifact store, and Triton's model repository
# API (REST and gRPC). Serving workloads read and load their own models;
# model managers write within their tenant; only a release identity may
# promote to Production; nobody deletes a model, a version or an artifact
# through the mesh.
package ztauthz.models

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "models"

action := input.route.action

models := data.ztauthz_library.models

# Deleting a registered model destroys its lineage for every consumer and
# cannot be undone by a later request; so does deleting one of its versions
# or the artifact files a version points at (every consumer of that version
# breaks). They stay break-glass operations done outside the mesh, whatever
# a role in data.json says.
forbidden_actions := {"delete_model", "delete_model_version", "delete_artifact"}

# MLflow's artifact routes name a path under the artifact root, not a model.
artifact_actions := {"list_artifacts", "download_artifact", "upload_artifact", "delete_artifact"}

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
# tenant's models from a shared registry; they fail here. So does an
# artifact listing without a path (the artifact root holds every tenant's
# experiments).
default model_named := false

model_named if {
	not action in artifact_actions
	named(input.route.model)
}

model_named if {
	action in artifact_actions
	named(input.route.params.path)
}

named(s) if {
	is_string(s)
	s != ""
}

# The model a request is about. For the artifact routes it is the one model
# whose artifact_prefixes hold the path; a route that also names a model
# must name that same one, so a model name cannot vouch for another model's
# files.
model := input.route.model if not action in artifact_actions

model := artifact_model if {
	action in artifact_actions
	object.get(input.route, "model", null) in {null, artifact_model}
}

# Exactly one owner: overlapping prefixes (a data mistake data_test.rego
# catches) resolve to no model rather than to whichever is found first.
artifact_model := m if {
	path := input.route.params.path
	safe_artifact_path(path)
	owners := {name |
		some name, spec in models
		some prefix in spec.artifact_prefixes
		under_prefix(path, prefix)
	}
	count(owners) == 1
	some m in owners
}

# The download route's path is ztauthz's canonical path (no empty, "." or
# ".." segments, no encoded "/"), but list_artifacts takes it from the query
# string, which nothing canonicalises: refuse what could climb out of a
# prefix or be read differently by the registry.
safe_artifact_path(p) if {
	regex.match(`^[^/\\]+(/[^/\\]+)*$`, p)
	every seg in split(p, "/") {
		not seg in {".", ".."}
	}
}

# Whole segments only: prefix "12" holds "12/run/x" but not "123/run/x".
under_prefix(path, prefix) if {
	is_string(prefix)
	prefix != ""
	path == prefix
}

under_prefix(path, prefix) if {
	is_string(prefix)
	prefix != ""
	startswith(path, concat("", [prefix, "/"]))
}

# register_model too needs the model declared in data.json first: that
# declaration is what gives a new model its tenant. An artifact path under no
# model's prefix (or under several) is answered like an unknown model.
default model_known := false

model_known if is_object(models[model])

default same_tenant := false

same_tenant if models[model].tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

default model_granted := false

model_granted if grants.permits_on(family, action, "models", model)

# MLflow promotes two ways: transition-stage names a stage (params.stage),
# set-alias names an alias (params.alias) that servers load by
# ("models:/fraud-detector@production"). Both are the promotion's target and
# both are checked against the grant's `stages`; a request naming both, or
# neither, has no single target and is refused.
stage := input.route.params.stage if {
	stage_given
	not alias_given
}

stage := input.route.params.alias if {
	alias_given
	not stage_given
}

# Helper rules, not `not named(input.route.params.alias)`: OPA hoists the
# argument out of the negation, so with no such key that would be undefined
# rather than true.
stage_given if named(input.route.params.stage)

alias_given if named(input.route.params.alias)

default stage_named := false

stage_named if action != "promote_model"

stage_named if named(stage)

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
