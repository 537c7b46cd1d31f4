# What the caller's roles permit. Roles live in data.json; an identity holds
# roles and, for "granted" scopes, the resources it may touch.
package ztauthz.lib.grants

import rego.v1

import data.ztauthz.lib.caller

for_family(family) := [g |
	some role in caller.entry.roles
	g := data.ztauthz_library.roles[role][family]
]

permits(family, action) if {
	some g in for_family(family)
	action in g.actions
}

# "tenant" reaches every resource of the caller's tenant. That is only safe
# because each family checks the resource's tenant before any grant, and
# decide() refuses unless every check passed; do not call this elsewhere.
covers(g, _, _) if g.scope == "tenant"

covers(g, list_key, resource) if {
	g.scope == "granted"
	resource in caller.entry[list_key]
}

# One grant must carry both the action and the resource: holding an action
# through one role and a resource through another is not a grant.
permits_on(family, action, list_key, resource) if {
	some g in for_family(family)
	action in g.actions
	covers(g, list_key, resource)
}
