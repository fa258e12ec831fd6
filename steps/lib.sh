#!/usr/bin/env bash
# fleet-bootstrap step library.
#
# render/steps.ts concatenates this file in front of every steps/<step>.sh. The program's Command runs
# the one line `exec /bin/bash -c "$FLEET_STEP_SCRIPT"` (update: with FLEET_STEP_OPERATION=update) with
# the result in FLEET_STEP_SCRIPT. To run a step directly, with the same environment variables:
#   bash -c "$(cat steps/lib.sh; echo; cat steps/<step>.sh)"
# So: $0 is not a path, nothing is sourced at run time, and the only tools used are bash, coreutils,
# kind, clusterctl, kubectl, docker and (when present) age + tar. No jq, node, python, awk or sed.
#
# Common environment (every step):
#   FLEET_ENV                    environment name, e.g. "local"                            (required)
#   FLEET_STEP                   step name, prefixes every progress line "[<step>] ..."    (required)
#   FLEET_STATE_DIR              state root; the step uses $FLEET_STATE_DIR/$FLEET_ENV
#                                (default: $HOME/.fleet-bootstrap); created 0700
#   FLEET_POLL_SECONDS           poll interval of every wait (default 3; tests use 0)
#   FLEET_WAIT_TIMEOUT_SECONDS   bound of the long waits (step default documented per step)
#   FLEET_WAIT_CLOCK             what a wait's timeout counts: "real" (default: the clock and the
#                                polls, whichever passes it first) or "polls" (polls alone, one
#                                second each: the tests' clock, the same on a busy machine as on an
#                                idle one)
#   FLEET_RETRIES                attempts for a transient error of one command (default 5)
#   FLEET_RESUME_COMMAND         the command failure messages give to resume
#                                (default: pulumi up -s $FLEET_ENV; e.g. pulumi destroy -s ... for a
#                                step that runs on destroy)
#   FLEET_STEP_OPERATION         "update" when @pulumi/command updates the step (its inputs or its
#                                script changed); unset for create and delete                 (optional)
#   FLEET_STEP_INPUTS_DIGEST     sha256 of the step's inputs without its script (render/steps.ts);
#                                a successful run ends with the stderr line "done; step inputs <digest>".
#                                An update whose digest equals the one in the previous run's stderr
#                                (PULUMI_COMMAND_STDERR) was caused by a new script alone: it says
#                                "step scripts changed, no cluster change", prints the previous stdout
#                                (PULUMI_COMMAND_STDOUT) and contacts nothing                  (optional)
#
# Conventions:
#   - stdout carries only the step's output value, printed once at the very end;
#     progress, warnings and errors go to stderr as "[<step>] <message>".
#   - every failure names what failed, the state left behind and the command that resumes.
#   - credentials (kubeconfigs, ...) arrive in environment variables and are written with printf
#     (a builtin: never on a command line) to 0600 files in a 0700 mktemp dir under the state dir,
#     removed by the EXIT trap, also on failure; stale dirs of killed runs are removed on start.
#   - every kind/kubectl/clusterctl call names its kubeconfig explicitly; KUBECONFIG is unset and
#     ~/.kube/config is never read or written.
#   - waits use "virtual time" as well as the clock: a wait ends after timeout seconds of real
#     time or after timeout/max(poll,1) polls, whichever comes first (so tests with a poll interval
#     of 0 stay fast); with FLEET_WAIT_CLOCK=polls only the polls count (so they stay deterministic).
set -Eeuo pipefail
unset KUBECONFIG
umask 077
export LC_ALL=C

: "${FLEET_ENV:?FLEET_ENV must name the environment (e.g. local)}"
: "${FLEET_STEP:?FLEET_STEP must name the step}"

FLEET_POLL=${FLEET_POLL_SECONDS:-3}
FLEET_RETRIES=${FLEET_RETRIES:-5}
FLEET_WAIT_CLOCK=${FLEET_WAIT_CLOCK:-real}
FLEET_RESUME=${FLEET_RESUME_COMMAND:-pulumi up -s ${FLEET_ENV}}
STATE_DIR="${FLEET_STATE_DIR:-${HOME:?HOME must be set (the state directory defaults to \$HOME/.fleet-bootstrap)}/.fleet-bootstrap}/${FLEET_ENV}"
WORK_DIR=""
FLEET_ERR=""     # stderr of the last fleet_capture/fleet_k call
FLEET_OUT=""     # stdout of the last fleet_capture/fleet_k call

# ---------------------------------------------------------------------------------------------
# Logging and failure.

FLEET_LOG_PREFIX=$FLEET_STEP

# fleet_step <script name>: called first by every steps/<name>.sh. When the program runs a script
# under another step's name (e.g. a Command's delete script inherits the create's FLEET_STEP),
# progress lines read "[<FLEET_STEP>: <script name>]". An update caused by a new script alone ends
# here (see FLEET_STEP_INPUTS_DIGEST).
fleet_step() {
  if [[ $1 != "$FLEET_STEP" ]]; then FLEET_LOG_PREFIX="$FLEET_STEP: $1"; fi
  if fleet_update && [[ -n ${FLEET_STEP_INPUTS_DIGEST:-} && $(fleet__previous_digest) == "$FLEET_STEP_INPUTS_DIGEST" ]]; then
    fleet_log "step scripts changed, no cluster change: the inputs are those of the last run, so nothing is run"
    fleet_previous_output
    exit 0
  fi
}

# fleet_update: true when @pulumi/command runs the step as an update (a step's inputs or script changed).
fleet_update() {
  [[ ${FLEET_STEP_OPERATION:-} == update ]]
}

# fleet_previous_output: prints the previous run's stdout again (an update that changes nothing keeps it).
fleet_previous_output() {
  if [[ -n ${PULUMI_COMMAND_STDOUT:-} ]]; then printf '%s\n' "$PULUMI_COMMAND_STDOUT"; fi
}

# fleet__previous_digest: the inputs digest the previous run recorded in its stderr, if any.
fleet__previous_digest() {
  local line digest=""
  while IFS= read -r line; do
    if [[ $line == *"] done; step inputs "* ]]; then digest=${line##* }; fi
  done <<<"${PULUMI_COMMAND_STDERR:-}"
  printf '%s' "$digest"
}

# fleet_log <message...>: one progress line per line of the message, on stderr.
fleet_log() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '[%s] %s\n' "$FLEET_LOG_PREFIX" "$line" >&2
  done <<<"$*"
}

# fleet_fail <what failed> <state left behind> [<command that resumes>]: reports and exits 1.
fleet_fail() {
  fleet_log "ERROR: $1"
  fleet_log "State: $2"
  fleet_log "To resume: ${3:-$FLEET_RESUME}"
  exit 1
}

# first_line <text>: the first non-empty line of text, for short error quotes.
first_line() {
  local line
  while IFS= read -r line; do
    if [[ -n ${line//[[:space:]]/} ]]; then
      printf '%s' "$line"
      return 0
    fi
  done <<<"$1"
}

# last_error_line <text>: the last line that looks like an error ("ERROR:", "Error:", "error:",
# "Error from server"), joined with up to two lines that follow it (kind puts the cause in a
# "Command Output:" line); else the last non-empty line.
last_error_line() {
  local line found="" last="" extra=0
  while IFS= read -r line; do
    [[ -n ${line//[[:space:]]/} ]] || continue
    last=$line
    case $line in
      *ERROR:* | Error:* | error:* | *"Error from server"* | *"The connection to the server"*)
        found=$line
        extra=0
        continue
        ;;
    esac
    if [[ -n $found ]] && ((extra < 2)); then
      found+=" $line"
      extra=$((extra + 1))
    fi
  done <<<"$1"
  printf '%s' "${found:-$last}"
}

fleet__on_err() {
  local rc=$1 cmd=$2 line=$3
  # Report once, from the main shell (command substitutions inherit the trap).
  if [[ ${BASH_SUBSHELL:-0} -eq 0 ]]; then
    fleet_log "ERROR: unexpected failure (exit $rc) of: $cmd (line $line of the ${FLEET_STEP} step script)"
    fleet_log "State: ${FLEET_STATE_NOTE:-see the progress lines above for what was done before the failure}"
    fleet_log "To resume: $FLEET_RESUME"
  fi
}
trap 'fleet__on_err $? "$BASH_COMMAND" "$LINENO"' ERR

fleet__cleanup() {
  local rc=$1
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    rm -rf -- "$WORK_DIR"
  fi
  # Recorded in the Command's stderr: the next update compares it (see FLEET_STEP_INPUTS_DIGEST).
  if ((rc == 0)) && [[ -n ${FLEET_STEP_INPUTS_DIGEST:-} ]]; then
    fleet_log "done; step inputs $FLEET_STEP_INPUTS_DIGEST"
  fi
}
trap 'fleet__cleanup $?' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Validation of numeric knobs.
fleet_require_uint() { # <name> <value>
  if ! [[ $2 =~ ^[0-9]+$ ]]; then
    fleet_fail "$1 must be a whole number, got '$2'" "nothing was changed by this step" "fix $1 in the step environment, then run $FLEET_RESUME"
  fi
}
fleet_require_uint FLEET_POLL_SECONDS "$FLEET_POLL"
fleet_require_uint FLEET_RETRIES "$FLEET_RETRIES"
if [[ $FLEET_WAIT_CLOCK != real && $FLEET_WAIT_CLOCK != polls ]]; then
  fleet_fail "FLEET_WAIT_CLOCK must be 'real' or 'polls', got '$FLEET_WAIT_CLOCK'" "nothing was changed by this step" "fix FLEET_WAIT_CLOCK in the step environment, then run $FLEET_RESUME"
fi

# ---------------------------------------------------------------------------------------------
# State and temporary directories.
mkdir -p -- "$STATE_DIR"
chmod 700 -- "$STATE_DIR"
# Remove work dirs left by killed runs (their owning process is gone).
for fleet__stale in "$STATE_DIR"/tmp.*; do
  [[ -d $fleet__stale ]] || continue
  fleet__pid=${fleet__stale#"$STATE_DIR"/tmp.}
  fleet__pid=${fleet__pid%%.*}
  if [[ $fleet__pid =~ ^[0-9]+$ ]] && ! kill -0 "$fleet__pid" 2>/dev/null; then
    rm -rf -- "$fleet__stale"
  fi
done
unset fleet__stale fleet__pid
WORK_DIR=$(mktemp -d "$STATE_DIR/tmp.$$.XXXXXX")
chmod 700 -- "$WORK_DIR"

# fleet_secret_file <path> <variable name>: writes the variable's value to a 0600 file, without
# the value ever appearing on a command line.
fleet_secret_file() {
  local target=$1 name=$2
  (umask 077 && printf '%s\n' "${!name}" >"$target")
  chmod 600 -- "$target"
}

# ---------------------------------------------------------------------------------------------
# Running commands.

# fleet_capture <cmd...>: runs cmd; its stdout goes to FLEET_OUT and its stderr to FLEET_ERR
# (trailing newlines stripped); returns cmd's exit code. Runs in the current shell, so the
# variables survive.
fleet_capture() {
  local rc=0
  FLEET_OUT=$("$@" 2>"$WORK_DIR/capture.err") || rc=$?
  FLEET_ERR=$(<"$WORK_DIR/capture.err")
  return "$rc"
}

# fleet_is_transient <error text>: errors worth retrying (API server or webhook not answering yet,
# network hiccups).
fleet_is_transient() {
  case $1 in
    *"connection refused"* | *"connection reset"* | *"i/o timeout"* | *"TLS handshake timeout"* | \
      *"was refused - did you specify the right host or port"* | *"Unable to connect to the server"* | \
      *"failed calling webhook"* | *"failed to connect to the management cluster"* | \
      *"context deadline exceeded"* | *"Client.Timeout exceeded"* | *"unexpected EOF"* | \
      *"the server is currently unable to handle the request"* | *"etcdserver: leader changed"* | \
      *"etcdserver: request timed out"* | *"no endpoints available for service"* | \
      *"(ServiceUnavailable)"* | *"(TooManyRequests)"* | *"http2: client connection lost"*)
      return 0 ;;
  esac
  return 1
}

# fleet_backoff <attempt> <base seconds>: sleeps base*2^(attempt-1), at most 60 s.
fleet_backoff() {
  local attempt=$1 base=$2 delay
  delay=$((base * (1 << (attempt - 1))))
  if ((delay > 60)); then delay=60; fi
  sleep "$delay"
}

# fleet_k <kubeconfig> <kubectl args...>: kubectl with an explicit kubeconfig, transient errors
# retried with backoff (base: poll/5 s). Output in FLEET_OUT/FLEET_ERR; returns kubectl's code.
fleet_k() {
  local kc=$1 attempt=1
  shift
  while :; do
    local rc=0
    fleet_capture kubectl --kubeconfig "$kc" "$@" || rc=$?
    if ((rc == 0)); then
      return 0
    fi
    if fleet_is_transient "$FLEET_ERR" && ((attempt < FLEET_RETRIES)); then
      fleet_log "kubectl $1 ${2:-}: transient error (attempt $attempt of $FLEET_RETRIES), retrying: $(last_error_line "$FLEET_ERR")"
      fleet_backoff "$attempt" $((FLEET_POLL / 5))
      attempt=$((attempt + 1))
      continue
    fi
    return "$rc"
  done
}

# fleet_no_resource_type <error text>: true when the error says a kind is not served (CRD absent).
fleet_no_resource_type() {
  [[ $1 == *"the server doesn't have a resource type"* ]]
}

# fleet_relay <label> <logfile> <cmd...>: runs cmd, relaying its stdout and stderr line by line to
# stderr as "[<step>] <label>: <line>" and saving them to logfile; returns cmd's exit code.
fleet_relay() {
  local label=$1 logfile=$2 rcfile
  shift 2
  rcfile="$WORK_DIR/relay.rc"
  : >"$logfile"
  {
    if "$@"; then echo 0 >"$rcfile"; else echo "$?" >"$rcfile"; fi
  } 2>&1 | {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
      printf '%s\n' "$line" >>"$logfile"
      printf '[%s] %s: %s\n' "$FLEET_LOG_PREFIX" "$label" "$line" >&2
    done
  }
  return "$(<"$rcfile")"
}

# ---------------------------------------------------------------------------------------------
# Waiting.
fleet__w_start=0
fleet__w_polls=0
fleet__w_timeout=0
fleet__w_logged=-1
fleet__w_last=""

# fleet_wait_begin <timeout seconds>
fleet_wait_begin() {
  fleet__w_start=$SECONDS
  fleet__w_polls=0
  fleet__w_timeout=$1
  fleet__w_logged=-1
  fleet__w_last=""
}

# fleet_wait_elapsed: seconds waited so far (the larger of real and virtual time; virtual time
# alone with FLEET_WAIT_CLOCK=polls).
fleet_wait_elapsed() {
  local real=$((SECONDS - fleet__w_start)) step=$FLEET_POLL virt
  if ((step < 1)); then step=1; fi
  virt=$((fleet__w_polls * step))
  if [[ $FLEET_WAIT_CLOCK == real ]] && ((real > virt)); then echo "$real"; else echo "$virt"; fi
}

# fleet_wait_expired: true once the timeout has passed.
fleet_wait_expired() {
  (($(fleet_wait_elapsed) >= fleet__w_timeout))
}

# fleet_wait_progress <message>: logs the message when it changed or 30 s passed since the last.
fleet_wait_progress() {
  local elapsed
  elapsed=$(fleet_wait_elapsed)
  if [[ $1 != "$fleet__w_last" ]] || ((fleet__w_logged < 0 || elapsed - fleet__w_logged >= 30)); then
    fleet_log "$1 (${elapsed}s elapsed, timeout ${fleet__w_timeout}s)"
    fleet__w_logged=$elapsed
    fleet__w_last=$1
  fi
}

# fleet_wait_sleep: one poll interval.
fleet_wait_sleep() {
  fleet__w_polls=$((fleet__w_polls + 1))
  sleep "$FLEET_POLL"
}

# ---------------------------------------------------------------------------------------------
# Versions.

# fleet_version_ge <have> <want>: true when have >= want (x.y.z, leading "v" and suffixes ignored).
fleet_version_ge() {
  local a=${1#v} b=${2#v} i x y
  a=${a%%[-+]*}
  b=${b%%[-+]*}
  local -a pa pb
  IFS=. read -r -a pa <<<"$a"
  IFS=. read -r -a pb <<<"$b"
  for i in 0 1 2; do
    x=${pa[i]:-0}
    y=${pb[i]:-0}
    [[ $x =~ ^[0-9]+$ ]] || x=0
    [[ $y =~ ^[0-9]+$ ]] || y=0
    if ((10#$x > 10#$y)); then return 0; fi
    if ((10#$x < 10#$y)); then return 1; fi
  done
  return 0
}

# fleet_extract_version <text>: prints the first x.y.z (or x.y) in text, without a leading v.
fleet_extract_version() {
  if [[ $1 =~ ([0-9]+\.[0-9]+(\.[0-9]+)?) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# ---------------------------------------------------------------------------------------------
# kind.

# fleet_kind_exists <name>: 0 = listed, 1 = not listed, 2 = kind could not list (FLEET_ERR says why).
fleet_kind_exists() {
  local name=$1 line
  if ! fleet_capture kind get clusters; then
    return 2
  fi
  while IFS= read -r line; do
    if [[ $line == "$name" ]]; then return 0; fi
  done <<<"$FLEET_OUT"
  return 1
}

# fleet_kind_kubeconfig <name> <file>: writes the kind cluster's kubeconfig to file (0600).
# 0 = written, 3 = no such kind cluster, 2 = other error (FLEET_ERR says why).
fleet_kind_kubeconfig() {
  local name=$1 file=$2 rc=0
  kind get kubeconfig --name "$name" >"$file" 2>"$WORK_DIR/kind.err" || rc=$?
  chmod 600 -- "$file"
  FLEET_ERR=$(<"$WORK_DIR/kind.err")
  if ((rc == 0)); then return 0; fi
  if [[ $FLEET_ERR == *"could not locate any control plane nodes"* ]]; then return 3; fi
  return 2
}

# fleet_recreate_kind_hint: the command that brings the temporary cluster back on this machine. A plain
# `pulumi up` does not: Pulumi records the kind cluster as created and has no way to see it is gone.
#   FLEET_TEMPORARY_CLUSTER_URN  URN of the temporary cluster's resource (set by the program; optional)
fleet_recreate_kind_hint() {
  if [[ -n ${FLEET_TEMPORARY_CLUSTER_URN:-} ]]; then
    printf '%s' "pulumi up -s $FLEET_ENV --replace '$FLEET_TEMPORARY_CLUSTER_URN' (recreates the kind cluster on this machine and installs the providers on it again)"
  else
    printf '%s' "recreate the kind cluster with \`pulumi up -s $FLEET_ENV --replace <URN of the temporary cluster's kind resource>\` (see \`pulumi stack --show-urns -s $FLEET_ENV\`)"
  fi
}

# fleet_kind_gone_message <name>: the plain explanation for a temporary cluster that is not here.
fleet_kind_gone_message() {
  printf '%s' "the temporary kind cluster '$1' does not exist on this machine (kind clusters live on the machine that created them; it may have been created elsewhere or deleted)"
}

# The environment's phase, as the temporary cluster records it: once the pivot step has verified the
# move it leaves this ConfigMap on the temporary cluster; the temporary-side steps then do nothing.
FLEET_PIVOT_MARKER=fleet-bootstrap-pivoted

# fleet_pivot_marker_read <kubeconfig>: 0 = the move is verified (FLEET_OUT says what moved), 1 = not.
fleet_pivot_marker_read() {
  fleet_k "$1" get configmap "$FLEET_PIVOT_MARKER" -n kube-system --ignore-not-found -o 'jsonpath={.data.moved}' && [[ -n $FLEET_OUT ]]
}

# fleet_pivot_marker_write <kubeconfig> <what moved where>: records the verified move (a warning if it cannot).
fleet_pivot_marker_write() {
  printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata:' "  name: $FLEET_PIVOT_MARKER" '  namespace: kube-system' 'data:' "  moved: \"$2\"" >"$WORK_DIR/pivot-marker.yaml"
  if ! fleet_k "$1" apply --server-side --field-manager=fleet-bootstrap -f "$WORK_DIR/pivot-marker.yaml"; then
    fleet_log "warning: could not record the verified move on the temporary cluster: $(last_error_line "$FLEET_ERR")"
  fi
}

# fleet_temporary_retired <kind kubeconfig status: 0 = written, 3 = no such cluster> <kubeconfig>: on an
# update (the step's inputs changed), a temporary-side step does nothing once the temporary cluster is
# retired: gone from this machine (an update never recreates it) or marked by a verified move. It then
# says so, prints the previous output and ends the step.
fleet_temporary_retired() {
  fleet_update || return 0
  if (($1 == 3)); then
    fleet_log "$(fleet_kind_gone_message "$KIND_CLUSTER_NAME"); an update never recreates it: after a verified move nothing needs it, so this step does nothing. Before the move, recreate it with: $(fleet_recreate_kind_hint)"
  elif fleet_pivot_marker_read "$2"; then
    fleet_log "the move of $FLEET_OUT is verified: the temporary cluster is no longer used, so this step does nothing on it"
  else
    return 0
  fi
  fleet_previous_output
  exit 0
}

# fleet_adopting_skip <what this step would do>: when the stack adopts an existing management cluster
# (FLEET_ADOPT_KUBECONFIG_FILE, config adoptExistingManagementCluster), there is no bootstrap: the
# temporary-side steps say so and end with no output.
fleet_adopting_skip() {
  if [[ -n ${FLEET_ADOPT_KUBECONFIG_FILE:-} ]]; then
    fleet_log "adopting the existing management cluster (fleet-bootstrap:adoptExistingManagementCluster): no temporary cluster is used, so this step does not $1"
    exit 0
  fi
}

# ---------------------------------------------------------------------------------------------
# clusterctl provider inventory.

# fleet_read_inventory <kubeconfig>: fills FLEET_INV with "<type> <name> <version> <namespace>"
# lines (empty when the inventory CRD is absent). Returns 1 when the cluster cannot be read
# (FLEET_ERR says why).
FLEET_INV=()
fleet_read_inventory() {
  FLEET_INV=()
  local rc=0 line
  fleet_k "$1" get providers.clusterctl.cluster.x-k8s.io --all-namespaces \
    -o 'jsonpath={range .items[*]}{.type}{" "}{.providerName}{" "}{.version}{" "}{.metadata.namespace}{"\n"}{end}' || rc=$?
  if ((rc != 0)); then
    if fleet_no_resource_type "$FLEET_ERR"; then return 0; fi
    return 1
  fi
  while IFS= read -r line; do
    if [[ -n $line ]]; then FLEET_INV+=("$line"); fi
  done <<<"$FLEET_OUT"
  return 0
}
