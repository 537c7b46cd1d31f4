# Rules 6 (create_job) and 7 (callee tenant) through ztauthz/training/allow.
package ztauthz.training_test

import rego.v1

import data.ztauthz.test.fixtures as f
import data.ztauthz.training

decide(caller, action, model, params, callee, now) := d if {
	d := training.allow with input as f.request_to(f.workload(caller), f.route("training", action, model, params), callee)
		with time.now_ns as now
}

with_window(w) := f.patched([f.set(["identities", f.recs_batch, "batch"], w)])

create_job(callee, now) := decide(f.recs_batch, "create_job", null, {}, callee, now)

test_batch_creates_job_inside_window if {
	f.allowed(create_job(f.recs_training_service, f.t_0230), "training")
}

test_batch_creates_job_outside_window_denied if {
	f.denied(create_job(f.recs_training_service, f.t_1200), "training", "batch_window", "outside batch window")
}

test_batch_may_not_create_job_in_other_tenant if {
	f.denied(create_job(f.fraud_training_service, f.t_0230), "training", "tenant_mismatch", "tenant mismatch")
}

# Without a callee SVID of the mesh there is no tenant to compare.
test_callee_without_tenant_denied if {
	every callee in [
		"",
		"training.recs.svc.cluster.local",
		"spiffe://partner.example/ns/recs-training/sa/training-operator",
		"spiffe://cluster.local/ns/recs-training/sa/training-operator/extra",
		"spiffe://cluster.local/ns/recs-training/sa/",
		"spiffe://cluster.local/ns/unmapped/sa/training-operator",
	] {
		f.denied(create_job(callee, f.t_0230), "training", "callee_unresolved", "training service has no tenant")
	}
}

test_job_for_other_tenants_model_denied if {
	f.allowed(decide(f.recs_batch, "create_job", "recs-ranker", {}, f.recs_training_service, f.t_0230), "training")
	d := decide(f.recs_batch, "create_job", "fraud-detector", {}, f.recs_training_service, f.t_0230)
	f.denied(d, "training", "model_tenant_mismatch", "tenant mismatch")
}

test_batch_only_creates_jobs if {
	every action in ["cancel_job", "read_job", "list_jobs", "delete_job"] {
		d := decide(f.recs_batch, action, null, {"job": "nightly-42"}, f.recs_training_service, f.t_0230)
		f.denied(d, "training", "action_not_permitted", "action not permitted for caller")
	}
}

test_trainer_may_not_create_jobs if {
	d := decide(f.fraud_trainer, "create_job", null, {}, f.fraud_training_service, f.t_0230)
	f.denied(d, "training", "action_not_permitted", "action not permitted for caller")
}

# A window over midnight: 22:00-02:00.
test_window_wrapping_midnight if {
	w := {"start_utc": "22:00", "end_utc": "02:00"}
	d_night := create_job(f.recs_training_service, f.t_2330)
		with data.ztauthz_library as with_window(w)
	f.allowed(d_night, "training")
	d_early := create_job(f.recs_training_service, f.t_0100)
		with data.ztauthz_library as with_window(w)
	f.allowed(d_early, "training")
	d_noon := create_job(f.recs_training_service, f.t_1200)
		with data.ztauthz_library as with_window(w)
	f.denied(d_noon, "training", "batch_window", "outside batch window")
}

# A malformed or empty window matches no time: batch stays marked.
test_malformed_window_always_denies if {
	every w in [
		{"start_utc": "25:00", "end_utc": "05:00"},
		{"start_utc": "1:00", "end_utc": "05:00"},
		{"start_utc": 60, "end_utc": 300},
		{"start_utc": "03:00", "end_utc": "03:00"},
		{},
		{"start_utc": "01:00"},
		null,
		false,
	] {
		d := create_job(f.recs_training_service, f.t_0230)
			with data.ztauthz_library as with_window(w)
		f.denied(d, "training", "batch_window", "outside batch window")
	}
}
