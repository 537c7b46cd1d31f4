# The route vocabulary: which APIs each family decides and which actions
# each API has, in the exact api and action strings of ztauthz's route
# catalogue (src/route/Catalogue.ts, tabled in policies/routes/README.md).
# The route table names the entrypoint; this is the library's own view, so a
# route sent to the wrong entrypoint (or an action the API does not have) is
# refused instead of being judged by the wrong rules.
#
# A family is chosen by (api, action), not by api alone: triton-grpc mixes
# per-model statistics (an inference-side read, like Triton's REST
# model_stats) with repository load/unload (model management). Each pair
# still belongs to exactly one family; see ztauthz.yaml for how the one
# catalogue route of the pair that is not "models" reaches inference.
package ztauthz.lib.catalog

import rego.v1

actions := {
	"inference": {
		# GET /v1/models[/{model}] and :predict are shared by TF Serving,
		# KServe v1 and OpenAI-compatible servers (one route each).
		"v1-models": {"list_models", "model_metadata", "infer"},
		"kserve-v1": {"explain"},
		"tf-serving": {"infer", "model_metadata"},
		"kserve-v2": {"infer", "model_ready", "model_metadata", "server_metadata", "server_live", "server_ready"},
		"kserve-v2-grpc": {"infer", "model_ready", "model_metadata", "server_metadata", "server_live", "server_ready"},
		"triton": {"infer", "model_stats"},
		"triton-grpc": {"model_stats"},
		# Chat, completions and embeddings are all "infer" on the body's model.
		"openai": {"infer"},
	},
	"models": {
		"mlflow": {
			"register_model", "read_model", "search_models", "delete_model", "promote_model",
			"register_model_version", "read_model_version", "get_download_uri", "delete_model_version",
			"list_artifacts", "download_artifact", "upload_artifact", "delete_artifact",
		},
		"triton-repository": {"list_models", "load_model", "unload_model"},
		"triton-grpc": {"list_models", "load_model", "unload_model"},
	},
	"features": {"feast": {"read_features", "push_features", "write_features"}},
	"training": {"training": {"create_job", "list_jobs", "read_job", "cancel_job", "delete_job"}},
	# MCP and A2A carry JSON-RPC: on a POST the action is the method (the
	# catalogue's "call" stands for all of them and never reaches a policy).
	# GET/DELETE on MCP and the A2A agent card have fixed actions. MCP
	# notifications ("notifications/...") are matched by prefix below.
	"agents": {
		"mcp": {
			"call", "open_stream", "end_session", "response",
			"initialize", "ping", "tools/list", "tools/call",
			"resources/list", "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
			"prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
		},
		"a2a": {
			"call", "get_agent_card", "agent/getAuthenticatedExtendedCard",
			"message/send", "message/stream", "tasks/get", "tasks/cancel", "tasks/resubscribe",
			"tasks/pushNotificationConfig/set", "tasks/pushNotificationConfig/get",
			"tasks/pushNotificationConfig/list", "tasks/pushNotificationConfig/delete",
		},
	},
}

route_family := family if {
	some family, apis in actions
	input.route.action in apis[input.route.api]
}

# MCP notifications are open-ended (notifications/initialized, /cancelled,
# /progress, /roots/list_changed, ...); ztauthz has already refused method
# names that are too long or hold control characters.
route_family := "agents" if is_mcp_notification

default is_mcp_notification := false

is_mcp_notification if {
	input.route.api == "mcp"
	is_string(input.route.action)
	startswith(input.route.action, "notifications/")
	count(input.route.action) > count("notifications/")
}

# Every action of a family, for checking that data.json's roles only name
# actions that exist (a typo there would otherwise silently grant nothing).
family_actions(family) := {a | some acts in actions[family]; some a in acts}

# Every api of a family, for checking that ztauthz.yaml routes each catalogue
# api to the family that decides it.
family_apis(family) := {api | some api, _ in actions[family]}
