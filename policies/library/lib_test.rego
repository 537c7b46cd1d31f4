# The shared pieces where a mistake would fail open.
package ztauthz.lib_test

import rego.v1

import data.ztauthz.lib.caller
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
