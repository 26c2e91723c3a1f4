#!/usr/bin/env bash
# Validates the deployment artifacts; this is what CI runs.
#
#   deploy/validate.sh              # all steps
#   deploy/validate.sh compose k8s  # only some: compose, build, k8s
#
# 1. compose: deploy/compose.yaml passes `docker-compose config` (Debian's
#    docker-compose package, installed with apt-get when missing).
# 2. build:   the four programs build exactly as the Dockerfile's build stage does.
# 3. k8s:     every YAML file under deploy/k8s parses, and every document is a
#             Kubernetes object (apiVersion, kind, metadata.name); kustomization.yaml
#             lists every manifest (but the Secret template and the migration Job),
#             every resource and generator file it names exists (deploy/observability
#             and deploy/nats included), and every ConfigMap a manifest uses is defined
#             or generated.
#             python3-yaml is installed with apt-get when missing.
#
# Every requested step runs; the script fails at the end if any step failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
	steps=(compose build k8s)
fi

apt_updated=0
# apt_install installs Debian packages; CI runs as root, elsewhere sudo is tried.
apt_install() {
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "need root to install $*" >&2
			return 1
		fi
		sudo="sudo"
	fi
	if [ "$apt_updated" -eq 0 ]; then
		$sudo apt-get update -qq || return 1
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

step_compose() {
	if ! command -v docker-compose >/dev/null; then
		echo "installing docker-compose (Debian package)"
		apt_install docker-compose || return 1
	fi
	# The example env file stands in for deploy/.env, which holds real secrets and is
	# never committed; the compose file refuses to render without the secrets.
	docker-compose --env-file deploy/.env.example -f deploy/compose.yaml config -q
}

step_build() {
	local out
	out="$(mktemp -d)" || return 1
	# Same command as the build stage of deploy/Dockerfile.
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out/" \
		./cmd/api ./cmd/ingest-worker ./cmd/agent-worker ./cmd/reindexer
	local rc=$?
	if [ $rc -eq 0 ]; then
		for bin in api ingest-worker agent-worker reindexer; do
			if [ ! -x "$out/$bin" ]; then
				echo "missing binary: $bin" >&2
				rc=1
			fi
		done
	fi
	rm -rf "$out"
	return $rc
}

step_k8s() {
	local py=python3
	if ! "$py" -c 'import yaml' 2>/dev/null; then
		echo "installing python3-yaml (Debian package)"
		apt_install python3-yaml || return 1
		py=/usr/bin/python3
	fi
	"$py" - deploy/k8s <<'PY'
import pathlib
import sys

import yaml

failed = False
files = sorted(pathlib.Path(sys.argv[1]).rglob("*.y*ml"))
if not files:
    print("no YAML files under", sys.argv[1], file=sys.stderr)
    sys.exit(1)
for path in files:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        print(f"{path}: invalid YAML: {err}", file=sys.stderr)
        failed = True
        continue
    if not docs:
        print(f"{path}: no documents", file=sys.stderr)
        failed = True
    for i, doc in enumerate(docs):
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind") or not name:
            if not (isinstance(doc, dict) and doc.get("kind") == "Kustomization"):
                print(f"{path}: document {i} lacks apiVersion, kind or metadata.name", file=sys.stderr)
                failed = True

# `kubectl apply -k` applies only what the kustomization names: a manifest left out of
# it is silently never deployed. These two are applied by hand (see README.md).
root = pathlib.Path(sys.argv[1])
by_hand = {"kustomization.yaml", "secret.example.yaml", "migrate-job.yaml"}
top = yaml.safe_load((root / "kustomization.yaml").read_text()) or {}
for path in files:
    if path.parent == root and path.name not in by_hand and path.name not in (top.get("resources") or []):
        print(f"{path}: not listed in {root}/kustomization.yaml", file=sys.stderr)
        failed = True

generated = set()
manifests = []


def walk_kustomization(directory):
    global failed
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}
    for res in kust.get("resources") or []:
        target = directory / res
        if target.is_dir():
            if not (target / "kustomization.yaml").is_file():
                print(f"{target}: listed as a resource but has no kustomization.yaml", file=sys.stderr)
                failed = True
                continue
            walk_kustomization(target)
        elif target.is_file():
            manifests.extend(d for d in yaml.safe_load_all(target.read_text()) if isinstance(d, dict))
        else:
            print(f"{directory}/kustomization.yaml: resource {res} does not exist", file=sys.stderr)
            failed = True
    for gen in kust.get("configMapGenerator") or []:
        generated.add(gen["name"])
        for entry in gen.get("files") or []:
            source = directory / entry.split("=", 1)[-1]
            if not source.is_file():
                print(f"{directory}/kustomization.yaml: {gen['name']} reads {source}, which does not exist", file=sys.stderr)
                failed = True


walk_kustomization(root)

# Every ConfigMap a pod mounts or reads must exist, or the pod never starts.
defined = generated | {d["metadata"]["name"] for d in manifests if d.get("kind") == "ConfigMap"}


def used_configmaps(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("configMap", "configMapRef", "configMapKeyRef") and isinstance(value, dict):
                yield value.get("name")
            yield from used_configmaps(value)
    elif isinstance(node, list):
        for item in node:
            yield from used_configmaps(item)


for doc in manifests:
    for name in used_configmaps(doc):
        if name not in defined:
            print(f"{doc['kind']} {doc['metadata']['name']}: uses ConfigMap {name}, which nothing defines", file=sys.stderr)
            failed = True
sys.exit(1 if failed else 0)
PY
}

failed=()
for step in "${steps[@]}"; do
	case "$step" in
	compose | build | k8s) ;;
	*)
		echo "unknown step: $step (want compose, build or k8s)" >&2
		exit 2
		;;
	esac
	echo "== $step"
	if "step_$step"; then
		echo "ok   $step"
	else
		echo "FAIL $step" >&2
		failed+=("$step")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
