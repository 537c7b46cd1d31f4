# Rules 4, 5 and 7 (models) through ztauthz/models/allow.
package ztauthz.models_test

import rego.v1

import data.ztauthz.models
import data.ztauthz.test.fixtures as f

decide(caller, api, action, model, params) := d if {
	d := models.allow with input as f.request(f.workload(caller), f.route(api, action, model, params))
}

registry(caller, action, model) := decide(caller, "model-registry", action, model, {})

promote(caller, model, stage) := decide(caller, "model-registry", "promote_model", model, {"stage": stage})

# Rule 4: the serving workload reads and loads its own models.

test_server_reads_own_model_from_registry if {
	every action in ["get_model", "get_version", "download_artifact"] {
		f.allowed(registry(f.fraud_server, action, "fraud-detector"), "models")
	}
}

test_server_loads_and_unloads_own_model if {
	f.allowed(decide(f.fraud_server, "triton-repository", "load_model", "fraud-detector", {}), "models")
	f.allowed(decide(f.fraud_server, "triton-repository", "unload_model", "fraud-explainer-llm", {}), "models")
}

test_server_may_not_load_model_it_does_not_serve if {
	d := decide(f.fraud_server, "triton-repository", "load_model", "fraud-graph-v2", {})
	f.denied(d, "models", "model_not_granted", "model not granted to caller")
}

test_server_never_writes_to_registry if {
	every action in ["register_model", "create_version"] {
		f.denied(registry(f.fraud_server, action, "fraud-detector"), "models", "action_not_permitted", "action not permitted for caller")
	}
	f.denied(promote(f.fraud_server, "fraud-detector", "Production"), "models", "action_not_permitted", "action not permitted for caller")
}

test_server_may_not_load_other_tenants_model if {
	d := decide(f.fraud_server, "triton-repository", "load_model", "recs-ranker", {})
	f.denied(d, "models", "tenant_mismatch", "tenant mismatch")
}

test_server_grant_for_other_tenants_model_denied if {
	lib := f.patched([f.set(["identities", f.fraud_server, "models"], ["fraud-graph-v2", "recs-ranker"])])
	f.allowed(registry(f.fraud_server, "download_artifact", "fraud-graph-v2"), "models") with data.ztauthz_library as lib
	d := registry(f.fraud_server, "download_artifact", "recs-ranker") with data.ztauthz_library as lib
	f.denied(d, "models", "tenant_mismatch", "tenant mismatch")
}

test_frontend_may_not_use_registry if {
	d := registry(f.fraud_frontend, "download_artifact", "fraud-detector")
	f.denied(d, "models", "action_not_permitted", "action not permitted for caller")
}

# Rule 5: model management.

test_admin_registers_and_versions_tenant_models if {
	f.allowed(registry(f.fraud_admin, "register_model", "fraud-graph-v2"), "models")
	f.allowed(registry(f.fraud_admin, "create_version", "fraud-detector"), "models")
	f.allowed(registry(f.fraud_admin, "get_version", "fraud-detector"), "models")
}

# Registering a model not declared in data: it has no tenant yet.
test_admin_may_not_register_undeclared_model if {
	f.denied(registry(f.fraud_admin, "register_model", "fraud-new"), "models", "unknown_model", "tenant mismatch")
}

test_admin_may_not_load_or_download if {
	f.denied(registry(f.fraud_admin, "download_artifact", "fraud-detector"), "models", "action_not_permitted", "action not permitted for caller")
	d := decide(f.fraud_admin, "triton-repository", "load_model", "fraud-detector", {})
	f.denied(d, "models", "action_not_permitted", "action not permitted for caller")
}

test_admin_promotes_to_staging if {
	f.allowed(promote(f.fraud_admin, "fraud-detector", "Staging"), "models")
	f.allowed(promote(f.fraud_admin, "fraud-detector", "archived"), "models")
}

test_admin_may_not_promote_to_production if {
	f.denied(promote(f.fraud_admin, "fraud-detector", "Production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(promote(f.fraud_admin, "fraud-detector", "production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
	f.denied(promote(f.fraud_admin, "fraud-detector", " Production"), "models", "stage_not_permitted", "promotion to this stage not permitted for caller")
}

test_release_promotes_to_production if {
	f.allowed(promote(f.fraud_release, "fraud-detector", "Production"), "models")
	f.allowed(promote(f.fraud_release, "fraud-graph-v2", "PRODUCTION"), "models")
}

test_release_may_not_register if {
	f.denied(registry(f.fraud_release, "register_model", "fraud-graph-v2"), "models", "action_not_permitted", "action not permitted for caller")
}

test_promotion_without_stage_denied if {
	f.denied(registry(f.fraud_release, "promote_model", "fraud-detector"), "models", "stage_required", "promotion names no stage")
	f.denied(promote(f.fraud_release, "fraud-detector", ""), "models", "stage_required", "promotion names no stage")
}

test_release_may_not_promote_other_tenants_model if {
	f.denied(promote(f.fraud_release, "recs-ranker", "Production"), "models", "tenant_mismatch", "tenant mismatch")
}

test_admin_may_not_touch_other_tenants_models if {
	f.denied(registry(f.fraud_admin, "register_model", "recs-embedder"), "models", "tenant_mismatch", "tenant mismatch")
	f.denied(registry(f.fraud_admin, "create_version", "recs-ranker"), "models", "tenant_mismatch", "tenant mismatch")
}

# Deletion is refused in Rego, so not even a role that lists it gets it.
test_delete_model_never_allowed if {
	f.denied(registry(f.fraud_admin, "delete_model", "fraud-detector"), "models", "delete_forbidden", "model deletion is not allowed through the mesh")
	lib := f.patched([f.set(["roles", "model-manager", "models", "actions"], ["delete_model"])])
	d := registry(f.fraud_admin, "delete_model", "fraud-detector") with data.ztauthz_library as lib
	f.denied(d, "models", "delete_forbidden", "model deletion is not allowed through the mesh")
}

test_model_less_listings_denied if {
	f.denied(registry(f.fraud_admin, "search_models", null), "models", "model_required", "request names no model")
	d := decide(f.fraud_server, "triton-repository", "list_models", null, {})
	f.denied(d, "models", "model_required", "request names no model")
}

test_inference_route_sent_here_denied if {
	d := decide(f.fraud_server, "kserve-v2", "infer", "fraud-detector", {})
	f.denied(d, "models", "route", "route not decided by this policy")
}
