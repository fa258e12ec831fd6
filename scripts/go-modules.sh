# shellcheck shell=bash
# Go module helpers shared by scripts/engine-tools.sh, scripts/install-clis.sh and
# scripts/upstream-schemas.sh (sourced, not run). Everything comes from the Go module proxy with the
# checksum database on. The caller sets GO (the go binary) and defines die MESSAGE.

# go_in DIR ARGS...: run go in DIR; on failure name the exact command.
go_in() {
  local wd=$1
  shift
  (cd "$wd" && "$GO" "$@") || die "failed: (cd $wd && go $*)"
}

# module_info MODULE@VERSION FIELD [optional]: download a module (checksum-verified) and print one field
# of `go mod download -json` (Dir, GoMod, Version, Origin.Hash); an optional field may print nothing.
# Runs outside any module (GOWORK=off), so no go.mod of the caller's working directory takes part.
module_info() {
  local json
  json=$(cd / && GOWORK=off "$GO" mod download -json "$1" 2>&1) || true
  node -e '
    const [json, field, optional] = process.argv.slice(1);
    let j;
    try { j = JSON.parse(json); } catch { console.error(json); process.exit(1); }
    if (j.Error) { console.error(j.Error); process.exit(1); }
    const v = field.split(".").reduce((o, k) => (o || {})[k], j);
    if (!v && !optional) { console.error("no " + field); process.exit(1); }
    console.log(v || "");' "$json" "$2" "${3:-}" 2>&1 || die "go mod download $1: $json"
}

# git_commit MODULE@VERSION: the upstream commit, when the module proxy reports it (it does not for
# every module, e.g. k8s.io/kubernetes).
git_commit() {
  module_info "$1" Origin.Hash optional
}

# wrapper_module DIR MODULE VERSION LOCAL_VERSION: a module in DIR that requires MODULE@VERSION and
# repeats upstream's go.mod directives that `go install` refuses: a replace with a local path
# (=> ./staging/src/k8s.io/api, => ./api) becomes the published module at LOCAL_VERSION; any other
# replace, the go version and godebug settings are copied as they are.
wrapper_module() {
  local src=$1 mod=$2 version=$3 local_version=$4 gomod edits
  rm -rf "$src"
  mkdir -p "$src"
  gomod=$(module_info "$mod@$version" GoMod)
  go_in "$src" mod init "fleet-bootstrap.local/wrapper/$(basename "$src")"
  mapfile -t edits < <(cd "$src" && "$GO" mod edit -json "$gomod" | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [localVersion] = process.argv.slice(1);
    if (m.Go) console.log("-go=" + m.Go);
    for (const g of m.Godebug || []) console.log("-godebug=" + g.Key + "=" + g.Value);
    const required = new Set((m.Require || []).map((r) => r.Path));
    for (const r of m.Replace || []) {
      const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
      if (r.New.Version) console.log("-replace=" + old + "=" + r.New.Path + "@" + r.New.Version);
      // A local module this one does not require (e.g. the repository root) is not needed to build it.
      else if (required.has(r.Old.Path)) console.log("-replace=" + old + "=" + r.Old.Path + "@" + localVersion);
    }' "$local_version")
  go_in "$src" mod edit "-require=$mod@$version" "${edits[@]}"
}

# build_cluster_api_release VERSION SRC_DIR BIN_DIR PACKAGE...: packages of Cluster API VERSION (vX.Y.Z)
# built from its Go module with the -X flags upstream's release build sets (without them `clusterctl
# version -o short` prints an empty line); gitCommit is the release tag's commit as the module proxy
# records it.
build_cluster_api_release() {
  local version=$1 src=$2 bin=$3 commit ld="" kv minor
  shift 3
  wrapper_module "$src" sigs.k8s.io/cluster-api "$version" "$version"
  commit=$(git_commit "sigs.k8s.io/cluster-api@$version")
  minor=$(cut -d. -f2 <<<"$version")
  for kv in "gitVersion=$version" gitMajor=1 "gitMinor=$minor" ${commit:+"gitCommit=$commit"} gitTreeState=clean \
    buildDate=1970-01-01T00:00:00Z; do
    ld+=" -X sigs.k8s.io/cluster-api/version.$kv"
  done
  go_in "$src" build -trimpath -o "$bin/" -ldflags "-s -w$ld" "$@"
}
