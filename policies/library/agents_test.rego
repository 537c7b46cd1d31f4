# MCP tool calls and A2A tasks through ztauthz/agents/allow.
package ztauthz.agents_test

import rego.v1

import data.ztauthz.agents
import data.ztauthz.test.fixtures as f

# A call as ztauthz routes it: the JSON-RPC method is the action, the path
# before /mcp (or /a2a) the server (agent) param, Envoy's destination
# principal the callee's SVID.
call(identity, api, method, params, callee) := d if {
	d := agents.allow with input as f.request_to(identity, f.route(api, method, null, params), callee)
}

mcp(caller, method, params) := call(f.workload(caller), "mcp", method, object.union({"server": "docs"}, params), f.docs_mcp)

tool(caller, name) := mcp(caller, "tools/call", {"tool": name, "arguments": []})

user_tool(caller, name, claims) := call(f.with_user(f.workload(caller), claims), "mcp", "tools/call", {"server": "docs", "tool": name, "arguments": ["id"]}, f.docs_mcp)

a2a(caller, method, params) := call(f.workload(caller), "a2a", method, object.union({"agent": "reviewer"}, params), f.reviewer)

test_granted_read_tool_allowed if {
	f.allowed(tool(f.planner, "search_docs"), "agents")
	f.allowed(tool(f.reviewer, "search_docs"), "agents")
}

# A bare /mcp names no server: the callee's SVID does.
test_bare_path_takes_the_server_from_the_callee if {
	f.allowed(call(f.workload(f.planner), "mcp", "tools/call", {"tool": "search_docs"}, f.docs_mcp), "agents")
	f.denied(call(f.workload(f.planner), "mcp", "tools/call", {"tool": "search_docs"}, "spiffe://cluster.local/ns/fraud-agents/sa/other"), "agents", "target_required", "request names no server or agent")
	f.denied(call(f.workload(f.planner), "mcp", "tools/call", {"tool": "search_docs"}, ""), "agents", "target_required", "request names no server or agent")
}

# A path naming the docs server that reached another workload is not judged
# by the docs server's grants.
test_path_and_callee_must_agree if {
	f.denied(call(f.workload(f.planner), "mcp", "tools/call", {"server": "docs", "tool": "search_docs"}, f.catalog_mcp), "agents", "callee_mismatch", "request reached another workload")
	f.denied(call(f.workload(f.planner), "mcp", "tools/call", {"server": "docs", "tool": "search_docs"}, ""), "agents", "callee_mismatch", "request reached another workload")
}

# A server behind a shared gateway has no SVID of its own in data.
test_server_without_svid_is_named_by_path_only if {
	d := call(f.workload(f.planner), "mcp", "tools/call", {"server": "docs", "tool": "search_docs"}, "spiffe://cluster.local/ns/gw/sa/gateway") with data.ztauthz_library as f.patched([{"op": "remove", "path": "/mcp_servers/docs/spiffe_id"}])
	f.allowed(d, "agents")
}

test_tool_not_granted_denied if {
	f.denied(tool(f.reviewer, "fetch_doc"), "agents", "tool_not_granted", "tool not granted to caller")
	f.denied(tool(f.planner, "purge_index"), "agents", "tool_not_granted", "tool not granted to caller")
}

# Unknown tools get the same body; names are compared exactly.
test_unknown_and_case_differing_tools_denied if {
	f.denied(tool(f.planner, "drop_everything"), "agents", "unknown_tool", "tool not granted to caller")
	f.denied(tool(f.planner, "Search_Docs"), "agents", "unknown_tool", "tool not granted to caller")
	f.denied(tool(f.planner, "search_docs "), "agents", "unknown_tool", "tool not granted to caller")
}

test_tool_user_scopes if {
	f.denied(tool(f.planner, "fetch_doc"), "agents", "user_not_permitted", "user not permitted to use this tool")
	f.denied(user_tool(f.planner, "fetch_doc", {"scope": "docs:write"}), "agents", "user_not_permitted", "user not permitted to use this tool")
	f.denied(user_tool(f.planner, "fetch_doc", {"scope": "docs:readx"}), "agents", "user_not_permitted", "user not permitted to use this tool")
	f.allowed(user_tool(f.planner, "fetch_doc", {"scope": "openid docs:read"}), "agents")
	f.allowed(user_tool(f.planner, "fetch_doc", {"scp": ["docs:read"]}), "agents")
	f.allowed(user_tool(f.planner, "fetch_doc", {"scp": "profile docs:read"}), "agents")
	f.denied(user_tool(f.planner, "fetch_doc", {"scp": [["docs:read"]]}), "agents", "user_not_permitted", "user not permitted to use this tool")
}

test_tool_user_claims if {
	lib := f.patched([f.set(["mcp_servers", "docs", "tools", "search_docs", "user_claims"], {"department": "fraud"})])
	f.allowed(user_tool(f.planner, "search_docs", {"department": "fraud"}), "agents") with data.ztauthz_library as lib
	f.denied(user_tool(f.planner, "search_docs", {"department": "Fraud"}), "agents", "user_not_permitted", "user not permitted to use this tool") with data.ztauthz_library as lib
	f.denied(tool(f.planner, "search_docs"), "agents", "user_not_permitted", "user not permitted to use this tool") with data.ztauthz_library as lib
}

# Destructive tools need the tool's own scopes and the destructive scope,
# from a verified user: a workload alone never deletes.
test_destructive_tool_needs_the_destructive_scope if {
	f.denied(tool(f.planner, "delete_doc"), "agents", "user_not_permitted", "user not permitted to use this tool")
	f.denied(user_tool(f.planner, "delete_doc", {"scope": "docs:write"}), "agents", "destructive_scope", "destructive tool needs the destructive scope")
	f.denied(user_tool(f.planner, "delete_doc", {"scope": "mcp:destructive"}), "agents", "user_not_permitted", "user not permitted to use this tool")
	f.allowed(user_tool(f.planner, "delete_doc", {"scope": "docs:write mcp:destructive"}), "agents")
}

test_tenant_scope_reaches_every_tool_but_not_destructive_without_scope if {
	lib := f.patched([f.set(["roles", "tool-user", "agents", "scope"], "tenant")])
	f.allowed(tool(f.reviewer, "search_docs"), "agents") with data.ztauthz_library as lib
	f.denied(tool(f.reviewer, "purge_index"), "agents", "destructive_scope", "destructive tool needs the destructive scope") with data.ztauthz_library as lib
	f.allowed(user_tool(f.reviewer, "purge_index", {"scope": "mcp:destructive"}), "agents") with data.ztauthz_library as lib
	f.denied(call(f.workload(f.recs_assistant), "mcp", "tools/call", {"server": "docs", "tool": "search_docs"}, f.docs_mcp), "agents", "tenant_mismatch", "tenant mismatch") with data.ztauthz_library as lib
}

test_unknown_tool_kind_denied if {
	lib := f.patched([f.set(["mcp_servers", "docs", "tools", "search_docs", "kind"], "readonly")])
	f.denied(tool(f.planner, "search_docs"), "agents", "destructive_scope", "destructive tool needs the destructive scope") with data.ztauthz_library as lib
}

test_no_destructive_scope_in_data_denies_destructive_tools if {
	lib := f.patched([{"op": "remove", "path": "/mcp_destructive_scope"}])
	f.denied(user_tool(f.planner, "delete_doc", {"scope": "docs:write mcp:destructive"}), "agents", "destructive_scope", "destructive tool needs the destructive scope") with data.ztauthz_library as lib
}

test_discovery_allowed_for_agents_reaching_the_server if {
	every caller in [f.planner, f.reviewer] {
		every method in ["initialize", "ping", "tools/list", "notifications/initialized", "notifications/cancelled", "open_stream", "end_session", "response"] {
			f.allowed(mcp(caller, method, {}), "agents")
		}
	}
}

test_discovery_needs_a_grant_on_that_server if {
	# Same tenant, an agent grant, but not on this server.
	lib := f.patched([f.set(["identities", f.reviewer, "mcp_tools"], {"other": []})])
	f.denied(mcp(f.reviewer, "tools/list", {}), "agents", "target_not_granted", "server or agent not granted to caller") with data.ztauthz_library as lib

	# No agent grant at all (an inference client).
	f.denied(mcp(f.web_frontend, "initialize", {}), "agents", "action_not_permitted", "action not permitted for caller")
	f.denied(mcp(f.recs_assistant, "tools/list", {}), "agents", "tenant_mismatch", "tenant mismatch")
}

test_methods_no_role_grants_are_denied if {
	every method in ["resources/read", "resources/list", "prompts/get", "completion/complete", "logging/setLevel", "call"] {
		f.denied(mcp(f.planner, method, {}), "agents", "action_not_permitted", "action not permitted for caller")
	}
}

test_unknown_methods_and_bare_notification_prefix_are_not_agent_routes if {
	every method in ["tools/delete", "notifications/", "Tools/call", "message/send"] {
		f.denied(mcp(f.planner, method, {}), "agents", "route", "route not decided by this policy")
	}
	f.denied(a2a(f.planner, "tools/call", {}), "agents", "route", "route not decided by this policy")
	f.denied(call(f.workload(f.planner), "kserve-v2", "infer", {"server": "docs"}, f.docs_mcp), "agents", "route", "route not decided by this policy")
}

test_unknown_and_foreign_servers_look_alike if {
	f.denied(mcp(f.planner, "tools/list", {"server": "nope"}), "agents", "unknown_target", "tenant mismatch")
	f.denied(call(f.workload(f.planner), "mcp", "tools/call", {"server": "catalog", "tool": "lookup_item"}, f.catalog_mcp), "agents", "tenant_mismatch", "tenant mismatch")
	f.allowed(call(f.workload(f.recs_assistant), "mcp", "tools/call", {"server": "catalog", "tool": "lookup_item"}, f.catalog_mcp), "agents")
}

test_identity_checks_come_first if {
	f.denied(tool("spiffe://cluster.local/ns/fraud-agents/sa/stranger", "search_docs"), "agents", "unknown_workload", "unknown workload")
	f.denied(call(null, "mcp", "tools/call", {"server": "docs", "tool": "search_docs"}, f.docs_mcp), "agents", "identity_missing", "no verified identity")
}

# A batch identity's decisions are not cached (library.yaml caches agent
# routes for a while): each holds only for the instant it was made.
test_batch_window_applies_to_agents if {
	lib := f.patched([f.set(["identities", f.planner, "batch"], {"start_utc": "01:00", "end_utc": "05:00"})])
	d := tool(f.planner, "search_docs") with data.ztauthz_library as lib with time.now_ns as f.t_0230
	d.allowed == true
	d.cache_ttl_seconds == 0
	not tool(f.planner, "search_docs").cache_ttl_seconds
	d2 := tool(f.planner, "search_docs") with data.ztauthz_library as lib with time.now_ns as f.t_1200
	d2.allowed == false
	d2.body == "ztauthz agents: outside batch window\n"
	d2.jsonrpc_error == {"code": -32003, "message": "ztauthz agents: outside batch window"}
	d2.cache_ttl_seconds == 0
}

test_a2a_task_sender_may_send_tasks_to_granted_agents if {
	every method in ["message/send", "message/stream", "tasks/get", "tasks/cancel", "tasks/resubscribe"] {
		f.allowed(a2a(f.planner, method, {"task": "t-1"}), "agents")
	}
	f.allowed(a2a(f.planner, "get_agent_card", {}), "agents")
}

test_a2a_bare_path_and_agent_card_take_the_agent_from_the_callee if {
	f.allowed(call(f.workload(f.planner), "a2a", "message/send", {}, f.reviewer), "agents")
	f.allowed(call(f.workload(f.planner), "a2a", "get_agent_card", {}, f.reviewer), "agents")
	f.denied(call(f.workload(f.planner), "a2a", "message/send", {}, f.docs_mcp), "agents", "target_required", "request names no server or agent")
}

test_a2a_denials if {
	# The reviewer uses tools but sends no tasks; it reaches no agent, not even its own card.
	f.denied(a2a(f.reviewer, "message/send", {}), "agents", "action_not_permitted", "action not permitted for caller")
	f.denied(a2a(f.reviewer, "get_agent_card", {}), "agents", "target_not_granted", "server or agent not granted to caller")

	# Push notification configs make the agent call a URL: no shipped role has them.
	f.denied(a2a(f.planner, "tasks/pushNotificationConfig/set", {}), "agents", "action_not_permitted", "action not permitted for caller")
	f.denied(call(f.workload(f.recs_assistant), "a2a", "get_agent_card", {"agent": "reviewer"}, f.reviewer), "agents", "tenant_mismatch", "tenant mismatch")
	f.denied(a2a(f.planner, "message/send", {"agent": "approver"}), "agents", "unknown_target", "tenant mismatch")
}

# Should the ordered checks ever give no decision, the default denial is a
# JSON-RPC error for MCP and A2A clients like every other.
no_decision(_, _) := true if false

test_default_denial_carries_a_jsonrpc_error if {
	d := tool(f.planner, "search_docs") with data.ztauthz.lib.result.decide as no_decision
	d.allowed == false
	d.body == "ztauthz agents: no rule allows this\n"
	d.jsonrpc_error == {"code": -32003, "message": "ztauthz agents: no rule allows this"}
}

# The denial holds no JSON-RPC id: decisions are cached without it, and
# ztauthz fills in each request's own.
test_denials_do_not_depend_on_the_jsonrpc_id if {
	d1 := mcp(f.planner, "tools/call", {"tool": "purge_index", "arguments": [], "id": "1"})
	d2 := mcp(f.planner, "tools/call", {"tool": "purge_index", "arguments": [], "id": "2"})
	d1.allowed == false
	d1 == d2
}
