# Agents: MCP tool servers and A2A agents. ztauthz reads the JSON-RPC body,
# so input.route.action is the method ("tools/call", "message/send") and
# params name the tool, the server or agent (the path before /mcp or /a2a)
# and the argument names. A batch is decided call by call by ztauthz; this
# file decides one call.
#
# A target (MCP server or A2A agent) is named by the path, or for a bare
# /mcp or /a2a by the callee's SVID (Envoy's destination principal). It
# belongs to a tenant, like a model. Session housekeeping and discovery
# (initialize, ping, tools/list, notifications, the stream, the agent card)
# need only a grant that reaches the target; a tool needs a grant that
# reaches that tool, the end user's scopes and claims the tool asks for,
# and for a destructive tool the destructive scope as well.
package ztauthz.agents

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.grants
import data.ztauthz.lib.result

family := "agents"

cfg := data.ztauthz_library

api := input.route.api

action := input.route.action

tool := input.route.params.tool

# Per api: the data.json key listing its targets.
targets_key := {"mcp": "mcp_servers", "a2a": "a2a_agents"}[api]

# The route parameter naming the target in the path, read by constant keys
# only: deploy/config/library.yaml's cache key lists exactly the fields this
# file reads, and test/agents/library-agents.test.ts checks that with the
# plan analysis (a computed key would read all of params, the id included).
path_name := input.route.params.server if api == "mcp"

path_name := input.route.params.agent if api == "a2a"

named := path_name if {
	is_string(path_name)
	path_name != ""
}

callee := p if {
	p := input.attributes.destination.principal
	is_string(p)
	p != ""
}

target := named

# A bare /mcp or /a2a (and the agent card) names nothing: the callee's SVID
# says which server this is. data_test keeps SVIDs unique, so at most one
# target matches.
target := n if {
	not named
	some n, t in cfg[targets_key]
	t.spiffe_id == callee
}

spec := cfg[targets_key][target]

tool_spec := spec.tools[tool]

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz agents: no rule allows this\n",
	"headers": {"x-ztauthz-policy": "agents"},
	"dynamic_metadata": {"rule": "agents.default"},
	"jsonrpc_error": {"code": -32003, "message": "ztauthz agents: no rule allows this"},
}

# deploy/config/library.yaml caches agent decisions for a while although
# the policy reads the clock: a batch identity's decision holds only for
# this instant, so it says not to cache it.
allow := object.union(result.decide(family, checks), {"cache_ttl_seconds": 0}) if {
	caller.is_batch
} else := result.decide(family, checks)

# Unknown targets and tools get the bodies of foreign and ungranted ones, so
# a caller cannot probe other tenants' servers.
checks := array.concat(caller.checks, [
	{"ok": route_ok, "rule": "route", "reason": "route not decided by this policy"},
	{"ok": target_named, "rule": "target_required", "reason": "request names no server or agent"},
	{"ok": target_known, "rule": "unknown_target", "reason": "tenant mismatch"},
	{"ok": same_tenant, "rule": "tenant_mismatch", "reason": "tenant mismatch"},
	{"ok": callee_ok, "rule": "callee_mismatch", "reason": "request reached another workload"},
	{"ok": action_ok, "rule": "action_not_permitted", "reason": "action not permitted for caller"},
	{"ok": target_granted, "rule": "target_not_granted", "reason": "server or agent not granted to caller"},
	{"ok": tool_known, "rule": "unknown_tool", "reason": "tool not granted to caller"},
	{"ok": tool_granted, "rule": "tool_not_granted", "reason": "tool not granted to caller"},
	{"ok": user_ok, "rule": "user_not_permitted", "reason": "user not permitted to use this tool"},
	{"ok": destructive_ok, "rule": "destructive_scope", "reason": "destructive tool needs the destructive scope"},
	{"ok": caller.batch_window_ok, "rule": "batch_window", "reason": "outside batch window"},
])

default route_ok := false

route_ok if catalog.route_family == family

default target_named := false

target_named if is_string(target)

default target_known := false

target_known if is_object(spec)

default same_tenant := false

same_tenant if spec.tenant == caller.tenant

# A target with an SVID must be the workload the request reached: otherwise
# a path naming one server, sent to another, would be judged by the first
# one's grants. Targets behind a shared gateway leave spiffe_id out.
default callee_ok := false

callee_ok if not spec.spiffe_id

callee_ok if callee == spec.spiffe_id

# What any agent reaching the target may do: open and keep a session, list
# tools, read the agent card. Listing tools shows names the caller may not
# call; the calls themselves are checked one by one.
discovery := {
	"mcp": {"initialize", "ping", "tools/list", "response", "open_stream", "end_session"},
	"a2a": {"get_agent_card", "agent/getAuthenticatedExtendedCard"},
}

default is_discovery := false

is_discovery if action in discovery[api]

is_discovery if catalog.is_mcp_notification

default action_ok := false

action_ok if {
	is_discovery
	count(grants.for_family(family)) > 0
}

action_ok if grants.permits(family, action)

# "tenant" reaches every server and agent of the caller's tenant (the tenant
# check came first). "granted" reaches the MCP servers the identity lists in
# `mcp_tools` (even with no tool: discovery only) and the agents in
# `a2a_agents`.
reaches(g) if g.scope == "tenant"

reaches(g) if {
	g.scope == "granted"
	api == "mcp"
	is_array(caller.entry.mcp_tools[target])
}

reaches(g) if {
	g.scope == "granted"
	api == "a2a"
	target in caller.entry.a2a_agents
}

default target_granted := false

target_granted if {
	is_discovery
	some g in grants.for_family(family)
	reaches(g)
}

target_granted if {
	some g in grants.for_family(family)
	action in g.actions
	reaches(g)
}

default tool_known := false

tool_known if action != "tools/call"

tool_known if is_object(tool_spec)

# One grant carries the action, the server and the tool.
default tool_granted := false

tool_granted if action != "tools/call"

tool_granted if {
	some g in grants.for_family(family)
	"tools/call" in g.actions
	reaches(g)
	tool_reached(g)
}

tool_reached(g) if g.scope == "tenant"

tool_reached(g) if {
	g.scope == "granted"
	tool in caller.entry.mcp_tools[target]
}

# The end user comes only from a verified token (input.identity.user). OAuth
# access tokens carry scopes as a space-separated `scope`; some issuers use
# `scp`, as a list or a string.
claims := input.identity.user.claims

user_scopes contains s if {
	is_string(claims.scope)
	some s in split(claims.scope, " ")
	s != ""
}

user_scopes contains s if {
	is_array(claims.scp)
	some s in claims.scp
	is_string(s)
}

user_scopes contains s if {
	is_string(claims.scp)
	some s in split(claims.scp, " ")
	s != ""
}

# A tool's `user_scopes` must all be held and its `user_claims` all equal
# (exactly, by type too). A tool that asks for neither may be called by the
# workload alone.
default user_ok := false

user_ok if action != "tools/call"

user_ok if {
	every s in object.get(tool_spec, "user_scopes", []) {
		s in user_scopes
	}
	every k, v in object.get(tool_spec, "user_claims", {}) {
		claims[k] == v
	}
}

# Destructive tools act on behalf of a person who has said so: the user
# must hold mcp_destructive_scope on top of the tool's own requirements.
# A kind other than "read" or "destructive" is a data mistake and denies.
default destructive_ok := false

destructive_ok if action != "tools/call"

destructive_ok if tool_spec.kind == "read"

destructive_ok if {
	tool_spec.kind == "destructive"
	is_string(cfg.mcp_destructive_scope)
	cfg.mcp_destructive_scope in user_scopes
}
