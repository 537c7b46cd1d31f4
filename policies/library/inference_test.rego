# Rules 2, 6 (infer), 7 (models) and 8 through ztauthz/inference/allow.
package ztauthz.inference_test

import rego.v1

import data.ztauthz.inference
import data.ztauthz.test.fixtures as f

decide(caller, api, action, model) := d if {
	d := inference.allow with input as f.request(f.workload(caller), f.route(api, action, model, {}))
}

# Rule 2: the frontend, its granted models, inference and the read-only calls.

test_frontend_infers_granted_model if {
	f.allowed(decide(f.fraud_frontend, "kserve-v2", "infer", "fraud-detector"), "inference")
}

test_frontend_reads_readiness_and_metadata if {
	f.allowed(decide(f.fraud_frontend, "kserve-v2", "model_ready", "fraud-detector"), "inference")
	f.allowed(decide(f.fraud_frontend, "kserve-v2-grpc", "model_ready", "fraud-detector"), "inference")
	f.allowed(decide(f.fraud_frontend, "v1-models", "model_metadata", "fraud-detector"), "inference")
	f.allowed(decide(f.fraud_frontend, "tf-serving", "model_metadata", "fraud-detector"), "inference")
}

test_frontend_infers_over_every_inference_api if {
	every api in ["v1-models", "tf-serving", "kserve-v2", "kserve-v2-grpc", "triton", "openai"] {
		f.allowed(decide(f.fraud_frontend, api, "infer", "fraud-detector"), "inference")
	}
}

# The demo mesh's frontend (web namespace, team-fraud) reaches only the
# model it is granted.
test_demo_frontend_infers_its_granted_model_only if {
	f.allowed(decide(f.web_frontend, "kserve-v2", "infer", "fraud-detector"), "inference")
	f.denied(decide(f.web_frontend, "kserve-v2", "infer", "fraud-graph-v2"), "inference", "model_not_granted", "model not granted to caller")
	f.denied(decide(f.web_frontend, "kserve-v2", "infer", "recs-ranker"), "inference", "tenant_mismatch", "tenant mismatch")
	f.denied(decide(f.ml_trainer, "kserve-v2", "infer", "fraud-detector"), "inference", "action_not_permitted", "action not permitted for caller")
	f.denied(decide(f.ml_server, "kserve-v2", "infer", "fraud-detector"), "inference", "action_not_permitted", "action not permitted for caller")
}

test_frontend_may_not_explain if {
	d := decide(f.fraud_frontend, "kserve-v1", "explain", "fraud-detector")
	f.denied(d, "inference", "action_not_permitted", "action not permitted for caller")
}

# Triton's per-model statistics (REST and gRPC) are not an inference client's.
test_frontend_may_not_read_model_stats if {
	every api in ["triton", "triton-grpc"] {
		d := decide(f.fraud_frontend, api, "model_stats", "fraud-detector")
		f.denied(d, "inference", "action_not_permitted", "action not permitted for caller")
	}
}

# The catalogue calls OpenAI embeddings "infer" too: what limits them is the
# model grant, and the embedding model is not granted to the frontend.
test_frontend_may_not_use_ungranted_embedding_model if {
	d := decide(f.recs_frontend, "openai", "infer", "recs-embedder")
	f.denied(d, "inference", "model_not_granted", "model not granted to caller")
}

test_frontend_same_tenant_model_not_granted if {
	d := decide(f.recs_frontend, "kserve-v2", "infer", "recs-embedder")
	f.denied(d, "inference", "model_not_granted", "model not granted to caller")
}

test_other_workloads_may_not_infer if {
	f.denied(
		decide(f.fraud_trainer, "kserve-v2", "infer", "fraud-detector"),
		"inference", "action_not_permitted", "action not permitted for caller",
	)
	f.denied(
		decide(f.fraud_server, "kserve-v2", "infer", "fraud-detector"),
		"inference", "action_not_permitted", "action not permitted for caller",
	)
	f.denied(
		decide(f.fraud_admin, "openai", "infer", "fraud-detector"),
		"inference", "action_not_permitted", "action not permitted for caller",
	)
}

# Model-less actions cannot be tenant-scoped, so nobody gets them.
test_model_less_actions_denied if {
	f.denied(
		decide(f.fraud_frontend, "kserve-v2", "server_ready", null),
		"inference", "model_required", "request names no model",
	)
	f.denied(
		decide(f.fraud_frontend, "v1-models", "list_models", null),
		"inference", "model_required", "request names no model",
	)
	f.denied(
		decide(f.fraud_frontend, "kserve-v2-grpc", "server_metadata", null),
		"inference", "model_required", "request names no model",
	)
	f.denied(
		decide(f.fraud_frontend, "triton", "model_stats", null),
		"inference", "model_required", "request names no model",
	)
	f.denied(
		decide(f.fraud_frontend, "kserve-v2", "infer", ""),
		"inference", "model_required", "request names no model",
	)
}

test_route_of_another_family_denied if {
	d := decide(f.fraud_frontend, "mlflow", "read_model", "fraud-detector")
	f.denied(d, "inference", "route", "route not decided by this policy")

	# triton-grpc is split by action: repository loads are not inference.
	d2 := decide(f.fraud_frontend, "triton-grpc", "load_model", "fraud-detector")
	f.denied(d2, "inference", "route", "route not decided by this policy")
}

test_action_the_api_does_not_have_denied if {
	d := decide(f.fraud_frontend, "kserve-v1", "model_metadata", "fraud-detector")
	f.denied(d, "inference", "route", "route not decided by this policy")
}

# The names the library was first written with are not the catalogue's:
# a route carrying one is refused, not matched loosely.
test_names_outside_the_catalogue_denied if {
	f.denied(decide(f.fraud_frontend, "tfserving", "infer", "fraud-detector"), "inference", "route", "route not decided by this policy")
	f.denied(decide(f.fraud_frontend, "openai", "embed", "fraud-detector"), "inference", "route", "route not decided by this policy")
}

test_null_route_denied if {
	d := inference.allow with input as f.request(f.workload(f.fraud_frontend), null)
	f.denied(d, "inference", "route", "route not decided by this policy")
}

# Rule 7: tenants.

test_cross_tenant_inference_denied if {
	f.denied(
		decide(f.fraud_frontend, "kserve-v2", "infer", "recs-ranker"),
		"inference", "tenant_mismatch", "tenant mismatch",
	)
	f.denied(
		decide(f.recs_frontend, "openai", "infer", "fraud-detector"),
		"inference", "tenant_mismatch", "tenant mismatch",
	)
}

# A grant naming another tenant's model is a data mistake; the tenant check
# runs first and wins.
test_grant_for_other_tenants_model_denied if {
	lib := f.patched([f.set(["identities", f.fraud_frontend, "models"], ["fraud-graph-v2", "recs-ranker"])])

	# The same edit does grant a model of the caller's own tenant.
	f.allowed(decide(f.fraud_frontend, "kserve-v2", "infer", "fraud-graph-v2"), "inference") with data.ztauthz_library as lib
	d := decide(f.fraud_frontend, "kserve-v2", "infer", "recs-ranker") with data.ztauthz_library as lib
	f.denied(d, "inference", "tenant_mismatch", "tenant mismatch")
}

# Unknown and foreign models answer alike, so other catalogs cannot be probed.
test_unknown_model_answers_like_foreign_model if {
	d := decide(f.fraud_frontend, "kserve-v2", "infer", "no-such-model")
	f.denied(d, "inference", "unknown_model", "tenant mismatch")
}

# Rule 8: tier claims.

premium_infer(user_claims) := d if {
	d := inference.allow with input as f.request(
		f.with_user(f.workload(f.fraud_frontend), user_claims),
		f.route("openai", "infer", "fraud-explainer-llm", {}),
	)
}

test_premium_model_with_premium_user_allowed if {
	f.allowed(premium_infer({"tier": "premium"}), "inference")
}

test_premium_model_without_user_denied if {
	d := decide(f.fraud_frontend, "openai", "infer", "fraud-explainer-llm")
	f.denied(d, "inference", "tier_claim", "tier claim required")
}

test_premium_model_user_without_tier_denied if {
	f.denied(premium_infer({}), "inference", "tier_claim", "tier claim required")
}

test_premium_model_wrong_tier_denied if {
	f.denied(premium_infer({"tier": "basic"}), "inference", "tier_claim", "tier claim required")
	f.denied(premium_infer({"tier": "Premium"}), "inference", "tier_claim", "tier claim required")
	f.denied(premium_infer({"tier": ["premium"]}), "inference", "tier_claim", "tier claim required")
}

test_tier_does_not_lift_grants if {
	d := inference.allow with input as f.request(
		f.with_user(f.workload(f.recs_frontend), {"tier": "premium"}),
		f.route("openai", "infer", "recs-embedder", {}),
	)
	f.denied(d, "inference", "model_not_granted", "model not granted to caller")
}

# Rule 6 (infer): the batch scorer, 01:00-05:00 UTC.

batch_infer(model, now) := d if {
	d := inference.allow with input as f.request(f.workload(f.recs_batch), f.route("kserve-v2", "infer", model, {}))
		with time.now_ns as now
}

test_batch_infer_inside_window_allowed if {
	f.allowed(batch_infer("recs-ranker", f.t_0230), "inference")
}

test_batch_infer_outside_window_denied if {
	f.denied(batch_infer("recs-ranker", f.t_1200), "inference", "batch_window", "outside batch window")
}

test_batch_window_start_inclusive_end_exclusive if {
	f.allowed(batch_infer("recs-ranker", f.t_0100), "inference")
	f.allowed(batch_infer("recs-ranker", f.t_0459), "inference")
	f.denied(batch_infer("recs-ranker", f.t_0059), "inference", "batch_window", "outside batch window")
	f.denied(batch_infer("recs-ranker", f.t_0500), "inference", "batch_window", "outside batch window")
}

test_batch_only_infers if {
	d := inference.allow with input as f.request(
		f.workload(f.recs_batch),
		f.route("kserve-v2", "model_ready", "recs-ranker", {}),
	)
		with time.now_ns as f.t_0230
	f.denied(d, "inference", "action_not_permitted", "action not permitted for caller")
}

test_batch_window_does_not_lift_tenant if {
	f.denied(batch_infer("fraud-detector", f.t_0230), "inference", "tenant_mismatch", "tenant mismatch")
}
