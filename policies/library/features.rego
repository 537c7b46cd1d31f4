# Feature store: feature services belong to a tenant and have a kind
# (e.g. "training" for offline training sets, "online" for serving). Grants
# name which kinds a role may touch, so a training job cannot read the
# online store even inside its own tenant.
package ztauthz.features

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "features"

action := input.route.action

service := input.route.params.feature_service

services := data.ztauthz_library.feature_services

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz features: no rule allows this\n",
	"headers": {"x-ztauthz-policy": "features"},
	"dynamic_metadata": {"rule": "features.default"},
}

allow := result.decide(family, checks)

checks := array.concat(caller.checks, [
	{"ok": route_ok, "rule": "route", "reason": "route not decided by this policy"},
	{"ok": service_named, "rule": "feature_service_required", "reason": "request names no feature service"},
	{"ok": service_known, "rule": "unknown_feature_service", "reason": "tenant mismatch"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": service_granted, "rule": "feature_service_not_granted", "reason": "feature service not granted to caller"},
	{"ok": kind_ok, "rule": "feature_kind", "reason": "feature kind not permitted for caller"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

default service_named := false

service_named if {
	is_string(service)
	service != ""
}

default service_known := false

service_known if is_object(services[service])

default same_tenant := false

same_tenant if services[service].tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

default service_granted := false

service_granted if grants.permits_on(family, action, "feature_services", service)

# A grant without `kinds` permits no kind: forgetting the list must not
# open the online store.
default kind_ok := false

kind_ok if {
	some g in grants.for_family(family)
	action in g.actions
	grants.covers(g, "feature_services", service)
	services[service].kind in g.kinds
}
