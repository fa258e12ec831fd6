#!/usr/bin/env bash
# clusterctl-repository.sh - a clusterctl local repository (file://) built offline from the Go
# modules, for the real-world test tier (test/real). No release artifact is downloaded: the
# components are rendered from the providers' sources the way upstream's `release-manifests` target
# does (manager image registry.k8s.io/<project>/<controller>:<tag>, imagePullPolicy IfNotPresent,
# `kustomize build config/default`).
#
#   cluster-api, bootstrap-kubeadm,          sigs.k8s.io/cluster-api (core, kubeadm bootstrap and
#   control-plane-kubeadm                    control plane, metadata.yaml)
#   infrastructure-docker                    sigs.k8s.io/cluster-api/test (CAPD; released with
#                                            Cluster API, so it carries the core metadata.yaml)
#   addon-helm                               sigs.k8s.io/cluster-api-addon-provider-helm (CAAPH)
#   cert-manager/<version>/cert-manager.yaml github.com/cert-manager/cert-manager deploy/: its
#                                            namespace and CRDs (the module holds no rendered release)
#
# Versions: the program's pins (Pulumi.yaml defaults of clusterApiVersion and
# helmAddonProviderVersion), plus Cluster API v1.14.1 and v1.14.2 (the clusterctl the engine tools
# build, and the release before it, for the version-mismatch scenarios).
#
# Usage: scripts/clusterctl-repository.sh [<engine tools bin dir>]
#   The bin dir holds kustomize (default: what scripts/engine-tools.sh prints). The last line of
#   stdout is the repository directory; it holds clusterctl.yaml, the `providers:` and
#   `cert-manager:` configuration pointing at it, to copy to $XDG_CONFIG_HOME/cluster-api/.
# Cache: ${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}/
#   clusterctl-repository/r<recipe>-<versions>/ (reused while its stamp .complete exists; ~5 MB);
#   the Go modules go to gomod/ there, checksum-verified. Cold: ~1 minute; warm: milliseconds.

set -euo pipefail

readonly RECIPE_REV=1
readonly TEST_CAPI_VERSIONS=(v1.14.1 v1.14.2)
readonly CERT_MANAGER_VERSION=v1.21.1

log() { printf 'clusterctl-repository: %s\n' "$*" >&2; }
die() {
  printf 'clusterctl-repository: ERROR: %s\n' "$*" >&2
  exit 1
}

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bin_dir=${1:-$(bash "$repo_dir/scripts/engine-tools.sh" | tail -n 1)}
kustomize=$bin_dir/kustomize
[[ -x $kustomize ]] || die "$kustomize not found: run bash scripts/engine-tools.sh to build the engine and Kubernetes tools"

# The program's pins, as Pulumi.yaml declares them.
mapfile -t pins < <(cd "$repo_dir" && node -e '
  const c = require("js-yaml").load(require("fs").readFileSync("Pulumi.yaml", "utf8")).config;
  console.log(c.clusterApiVersion.default);
  console.log(c.helmAddonProviderVersion.default);')
capi_versions=$(printf '%s\n' "${pins[0]}" "${TEST_CAPI_VERSIONS[@]}" | sort -uV | tr '\n' ' ')
read -r -a capi_versions <<<"$capi_versions"
helm_version=${pins[1]}

cache_root=${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}
key="r$RECIPE_REV-capi-$(
  IFS=_
  echo "${capi_versions[*]}"
)-helm-$helm_version-cert-manager-$CERT_MANAGER_VERSION"
out="$cache_root/clusterctl-repository/$key"
case "$out/" in
  "$repo_dir/"*) die "the cache $out is inside the repository; set FLEET_ENGINE_CACHE elsewhere" ;;
esac
if [[ -f $out/.complete ]]; then
  printf '%s\n' "$out"
  exit 0
fi

export GOMODCACHE="$cache_root/gomod" GOFLAGS=-modcacherw GOTOOLCHAIN=local GOWORK=off GO111MODULE=on
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$cache_root/clusterctl-repository"
rm -rf -- "$out"
mkdir -p "$out"

# module_dir MODULE@VERSION: downloads the module (checksum-verified) and prints its directory.
module_dir() {
  local json
  json=$(cd "$work" && "$GO" mod download -json "$1" 2>&1) || true
  [[ $json =~ \"Dir\":\ \"([^\"]+)\" ]] || die "go mod download $1 failed: $json"
  printf '%s' "${BASH_REMATCH[1]}"
}

# components MODULE_DIR CONFIG_PARENT IMAGE OUTPUT: what release-manifests does for one provider:
# the manager image and pull policy set in config/default, then `kustomize build config/default`.
components() {
  local src=$1/$2 image=$3 output=$4 build
  build=$(mktemp -d "$work/build.XXXXXX")
  cp -r "$src/config" "$build/"
  chmod -R u+w "$build"
  sed -i -e "s@image: .*@image: $image@" "$build/config/default/manager_image_patch.yaml"
  sed -i -e 's@imagePullPolicy: .*@imagePullPolicy: IfNotPresent@' "$build/config/default/manager_pull_policy.yaml"
  mkdir -p "$(dirname "$output")"
  "$kustomize" build "$build/config/default" >"$output" || die "kustomize build of $src/config/default failed"
}

# provider LABEL VERSION FILE METADATA MODULE_DIR CONFIG_PARENT IMAGE
provider() {
  local dir="$out/$1/$2"
  log "rendering $1 $2"
  components "$5" "$6" "$7:$2" "$dir/$3"
  cp "$4" "$dir/metadata.yaml"
  chmod 644 "$dir/metadata.yaml"
}

for version in "${capi_versions[@]}"; do
  core=$(module_dir "sigs.k8s.io/cluster-api@$version")
  test_module=$(module_dir "sigs.k8s.io/cluster-api/test@$version")
  registry=registry.k8s.io/cluster-api
  provider cluster-api "$version" core-components.yaml "$core/metadata.yaml" "$core" core "$registry/cluster-api-controller"
  provider bootstrap-kubeadm "$version" bootstrap-components.yaml "$core/metadata.yaml" "$core" bootstrap/kubeadm \
    "$registry/kubeadm-bootstrap-controller"
  provider control-plane-kubeadm "$version" control-plane-components.yaml "$core/metadata.yaml" "$core" controlplane/kubeadm \
    "$registry/kubeadm-control-plane-controller"
  provider infrastructure-docker "$version" infrastructure-components.yaml "$core/metadata.yaml" "$test_module" \
    infrastructure/docker "$registry/capd-manager"
done
helm=$(module_dir "sigs.k8s.io/cluster-api-addon-provider-helm@$helm_version")
provider addon-helm "$helm_version" addon-components.yaml "$helm/metadata.yaml" "$helm" . \
  registry.k8s.io/cluster-api-helm/cluster-api-helm-controller

log "rendering cert-manager $CERT_MANAGER_VERSION (namespace and CRDs)"
cert_manager=$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")
mkdir -p "$out/cert-manager/$CERT_MANAGER_VERSION"
{
  cat "$cert_manager/deploy/manifests/namespace.yaml"
  for crd in "$cert_manager"/deploy/crds/*.yaml; do
    printf '%s\n' '---'
    cat "$crd"
  done
} >"$out/cert-manager/$CERT_MANAGER_VERSION/cert-manager.yaml"

# clusterctl.yaml: a local repository URL names the provider's folder, a version folder (clusterctl
# lists the others) and the components file.
latest=${capi_versions[${#capi_versions[@]} - 1]}
{
  printf 'providers:\n'
  printf '  - name: %s\n    type: %s\n    url: file://%s\n' \
    cluster-api CoreProvider "$out/cluster-api/$latest/core-components.yaml" \
    kubeadm BootstrapProvider "$out/bootstrap-kubeadm/$latest/bootstrap-components.yaml" \
    kubeadm ControlPlaneProvider "$out/control-plane-kubeadm/$latest/control-plane-components.yaml" \
    docker InfrastructureProvider "$out/infrastructure-docker/$latest/infrastructure-components.yaml" \
    helm AddonProvider "$out/addon-helm/$helm_version/addon-components.yaml"
  printf 'cert-manager:\n  url: file://%s\n  version: %s\n' \
    "$out/cert-manager/$CERT_MANAGER_VERSION/cert-manager.yaml" "$CERT_MANAGER_VERSION"
} >"$out/clusterctl.yaml"
touch "$out/.complete"
log "done: $out"
printf '%s\n' "$out"
