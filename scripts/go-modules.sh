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

# module_info MODULE@VERSION FIELD: download a module (checksum-verified) and print one field of
# `go mod download -json` (Dir, GoMod, Version, Origin.Hash). Runs outside any module (GOWORK=off),
# so no go.mod of the caller's working directory takes part.
module_info() {
  local json
  json=$(cd / && GOWORK=off "$GO" mod download -json "$1" 2>&1) || true
  node -e '
    let j;
    try { j = JSON.parse(process.argv[1]); } catch { console.error(process.argv[1]); process.exit(1); }
    if (j.Error) { console.error(j.Error); process.exit(1); }
    const v = process.argv[2].split(".").reduce((o, k) => (o || {})[k], j);
    if (!v) { console.error("no " + process.argv[2]); process.exit(1); }
    console.log(v);' "$json" "$2" 2>&1 || die "go mod download $1: $json"
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
    for (const r of m.Replace || []) {
      const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
      console.log("-replace=" + old + "=" + (r.New.Version ? r.New.Path + "@" + r.New.Version : r.Old.Path + "@" + localVersion));
    }' "$local_version")
  go_in "$src" mod edit "-require=$mod@$version" "${edits[@]}"
}

# build_clusterctl_release VERSION SRC_DIR BIN_DIR: clusterctl VERSION (vX.Y.Z) built from its Go module
# with the -X flags upstream's release build sets (without them `clusterctl version -o short` prints
# an empty line); gitCommit is the release tag's commit as the module proxy records it.
build_clusterctl_release() {
  local version=$1 src=$2 bin=$3 commit ld="" kv minor
  wrapper_module "$src" sigs.k8s.io/cluster-api "$version" "$version"
  commit=$(module_info "sigs.k8s.io/cluster-api@$version" Origin.Hash)
  minor=$(cut -d. -f2 <<<"$version")
  for kv in "gitVersion=$version" gitMajor=1 "gitMinor=$minor" "gitCommit=$commit" gitTreeState=clean \
    buildDate=1970-01-01T00:00:00Z; do
    ld+=" -X sigs.k8s.io/cluster-api/version.$kv"
  done
  go_in "$src" build -trimpath -o "$bin/" -ldflags "-s -w$ld" sigs.k8s.io/cluster-api/cmd/clusterctl
}
