# The shared pieces where a mistake would fail open.
package ztauthz.lib_test

import rego.v1

import data.ztauthz.lib.caller
import data.ztauthz.lib.catalog
import data.ztauthz.lib.result

test_decide_allows_only_when_every_check_is_true if {
	ok := {"ok": true, "rule": "r", "reason": "x"}
	result.decide("t", [ok, ok]).allowed == true
	result.decide("t", [ok, {"ok": false, "rule": "second", "reason": "no"}]) == result.deny("t", "t.second", "no")
}

test_decide_fails_closed_on_malformed_checks if {
	result.decide("t", []) == result.deny("t", "t.default", "no rule allows this")
	result.decide("t", [{"ok": "yes", "rule": "truthy", "reason": "not a boolean"}]).allowed == false
	result.decide("t", [{"rule": "missing", "reason": "no ok"}]).allowed == false
	result.decide("t", [{"ok": 1, "rule": "one", "reason": "n"}]).dynamic_metadata.rule == "t.one"
}

test_first_failed_check_names_the_reason if {
	d := result.decide("t", [
		{"ok": true, "rule": "a", "reason": "a"},
		{"ok": false, "rule": "b", "reason": "b failed"},
		{"ok": false, "rule": "c", "reason": "c failed"},
	])
	d.body == "ztauthz t: b failed\n"
	d.dynamic_metadata.rule == "t.b"
}

test_window_bounds if {
	caller.in_window(60, 300, 60)
	caller.in_window(60, 300, 299)
	not caller.in_window(60, 300, 300)
	not caller.in_window(60, 300, 59)
	caller.in_window(1320, 120, 1439)
	caller.in_window(1320, 120, 0)
	not caller.in_window(1320, 120, 120)
	not caller.in_window(180, 180, 180)
}

test_minute_of_day_parses_only_hh_mm if {
	caller.minute_of_day("00:00") == 0
	caller.minute_of_day("23:59") == 1439
	not caller.minute_of_day("24:00")
	not caller.minute_of_day("7:00")
	not caller.minute_of_day("07:00:00")
	not caller.minute_of_day(420)
}

# route_family is a complete rule: a pair listed under two families would
# make it a conflict error (a denial, but for the wrong reason) instead of
# choosing one.
test_every_api_action_pair_has_one_family if {
	pairs := [[api, a] | some _, apis in catalog.actions; some api, acts in apis; some a in acts]
	count(pairs) == count({p | some p in pairs})
}

test_route_family_follows_api_and_action if {
	catalog.route_family == "inference" with input as {"route": {"api": "triton-grpc", "action": "model_stats"}}
	catalog.route_family == "models" with input as {"route": {"api": "triton-grpc", "action": "load_model"}}
	catalog.route_family == "features" with input as {"route": {"api": "feast", "action": "write_features"}}
	not catalog.route_family with input as {"route": {"api": "feast", "action": "infer"}}
	not catalog.route_family with input as {"route": null}
}

test_route_family_of_agent_methods if {
	catalog.route_family == "agents" with input as {"route": {"api": "mcp", "action": "tools/call"}}
	catalog.route_family == "agents" with input as {"route": {"api": "mcp", "action": "notifications/roots/list_changed"}}
	catalog.route_family == "agents" with input as {"route": {"api": "a2a", "action": "message/send"}}
	not catalog.route_family with input as {"route": {"api": "a2a", "action": "notifications/initialized"}}
	not catalog.route_family with input as {"route": {"api": "mcp", "action": "notifications/"}}
	not catalog.route_family with input as {"route": {"api": "mcp", "action": "message/send"}}
}

# The agents family decides MCP and A2A calls: its denials also carry the
# JSON-RPC error ztauthz answers them with (the id is ztauthz's to add).
test_agents_denials_carry_a_jsonrpc_error if {
	d := result.deny("agents", "agents.tool_not_granted", "tool not granted to caller")
	d.jsonrpc_error == {"code": -32003, "message": "ztauthz agents: tool not granted to caller"}
	d.body == "ztauthz agents: tool not granted to caller\n"
	d.http_status == 403
	not result.deny("inference", "inference.model_not_granted", "model not granted to caller").jsonrpc_error
	not object.get(result.allow("agents", "agents.granted"), "jsonrpc_error", false)
}
