# shellcheck shell=bash
# Step: preflight. Checks, before anything is created, that every tool the bootstrap uses is on
# PATH at a high enough version and that the Docker daemon answers.
#
# Environment:
#   FLEET_REQUIRED_TOOLS  space-separated name:minVersion, e.g.
#                         "kind:0.29.0 clusterctl:1.14.0 kubectl:1.31.0 docker:24.0.0"  (required)
#   FLEET_OPTIONAL_TOOLS  same format, tools used when present, e.g. "age:1.1.0" (may be empty);
#                         a missing optional tool is reported and is not an error, an optional
#                         tool that is present must meet its minimum version.
# Versions are read from the tools' own output (formats as their sources print them):
# `kind version` ("kind v0.29.0 go1.24.2 linux/amd64"), `clusterctl version -o short` ("v1.14.2";
# an empty line from a build without the release's -X version flags), `kubectl version --client
# -o json` (its "gitVersion"), `docker version --format '{{.Server.Version}}'` ("28.1.1"; also
# proves the engine answers), `age --version` ("v1.2.1"), `pulumi version` ("v3.248.0"),
# otherwise `<tool> --version`.
# Stdout: one "name=version" line per tool found (required tools first, then optional ones).
# Exit 1 with ONE message that lists every missing, too old or unreachable tool with how to
# install or fix it. Changes nothing; safe to re-run.

fleet_step preflight

FLEET_STATE_NOTE="nothing was created or changed"

preflight_install_hint() {
  case $1 in
    kind) echo "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    clusterctl) echo "install clusterctl: https://cluster-api.sigs.k8s.io/user/quick-start#install-clusterctl (or scripts/install-clis.sh)" ;;
    pulumi) echo "install the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/" ;;
    kubectl) echo "install kubectl: https://kubernetes.io/docs/tasks/tools/" ;;
    docker) echo "install Docker Engine: https://docs.docker.com/engine/install/" ;;
    age) echo "install age: https://github.com/FiloSottile/age#installation" ;;
    *) echo "install $1 and put it on PATH" ;;
  esac
}

# preflight_read_version <tool>: sets PF_VERSION (or PF_PROBLEM) from the tool's output.
PF_VERSION=""
PF_PROBLEM=""
preflight_read_version() {
  local tool=$1 rc=0
  PF_VERSION=""
  PF_PROBLEM=""
  case $tool in
    kind) fleet_capture kind version || rc=$? ;;
    clusterctl) fleet_capture clusterctl version -o short || rc=$? ;;
    kubectl)
      : >"$WORK_DIR/empty.kubeconfig"
      fleet_capture kubectl version --client -o json --kubeconfig "$WORK_DIR/empty.kubeconfig" || rc=$?
      ;;
    pulumi) fleet_capture pulumi version || rc=$? ;;
    docker) fleet_capture docker version --format '{{.Server.Version}}' || rc=$? ;;
    age) fleet_capture age --version || rc=$? ;;
    *) fleet_capture "$tool" --version || rc=$? ;;
  esac
  if ((rc != 0)); then
    if [[ $tool == docker ]]; then
      PF_PROBLEM="docker: Docker is not reachable: $(first_line "$FLEET_ERR"). Start the Docker daemon (or Docker Desktop), check DOCKER_HOST and that your user may use the Docker socket"
    else
      PF_PROBLEM="$tool: \`$tool\` failed to report its version (exit $rc): $(first_line "$FLEET_ERR$FLEET_OUT")"
    fi
    return 1
  fi
  if [[ $tool == kubectl ]]; then
    # The client's own version, not another x.y.z of the JSON (kustomizeVersion, goVersion).
    [[ $FLEET_OUT =~ \"gitVersion\":\ *\"v?([0-9]+\.[0-9]+\.[0-9]+) ]] && PF_VERSION=${BASH_REMATCH[1]}
  else
    PF_VERSION=$(fleet_extract_version "$FLEET_OUT")
  fi
  if [[ -z $PF_VERSION && $tool == clusterctl && -z ${FLEET_OUT//[[:space:]]/} ]]; then
    PF_PROBLEM="clusterctl: \`clusterctl version -o short\` printed nothing: this clusterctl was built from source without the release's -X sigs.k8s.io/cluster-api/version.* flags; install the release (scripts/install-clis.sh builds it with them)"
    return 1
  fi
  if [[ $PF_VERSION == 0.0.0 ]]; then
    PF_PROBLEM="$tool: reports version 0.0.0, a build without the release's version flags; $(preflight_install_hint "$tool")"
    return 1
  fi
  if [[ -z $PF_VERSION ]]; then
    PF_PROBLEM="$tool: could not read a version from: $(first_line "$FLEET_OUT")"
    return 1
  fi
  return 0
}

pf_found=()
pf_problems=()
pf_notes=()

# preflight_check <name:minVersion> <required|optional> <variable it came from>
preflight_check() {
  local spec=$1 kind=$2 from=$3 name min
  name=${spec%%:*}
  min=${spec#*:}
  if [[ -z $name || $spec != *:* || -z $min ]]; then
    pf_problems+=("'$spec' in $from is not name:minVersion")
    return 0
  fi
  if ! command -v "$name" >/dev/null 2>&1; then
    if [[ $kind == required ]]; then
      pf_problems+=("$name: not found on PATH (need >= $min); $(preflight_install_hint "$name")")
    else
      pf_notes+=("optional $name (>= $min) is not installed; features that use it are off ($(preflight_install_hint "$name"))")
    fi
    return 0
  fi
  if ! preflight_read_version "$name"; then
    pf_problems+=("$PF_PROBLEM")
    return 0
  fi
  if ! fleet_version_ge "$PF_VERSION" "$min"; then
    pf_problems+=("$name: version $PF_VERSION is older than the required $min; $(preflight_install_hint "$name")")
    return 0
  fi
  pf_found+=("$name=$PF_VERSION")
}

: "${FLEET_REQUIRED_TOOLS:?FLEET_REQUIRED_TOOLS must list the required tools as name:minVersion}"
read -r -a pf_required <<<"$FLEET_REQUIRED_TOOLS"
read -r -a pf_optional <<<"${FLEET_OPTIONAL_TOOLS:-}"
for pf_spec in ${pf_required[@]+"${pf_required[@]}"}; do
  preflight_check "$pf_spec" required FLEET_REQUIRED_TOOLS
done
for pf_spec in ${pf_optional[@]+"${pf_optional[@]}"}; do
  preflight_check "$pf_spec" optional FLEET_OPTIONAL_TOOLS
done

for pf_note in ${pf_notes[@]+"${pf_notes[@]}"}; do
  fleet_log "note: $pf_note"
done

if ((${#pf_problems[@]} > 0)); then
  pf_message="preflight found ${#pf_problems[@]} problem(s) with the tools this bootstrap needs:"
  for pf_problem in "${pf_problems[@]}"; do
    pf_message+=$'\n'"  - $pf_problem"
  done
  fleet_fail "$pf_message" "nothing was created or changed" "fix the tools listed above, then run $FLEET_RESUME"
fi

fleet_log "all required tools found: ${pf_found[*]:-none}"
for pf_line in ${pf_found[@]+"${pf_found[@]}"}; do
  printf '%s\n' "$pf_line"
done
