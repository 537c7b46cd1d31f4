# The drop-in comparison's policy: written for opa-envoy-plugin, in the style
# of OPA's Envoy tutorial, and loaded unchanged by both servers. A namespace
# may run inference on the models data.json grants it; the caller comes from
# Envoy's source.principal, the model from the parsed path.
package envoy.authz

import rego.v1

import input.attributes.request.http as http_request

default allow := false

allow if {
	http_request.method == "POST"
	http_request.headers["content-type"] == "application/json"
	input.parsed_path[0] == "v2"
	input.parsed_path[1] == "models"
	input.parsed_path[3] == "infer"
	input.parsed_path[2] in object.get(data.grants, namespace, [])
}

# spiffe://<trust domain>/ns/<namespace>/sa/<service account>
namespace := parts[4] if {
	parts := split(input.attributes.source.principal, "/")
	parts[0] == "spiffe:"
	parts[3] == "ns"
}
