#!/usr/bin/env bash
# Installs the pinned CLIs the steps need into DIR (for CI runners with Docker, and for people), each the
# way its project publishes it, and nothing unverified:
#   kind        the release binary, checked against the .sha256sum published beside it
#   kubectl     the release binary from dl.k8s.io, checked against its published .sha256
#   pulumi      the release archive, checked against the release's checksums.txt
#   clusterctl  Cluster API publishes no checksums for its binaries and `go install` refuses its module
#               (its go.mod has a replace), so it is built from the release's Go module (verified by the
#               Go checksum database) in a wrapper module, with the -X version flags of the release build
#               (scripts/go-modules.sh build_cluster_api_release)
#   age         `go install`, as age documents it (Go checksum database)
# Versions: kind, kubectl and age below; clusterctl = the clusterApiVersion default in Pulumi.yaml;
# Pulumi = the @pulumi/pulumi version in package-lock.json. Go modules are cached in
# ${XDG_CACHE_HOME:-~/.cache}/fleet-bootstrap/install-clis. Linux and macOS, amd64 and arm64.
set -euo pipefail

die() {
  printf 'install-clis: ERROR: %s\n' "$*" >&2
  exit 1
}
log() { printf 'install-clis: %s\n' "$*" >&2; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$script_dir/.."
[[ $# -eq 1 ]] || die "usage: scripts/install-clis.sh DIR"
mkdir -p "$1"
dir=$(cd "$1" && pwd -P)

kind_version=v0.29.0
kubectl_version=v1.33.1
age_version=v1.2.1
clusterctl_version=$(node -e 'const y=require("js-yaml");const p=y.load(require("fs").readFileSync("Pulumi.yaml","utf8"));process.stdout.write(p.config.clusterApiVersion.default)')
pulumi_version=$(node -p 'require("./package-lock.json").packages["node_modules/@pulumi/pulumi"].version')

os=$(uname -s | tr '[:upper:]' '[:lower:]')
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 pulumi_arch=x64 ;;
  aarch64 | arm64) arch=arm64 pulumi_arch=arm64 ;;
  *) die "unsupported machine $(uname -m) (amd64 and arm64 are published)" ;;
esac
[[ $os == linux || $os == darwin ]] || die "unsupported OS $os (linux and darwin are published)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir -p "$out"

# download URL FILE: into $work/FILE.
download() {
  curl -fsSLo "$work/$2" "$1" || die "download failed: $1"
}
# verify FILE SHA256 SOURCE: the file's sha256 is the one its project publishes in SOURCE.
verify() {
  local got
  got=$(sha256sum "$work/$1" | cut -d' ' -f1)
  [[ -n $2 && $got == "$2" ]] || die "$1 has sha256 $got, but $3 says ${2:-nothing}: not installing it"
}

log "kind ${kind_version} (GitHub release, .sha256sum)"
asset="kind-${os}-${arch}"
base="https://github.com/kubernetes-sigs/kind/releases/download/${kind_version}"
download "$base/$asset" kind
download "$base/$asset.sha256sum" kind.sha256sum
verify kind "$(awk -v f="$asset" '$2 == f { print $1 }' "$work/kind.sha256sum")" "$asset.sha256sum"
install -m 0755 "$work/kind" "$out/kind"

log "kubectl ${kubectl_version} (dl.k8s.io, .sha256)"
base="https://dl.k8s.io/release/${kubectl_version}/bin/${os}/${arch}"
download "$base/kubectl" kubectl
download "$base/kubectl.sha256" kubectl.sha256
verify kubectl "$(tr -d '[:space:]' <"$work/kubectl.sha256")" "kubectl.sha256"
install -m 0755 "$work/kubectl" "$out/kubectl"

log "pulumi ${pulumi_version} (GitHub release, checksums.txt)"
archive="pulumi-v${pulumi_version}-${os}-${pulumi_arch}.tar.gz"
base="https://github.com/pulumi/pulumi/releases/download/v${pulumi_version}"
download "$base/$archive" "$archive"
download "$base/pulumi-${pulumi_version}-checksums.txt" pulumi-checksums.txt
verify "$archive" "$(awk -v f="$archive" '$2 == f { print $1 }' "$work/pulumi-checksums.txt")" "pulumi-${pulumi_version}-checksums.txt"
tar -xzf "$work/$archive" -C "$work"
install -m 0755 "$work"/pulumi/* "$out/"

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $GO ]] || die "go not found (looked on PATH and at /usr/local/go/bin/go; set GO=...): clusterctl and age are built from their Go modules"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/install-clis
mkdir -p "$cache"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild" GOFLAGS="-mod=mod -modcacherw" GOWORK=off CGO_ENABLED=0
# shellcheck source=scripts/go-modules.sh
source "$script_dir/go-modules.sh"

log "clusterctl ${clusterctl_version} (Go module, checksum database; the release's version flags)"
build_cluster_api_release "$clusterctl_version" "$work/clusterctl-src" "$out" sigs.k8s.io/cluster-api/cmd/clusterctl

log "age ${age_version} (go install, checksum database)"
GOBIN="$out" "$GO" install "filippo.io/age/cmd/...@${age_version}" || die "failed: go install filippo.io/age/cmd/...@${age_version}"

# Every tool reports the pinned version before anything lands in DIR.
check() {
  local got
  got=$(CLUSTERCTL_DISABLE_VERSIONCHECK=true "$out/$1" "${@:3}" 2>/dev/null) || die "$1 does not run: $out/$1 ${*:3}"
  [[ $got == *"$2"* ]] || die "$1 reports '${got%%$'\n'*}', expected $2"
}
check kind "$kind_version" version
check kubectl "\"gitVersion\": \"$kubectl_version\"" version --client -o json
check pulumi "v$pulumi_version" version
check clusterctl "$clusterctl_version" version -o short
check age "$age_version" --version
for tool in "$out"/*; do
  install -m 0755 "$tool" "$dir/"
done
log "installed into $dir: $(cd "$out" && echo *)"
