# Training jobs. Jobs are created at run time and are not listed in
# data.json, so their tenant is the training service's own: the callee's
# SPIFFE ID (Envoy's destination principal) names its namespace, and that
# namespace's tenant must be the caller's.
package ztauthz.training

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "training"

cfg := data.ztauthz_library

action := input.route.action

# Absent and null mean the same here: the route names no model or job.
model := object.get(input.route, "model", null) if is_object(input.route)

job := object.get(input.route, ["params", "job"], null) if is_object(input.route)

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz training: no rule allows this\n",
	"headers": {"x-ztauthz-policy": "training"},
	"dynamic_metadata": {"rule": "training.default"},
}

allow := result.decide(family, checks)

checks := array.concat(caller.checks, [
	{"ok": route_ok, "rule": "route", "reason": "route not decided by this policy"},
	{"ok": callee_known, "rule": "callee_unresolved", "reason": "training service has no tenant"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": model_tenant_ok, "rule": "model_tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": job_granted, "rule": "job_not_granted", "reason": "job not granted to caller"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

# Only the mesh's Kubernetes form counts, on whole segments: anything else
# (another trust domain, a DNS SAN Envoy fell back to, extra path segments)
# leaves the callee without a tenant, which denies.
callee_tenant := t if {
	prefix := concat("", ["spiffe://", cfg.trust_domain, "/ns/"])
	principal := input.attributes.destination.principal
	startswith(principal, prefix)
	parts := split(substring(principal, count(prefix), -1), "/")
	count(parts) == 3
	parts[1] == "sa"
	parts[2] != ""
	t := cfg.namespaces[parts[0]]
	is_string(t)
}

default callee_known := false

callee_known if is_string(callee_tenant)

default same_tenant := false

same_tenant if callee_tenant == caller.tenant

# A job spec may name the model it trains or scores; that model must be the
# caller's tenant's too, or a job could pull another tenant's weights.
default model_tenant_ok := false

model_tenant_ok if model == null

model_tenant_ok if cfg.models[model].tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

# "granted" scope names jobs in the identity's `jobs` list; create_job has
# no job yet, so creating jobs needs a "tenant"-scoped grant.
default job_granted := false

job_granted if grants.permits_on(family, action, "jobs", job)
