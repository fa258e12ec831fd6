#!/usr/bin/env bash
# upstream-schemas.sh - the upstream CRDs and reference files the tests read, from pinned upstream
# releases, into a cache outside the repository.
#
# Every file listed in scripts/upstream-files.sha256 comes from the Go module of its upstream release
# (`go mod download`, verified by the Go checksum database), and is checked against the sha256 in that
# list before it is used. These are the same bytes as ../shared/crds and ../shared/reference-data.
#
# Usage: scripts/upstream-schemas.sh     fill the cache when it is missing or incomplete; the last line
#                                        of stdout is the cache directory (crds/, reference-data/)
# Cache: ${FLEET_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/upstream}
#   gomod/                               the Go module cache it downloads into
#   files-<manifest sha256>/             the verified files; complete once .complete exists
set -euo pipefail

die() {
  printf 'upstream-schemas: ERROR: %s\n' "$*" >&2
  exit 1
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_dir=$(cd "$script_dir/.." && pwd -P)
manifest="$script_dir/upstream-files.sha256"
[[ $# -eq 0 ]] || die "unknown argument '$1' (expected none)"

cache_root=${FLEET_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/upstream}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)
case "$cache_root/" in
  "$repo_dir/"*) die "the cache $cache_root is inside the repository; set FLEET_UPSTREAM_CACHE elsewhere" ;;
esac
# A changed list is a new directory: what an older list fetched is never mistaken for it.
files_dir="$cache_root/files-$(sha256sum "$manifest" | cut -c1-16)"
# verify DIR: every listed file in DIR has its listed sha256.
verify() {
  grep -v '^#' "$manifest" | awk 'NF { print $1 "  " $2 }' | (cd "$1" && sha256sum --check --quiet --strict -) >/dev/null 2>&1
}
if [[ -f "$files_dir/.complete" ]] && verify "$files_dir"; then
  printf '%s\n' "$files_dir"
  exit 0
fi

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x "$GO" ]] || die "go not found (looked on PATH and at /usr/local/go/bin/go; set GO=...). The tests need the upstream CRDs: install Go, or point FLEET_CRDS_DIR and FLEET_REFERENCE_DIR at a copy"
command -v node >/dev/null || die "node not found"
export GOMODCACHE="$cache_root/gomod" GOFLAGS="-modcacherw" GOTOOLCHAIN=local GOWORK=off
# shellcheck source=scripts/go-modules.sh
source "$script_dir/go-modules.sh"

exec 9>"$cache_root/.lock"
flock 9
staging="$files_dir.partial"
rm -rf "$staging"
declare -A module_dirs=()
count=0
while read -r sha file module inner; do
  [[ -z $sha || $sha == \#* ]] && continue
  if [[ -z ${module_dirs[$module]:-} ]]; then
    printf 'upstream-schemas: %s\n' "$module" >&2
    module_dirs[$module]=$(module_info "$module" Dir)
  fi
  source_file="${module_dirs[$module]}/$inner"
  [[ -f $source_file ]] || die "$module has no $inner (listed for $file in $manifest)"
  got=$(sha256sum "$source_file" | cut -d' ' -f1)
  [[ $got == "$sha" ]] || die "$module $inner has sha256 $got, $manifest expects $sha: not the pinned upstream file"
  mkdir -p "$staging/$(dirname "$file")"
  cp "$source_file" "$staging/$file"
  chmod 0644 "$staging/$file"
  count=$((count + 1))
done <"$manifest"
((count > 0)) || die "$manifest lists no files"
verify "$staging" || die "the files copied into $staging do not match $manifest"
date -u +%Y-%m-%dT%H:%M:%SZ >"$staging/.complete"
rm -rf "$files_dir"
mv "$staging" "$files_dir"
printf 'upstream-schemas: %d files verified into %s\n' "$count" "$files_dir" >&2
printf '%s\n' "$files_dir"
