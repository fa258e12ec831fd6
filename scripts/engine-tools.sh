#!/usr/bin/env bash
# engine-tools.sh - build the real tools the engine tests run, into a cache outside the repository.
#
#   pulumi, pulumi-language-nodejs,         the Pulumi engine, its Node.js language host and the two
#   pulumi-resource-command,                providers this program uses, at the versions of the npm
#   pulumi-resource-kubernetes              packages in package-lock.json
#   kube-apiserver, kube-controller-manager,
#   kubectl, etcd                           a real Kubernetes API server for the permanent side
#   clusterctl, kustomize                   the real Cluster API CLI; kustomize renders its providers
#   registry, flux, flux-operator,          what runs the permanent side after the pivot in the
#   source-controller,                      controllers tier of the engine tests: an OCI registry, the
#   kustomize-controller, helm-controller   flux CLI that pushes the fleet artifact, the Flux Operator
#                                           and the Flux controllers it installs
#
# Everything comes from the Go module proxy with checksum verification on, except the two Pulumi
# modules the proxy refuses: their upstream source is in ../shared/upstream-src (or
# $FLEET_UPSTREAM_SRC), verified by sha256 before it is built. Nothing is downloaded from anywhere else.
#
# Usage:
#   scripts/engine-tools.sh           build what is missing; progress on stderr; the last line of
#                                     stdout is the bin directory to put first on PATH
#   scripts/engine-tools.sh --list    print the pinned versions and exit
#
# Cache: ${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}
#   gomod/ gobuild/       the Go module and build caches (~25 GB after a cold build, the Flux tools included)
#   units/<unit>-<ver>-r<recipe>/bin/   one build unit, reused while its stamp .complete exists
#   bin/                  symlinks to every unit's binaries (the directory printed)
# A complete unit is reused in milliseconds; a changed pin is a new unit; an interrupted build has no
# stamp and is redone. Cold: about 53 minutes on 2 cores.

set -euo pipefail

# Bump when a recipe below changes, so existing units are rebuilt.
readonly RECIPE_REV=2

readonly PULUMI_VERSION=3.248.0
readonly COMMAND_VERSION=1.2.1
readonly KUBERNETES_PROVIDER_VERSION=4.25.0
# Tag v4.25.0 of pulumi-kubernetes as the proxy serves it (the tag itself is refused).
readonly KUBERNETES_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
readonly KUBERNETES_VERSION=1.34.4
readonly ETCD_VERSION=3.6.16
readonly CLUSTER_API_VERSION=1.14.2
readonly KUSTOMIZE_VERSION=5.7.0
readonly REGISTRY_VERSION=3.1.2
readonly FLUX_VERSION=2.9.5
readonly SOURCE_CONTROLLER_VERSION=1.9.5
readonly KUSTOMIZE_CONTROLLER_VERSION=1.9.5
readonly HELM_CONTROLLER_VERSION=1.6.4
readonly FLUX_OPERATOR_VERSION=0.58.1
readonly CLIPBOARD_FORK=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
readonly LANGUAGE_HOST_ARCHIVE=pulumi-language-nodejs-v3.248.0.tar.gz
readonly LANGUAGE_HOST_SHA256=c355622aaccad7a1d71f7c77a41c4c149679d68b779f4fa3755e5ab0eb06f8e3
readonly COMMAND_ARCHIVE=pulumi-command-provider-v1.2.1.tar.gz
readonly COMMAND_SHA256=c0bd525958142923571da282a0188792f0f5b0d2e1722f247d1f7673f011f6a0

log() { printf 'engine-tools: %s\n' "$*" >&2; }
die() {
  printf 'engine-tools: ERROR: %s\n' "$*" >&2
  exit 1
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_dir=$(cd "$script_dir/.." && pwd -P)

if [[ "${1:-}" == --list ]]; then
  printf 'pulumi=%s\ncommand=%s\nkubernetes-provider=%s\nkubernetes=%s\netcd=%s\ncluster-api=%s\nkustomize=%s\n' \
    "$PULUMI_VERSION" "$COMMAND_VERSION" "$KUBERNETES_PROVIDER_VERSION" "$KUBERNETES_VERSION" \
    "$ETCD_VERSION" "$CLUSTER_API_VERSION" "$KUSTOMIZE_VERSION"
  printf 'registry=%s\nflux=%s\nsource-controller=%s\nkustomize-controller=%s\nhelm-controller=%s\nflux-operator=%s\n' \
    "$REGISTRY_VERSION" "$FLUX_VERSION" "$SOURCE_CONTROLLER_VERSION" "$KUSTOMIZE_CONTROLLER_VERSION" \
    "$HELM_CONTROLLER_VERSION" "$FLUX_OPERATOR_VERSION"
  exit 0
fi
[[ $# -eq 0 ]] || die "unknown argument '$1' (expected none, or --list)"

# The engine must run the plugins the npm SDKs ask for: a mismatch means a stale pin here or there.
lock_versions=$(node -e '
  const p = require(process.argv[1]).packages;
  for (const n of ["@pulumi/pulumi", "@pulumi/command", "@pulumi/kubernetes"])
    console.log((p["node_modules/" + n] || {}).version);' "$repo_dir/package-lock.json")
expected=$(printf '%s\n' "$PULUMI_VERSION" "$COMMAND_VERSION" "$KUBERNETES_PROVIDER_VERSION")
[[ "$lock_versions" == "$expected" ]] ||
  die "package-lock.json has @pulumi/pulumi, @pulumi/command, @pulumi/kubernetes at ${lock_versions//$'\n'/ }; these tools build ${expected//$'\n'/ }: change one to match the other"

upstream_src=${FLEET_UPSTREAM_SRC:-$repo_dir/../shared/upstream-src}
cache_root=${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}
mkdir -p "$cache_root/units" "$cache_root/bin"
cache_root=$(cd "$cache_root" && pwd -P)
case "$cache_root/" in
  "$repo_dir/"*) die "the cache $cache_root is inside the repository; set FLEET_ENGINE_CACHE elsewhere" ;;
esac

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export GOMODCACHE="$cache_root/gomod" GOCACHE="$cache_root/gobuild" GOPATH="$cache_root/gopath"
export GOFLAGS="-mod=mod -modcacherw -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0

# One builder at a time; a second caller waits, then reuses what the first built.
exec 9>"$cache_root/.lock"
flock 9

# go_in, module_info, wrapper_module, build_cluster_api_release
# shellcheck source=scripts/go-modules.sh
source "$script_dir/go-modules.sh"

# unpack_upstream ARCHIVE SHA256 DIR: the verified upstream source archive, unpacked into DIR.
unpack_upstream() {
  local archive="$upstream_src/$1" want=$2 dest=$3 got
  [[ -f "$archive" ]] ||
    die "$archive not found: it is the upstream source the Go module proxy refuses; set FLEET_UPSTREAM_SRC to the folder that holds it"
  got=$(sha256sum "$archive" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || die "$archive has sha256 $got, expected $want: not the pinned upstream source"
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -xzf "$archive" -C "$dest" --strip-components=1
}

build_pulumi() {
  local src=$1/src bin=$1/bin
  wrapper_module "$src" github.com/pulumi/pulumi/pkg/v3 "v$PULUMI_VERSION" "v$PULUMI_VERSION"
  go_in "$src" mod edit "-require=github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" \
    "-replace=github.com/atotto/clipboard=$CLIPBOARD_FORK"
  go_in "$src" build -trimpath -o "$bin/" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_language_host() {
  local src=$1/src bin=$1/bin
  unpack_upstream "$LANGUAGE_HOST_ARCHIVE" "$LANGUAGE_HOST_SHA256" "$src"
  # Upstream builds it inside the pulumi repository (replaces => ../../..); here against the
  # published modules of the same release.
  go_in "$src" mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
    "-require=github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "-require=github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  go_in "$src" mod tidy
  go_in "$src" build -trimpath -o "$bin/" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" .
}

build_command_provider() {
  local src=$1/src bin=$1/bin
  unpack_upstream "$COMMAND_ARCHIVE" "$COMMAND_SHA256" "$src"
  go_in "$src" build -trimpath -o "$bin/" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" \
    ./cmd/pulumi-resource-command
}

build_kubernetes_provider() {
  local src=$1/src bin=$1/bin mod=github.com/pulumi/pulumi-kubernetes/provider/v4 dir
  wrapper_module "$src" "$mod" "$KUBERNETES_PROVIDER_MODULE_VERSION" "v$KUBERNETES_PROVIDER_VERSION"
  # The main package embeds a schema that upstream generates at build time (not in the module zip).
  dir=$(module_info "$mod@$KUBERNETES_PROVIDER_MODULE_VERSION" Dir)
  mkdir -p "$src/main"
  cp "$dir"/cmd/pulumi-resource-kubernetes/* "$src/main/"
  chmod -R u+w "$src/main"
  (cd "$src" && VERSION=$KUBERNETES_PROVIDER_VERSION "$GO" generate ./main) || die "failed: go generate in $src/main"
  go_in "$src" build -trimpath -o "$bin/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $mod/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" ./main
}

build_kubernetes() {
  local src=$1/src bin=$1/bin commit ld="" pkg minor=${KUBERNETES_VERSION#*.}
  minor=${minor%%.*}
  # Upstream's go.mod points every k8s.io/X at ./staging/src/k8s.io/X, published as k8s.io/X v0.<minor>.<patch>.
  wrapper_module "$src" k8s.io/kubernetes "v$KUBERNETES_VERSION" "v0.${KUBERNETES_VERSION#*.}"
  commit=$(git_commit "k8s.io/kubernetes@v$KUBERNETES_VERSION")
  # What hack/lib/version.sh stamps; without it the binaries report v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" ${commit:+-X $pkg.gitCommit=$commit} -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  go_in "$src" build -trimpath -o "$bin/" -ldflags "-s -w$ld" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local src=$1/src bin=$1/bin
  wrapper_module "$src" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION" "v$ETCD_VERSION"
  go_in "$src" build -trimpath -o "$bin/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
}

build_clusterctl() {
  build_cluster_api_release "v$CLUSTER_API_VERSION" "$1/src" "$1/bin" sigs.k8s.io/cluster-api/cmd/clusterctl
}

build_registry() {
  local src=$1/src bin=$1/bin mod=github.com/distribution/distribution/v3
  wrapper_module "$src" "$mod" "v$REGISTRY_VERSION" "v$REGISTRY_VERSION"
  go_in "$src" build -trimpath -o "$bin/registry" -ldflags "-s -w" "$mod/cmd/registry"
}

# build_flux_controller DIR NAME VERSION [REPLACE...]: a Flux controller (module github.com/fluxcd/NAME,
# its main package at the root), its ./api replace pointing at the published api module of VERSION.
build_flux_controller() {
  local src=$1/src bin=$1/bin name=$2 version=$3 replace
  shift 3
  wrapper_module "$src" "github.com/fluxcd/$name" "v$version" "v$version"
  for replace in "$@"; do go_in "$src" mod edit "-replace=$replace"; done
  go_in "$src" build -trimpath -o "$bin/$name" -ldflags "-s -w" "github.com/fluxcd/$name"
}

build_source_controller() {
  # Its github.com/fluxcd/pkg/artifact v0.18.3 is refused by the proxy; v0.18.0 has the same API.
  build_flux_controller "$1" source-controller "$SOURCE_CONTROLLER_VERSION" \
    github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0
}
build_kustomize_controller() { build_flux_controller "$1" kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"; }
build_helm_controller() { build_flux_controller "$1" helm-controller "$HELM_CONTROLLER_VERSION"; }

# copy_module MODULE@VERSION DEST: a writable copy of a module's source (to add what upstream generates).
copy_module() {
  rm -rf "$2"
  cp -r "$(module_info "$1" Dir)" "$2"
  chmod -R u+w "$2"
}

# The flux CLI, for `flux push artifact`. Upstream generates cmd/flux/manifests (the install manifests
# `flux install` embeds) at release time; a placeholder stands in, as this CLI never installs Flux.
build_flux_cli() {
  local src=$1/src bin=$1/bin mod=github.com/fluxcd/flux2/v2
  wrapper_module "$src" "$mod" "v$FLUX_VERSION" "v$FLUX_VERSION"
  copy_module "$mod@v$FLUX_VERSION" "$src/flux2"
  mkdir -p "$src/flux2/cmd/flux/manifests"
  printf '# not built here: this flux CLI cannot run flux install\n' >"$src/flux2/cmd/flux/manifests/placeholder.yaml"
  go_in "$src" mod edit "-replace=$mod=./flux2"
  go_in "$src" build -trimpath -o "$bin/flux" -ldflags "-s -w -X main.VERSION=$FLUX_VERSION" "$mod/cmd/flux"
}

# The Flux Operator, built in a copy of its module: upstream builds its web UI (web/dist, embedded) with
# npm at release time, a placeholder stands in (the tests run it with --web-server-port 0). The Flux
# distribution manifests it installs from ship in the module (config/data): kept in share/.
build_flux_operator() (
  local src=$1/src bin=$1/bin mod=github.com/controlplaneio-fluxcd/flux-operator
  # It refuses to start in non-FIPS mode.
  export GOFIPS140=latest
  copy_module "$mod@v$FLUX_OPERATOR_VERSION" "$src"
  mkdir -p "$src/web/dist"
  printf '<!doctype html><title>flux-operator</title>\n' >"$src/web/dist/index.html"
  # Its pinned pseudo-version of this go-containerregistry submodule is refused by the proxy.
  go_in "$src" mod edit \
    -replace=github.com/google/go-containerregistry/pkg/authn/kubernetes=github.com/google/go-containerregistry/pkg/authn/kubernetes@v0.0.0-20250225234217-098045d5e61f
  go_in "$src" build -trimpath -o "$bin/flux-operator" -ldflags "-s -w -X main.VERSION=$FLUX_OPERATOR_VERSION" ./cmd/operator
  mkdir -p "$1/share/flux-operator"
  cp -r "$src/config/data" "$1/share/flux-operator/data"
)

build_kustomize() {
  local src=$1/src bin=$1/bin
  wrapper_module "$src" sigs.k8s.io/kustomize/kustomize/v5 "v$KUSTOMIZE_VERSION" "v$KUSTOMIZE_VERSION"
  go_in "$src" build -trimpath -o "$bin/" -ldflags "-s -w" sigs.k8s.io/kustomize/kustomize/v5
}

# unit NAME VERSION BUILD_FUNCTION BINARY...
units=(
  "etcd $ETCD_VERSION build_etcd etcd"
  "kubernetes $KUBERNETES_VERSION build_kubernetes kube-apiserver kube-controller-manager kubectl"
  "registry $REGISTRY_VERSION build_registry registry"
  "flux $FLUX_VERSION build_flux_cli flux"
  "flux-operator $FLUX_OPERATOR_VERSION build_flux_operator flux-operator"
  "source-controller $SOURCE_CONTROLLER_VERSION build_source_controller source-controller"
  "kustomize-controller $KUSTOMIZE_CONTROLLER_VERSION build_kustomize_controller kustomize-controller"
  "helm-controller $HELM_CONTROLLER_VERSION build_helm_controller helm-controller"
  "pulumi $PULUMI_VERSION build_pulumi pulumi"
  "language-host $PULUMI_VERSION build_language_host pulumi-language-nodejs"
  "command-provider $COMMAND_VERSION build_command_provider pulumi-resource-command"
  "kubernetes-provider $KUBERNETES_PROVIDER_VERSION build_kubernetes_provider pulumi-resource-kubernetes"
  "clusterctl $CLUSTER_API_VERSION build_clusterctl clusterctl"
  "kustomize $KUSTOMIZE_VERSION build_kustomize kustomize"
)

started=$SECONDS
for spec in "${units[@]}"; do
  read -r name version build binaries <<<"$spec"
  dir="$cache_root/units/$name-$version-r$RECIPE_REV"
  if [[ ! -f "$dir/.complete" ]]; then
    [[ -x "$GO" ]] || die "go not found (looked on PATH and at /usr/local/go/bin/go; set GO=...)"
    log "building $name $version into $dir ..."
    t0=$SECONDS
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    "$build" "$dir"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/.complete"
    log "built $name $version in $((SECONDS - t0)) s"
  fi
  for b in $binaries; do
    [[ -x "$dir/bin/$b" ]] || die "$dir/bin/$b is missing although $dir/.complete exists; remove $dir and run again"
    ln -sfn "$dir/bin/$b" "$cache_root/bin/$b"
  done
done

got=$("$cache_root/bin/pulumi" version) || die "$cache_root/bin/pulumi does not run"
[[ "$got" == "v$PULUMI_VERSION" ]] || die "$cache_root/bin/pulumi reports $got, expected v$PULUMI_VERSION"
log "all tools ready in $((SECONDS - started)) s: $cache_root/bin"
printf '%s\n' "$cache_root/bin"
