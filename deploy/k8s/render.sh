#!/usr/bin/env bash
# Render a Kustomize overlay offline: `bash deploy/k8s/render.sh dev|production`.
#
# Uses `kubectl kustomize` when kubectl is there, else a `kustomize` binary on
# PATH, else installs kustomize (pinned) with `go install` through the Go
# module proxy into .tools/kustomize (git-ignored). No cluster is contacted.
#   bash deploy/k8s/render.sh --install   # only make sure a renderer is there
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KUSTOMIZE_VERSION=v5.5.0
LOCAL="$ROOT/.tools/kustomize"

renderer() {
  if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    echo "kubectl kustomize"
  elif command -v kustomize >/dev/null 2>&1; then
    echo "kustomize build"
  elif [ -x "$LOCAL/bin/kustomize" ]; then
    echo "$LOCAL/bin/kustomize build"
  fi
}

if [ -z "$(renderer)" ]; then
  command -v go >/dev/null 2>&1 || {
    echo "render.sh: neither kubectl, kustomize nor go is installed; install one (apt-get install golang-go)" >&2
    exit 1
  }
  echo "render.sh: installing kustomize $KUSTOMIZE_VERSION into $LOCAL" >&2
  GOBIN="$LOCAL/bin" GOPATH="$LOCAL/gopath" GOMODCACHE="$LOCAL/modcache" GOFLAGS=-modcacherw \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi

if [ "${1:-}" = "--install" ]; then
  renderer
  exit 0
fi
overlay="${1:?usage: render.sh <overlay: dev|production> | --install}"
# shellcheck disable=SC2046
exec $(renderer) "$ROOT/deploy/k8s/overlays/$overlay"
