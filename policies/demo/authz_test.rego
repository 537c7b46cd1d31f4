package envoy.authz_test

import rego.v1

import data.envoy.authz

frontend := "spiffe://cluster.local/ns/web/sa/frontend"

trainer := "spiffe://cluster.local/ns/ml-training/sa/trainer"

server := "spiffe://cluster.local/ns/ml-serving/sa/model-server"

req(principal, method, path) := {
	"attributes": {
		"source": {"principal": principal},
		"request": {"http": {"method": method, "path": concat("/", array.concat([""], path))}},
	},
	"parsed_path": path,
}

test_frontend_may_infer if {
	authz.allow.allowed with input as req(frontend, "POST", ["v2", "models", "fraud-detector", "infer"])
}

test_frontend_may_use_openai_chat if {
	authz.allow.allowed with input as req(frontend, "POST", ["v1", "chat", "completions"])
}

test_trainer_may_not_infer if {
	not authz.allow.allowed with input as req(trainer, "POST", ["v2", "models", "fraud-detector", "infer"])
}

test_frontend_may_not_get_infer if {
	not authz.allow.allowed with input as req(frontend, "GET", ["v2", "models", "fraud-detector", "infer"])
}

test_trainer_reads_training_features if {
	authz.allow.allowed with input as req(trainer, "POST", ["features", "training", "fraud-v3"])
}

test_server_may_not_read_training_features if {
	not authz.allow.allowed with input as req(server, "POST", ["features", "training", "fraud-v3"])
}

test_server_loads_models_read_only if {
	authz.allow.allowed with input as req(server, "GET", ["registry", "models", "fraud-detector", "versions", "3", "artifacts"])
	not authz.allow.allowed with input as req(server, "DELETE", ["registry", "models", "fraud-detector", "versions", "3", "artifacts"])
}

test_no_identity_is_denied if {
	d := authz.allow with input as req("", "POST", ["v2", "models", "fraud-detector", "infer"])
	d.allowed == false
	d.http_status == 403
}
