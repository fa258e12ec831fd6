#!/usr/bin/env bash
# engine-tools.sh - build the real Pulumi engine tools from Go modules, outside the repo.
#
# Builds, with the ordinary `go` client and the Go module proxy only (no GitHub,
# no get.pulumi.com):
#   pulumi                      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi           @ npm @pulumi/pulumi
#   pulumi-language-nodejs      github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
#                                                                                    @ npm @pulumi/pulumi
#   pulumi-resource-command     github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command
#                                                                                    @ npm @pulumi/command
#   pulumi-resource-kubernetes  github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
#                                                                                    @ npm @pulumi/kubernetes
# Versions come from package-lock.json in the repository root (this script's parent dir);
# nothing is hard-coded here.
#
# INTERFACE (the only two forms):
#   scripts/engine-tools.sh            build if needed; progress goes to stderr;
#                                      the LAST LINE OF STDOUT is the bin dir to put on PATH.
#   eval "$(scripts/engine-tools.sh --env)"
#                                      build if needed, then export PATH=<bin dir>:$PATH
#                                      and unset PULUMI_IGNORE_AMBIENT_PLUGINS in the caller.
#   Sourcing this file is refused (it would leak `set -euo pipefail` into your shell).
#   If any tool cannot be built the exit status is 1, the exact failing command and error
#   are on stderr, and stdout is empty (with --env it is `false`, so the eval fails too).
#
# HOW THE ENGINE FINDS THESE BINARIES
#   sdk/v3 go/common/workspace/plugins.go (getPluginInfoAndPath), used by the engine's
#   ensurePluginsAreInstalled (pkg/v3 engine/plugins.go) before it would download anything:
#   a plugin binary named pulumi-resource-<name> / pulumi-language-<lang> found on $PATH
#   ("ambient plugin") is used whatever version the SDK asks for, unless
#   PULUMI_IGNORE_AMBIENT_PLUGINS is set. So putting the bin dir on PATH is all that is
#   needed; no PULUMI_HOME and no `pulumi plugin install`. The providers are still linked
#   with their real version (-X <module>/pkg/version.Version=<npm version>) so that state
#   files and `pulumi about` show the version the npm SDK requests.
#   (Read from the v3.248.0 sources. Seen in practice for the language host: a missing one
#   fails with "no language plugin 'pulumi-language-nodejs' found in the workspace or on
#   your $PATH" and nothing is downloaded.)
#
# CACHE LAYOUT (never inside the repository)
#   ${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}/
#     gomod/  gobuild/  gopath/     Go module, build cache and GOPATH, shared by all keys
#     <key>/bin/                    the four binaries  (<key> = pulumi-X_command-Y_kubernetes-Z_rN)
#     <key>/src/<tool>/             generated wrapper modules
#     <key>/.complete               stamp, written only after every binary was built
#   A complete <key> is reused (about a second); a version change gives a new key and a
#   rebuild; an interrupted build has no stamp and is redone. `rm -rf` of the cache is safe
#   (the module cache is written with -modcacherw).
#
# HOW EACH TOOL IS BUILT
#   The upstream modules carry `replace` directives (e.g. sdk/v3 => ../sdk), so
#   `go install pkg@version` refuses them. For each tool a wrapper module is generated in
#   <key>/src/<tool>: it requires the upstream module at the release version, repeats the
#   upstream go.mod's non-local replace directives (read from the downloaded go.mod with
#   `go mod edit -json`), and turns each local replace (=> ../x) into a require of that
#   module at the same release version. Then: CGO_ENABLED=0 go build -trimpath -o bin/<tool>.
#   A main package that //go:embed's a generated file missing from the module zip (the
#   kubernetes provider's schema-embed.json) is copied into the wrapper and `go generate`d
#   with VERSION=<version>, as the upstream Makefile does.
#   If an upstream module has no tag for the release, its commit is taken from a sibling
#   module that is tagged at the same release (pseudo-version via the proxy).
#
# ENVIRONMENT
#   FLEET_ENGINE_CACHE   cache root (default above); must be outside the repository.
#   GO                   go binary (default: `go` on PATH, else /usr/local/go/bin/go).
#   GOPROXY, GONOSUMDB, GOPRIVATE, GOINSECURE ...  honoured as given (checksum verification
#                        against the checksum database stays on unless you turn it off).
#
# Requirements: bash >= 4, node (to read package-lock.json), go >= the modules' go directive.

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  echo "engine-tools.sh: do not source this script; use: eval \"\$(scripts/engine-tools.sh --env)\"" >&2
  # shellcheck disable=SC2317  # reached only when sourced
  return 2 2>/dev/null || exit 2
fi

set -euo pipefail

# Bump when the build recipe changes, so existing caches are rebuilt.
readonly RECIPE_REV=1

log() { printf 'engine-tools: %s\n' "$*" >&2; }
die() {
  printf 'engine-tools: ERROR: %s\n' "$*" >&2
  # With --env, make the caller's eval fail too instead of silently doing nothing.
  [[ "${mode:-}" != "env" ]] || printf 'false\n'
  exit 1
}
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

mode="bindir"
case "${1:-}" in
  "") ;;
  --env) mode="env" ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage
    die "unknown argument: $1"
    ;;
esac

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_dir=$(cd "$script_dir/.." && pwd -P)
lockfile="$repo_dir/package-lock.json"
[[ -f "$lockfile" ]] || die "no package-lock.json at $lockfile"
command -v node >/dev/null 2>&1 || die "node is required to read $lockfile"

# --- versions from package-lock.json -------------------------------------------------
versions=$(node -e '
  const lock = require(process.argv[1]);
  const pkgs = lock.packages || {};
  const deps = lock.dependencies || {};
  for (const name of process.argv.slice(2)) {
    const e = pkgs["node_modules/" + name] || deps[name];
    if (!e || !e.version) { console.error("package-lock.json has no version for " + name); process.exit(1); }
    console.log(e.version);
  }' "$lockfile" @pulumi/pulumi @pulumi/command @pulumi/kubernetes) ||
  die "cannot read versions from $lockfile"
{
  read -r pulumi_ver
  read -r command_ver
  read -r kubernetes_ver
} <<<"$versions"
for v in "$pulumi_ver" "$command_ver" "$kubernetes_ver"; do
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "unexpected version '$v' in $lockfile (want a release X.Y.Z)"
done

cache_root=${FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-bootstrap/engine-tools}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)
case "$cache_root/" in
  "$repo_dir/"*) die "cache dir $cache_root is inside the repository $repo_dir; set FLEET_ENGINE_CACHE elsewhere" ;;
esac

key="pulumi-${pulumi_ver}_command-${command_ver}_kubernetes-${kubernetes_ver}_r${RECIPE_REV}"
dir="$cache_root/$key"
bin="$dir/bin"
stamp="$dir/.complete"
tools=(pulumi pulumi-language-nodejs pulumi-resource-command pulumi-resource-kubernetes)

emit() {
  if [[ "$mode" == env ]]; then
    # shellcheck disable=SC2016  # $PATH is expanded by the caller's eval, on purpose
    printf 'export PATH=%q"${PATH:+:$PATH}"\n' "$bin"
    printf 'unset PULUMI_IGNORE_AMBIENT_PLUGINS\n'
  else
    printf '%s\n' "$bin"
  fi
}

is_complete() {
  [[ -f "$stamp" ]] || return 1
  local t
  for t in "${tools[@]}"; do
    [[ -x "$bin/$t" ]] || return 1
  done
}

if is_complete; then
  log "reusing $dir"
  emit
  exit 0
fi

# --- slow path: build ----------------------------------------------------------------
if [[ -z "${GO:-}" ]]; then
  GO=$(command -v go 2>/dev/null || true)
  [[ -n "$GO" ]] || GO=/usr/local/go/bin/go
fi
[[ -x "$GO" ]] || die "go not found (looked on PATH and at /usr/local/go/bin/go; set GO=...)"

export GOMODCACHE="$cache_root/gomod"
export GOCACHE="$cache_root/gobuild"
export GOPATH="$cache_root/gopath"
export GOFLAGS="-mod=mod -modcacherw"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOWORK=off
# Memory: at most two packages compiled at once (go build -p defaults to GOMAXPROCS).
export GOMAXPROCS="${GOMAXPROCS:-2}"

# One builder per key at a time; a second caller waits and then reuses the result.
exec 9>"$cache_root/.lock-$key"
if command -v flock >/dev/null 2>&1; then
  flock 9
  if is_complete; then
    log "reusing $dir (built by a concurrent run)"
    emit
    exit 0
  fi
fi

log "building into $dir ($("$GO" version))"
rm -rf "$stamp" "$bin" "$dir/src"
mkdir -p "$bin" "$dir/src"

# Run a go command in a directory; on failure print the exact command and stop.
run_go() {
  local wd=$1
  shift
  local cmd
  cmd=$(printf ' %q' "$@")
  log "  \$ (cd $wd && go$cmd)"
  if ! (cd "$wd" && "$GO" "$@"); then
    die "command failed: (cd $wd && go$cmd)"
  fi
}

# `go mod download -json MOD@VER` -> prints "Version|Dir|GoMod|OriginHash";
# on failure prints the go error on stderr and returns 1.
mod_download() {
  local out rc=0
  out=$(cd "$dir/src" && "$GO" mod download -json "$1" 2>&1) || rc=$?
  node -e '
    let j; try { j = JSON.parse(process.argv[1]); } catch (e) { console.error(process.argv[1]); process.exit(1); }
    if (j.Error) { console.error(j.Error); process.exit(1); }
    console.log([j.Version, j.Dir, j.GoMod, (j.Origin && j.Origin.Hash) || ""].join("|"));
  ' "$out" || return 1
  return "$rc"
}

# resolve MODULE VERSION [TAGGED_SIBLING] -> sets res_version res_dir res_gomod
# Tries MODULE@vVERSION; if the module has no such tag, takes the commit of
# TAGGED_SIBLING@vVERSION and asks the proxy for MODULE at that commit.
resolve() {
  local mod=$1 ver=$2 sibling=${3:-} line hash err1 err2
  if line=$(mod_download "$mod@v$ver" 2>"$dir/src/.err"); then
    IFS='|' read -r res_version res_dir res_gomod _ <<<"$line"
    return 0
  fi
  err1=$(cat "$dir/src/.err")
  if [[ "$err1" == *"verifying"*"/sumdb/"*"404 Not Found"* ]]; then
    err1+=$'\n'"      (the checksum database has no entry for $mod@v$ver; only if you choose to trust"
    err1+=$'\n'"       the module proxy for it: GONOSUMDB=$mod scripts/engine-tools.sh)"
  fi
  if [[ -n "$sibling" ]]; then
    if line=$(mod_download "$sibling@v$ver" 2>"$dir/src/.err"); then
      IFS='|' read -r _ _ _ hash <<<"$line"
      if [[ -n "$hash" ]] && line=$(mod_download "$mod@$hash" 2>"$dir/src/.err"); then
        IFS='|' read -r res_version res_dir res_gomod _ <<<"$line"
        log "  $mod has no v$ver tag; using $res_version (commit $hash of $sibling@v$ver)"
        return 0
      fi
    fi
    err2=$(cat "$dir/src/.err")
    printf '  $ go mod download -json %s@v%s\n      %s\n  fallback via %s@v%s%s:\n      %s\n' \
      "$mod" "$ver" "$err1" "$sibling" "$ver" "${hash:+ (commit $hash)}" "$err2" >&2
  else
    printf '  $ go mod download -json %s@v%s\n      %s\n' "$mod" "$ver" "$err1" >&2
  fi
  return 1
}

# The tools: NAME MODULE VERSION MAIN_PKG VERSION_PKG VERSION_VALUE TAGGED_SIBLING
# (VERSION_PKG.Version is set with -X; TAGGED_SIBLING: see resolve()).
specs=(
  "pulumi github.com/pulumi/pulumi/pkg/v3 $pulumi_ver
   github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
   github.com/pulumi/pulumi/sdk/v3/go/common/version v$pulumi_ver -"
  "pulumi-language-nodejs github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 $pulumi_ver
   github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
   github.com/pulumi/pulumi/sdk/v3/go/common/version v$pulumi_ver github.com/pulumi/pulumi/pkg/v3"
  "pulumi-resource-command github.com/pulumi/pulumi-command/provider $command_ver
   github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command
   github.com/pulumi/pulumi-command/provider/pkg/version $command_ver github.com/pulumi/pulumi-command"
  "pulumi-resource-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 $kubernetes_ver
   github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
   github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version $kubernetes_ver github.com/pulumi/pulumi-kubernetes/sdk/v4"
)

# Phase 1: resolve every upstream module first, so that a missing one is reported
# before any long build starts.
declare -A r_version r_dir r_gomod
failed=()
t_all=$(now)
for spec in "${specs[@]}"; do
  read -r name mod ver _ _ _ sibling <<<"${spec//$'\n'/ }"
  [[ "$sibling" == - ]] && sibling=
  log "[$name] resolving $mod@v$ver"
  if resolve "$mod" "$ver" "$sibling"; then
    r_version[$name]=$res_version r_dir[$name]=$res_dir r_gomod[$name]=$res_gomod
  else
    failed+=("$name ($mod@v$ver)")
  fi
done
if ((${#failed[@]})); then
  for f in "${failed[@]}"; do log "cannot fetch: $f"; done
  die "${#failed[@]} of ${#specs[@]} upstream modules are not available (exact errors above); nothing was built"
fi

# Phase 2: build.
# build_tool NAME MODULE VERSION MAIN_PKG VERSION_PKG VERSION_VALUE
build_tool() {
  local name=$1 mod=$2 ver=$3 pkg=$4 verpkg=$5 verval=$6
  local t0 src repo_prefix replaces old oldv new newv target verdir perr pdir
  local mver=${r_version[$name]} mdir=${r_dir[$name]} mgomod=${r_gomod[$name]}
  t0=$(now)
  log "[$name] building $pkg from $mod@$mver"
  src="$dir/src/$name"
  mkdir -p "$src"
  run_go "$src" mod init "fleet-bootstrap.local/engine-tools/$name"
  run_go "$src" mod edit "-require=$mod@$mver"

  # Repeat the upstream replace directives.
  repo_prefix=$(cut -d/ -f1-3 <<<"$mod")
  replaces=$(cd "$src" && "$GO" mod edit -json "$mgomod" | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      for (const r of JSON.parse(s).Replace || [])
        console.log([r.Old.Path, r.Old.Version || "", r.New.Path, r.New.Version || ""].join("|"));
    });') || die "[$name] cannot read replace directives from $mgomod"
  while IFS='|' read -r old oldv new newv; do
    [[ -n "$old" ]] || continue
    if [[ -z "$newv" ]]; then
      # Local directory replace (=> ../sdk): use the published module of the same release.
      [[ "$old" == "$repo_prefix"/* ]] ||
        die "[$name] upstream replaces $old with local path $new, which is not a module of $repo_prefix"
      log "  upstream: replace $old => $new   (so: require $old@v$ver)"
      run_go "$src" mod edit "-require=$old@v$ver"
    else
      log "  upstream: replace $old${oldv:+@$oldv} => $new@$newv"
      run_go "$src" mod edit "-replace=$old${oldv:+@$oldv}=$new@$newv"
    fi
  done <<<"$replaces"

  # Resolves the whole dependency graph (downloads) and checks the main package.
  log "  resolving dependencies of $pkg"
  if ! perr=$(cd "$src" && "$GO" list -e -f '{{with .Error}}{{.Err}}{{end}}' "$pkg" 2>"$src/list.log"); then
    grep -v '^go: downloading ' "$src/list.log" >&2 || true
    die "[$name] command failed: (cd $src && go list -e $pkg)"
  fi
  log "  dependency graph resolved ($(grep -c '^go: downloading ' "$src/list.log" || true) modules downloaded now)"
  target=$pkg
  if [[ -n "$perr" ]]; then
    [[ "$perr" == *"no matching files found"* ]] || die "[$name] (cd $src && go list $pkg): $perr"
    # A main package that embeds a generated file absent from the module zip is copied
    # into the wrapper and generated there (as the upstream Makefile does).
    pdir="$mdir/${pkg#"$mod"/}"
    log "  $perr: copying $pdir into the wrapper and running go generate (VERSION=$verval)"
    mkdir -p "$src/main"
    cp "$pdir"/* "$src/main/"
    chmod -R u+w "$src/main"
    VERSION=$verval run_go "$src" generate ./main
    target=./main
  fi

  # The version variable must exist where we set it.
  verdir=$(cd "$src" && "$GO" list -f '{{.Dir}}' "$verpkg") ||
    die "[$name] command failed: (cd $src && go list -f '{{.Dir}}' $verpkg)"
  grep -Eqs '^[[:space:]]*var[[:space:]]+Version([[:space:]]|=)' "$verdir"/*.go ||
    die "[$name] no 'var Version' in $verpkg ($verdir); cannot stamp the version"

  run_go "$src" build -trimpath -o "$bin/$name" \
    -ldflags "-s -w -X $verpkg.Version=$verval" "$target"
  log "[$name] built $mod@$mver in $(elapsed "$t0")"
}

for spec in "${specs[@]}"; do
  read -r name mod ver pkg verpkg verval _ <<<"${spec//$'\n'/ }"
  build_tool "$name" "$mod" "$ver" "$pkg" "$verpkg" "$verval"
done

got=$("$bin/pulumi" version 2>/dev/null) || die "built pulumi does not run: $bin/pulumi version"
[[ "$got" == "v$pulumi_ver" ]] || die "built pulumi reports version '$got', expected v$pulumi_ver"

{
  printf 'pulumi=%s\ncommand=%s\nkubernetes=%s\nrecipe=%s\n' \
    "$pulumi_ver" "$command_ver" "$kubernetes_ver" "$RECIPE_REV"
  printf 'go=%s\nbuilt=%s\n' "$("$GO" env GOVERSION)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
log "all tools built in $(elapsed "$t_all"): $bin"
emit
