#!/usr/bin/env bash
# Installs the pinned manifest validators into .tools/ (git-ignored), the same
# way scripts/toolchain.sh installs the runtime tools: idempotent, a stamp per
# item, well under a second once done. Prints the .tools directory on the last
# line. test/deploy/*.test.ts runs it; so can you, before validating a copy of
# deploy/ (see deploy/kubernetes/README.md).
#
#   .tools/bin/kubeconform   JSON-schema validation of Kubernetes and Istio resources
#   .tools/bin/kustomize     renders deploy/kubernetes overlays
#   .tools/bin/deploycheck   Pod Security Standards (k8s.io/pod-security-admission)
#                            and Istio MeshConfig (istio.io/istio) checks, built
#                            from test/deploy/deploycheck
#   .tools/schemas/kubernetes/v<K8S>-standalone-strict/   Kubernetes JSON schemas
#                            (from the PyPI wheel kubernetes-validate)
#   .tools/schemas/istio/<group>/<kind>_<version>.json    Istio CRD schemas
#                            (openAPIV3Schema of istio.io/api's CRDs, converted)
#
# Needs go (>= 1.26), python3 with pip, and node (the project's, after npm ci).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
schemas="$tools/schemas"
mkdir -p "$bin" "$schemas"
# Test files run in parallel and each makes sure the validators are there:
# one installs, the others wait for it.
exec 9>"$tools/.validators.lock"
flock 9

KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.2
# Kubernetes schemas: kubernetes-validate bundles the OpenAPI of every minor
# release as JSON schemas; K8S_VERSION picks the one validated against.
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
K8S_VERSION=1.37.0
ISTIO_API_VERSION=v1.31.4

stamp_ok() { [[ -f "$tools/.stamp-$1" && "$(cat "$tools/.stamp-$1")" == "$2" ]]; }
stamp_set() { echo "$2" >"$tools/.stamp-$1"; }
need() { command -v "$1" >/dev/null || { echo "validators: $1 is required ($2)" >&2; exit 1; }; }

go_tool() {
  local name=$1 module=$2 version=$3
  if [[ -x "$bin/$name" ]] && stamp_ok "$name" "$version"; then return; fi
  need go "to install $name"
  echo "validators: installing $name $version" >&2
  (cd "$tools" && GOBIN="$bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version")
  stamp_set "$name" "$version"
}

go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"

# deploycheck: built from the source in this repository; the stamp is the
# digest of that source, so an edit rebuilds it.
src="$root/test/deploy/deploycheck"
digest=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
if [[ ! -x "$bin/deploycheck" ]] || ! stamp_ok deploycheck "$digest"; then
  need go "to build deploycheck"
  echo "validators: building deploycheck" >&2
  (cd "$src" && GOFLAGS="-buildvcs=false -mod=readonly" CGO_ENABLED=0 go build -trimpath -o "$bin/deploycheck" .)
  stamp_set deploycheck "$digest"
fi

# Kubernetes JSON schemas from the kubernetes-validate wheel (checked against
# its pinned digest). Its files refer to a shared /api/_definitions.json by an
# absolute URL; kubeconform reads local files, so the references are made
# relative and the $id dropped.
k8s_dir="$schemas/kubernetes/v$K8S_VERSION-standalone-strict"
if [[ ! -f "$k8s_dir/_definitions.json" ]] || ! stamp_ok k8s-schemas "$KUBERNETES_VALIDATE_VERSION/$K8S_VERSION"; then
  py=$(command -v python3 || command -v python) || { echo "validators: python3 is required for the Kubernetes schemas" >&2; exit 1; }
  echo "validators: installing Kubernetes $K8S_VERSION schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION)" >&2
  dl=$(mktemp -d)
  trap 'rm -rf "$dl"' EXIT
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$dl" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  wheel=$(ls "$dl"/kubernetes_validate-*.whl)
  echo "$KUBERNETES_VALIDATE_SHA256  $wheel" | sha256sum -c --quiet - || { echo "validators: $wheel does not match its pinned sha256" >&2; exit 1; }
  rm -rf "$k8s_dir"
  "$py" - "$wheel" "v$K8S_VERSION-local-strict" "$k8s_dir" <<'PY'
import json, os, sys, zipfile
wheel, flavour, dst = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{flavour}/"
os.makedirs(dst, exist_ok=True)
n = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or not name.endswith(".json"):
            continue
        schema = json.loads(z.read(name).decode().replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        with open(os.path.join(dst, name[len(prefix):]), "w") as f:
            json.dump(schema, f, separators=(",", ":"))
        n += 1
if n < 100 or not os.path.exists(os.path.join(dst, "deployment-apps-v1.json")):
    sys.exit(f"validators: {flavour} not found in {wheel}")
PY
  rm -rf "$dl"
  trap - EXIT
  stamp_set k8s-schemas "$KUBERNETES_VALIDATE_VERSION/$K8S_VERSION"
fi

# Istio CRD schemas: istio.io/api ships every CRD with its openAPIV3Schema.
# Converted as the API server reads them: unknown fields are refused where the
# schema lists properties (unless x-kubernetes-preserve-unknown-fields),
# x-kubernetes-int-or-string is integer or string, nullable admits null; the
# root gains apiVersion, kind and metadata, so a misspelt top-level key fails.
# (CEL rules, x-kubernetes-validations, are not evaluated: JSON schema has none.)
istio_dir="$schemas/istio"
if [[ ! -d "$istio_dir/security.istio.io" ]] || ! stamp_ok istio-schemas "$ISTIO_API_VERSION"; then
  need go "to download istio.io/api"
  node=$root/node_modules/.bin/node
  [[ -x "$node" ]] || node=$(command -v node) || { echo "validators: node is required (npm ci first)" >&2; exit 1; }
  echo "validators: installing Istio CRD schemas (istio.io/api $ISTIO_API_VERSION)" >&2
  api_dir=$(cd "$tools" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  rm -rf "$istio_dir"
  (cd "$root" && CRDS="$api_dir/kubernetes/customresourcedefinitions.gen.yaml" OUT="$istio_dir" "$node" --input-type=module -e '
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { parseAllDocuments } from "yaml";

function conv(s) {
  if (typeof s === "boolean") return s;
  const o = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "properties") o.properties = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, conv(p)]));
    else if (k === "items") o.items = Array.isArray(v) ? v.map(conv) : conv(v);
    else if (k === "additionalProperties") o.additionalProperties = conv(v);
    else if (k === "allOf" || k === "anyOf" || k === "oneOf") o[k] = v.map(conv);
    else if (k === "not") o.not = conv(v);
    else if (k !== "nullable" && !k.startsWith("x-kubernetes-")) o[k] = v;
  }
  if (s["x-kubernetes-int-or-string"]) {
    delete o.type;
    o.anyOf ??= [{ type: "integer" }, { type: "string" }];
  }
  if (s.nullable === true && typeof o.type === "string") o.type = [o.type, "null"];
  if (o.properties && !("additionalProperties" in o) && !s["x-kubernetes-preserve-unknown-fields"]) o.additionalProperties = false;
  return o;
}

let n = 0;
for (const doc of parseAllDocuments(readFileSync(process.env.CRDS, "utf8"))) {
  const crd = doc.toJS();
  if (crd?.kind !== "CustomResourceDefinition") continue;
  const { group, names, versions } = crd.spec;
  for (const v of versions) {
    const schema = conv(v.schema.openAPIV3Schema);
    schema.$schema = "https://json-schema.org/draft/2020-12/schema";
    schema.properties = {
      apiVersion: { type: "string", enum: [`${group}/${v.name}`] },
      kind: { type: "string", enum: [names.kind] },
      metadata: { type: "object" },
      ...schema.properties,
    };
    schema.required = [...new Set(["apiVersion", "kind", ...(schema.required ?? [])])];
    schema.additionalProperties = false;
    mkdirSync(`${process.env.OUT}/${group}`, { recursive: true });
    writeFileSync(`${process.env.OUT}/${group}/${names.kind.toLowerCase()}_${v.name}.json`, JSON.stringify(schema));
    n++;
  }
}
if (n < 10) throw new Error(`only ${n} CRD versions in ${process.env.CRDS}`);
')
  stamp_set istio-schemas "$ISTIO_API_VERSION"
fi

echo "$tools"
