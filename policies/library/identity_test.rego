# Rules 1 and 9 and the caller checks every family shares: no identity, no
# workload, foreign trust domain, unknown workload, no tenant.
package ztauthz.identity_test

import rego.v1

import data.ztauthz.features
import data.ztauthz.inference
import data.ztauthz.models
import data.ztauthz.test.fixtures as f
import data.ztauthz.training

infer_route := f.route("kserve-v2", "infer", "fraud-detector", {})

test_null_identity_denied if {
	d := inference.allow with input as f.request(null, infer_route)
	f.denied(d, "inference", "identity_missing", "no verified identity")
}

# An opa-envoy-plugin-shaped input, without ztauthz's keys at all, must not
# get further than one with identity null.
test_input_without_identity_key_denied if {
	d := inference.allow with input as {"attributes": {
		"source": {"principal": f.fraud_frontend},
		"request": {"http": {"method": "POST", "path": "/v2/models/fraud-detector/infer"}},
	}}
	f.denied(d, "inference", "identity_missing", "no verified identity")
}

test_null_identity_denied_by_every_family if {
	dm := models.allow with input as f.request(null, f.route("mlflow", "read_model", "fraud-detector", {}))
	f.denied(dm, "models", "identity_missing", "no verified identity")
	fs_route := f.route("feast", "read_features", null, {"feature_service": "fraud-training-features"})
	df := features.allow with input as f.request(null, fs_route)
	f.denied(df, "features", "identity_missing", "no verified identity")
	dt := training.allow with input as f.request_to(null, f.route("training", "create_job", null, {}), f.recs_training_service)
	f.denied(dt, "training", "identity_missing", "no verified identity")
}

# A verified user token with a premium tier is still not a workload.
test_user_without_workload_denied if {
	ident := {
		"spiffe_id": null, "trust_domain": null, "path": null, "namespace": null,
		"service_account": null, "source": null, "peer": null,
		"user": {"iss": "https://idp.example.com", "sub": "alice", "aud": ["ztauthz"], "claims": {"tier": "premium"}},
	}
	d := inference.allow with input as f.request(ident, infer_route)
	f.denied(d, "inference", "workload_missing", "workload identity required")
}

test_mesh_trust_domain_allowed if {
	d := inference.allow with input as f.request(f.workload(f.fraud_frontend), infer_route)
	f.allowed(d, "inference")
}

# Same path, other trust domain: a different authority vouched for it.
test_foreign_trust_domain_denied if {
	d := inference.allow with input as f.request(f.workload("spiffe://partner.example/ns/fraud-web/sa/frontend"), infer_route)
	f.denied(d, "inference", "trust_domain", "caller outside the mesh trust domain")
}

test_lookalike_trust_domain_denied if {
	d := inference.allow with input as f.request(f.workload("spiffe://cluster.local.evil/ns/fraud-web/sa/frontend"), infer_route)
	f.denied(d, "inference", "trust_domain", "caller outside the mesh trust domain")
}

# In the mesh's namespace, but no entry in data: being in the right
# namespace grants nothing.
test_unknown_workload_denied if {
	d := inference.allow with input as f.request(f.workload("spiffe://cluster.local/ns/fraud-web/sa/intruder"), infer_route)
	f.denied(d, "inference", "unknown_workload", "unknown workload")
}

test_caller_in_unmapped_namespace_denied if {
	id := "spiffe://cluster.local/ns/sandbox/sa/frontend"
	d := inference.allow with input as f.request(f.workload(id), infer_route)
		with data.ztauthz_library as f.patched([f.set(["identities", id], {"roles": ["inference-client"], "models": ["fraud-detector"]})])
	f.denied(d, "inference", "tenant_unresolved", "caller has no tenant")
}

# A SPIFFE ID outside the Kubernetes form has no namespace, so no tenant,
# even if someone lists it in data.
test_non_kubernetes_id_has_no_tenant if {
	id := "spiffe://cluster.local/gpu-node/7"
	ident := object.union(f.workload(f.fraud_frontend), {"spiffe_id": id, "path": "/gpu-node/7", "namespace": null, "service_account": null})
	d := inference.allow with input as f.request(ident, infer_route)
		with data.ztauthz_library as f.patched([f.set(["identities", id], {"roles": ["inference-client"], "models": ["fraud-detector"]})])
	f.denied(d, "inference", "tenant_unresolved", "caller has no tenant")
}

# The identity checks come before the route check: a caller without an
# identity learns nothing about routing.
test_identity_checked_before_route if {
	d := inference.allow with input as f.request(null, null)
	f.denied(d, "inference", "identity_missing", "no verified identity")
}
