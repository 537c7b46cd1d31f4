# Rules 4, 5 and 7 (models) through ztauthz/models/allow.
package ztauthz.models_test

import rego.v1

import data.ztauthz.models
import data.ztauthz.test.fixtures as f

decide(caller, api, action, model, params) := d if {
	d := models.allow with input as f.request(f.workload(caller), f.route(api, action, model, params))
}

registry(caller, action, model) := decide(caller, "mlflow", action, model, {})

promote(caller, model, stage) := decide(caller, "mlflow", "promote_model", model, {"stage": stage})

# MLflow's set-alias route: the alias is the promotion's target.
alias(caller, model, a) := decide(caller, "mlflow", "promote_model", model, {"alias": a})

# MLflow's artifact routes: a path under the artifact root, no model.
artifact(caller, action, path) := decide(caller, "mlflow", action, null, {"path": path})

# Rule 4: the serving workload reads and loads its own models.

test_server_reads_own_model_from_registry if {
	every action in ["read_model", "read_model_version", "get_download_uri"] {
		f.allowed(registry(f.fraud_server, action, "fraud-detector"), "models")
	}
}

# What an MLflow client does to fetch a version: get-download-uri, then list
# and download the files under the URI's path (experiment 12 is
# fraud-detector's in data.json).
test_server_downloads_own_models_artifacts if {
	f.allowed(artifact(f.fraud_server, "list_artifacts", "12/0a1b2c/artifacts/model"), "models")
	f.allowed(artifact(f.fraud_server, "download_artifact", "12/0a1b2c/artifacts/model/MLmodel"), "models")
	f.allowed(artifact(f.fraud_server, "download_artifact", "12"), "models")
	f.allowed(artifact(f.ml_server, "download_artifact", "12/0a1b2c/artifacts/model/model.pkl"), "models")
}

test_server_may_not_download_artifacts_of_models_it_does_not_serve if {
	d := artifact(f.fraud_server, "download_artifact", "13/0a1b2c/artifacts/model/MLmodel")
	f.denied(d, "models", "model_not_granted", "model not granted to caller")
	d2 := artifact(f.fraud_server, "download_artifact", "21/0a1b2c/artifacts/model/MLmodel")
	f.denied(d2, "models", "tenant_mismatch", "tenant mismatch")
}

# Prefixes match whole segments; a path under no prefix is an unknown model.
test_artifact_prefix_matches_whole_segments if {
	f.denied(artifact(f.fraud_server, "download_artifact", "123/run/artifacts/x"), "models", "unknown_model", "tenant mismatch")
	f.denied(artifact(f.fraud_server, "download_artifact", "99/run/artifacts/x"), "models", "unknown_model", "tenant mismatch")
}

# list_artifacts takes its path from the query string, which nothing
# canonicalises: climbing out of a prefix is refused.
test_artifact_path_must_be_plain_segments if {
	every p in ["12/../21/run", "12/./x", "12//x", "/12/x", "12/x/", "12\\..\\21", "..", "."] {
		f.denied(artifact(f.fraud_server, "list_artifacts", p), "models", "unknown_model", "tenant mismatch")
	}
}

# Listing the artifact root would show every tenant's experiments.
test_artifact_listing_without_path_denied if {
	d := models.allow with input as f.request(f.workload(f.fraud_server), f.route("mlflow", "list_artifacts", null, {}))
	f.denied(d, "models", "model_required", "request names no model")
	f.denied(artifact(f.fraud_server, "list_artifacts", ""), "models", "model_required", "request names no model")
}

# A route naming a model as well must name the path's own model.
test_artifact_route_naming_another_model_denied if {
	d := decide(f.fraud_server, "mlflow", "download_artifact", "fraud-detector", {"path": "13/run/artifacts/x"})
	f.denied(d, "models", "unknown_model", "tenant mismatch")
	f.allowed(decide(f.fraud_server, "mlflow", "download_artifact", "fraud-detector", {"path": "12/run/artifacts/x"}), "models")
}

# Overlapping prefixes are a data mistake: the path then has no single owner.
test_overlapping_artifact_prefixes_resolve_to_no_model if {
	lib := f.patched([f.set(["models", "fraud-graph-v2", "artifact_prefixes"], ["12/graph"])])
	d := artifact(f.fraud_server, "download_artifact", "12/graph/x") with data.ztauthz_library as lib
	f.denied(d, "models", "unknown_model", "tenant mismatch")
}

test_server_never_uploads_artifacts if {
	d := artifact(f.fraud_server, "upload_artifact", "12/0a1b2c/artifacts/model/MLmodel")
	f.denied(d, "models", "action_not_permitted", "action not permitted for caller")
}

test_server_loads_and_unloads_own_model if {
	f.allowed(decide(f.fraud_server, "triton-repository", "load_model", "fraud-detector", {}), "models")
	f.allowed(decide(f.fraud_server, "triton-repository", "unload_model", "fraud-explainer-llm", {}), "models")
	f.allowed(decide(f.fraud_server, "triton-grpc", "load_model", "fraud-detector", {}), "models")
	f.allowed(decide(f.fraud_server, "triton-grpc", "unload_model", "fraud-detector", {}), "models")
}

test_server_may_not_load_model_it_does_not_serve if {
	d := decide(f.fraud_server, "triton-repository", "load_model", "fraud-graph-v2", {})
	f.denied(d, "models", "model_not_granted", "model not granted to caller")
}

test_server_never_writes_to_registry if {
	every action in ["register_model", "register_model_version"] {
		f.denied(registry(f.fraud_server, action, "fraud-detector"), "models", "action_not_permitted", "action not permitted for caller")
	}
	f.denied(promote(f.fraud_server, "fraud-detector", "Production"), "models", "action_not_permitted", "action not permitted for caller")
	f.denied(alias(f.fraud_server, "fraud-detector", "production"), "models", "action_not_permitted", "action not permitted for caller")
}

test_server_may_not_load_other_tenants_model if {
	d := decide(f.fraud_server, "triton-repository", "load_model", "recs-ranker", {})
	f.denied(d, "models", "tenant_mismatch", "tenant mismatch")
}

test_server_grant_for_other_tenants_model_denied if {
	lib := f.patched([f.set(["identities", f.fraud_server, "models"], ["fraud-graph-v2", "recs-ranker"])])
	f.allowed(registry(f.fraud_server, "get_download_uri", "fraud-graph-v2"), "models") with data.ztauthz_library as lib
	f.allowed(artifact(f.fraud_server, "download_artifact", "13/run/artifacts/model/MLmodel"), "models") with data.ztauthz_library as lib
	d := registry(f.fraud_server, "get_download_uri", "recs-ranker") with data.ztauthz_library as lib
	f.denied(d, "models", "tenant_mismatch", "tenant mismatch")
}

test_frontend_may_not_use_registry if {
	d := artifact(f.fraud_frontend, "download_artifact", "12/run/artifacts/model/MLmodel")
	f.denied(d, "models", "action_not_permitted", "action not permitted for caller")
}

# Rule 5: model management.

test_admin_registers_and_versions_tenant_models if {
	f.allowed(registry(f.fraud_admin, "register_model", "fraud-graph-v2"), "models")
	f.allowed(registry(f.fraud_admin, "register_model_version", "fraud-detector"), "models")
	f.allowed(registry(f.fraud_admin, "read_model_version", "fraud-detector"), "models")
}

# Registering a model not declared in data: it has no tenant yet.
test_admin_may_not_register_undeclared_model if {
	f.denied(registry(f.fraud_admin, "register_model", "fraud-new"), "models", "unknown_model", "tenant mismatch")
}

test_admin_may_not_load_or_download if {
	f.denied(registry(f.fraud_admin, "get_download_uri", "fraud-detector"), "models", "action_not_permitted", "action not permitted for caller")
	f.denied(artifact(f.fraud_admin, "download_artifact", "12/run/artifacts/model/MLmodel"), "models", "action_not_permitted", "action not permitted for caller")
	d := decide(f.fraud_admin, "triton-repository", "load_model", "fraud-detector", {})
	f.denied(d, "models", "action_not_permitted", "action not permitted for caller")
}

test_admin_promotes_to_staging if {
	f.allowed(promote(f.fraud_admin, "fraud-detector", "Staging"), "models")
	f.allowed(promote(f.fraud_admin, "fraud-detector", "archived"), "models")
	f.allowed(alias(f.fraud_admin, "fraud-detector", "staging"), "models")
}

# Aliases are targets like stages: an alias no grant lists is refused.
test_alias_outside_the_grants_stages_denied if {
	f.denied(alias(f.fraud_admin, "fraud-detector", "champion"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(alias(f.fraud_release, "fraud-detector", "champion"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
}

# A promotion naming a stage and an alias has no single target.
test_promotion_with_stage_and_alias_denied if {
	d := decide(f.fraud_release, "mlflow", "promote_model", "fraud-detector", {"stage": "Production", "alias": "production"})
	f.denied(d, "models", "stage_required", "promotion names no stage")
}

test_admin_may_not_promote_to_production if {
	f.denied(promote(f.fraud_admin, "fraud-detector", "Production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(promote(f.fraud_admin, "fraud-detector", "production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(promote(f.fraud_admin, "fraud-detector", " Production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(alias(f.fraud_admin, "fraud-detector", "Production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(alias(f.fraud_admin, "fraud-detector", "production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
}

test_release_promotes_to_production if {
	f.allowed(promote(f.fraud_release, "fraud-detector", "Production"), "models")
	f.allowed(promote(f.fraud_release, "fraud-graph-v2", "PRODUCTION"), "models")
	f.allowed(alias(f.fraud_release, "fraud-detector", "production"), "models")
}

test_release_may_not_register if {
	f.denied(registry(f.fraud_release, "register_model", "fraud-graph-v2"), "models", "action_not_permitted", "action not permitted for caller")
}

test_promotion_without_stage_denied if {
	f.denied(registry(f.fraud_release, "promote_model", "fraud-detector"), "models", "stage_required", "promotion names no stage")
	f.denied(promote(f.fraud_release, "fraud-detector", ""), "models", "stage_required", "promotion names no stage")
	f.denied(alias(f.fraud_release, "fraud-detector", ""), "models", "stage_required", "promotion names no stage")
}

test_release_may_not_promote_other_tenants_model if {
	f.denied(promote(f.fraud_release, "recs-ranker", "Production"), "models", "tenant_mismatch", "tenant mismatch")
}

test_admin_may_not_touch_other_tenants_models if {
	f.denied(registry(f.fraud_admin, "register_model", "recs-embedder"), "models", "tenant_mismatch", "tenant mismatch")
	f.denied(registry(f.fraud_admin, "register_model_version", "recs-ranker"), "models", "tenant_mismatch", "tenant mismatch")
}

# Deletion is refused in Rego, so not even a role that lists it gets it.
test_delete_model_never_allowed if {
	f.denied(registry(f.fraud_admin, "delete_model", "fraud-detector"), "models", "delete_forbidden", "model deletion is not allowed through the mesh")
	lib := f.patched([f.set(["roles", "model-manager", "models", "actions"], ["delete_model"])])
	d := registry(f.fraud_admin, "delete_model", "fraud-detector") with data.ztauthz_library as lib
	f.denied(d, "models", "delete_forbidden", "model deletion is not allowed through the mesh")
}

# Versions and artifact files are the model too: deleting them is refused
# the same way, even for a role that lists the action.
test_version_and_artifact_deletion_never_allowed if {
	lib := f.patched([f.set(["roles", "model-manager", "models", "actions"], ["delete_model_version", "delete_artifact"])])
	d1 := registry(f.fraud_admin, "delete_model_version", "fraud-detector") with data.ztauthz_library as lib
	f.denied(d1, "models", "delete_forbidden", "model deletion is not allowed through the mesh")
	d2 := artifact(f.fraud_admin, "delete_artifact", "12/run/artifacts/model/MLmodel") with data.ztauthz_library as lib
	f.denied(d2, "models", "delete_forbidden", "model deletion is not allowed through the mesh")
}

test_model_less_listings_denied if {
	f.denied(registry(f.fraud_admin, "search_models", null), "models", "model_required", "request names no model")
	d := decide(f.fraud_server, "triton-repository", "list_models", null, {})
	f.denied(d, "models", "model_required", "request names no model")
	d2 := decide(f.fraud_server, "triton-grpc", "list_models", null, {})
	f.denied(d2, "models", "model_required", "request names no model")
}

test_inference_route_sent_here_denied if {
	d := decide(f.fraud_server, "kserve-v2", "infer", "fraud-detector", {})
	f.denied(d, "models", "route", "route not decided by this policy")

	# triton-grpc statistics belong to inference, not here.
	d2 := decide(f.fraud_server, "triton-grpc", "model_stats", "fraud-detector", {})
	f.denied(d2, "models", "route", "route not decided by this policy")

	# The library's first, assumed vocabulary is refused, not matched loosely.
	d3 := decide(f.fraud_server, "model-registry", "get_model", "fraud-detector", {})
	f.denied(d3, "models", "route", "route not decided by this policy")
}
