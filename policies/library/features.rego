# Feature store (Feast's feature server). What a request touches depends on
# the action: reads name a feature service, pushes a push source, writes a
# feature view. Each of those belongs to a tenant and has a kind (e.g.
# "training" for offline training sets, "online" for serving). Grants name
# which kinds a role may touch, so a training job cannot read the online
# store even inside its own tenant.
package ztauthz.features

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "features"

cfg := data.ztauthz_library

action := input.route.action

# Per action: the route parameter naming the object (as the catalogue's
# params_from names it) and the data.json key listing such objects. The same
# key names an identity's list for "granted" scopes.
objects := {
	"read_features": {"param": "feature_service", "key": "feature_services"},
	"push_features": {"param": "push_source", "key": "push_sources"},
	"write_features": {"param": "feature_view", "key": "feature_views"},
}

kind_of := objects[action]

name := input.route.params[kind_of.param]

object_spec := cfg[kind_of.key][name]

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
	{"ok": object_named, "rule": "feature_object_required", "reason": "request names no feature service, push source or feature view"},
	{"ok": object_known, "rule": "unknown_feature_object", "reason": "tenant mismatch"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": object_granted, "rule": "feature_object_not_granted", "reason": "feature object not granted to caller"},
	{"ok": kind_ok, "rule": "feature_kind", "reason": "feature kind not permitted for caller"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

# A read that lists features instead of naming a feature service cannot be
# tied to a tenant and fails here.
default object_named := false

object_named if {
	is_string(name)
	name != ""
}

default object_known := false

object_known if is_object(object_spec)

default same_tenant := false

same_tenant if object_spec.tenant == caller.tenant

default action_ok := false

action_ok if grants.permits(family, action)

default object_granted := false

object_granted if grants.permits_on(family, action, kind_of.key, name)

# A grant without `kinds` permits no kind: forgetting the list must not
# open the online store.
default kind_ok := false

kind_ok if {
	some g in grants.for_family(family)
	action in g.actions
	grants.covers(g, kind_of.key, name)
	object_spec.kind in g.kinds
}
