# The embedded demo policy: zero-trust rules for a small AI mesh.
#   - only the frontend may call model inference;
#   - only the training job may read training features;
#   - only the serving workload may load models from the registry (read-only);
#   - everything else is denied.
# Callers are SPIFFE IDs from Envoy's verified peer principal. Who may do what
# lives in data.json, not here.
package envoy.authz

import rego.v1

http := input.attributes.request.http

caller := input.attributes.source.principal

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "ztauthz demo policy: no rule allows this caller to do this\n",
	"headers": {"x-ztauthz-denied-by": "demo"},
}

allow := {
	"allowed": true,
	"headers": {"x-ztauthz-caller": caller, "x-ztauthz-action": action},
} if {
	some action in actions
	caller in data.ztauthz_demo.grants[action]
}

# Inference: KServe v2 / Open Inference Protocol, KServe v1, OpenAI-compatible.
actions contains "infer" if {
	http.method == "POST"
	infer_path
}

infer_path if input.parsed_path = ["v2", "models", _, "infer"]

infer_path if input.parsed_path = ["v2", "models", _, "versions", _, "infer"]

infer_path if {
	input.parsed_path = ["v1", "models", name]
	endswith(name, ":predict")
}

infer_path if input.parsed_path = ["v1", "chat", "completions"]

# Training features: the feature store's training views.
actions contains "read_training_features" if {
	http.method in {"GET", "POST"}
	input.parsed_path = ["features", "training", _]
}

# Model registry artifact downloads, read-only.
actions contains "load_model" if {
	http.method == "GET"
	input.parsed_path = ["registry", "models", _, "versions", _, "artifacts"]
}
