# Rules 3 and 7 (features) through ztauthz/features/allow: Feast reads name
# a feature service, pushes a push source, writes a feature view.
package ztauthz.features_test

import rego.v1

import data.ztauthz.features
import data.ztauthz.test.fixtures as f

decide(caller, action, service) := d if {
	d := features.allow with input as f.request(
		f.workload(caller),
		f.route("feast", action, null, {"feature_service": service}),
	)
}

push(caller, source) := d if {
	d := features.allow with input as f.request(f.workload(caller), f.route("feast", "push_features", null, {"push_source": source}))
}

write(caller, view) := d if {
	d := features.allow with input as f.request(f.workload(caller), f.route("feast", "write_features", null, {"feature_view": view}))
}

test_trainer_reads_training_features if {
	f.allowed(decide(f.fraud_trainer, "read_features", "fraud-training-features"), "features")
	f.allowed(decide(f.ml_trainer, "read_features", "fraud-training-features"), "features")
}

test_trainer_may_not_read_online_features if {
	d := decide(f.fraud_trainer, "read_features", "fraud-online-features")
	f.denied(d, "features", "feature_kind", "feature kind not permitted for caller")
}

test_trainer_may_not_push_or_write_features if {
	f.denied(push(f.fraud_trainer, "fraud-transactions-push"), "features", "action_not_permitted", "action not permitted for caller")
	f.denied(write(f.fraud_trainer, "fraud-labels"), "features", "action_not_permitted", "action not permitted for caller")
}

# A push or write names its own object; the feature_service parameter a
# read would carry does not stand in for it.
test_push_and_write_need_their_own_object if {
	d := features.allow with input as f.request(
		f.workload(f.fraud_trainer),
		f.route("feast", "push_features", null, {"feature_service": "fraud-training-features"}),
	)
	f.denied(d, "features", "feature_object_required", "request names no feature service, push source or feature view")
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
	f.denied(d, "features", "unknown_feature_object", "tenant mismatch")
}

# Feast also takes a plain list of features instead of a feature service:
# nothing ties that to a tenant.
test_feature_service_required if {
	d := features.allow with input as f.request(
		f.workload(f.fraud_trainer),
		f.route("feast", "read_features", null, {}),
	)
	f.denied(d, "features", "feature_object_required", "request names no feature service, push source or feature view")
}

test_others_may_not_read_features if {
	f.denied(decide(f.fraud_frontend, "read_features", "fraud-training-features"), "features", "action_not_permitted", "action not permitted for caller")
	f.denied(decide(f.fraud_server, "read_features", "fraud-online-features"), "features", "action_not_permitted", "action not permitted for caller")
	f.denied(decide(f.ml_server, "read_features", "fraud-training-features"), "features", "action_not_permitted", "action not permitted for caller")
}

# A "granted" scope reaches only the listed services.
test_granted_scope_reaches_listed_services_only if {
	lib := f.patched([
		f.set(["roles", "training-feature-reader", "features", "scope"], "granted"),
		f.set(["identities", f.fraud_trainer, "feature_services"], ["fraud-training-features"]),
	])
	f.allowed(decide(f.fraud_trainer, "read_features", "fraud-training-features"), "features") with data.ztauthz_library as lib
	d := decide(f.fraud_trainer, "read_features", "fraud-online-features") with data.ztauthz_library as lib
	f.denied(d, "features", "feature_object_not_granted", "feature object not granted to caller")
}

# Forgetting `kinds` must not open every kind.
test_grant_without_kinds_grants_nothing if {
	lib := f.patched([f.set(["roles", "training-feature-reader", "features"], {"actions": ["read_features"], "scope": "tenant"})])
	d := decide(f.fraud_trainer, "read_features", "fraud-training-features") with data.ztauthz_library as lib
	f.denied(d, "features", "feature_kind", "feature kind not permitted for caller")
}

# A role that may push and write online data: the same tenant, kind and
# scope rules apply to push sources and feature views.
feature_writer := f.patched([
	f.set(["roles", "feature-writer"], {"features": {"actions": ["push_features", "write_features"], "scope": "tenant", "kinds": ["online"]}}),
	f.set(["identities", f.fraud_server, "roles"], ["model-server", "feature-writer"]),
])

test_push_and_write_follow_tenant_and_kind if {
	f.allowed(push(f.fraud_server, "fraud-transactions-push"), "features") with data.ztauthz_library as feature_writer
	f.allowed(write(f.fraud_server, "fraud-transaction-stats"), "features") with data.ztauthz_library as feature_writer
	d1 := push(f.fraud_server, "recs-clicks-push") with data.ztauthz_library as feature_writer
	f.denied(d1, "features", "tenant_mismatch", "tenant mismatch")
	d2 := write(f.fraud_server, "fraud-labels") with data.ztauthz_library as feature_writer
	f.denied(d2, "features", "feature_kind", "feature kind not permitted for caller")
	d3 := push(f.fraud_server, "fraud-unknown-push") with data.ztauthz_library as feature_writer
	f.denied(d3, "features", "unknown_feature_object", "tenant mismatch")

	# The writer grant does not extend to reads.
	d4 := decide(f.fraud_server, "read_features", "fraud-online-features") with data.ztauthz_library as feature_writer
	f.denied(d4, "features", "action_not_permitted", "action not permitted for caller")
}

# "granted" scope for writes reaches the listed push sources only, not a
# same-named entry in another list.
test_granted_scope_lists_are_per_object_kind if {
	lib := f.patched([
		f.set(["roles", "feature-writer"], {"features": {"actions": ["push_features"], "scope": "granted", "kinds": ["online"]}}),
		f.set(["identities", f.fraud_server, "roles"], ["model-server", "feature-writer"]),
		f.set(["identities", f.fraud_server, "feature_services"], ["fraud-transactions-push"]),
	])
	d := push(f.fraud_server, "fraud-transactions-push") with data.ztauthz_library as lib
	f.denied(d, "features", "feature_object_not_granted", "feature object not granted to caller")
	lib2 := json.patch(lib, [f.set(["identities", f.fraud_server, "push_sources"], ["fraud-transactions-push"])])
	f.allowed(push(f.fraud_server, "fraud-transactions-push"), "features") with data.ztauthz_library as lib2
}
