#!/usr/bin/env bash
# Installs the pinned CLIs the steps need into DIR (for CI runners with Docker, and for people):
# kind and clusterctl built with `go install` (verified by the Go checksum database), kubectl and the
# Pulumi CLI downloaded and checked against the checksums their projects publish. Nothing unverified
# lands in DIR. Versions: kind and kubectl below; clusterctl = the clusterApiVersion default in
# Pulumi.yaml; Pulumi = the @pulumi/pulumi version in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:?usage: scripts/install-clis.sh DIR}"
mkdir -p "$dir"

kind_version=v0.29.0
kubectl_version=v1.33.1
clusterctl_version=$(node -e 'const y=require("js-yaml");const p=y.load(require("fs").readFileSync("Pulumi.yaml","utf8"));process.stdout.write(p.config.clusterApiVersion.default)')
pulumi_version=$(node -p 'require("./package-lock.json").packages["node_modules/@pulumi/pulumi"].version')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "kind ${kind_version}, clusterctl ${clusterctl_version} (go install, checksum database)" >&2
GOBIN="$dir" go install "sigs.k8s.io/kind@${kind_version}"
GOBIN="$dir" go install "sigs.k8s.io/cluster-api/cmd/clusterctl@${clusterctl_version}"

echo "kubectl ${kubectl_version} (dl.k8s.io, sha256)" >&2
curl -fsSLo "$work/kubectl" "https://dl.k8s.io/release/${kubectl_version}/bin/linux/amd64/kubectl"
curl -fsSLo "$work/kubectl.sha256" "https://dl.k8s.io/release/${kubectl_version}/bin/linux/amd64/kubectl.sha256"
echo "$(cat "$work/kubectl.sha256")  $work/kubectl" | sha256sum --check --strict
install -m 0755 "$work/kubectl" "$dir/kubectl"

echo "pulumi ${pulumi_version} (GitHub release, checksums.txt)" >&2
archive="pulumi-v${pulumi_version}-linux-x64.tar.gz"
base="https://github.com/pulumi/pulumi/releases/download/v${pulumi_version}"
curl -fsSLo "$work/$archive" "$base/$archive"
curl -fsSLo "$work/checksums.txt" "$base/pulumi-${pulumi_version}-checksums.txt"
(cd "$work" && grep " ${archive}\$" checksums.txt | sha256sum --check --strict)
tar -xzf "$work/$archive" -C "$work"
install -m 0755 "$work"/pulumi/* "$dir/"

"$dir/kind" version && "$dir/clusterctl" version -o short && "$dir/kubectl" version --client && "$dir/pulumi" version
