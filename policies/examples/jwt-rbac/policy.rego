package envoy.authz

import rego.v1

import input.attributes.request.http as http_request

default allow := false

# The token was verified by Envoy's jwt_authn filter; here only its claims matter.
token := payload if {
	[_, encoded] := split(http_request.headers.authorization, " ")
	[_, payload, _] := io.jwt.decode(encoded)
}

token_current if {
	now := time.now_ns() / 1000000000
	token.nbf <= now
	now < token.exp
}

allow if {
	token_current
	action_allowed
}

action_allowed if {
	http_request.method == "GET"
	token.role in {"guest", "admin"}
	glob.match("/people*", ["/"], http_request.path)
}

action_allowed if {
	http_request.method == "POST"
	token.role == "admin"
	glob.match("/people", ["/"], http_request.path)
	not input.truncated_body
	lower(input.parsed_body.firstname) != lower(token.sub)
}
