# Who is calling: the checks every family runs first, the caller's tenant and
# its batch window. Identity comes only from input.identity, which ztauthz
# fills from verified material; client headers are never consulted.
package ztauthz.lib.caller

import rego.v1

cfg := data.ztauthz_library

entry := cfg.identities[input.identity.spiffe_id]

# A workload's tenant is its namespace's, never something the identity entry
# claims, so moving a workload between tenants is one change in `namespaces`.
tenant := t if {
	t := cfg.namespaces[input.identity.namespace]
	is_string(t)
}

default present := false

present if is_object(input.identity)

# A user token alone does not make a caller: every call in the mesh must come
# from a workload with its own SVID.
default workload := false

workload if is_string(input.identity.spiffe_id)

# SPIFFE compares trust domains as whole strings; a federated domain is a
# different authority even when its IDs look alike.
default in_trust_domain := false

in_trust_domain if input.identity.trust_domain == cfg.trust_domain

default known := false

known if is_object(entry)

default has_tenant := false

has_tenant if is_string(tenant)

checks := [
	{"ok": present, "rule": "identity_missing", "reason": "no verified identity"},
	{"ok": workload, "rule": "workload_missing", "reason": "workload identity required"},
	{"ok": in_trust_domain, "rule": "trust_domain", "reason": "caller outside the mesh trust domain"},
	{"ok": known, "rule": "unknown_workload", "reason": "unknown workload"},
	{"ok": has_tenant, "rule": "tenant_unresolved", "reason": "caller has no tenant"},
]

# The key's presence marks a batch identity, whatever its value: a malformed
# window then matches no time at all instead of turning into "not batch".
is_batch if {
	some key, _ in entry
	key == "batch"
}

default batch_window_ok := false

batch_window_ok if not is_batch

batch_window_ok if {
	is_batch
	in_window(minute_of_day(entry.batch.start_utc), minute_of_day(entry.batch.end_utc), now_minute)
}

# UTC so that a window means the same on every node and across DST changes.
now_minute := (h * 60) + m if {
	[h, m, _] := time.clock(time.now_ns())
}

minute_of_day(hhmm) := (to_number(h) * 60) + to_number(m) if {
	is_string(hhmm)
	regex.match(`^([01][0-9]|2[0-3]):[0-5][0-9]$`, hhmm)
	[h, m] := split(hhmm, ":")
}

# Start inclusive, end exclusive, so back-to-back windows do not overlap. A
# start after the end wraps past midnight (22:00-02:00); equal bounds are an
# empty window rather than a whole day, so a mistake denies.
in_window(start, end, now) if {
	start < end
	start <= now
	now < end
}

in_window(start, end, now) if {
	start > end
	now >= start
}

in_window(start, end, now) if {
	start > end
	now < end
}
