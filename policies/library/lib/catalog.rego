# The route vocabulary: which APIs each family decides and which actions
# each API has. The route table names the entrypoint; this is the library's
# own view, so a route sent to the wrong entrypoint (or an action the API
# does not have) is refused instead of being judged by the wrong rules.
package ztauthz.lib.catalog

import rego.v1

actions := {
	"inference": {
		"kserve-v1": {"infer", "explain", "model_ready"},
		"kserve-v2": {"infer", "model_ready", "model_metadata", "server_live", "server_ready"},
		"kserve-v2-grpc": {"infer", "model_ready", "model_metadata", "server_live", "server_ready"},
		"tfserving": {"infer", "model_metadata"},
		"openai": {"infer", "embed", "list_models", "model_metadata"},
	},
	"models": {
		"model-registry": {
			"register_model", "get_model", "search_models", "delete_model",
			"create_version", "get_version", "promote_model", "download_artifact",
		},
		"triton-repository": {"list_models", "load_model", "unload_model"},
	},
	"features": {"feature-store": {"read_features", "push_features"}},
	"training": {"training": {"create_job", "list_jobs", "get_job", "cancel_job"}},
}

route_family := family if {
	some family, apis in actions
	input.route.action in apis[input.route.api]
}

# Every action of a family, for checking that data.json's roles only name
# actions that exist (a typo there would otherwise silently grant nothing).
family_actions(family) := {a | some acts in actions[family]; some a in acts}
