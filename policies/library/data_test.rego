# data.json is where who-may-do-what lives, so its consistency is tested
# like code: a typo there would otherwise grant nothing or, worse, read as
# a grant nobody intended. These also pin rules 4 and 5 on the shipped data.
package ztauthz.data_test

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.models

lib := data.ztauthz_library

tenants := {t | some t in lib.namespaces}

test_every_identity_is_a_mesh_workload_with_a_tenant if {
	prefix := concat("", ["spiffe://", lib.trust_domain, "/ns/"])
	every id, _ in lib.identities {
		startswith(id, prefix)
		parts := split(substring(id, count(prefix), -1), "/")
		count(parts) == 3
		parts[1] == "sa"
		lib.namespaces[parts[0]] in tenants
	}
}

test_every_resource_belongs_to_a_known_tenant if {
	every _, m in lib.models {
		m.tenant in tenants
	}
	every key in ["feature_services", "push_sources", "feature_views"] {
		every _, s in lib[key] {
			s.tenant in tenants
			is_string(s.kind)
		}
	}
	count(tenants) >= 2
}

test_every_role_names_real_actions_and_a_scope if {
	every _, role in lib.roles {
		every family, g in role {
			count(g.actions) > 0
			every a in g.actions {
				a in catalog.family_actions(family)
			}
			g.scope in {"granted", "tenant"}
		}
	}
}

test_every_identity_holds_existing_roles if {
	every _, entry in lib.identities {
		count(entry.roles) > 0
		every r in entry.roles {
			lib.roles[r]
		}
	}
}

# The policy would refuse these anyway; in data they are still a mistake.
test_no_identity_lists_another_tenants_resource if {
	every id, entry in lib.identities {
		tenant := lib.namespaces[split(id, "/")[4]]
		every m in object.get(entry, "models", []) {
			lib.models[m].tenant == tenant
		}
		every key in ["feature_services", "push_sources", "feature_views"] {
			every s in object.get(entry, key, []) {
				lib[key][s].tenant == tenant
			}
		}
	}
}

registry_writes := {
	"register_model", "register_model_version", "promote_model", "upload_artifact",
	"delete_model", "delete_model_version", "delete_artifact",
}

# Rule 4 on the shipped data: the serving role never writes.
test_model_server_role_is_read_only if {
	actions := {a | some a in lib.roles["model-server"].models.actions}
	count(actions & registry_writes) == 0
	actions == {
		"read_model", "read_model_version", "get_download_uri", "list_artifacts", "download_artifact",
		"load_model", "unload_model",
	}
	every a in registry_writes {
		a in catalog.family_actions("models")
	}
}

# An artifact path must have one owner: no prefix may sit inside another
# model's (or be listed twice), or the path resolves to no model at all.
test_artifact_prefixes_do_not_overlap if {
	prefixes := [[m, p] | some m, spec in lib.models; some p in object.get(spec, "artifact_prefixes", [])]
	count(prefixes) > 0
	every i, a in prefixes {
		regex.match(`^[^/\\]+(/[^/\\]+)*$`, a[1])
		every j, b in prefixes {
			apart(i, j, a[1], b[1])
		}
	}
}

apart(i, j, _, _) if i == j

apart(i, j, p, q) if {
	i != j
	not models.under_prefix(p, q)
	not models.under_prefix(q, p)
}

# Rule 5 on the shipped data: exactly the release identity can promote to
# Production.
test_only_release_identity_promotes_to_production if {
	promoters := {id |
		some id, entry in lib.identities
		some r in entry.roles
		g := lib.roles[r].models
		"promote_model" in g.actions
		some s in g.stages
		lower(s) == "production"
	}
	promoters == {"spiffe://cluster.local/ns/fraud-mlops/sa/release"}
}

test_batch_identities_have_valid_windows if {
	batch := [e | some e in lib.identities; e.batch]
	count(batch) > 0
	every e in batch {
		caller.minute_of_day(e.batch.start_utc) != caller.minute_of_day(e.batch.end_utc)
	}
}

agent_targets := [[key, name, t] | some key in ["mcp_servers", "a2a_agents"]; some name, t in lib[key]]

# Bare /mcp and /a2a find their target by the callee's SVID: two targets
# with one SVID would make that lookup a conflict.
test_agent_targets_have_a_tenant_and_distinct_svids if {
	count(agent_targets) > 0
	every target in agent_targets {
		target[2].tenant in tenants
	}
	svids := [target[2].spiffe_id | some target in agent_targets; target[2].spiffe_id]
	count(svids) == count({s | some s in svids})
}

test_every_tool_has_a_known_kind if {
	every _, server in lib.mcp_servers {
		count(server.tools) > 0
		every _, t in server.tools {
			t.kind in {"read", "destructive"}
			every s in object.get(t, "user_scopes", []) {
				is_string(s)
			}
		}
	}
	is_string(lib.mcp_destructive_scope)
}

# Grants name existing tools and agents of the identity's own tenant.
test_agent_grants_name_own_tenants_tools_and_agents if {
	every id, entry in lib.identities {
		tenant := lib.namespaces[split(id, "/")[4]]
		every server, tools in object.get(entry, "mcp_tools", {}) {
			lib.mcp_servers[server].tenant == tenant
			every t in tools {
				lib.mcp_servers[server].tools[t]
			}
		}
		every a in object.get(entry, "a2a_agents", []) {
			lib.a2a_agents[a].tenant == tenant
		}
	}
}

# "call" is the catalogue's stand-in for a JSON-RPC method: granting it
# would grant nothing, so it is a mistake.
test_no_role_grants_the_jsonrpc_placeholder if {
	every _, role in lib.roles {
		not "call" in object.get(role, ["agents", "actions"], [])
	}
}
