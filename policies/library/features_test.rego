# Rules 3 and 7 (features) through ztauthz/features/allow.
package ztauthz.features_test

import rego.v1

import data.ztauthz.features
import data.ztauthz.test.fixtures as f

decide(caller, action, service) := d if {
	d := features.allow with input as f.request(
		f.workload(caller),
		f.route("feature-store", action, null, {"feature_service": service}),
	)
}

test_trainer_reads_training_features if {
	f.allowed(decide(f.fraud_trainer, "read_features", "fraud-training-features"), "features")
}

test_trainer_may_not_read_online_features if {
	d := decide(f.fraud_trainer, "read_features", "fraud-online-features")
	f.denied(d, "features", "feature_kind", "feature kind not permitted for caller")
}

test_trainer_may_not_push_features if {
	d := decide(f.fraud_trainer, "push_features", "fraud-training-features")
	f.denied(d, "features", "action_not_permitted", "action not permitted for caller")
}

test_trainer_may_not_read_other_tenants_features if {
	d := decide(f.fraud_trainer, "read_features", "recs-training-features")
	f.denied(d, "features", "tenant_mismatch", "tenant mismatch")
}

test_trainer_grant_for_other_tenants_features_denied if {
	lib := f.patched([
		f.set(["roles", "training-feature-reader", "features", "scope"], "granted"),
		f.set(["identities", f.fraud_trainer, "feature_services"], ["fraud-training-features", "recs-training-features"]),
	])
	f.allowed(decide(f.fraud_trainer, "read_features", "fraud-training-features"), "features") with data.ztauthz_library as lib
	d := decide(f.fraud_trainer, "read_features", "recs-training-features") with data.ztauthz_library as lib
	f.denied(d, "features", "tenant_mismatch", "tenant mismatch")
}

test_unknown_feature_service_answers_like_foreign if {
	d := decide(f.fraud_trainer, "read_features", "fraud-secret-features")
	f.denied(d, "features", "unknown_feature_service", "tenant mismatch")
}

test_feature_service_required if {
	d := features.allow with input as f.request(
		f.workload(f.fraud_trainer),
		f.route("feature-store", "read_features", null, {}),
	)
	f.denied(d, "features", "feature_service_required", "request names no feature service")
}

test_others_may_not_read_features if {
	f.denied(decide(f.fraud_frontend, "read_features", "fraud-training-features"), "features", "action_not_permitted", "action not permitted for caller")
	f.denied(decide(f.fraud_server, "read_features", "fraud-online-features"), "features", "action_not_permitted", "action not permitted for caller")
}

# A "granted" scope reaches only the listed services.
test_granted_scope_reaches_listed_services_only if {
	lib := f.patched([
		f.set(["roles", "training-feature-reader", "features", "scope"], "granted"),
		f.set(["identities", f.fraud_trainer, "feature_services"], ["fraud-training-features"]),
	])
	f.allowed(decide(f.fraud_trainer, "read_features", "fraud-training-features"), "features") with data.ztauthz_library as lib
	d := decide(f.fraud_trainer, "read_features", "fraud-online-features") with data.ztauthz_library as lib
	f.denied(d, "features", "feature_service_not_granted", "feature service not granted to caller")
}

# Forgetting `kinds` must not open every kind.
test_grant_without_kinds_grants_nothing if {
	lib := f.patched([f.set(["roles", "training-feature-reader", "features"], {"actions": ["read_features"], "scope": "tenant"})])
	d := decide(f.fraud_trainer, "read_features", "fraud-training-features") with data.ztauthz_library as lib
	f.denied(d, "features", "feature_kind", "feature kind not permitted for caller")
}
