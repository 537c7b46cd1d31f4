# The growth curves' policy: ztauthz-native, deciding on what ztauthz adds to
# the input (the verified SPIFFE ID and the matched AI route), so that each
# curve measures ztauthz's own cost of one more route, identity, header or
# body byte rather than the policy's.
package envoy.authz

import rego.v1

default allow := false

allow if {
	input.route.action == "infer"
	input.identity.trust_domain == "cluster.local"
	startswith(input.identity.namespace, "team-")
}
