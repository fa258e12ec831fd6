# shellcheck shell=bash
# Step: pivot. Moves the management cluster's Cluster API objects from the temporary kind cluster
# to the permanent cluster with `clusterctl move`, guarded before and verified after.
#
# Environment:
#   KIND_CLUSTER_NAME            source: the temporary kind cluster                       (required)
#   FLEET_TARGET_KUBECONFIG      kubeconfig CONTENTS of the permanent (target) cluster    (required)
#   CLUSTER_NAME, CLUSTER_NAMESPACE  the management Cluster                               (required)
#   FLEET_MOVE_ATTEMPTS          attempts of `clusterctl move` on transient errors (default 5)
#   FLEET_ROLLOUT_WATCH_SECONDS  after the move, how long at most to watch that no Machine appears or
#                                goes (default 180); the watch ends sooner once the permanent cluster's
#                                controllers report the Cluster Available and not RollingOut on two
#                                polls in a row with the recorded Machines
#   FLEET_AGE_RECIPIENT          age recipient (age1...): encrypt the move backup when `age` is
#                                installed                                                (optional)
#   FLEET_API_PROBES             API stability probes per cluster (default 10, over ~poll/2 s each,
#                                i.e. ~5 s with the default poll)                          (optional)
#   FLEET_WAIT_TIMEOUT_SECONDS   bound of the wait for provisioning to finish (default 1800)
#   PULUMI_COMMAND_STDOUT        previous run's stdout (the previous backup location)      (optional)
# Behaviour:
#   - already on the target, gone from the source (and unpaused): verified (Available there), "already pivoted", no-op;
#   - on both (an interrupted move): unpause on the source if paused, then move again to complete it
#     (unless the interrupted move had started deleting from the source: then it stops, because
#     unpausing the source would make its controllers recreate deleted Machines);
#   - guards: API stability probe on both clusters; target providers at the same or newer versions;
#     nothing provisioning (infrastructure provisioned, ControlPlaneInitialized, a nodeRef on every
#     Machine); Flux Kustomizations/HelmReleases on the source suspended; `clusterctl move --dry-run`
#     lists the Cluster; a `--to-directory` backup in $STATE_DIR/move-backup/<UTC timestamp>/ (0700;
#     it holds CA keys and kubeconfig Secrets; age-encrypted into <timestamp>.tar.age, plaintext
#     removed, when age and FLEET_AGE_RECIPIENT are both there); Machine names recorded; the Helm
#     add-on controller on the source stopped (it would uninstall the charts, the CNI among them, from
#     a Cluster that leaves it), and started again if the move fails;
#   - move retried with exponential backoff only on transient errors (connection refused/reset,
#     i/o timeout, TLS handshake timeout, failed calling webhook, failed to connect to the
#     management cluster); after any failed attempt the Clusters it paused on the source are
#     unpaused; a non-transient failure stops, naming where the objects are and how to resume;
#   - after: the Cluster is on the target with spec.paused not true, gone from the source, and for
#     the watch window no Machine is added or removed on the target; the target's controllers must
#     report it Available and not RollingOut by the end of the window (status is not moved: only
#     they can), else the step fails saying nothing manages it yet (also on a re-run).
#     Then (and on a verified no-op while the temporary cluster exists) the ConfigMap
#     kube-system/fleet-bootstrap-pivoted on the temporary cluster records the verified move: the
#     temporary-side steps then do nothing (lib.sh).
# Stdout: the backup location (directory, or .tar.age file); on a no-op, the newest backup on this
# machine or else the previous run's output.

fleet_step pivot

: "${KIND_CLUSTER_NAME:?KIND_CLUSTER_NAME must name the temporary kind cluster}"
: "${FLEET_TARGET_KUBECONFIG:?FLEET_TARGET_KUBECONFIG must hold the permanent cluster kubeconfig}"
: "${CLUSTER_NAME:?CLUSTER_NAME must name the management Cluster}"
: "${CLUSTER_NAMESPACE:?CLUSTER_NAMESPACE must name the management Cluster namespace}"
pv_attempts=${FLEET_MOVE_ATTEMPTS:-5}
pv_watch=${FLEET_ROLLOUT_WATCH_SECONDS:-180}
pv_probes=${FLEET_API_PROBES:-10}
pv_timeout=${FLEET_WAIT_TIMEOUT_SECONDS:-1800}
fleet_require_uint FLEET_MOVE_ATTEMPTS "$pv_attempts"
fleet_require_uint FLEET_ROLLOUT_WATCH_SECONDS "$pv_watch"
fleet_require_uint FLEET_API_PROBES "$pv_probes"
fleet_require_uint FLEET_WAIT_TIMEOUT_SECONDS "$pv_timeout"

pv_id="$CLUSTER_NAMESPACE/$CLUSTER_NAME"
pv_src="$WORK_DIR/temporary.kubeconfig"
pv_dst="$WORK_DIR/permanent.kubeconfig"
pv_backup_root="$STATE_DIR/move-backup"
pv_location=""
pv_src_name="temporary cluster (kind '$KIND_CLUSTER_NAME')"
pv_patch_unpause='{"spec":{"paused":false}}'
FLEET_STATE_NOTE="see the progress lines above; the pivot step unpauses what it paused before stopping"
fleet_secret_file "$pv_dst" FLEET_TARGET_KUBECONFIG

# ------------------------------------------------------------------ helpers

# pv_cluster <kubeconfig>: reads Cluster $pv_id: PV_PRESENT (0/1), PV_PAUSED (0/1), PV_INFRA
# (status.initialization.infrastructureProvisioned) and PV_CPI (ControlPlaneInitialized status).
# Returns 1 when the cluster cannot be read (FLEET_ERR says why).
PV_PRESENT=0
PV_PAUSED=0
PV_INFRA=""
PV_CPI=""
pv_cluster() {
  local rc=0 name paused
  PV_PRESENT=0
  PV_PAUSED=0
  PV_INFRA=""
  PV_CPI=""
  fleet_k "$1" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --ignore-not-found \
    -o 'jsonpath={.metadata.name}{"|"}{.spec.paused}{"|"}{.status.initialization.infrastructureProvisioned}{"|"}{.status.conditions[?(@.type=="ControlPlaneInitialized")].status}' || rc=$?
  if ((rc != 0)); then
    if fleet_no_resource_type "$FLEET_ERR"; then return 0; fi
    return 1
  fi
  IFS='|' read -r name paused PV_INFRA PV_CPI <<<"$FLEET_OUT"
  if [[ -n $name ]]; then PV_PRESENT=1; fi
  if [[ $paused == true ]]; then PV_PAUSED=1; fi
  return 0
}

# pv_machines <kubeconfig>: sets PV_MACHINES (sorted names, one per line), PV_MACHINE_COUNT and
# PV_WITHOUT_NODE (names without a nodeRef). Returns 1 when the cluster cannot be read.
PV_MACHINES=""
PV_MACHINE_COUNT=0
PV_WITHOUT_NODE=""
pv_machines() {
  local rc=0 name node names=()
  PV_MACHINES=""
  PV_MACHINE_COUNT=0
  PV_WITHOUT_NODE=""
  fleet_k "$1" get machines.cluster.x-k8s.io -n "$CLUSTER_NAMESPACE" -l "cluster.x-k8s.io/cluster-name=$CLUSTER_NAME" \
    -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.nodeRef.name}{"\n"}{end}' || rc=$?
  if ((rc != 0)); then
    if fleet_no_resource_type "$FLEET_ERR"; then return 0; fi
    return 1
  fi
  while read -r name node; do
    if [[ -z $name ]]; then continue; fi
    names+=("$name")
    if [[ -z ${node:-} ]]; then PV_WITHOUT_NODE+="${PV_WITHOUT_NODE:+ }$name"; fi
  done <<<"$FLEET_OUT"
  PV_MACHINE_COUNT=${#names[@]}
  if ((PV_MACHINE_COUNT > 0)); then
    PV_MACHINES=$(printf '%s\n' "${names[@]}" | sort)
  fi
  return 0
}

# pv_unpause_source: unpauses every paused Cluster in the namespace on the source (a move pauses
# all Clusters of the namespace). Returns 1 when it could not.
pv_unpause_source() {
  local rc=0 name paused
  fleet_k "$pv_src" get clusters.cluster.x-k8s.io -n "$CLUSTER_NAMESPACE" \
    -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.paused}{"\n"}{end}' || rc=$?
  if ((rc != 0)); then
    if fleet_no_resource_type "$FLEET_ERR"; then return 0; fi
    return 1
  fi
  local listing=$FLEET_OUT
  while read -r name paused; do
    if [[ -z $name || ${paused:-} != true ]]; then continue; fi
    if ! fleet_k "$pv_src" patch clusters.cluster.x-k8s.io "$name" -n "$CLUSTER_NAMESPACE" --type merge -p "$pv_patch_unpause"; then
      return 1
    fi
    fleet_log "unpaused Cluster $CLUSTER_NAMESPACE/$name on the $pv_src_name"
  done <<<"$listing"
  return 0
}

# pv_deletion_started: true when the target holds Machines of the cluster that the source no
# longer has: an interrupted move had finished creating on the target and started deleting from
# the source. Unpausing the source then would make its controllers replace those Machines.
PV_ONLY_ON_TARGET=""
pv_deletion_started() {
  local src_machines dst_machines m
  PV_ONLY_ON_TARGET=""
  pv_machines "$pv_src" || return 1
  src_machines=$'\n'"$PV_MACHINES"$'\n'
  pv_machines "$pv_dst" || return 1
  dst_machines=$PV_MACHINES
  while IFS= read -r m; do
    if [[ -n $m && $src_machines != *$'\n'"$m"$'\n'* ]]; then PV_ONLY_ON_TARGET+="${PV_ONLY_ON_TARGET:+ }$m"; fi
  done <<<"$dst_machines"
  [[ -n $PV_ONLY_ON_TARGET ]]
}

pv_fail_deletion_started() {
  fleet_fail "an interrupted clusterctl move had already started deleting Cluster $pv_id from the $pv_src_name (Machines $PV_ONLY_ON_TARGET exist only on the permanent cluster). Unpausing the temporary copy would make its controllers recreate the deleted Machines, so the pivot stops here." \
    "the permanent cluster holds a complete, paused copy of $pv_id; the rest of it remains paused on the temporary cluster${pv_location:+; backup: $pv_location}" \
    "finish the move by hand: delete the remaining objects of $pv_id from the temporary cluster (kind get kubeconfig --name $KIND_CLUSTER_NAME > kind.kubeconfig; remove their finalizers, then delete them: cluster, control plane, MachineDeployments, infrastructure and bootstrap objects in namespace $CLUSTER_NAMESPACE), then unpause it on the permanent cluster (kubectl --kubeconfig <permanent kubeconfig> patch clusters.cluster.x-k8s.io $CLUSTER_NAME -n $CLUSTER_NAMESPACE --type merge -p '$pv_patch_unpause'), then run $FLEET_RESUME"
}

# pv_where: a sentence saying where the objects are now (for failure messages).
pv_where() {
  local on_src="unknown" on_dst="unknown"
  if pv_cluster "$pv_src"; then on_src=$PV_PRESENT; fi
  if pv_cluster "$pv_dst"; then on_dst=$PV_PRESENT; fi
  case "$on_src/$on_dst" in
    1/1) printf '%s' "Cluster $pv_id is on the temporary cluster (authoritative, unpaused) and a partial, paused copy is on the permanent cluster; the next run completes the move" ;;
    1/0) printf '%s' "Cluster $pv_id is on the temporary cluster only (unpaused); nothing was moved" ;;
    0/1) printf '%s' "Cluster $pv_id is on the permanent cluster only; the next run verifies and finishes the pivot" ;;
    0/0) printf '%s' "Cluster $pv_id is on neither cluster: restore it from the backup with clusterctl move --from-directory" ;;
    *) printf '%s' "could not read both clusters to tell where Cluster $pv_id is (temporary: $on_src, permanent: $on_dst; 1 = present); the next run re-checks both and unpauses the source if needed" ;;
  esac
}

# pv_probe_both: both API servers answer pv_probes consecutive requests each. The probes alternate
# between the two clusters, so both are watched over the same few seconds (as Cluster API's
# self-hosted e2e does) and the guard costs one probe window, not two.
pv_probe_failures=(0 0)
pv_probe_last=("" "")
pv_probe_one() { # <index> <kubeconfig>
  if ! fleet_capture kubectl --kubeconfig "$2" get namespace kube-system -o name; then
    pv_probe_failures[$1]=$((pv_probe_failures[$1] + 1))
    pv_probe_last[$1]=$(last_error_line "$FLEET_ERR")
  fi
}
pv_probe_both() {
  local labels=("$pv_src_name" "permanent cluster") round i c unstable ms interval
  ms=$((FLEET_POLL * 50))
  printf -v interval '%d.%03d' $((ms / 1000)) $((ms % 1000))
  for round in 1 2 3; do
    pv_probe_failures=(0 0)
    for ((i = 1; i <= pv_probes; i++)); do
      pv_probe_one 0 "$pv_src"
      pv_probe_one 1 "$pv_dst"
      if ((i < pv_probes)); then sleep "$interval"; fi
    done
    unstable=()
    for c in 0 1; do
      if ((pv_probe_failures[c] == 0)); then
        fleet_log "API server of the ${labels[c]} answered $pv_probes of $pv_probes probes"
      else
        fleet_log "API server of the ${labels[c]} is not stable: ${pv_probe_failures[c]} of $pv_probes probes failed (round $round of 3): ${pv_probe_last[c]}"
        unstable+=("$c")
      fi
    done
    if ((${#unstable[@]} == 0)); then return 0; fi
    if ((round < 3)); then fleet_backoff "$round" "$FLEET_POLL"; fi
  done
  c=${unstable[0]}
  fleet_fail "the API server of the ${labels[c]} is not stable (probes keep failing: ${pv_probe_last[c]})" \
    "nothing was moved; Cluster $pv_id is where it was" "when both API servers answer steadily, run $FLEET_RESUME"
}

# pv_target_settled: the target's controllers have reconciled the moved Cluster (status is not moved,
# so these conditions are theirs) and see nothing to roll out. PV_TARGET_STATUS says what they report.
PV_TARGET_STATUS=""
pv_target_settled() {
  if ! fleet_k "$pv_dst" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" \
    -o 'jsonpath={range .status.conditions[*]}{.type}{"="}{.status}{"\n"}{end}'; then
    PV_TARGET_STATUS="cannot read it: $(last_error_line "$FLEET_ERR")"
    return 1
  fi
  PV_TARGET_STATUS="conditions: $(printf '%s' "${FLEET_OUT:-none}" | tr '\n' ' ')"
  [[ $'\n'"$FLEET_OUT"$'\n' == *$'\n'"Available=True"$'\n'* && $'\n'"$FLEET_OUT"$'\n' != *$'\n'"RollingOut=True"$'\n'* ]]
}

# pv_fail_unmanaged: the Cluster is on the permanent cluster but no controller there reports it.
pv_fail_unmanaged() {
  fleet_fail "Cluster $pv_id is on the permanent cluster but has not been reported Available by the permanent cluster's controllers within ${pv_watch}s ($PV_TARGET_STATUS): nothing manages it yet" \
    "the pivot itself is done: Cluster $pv_id is on the permanent cluster, unpaused, and gone from the temporary cluster${pv_location:+; backup: $pv_location}" \
    "check the providers on the permanent cluster (kubectl get deployments -A -l clusterctl.cluster.x-k8s.io --kubeconfig <permanent kubeconfig>; clusterctl describe cluster $CLUSTER_NAME -n $CLUSTER_NAMESPACE), then run $FLEET_RESUME"
}

pv_latest_backup() {
  local entry latest=""
  for entry in "$pv_backup_root"/*; do
    if [[ -e $entry ]]; then latest=$entry; fi
  done
  printf '%s' "$latest"
}

# ------------------------------------------------------------------ where are the objects?
pv_kind=0
fleet_kind_kubeconfig "$KIND_CLUSTER_NAME" "$pv_src" || pv_kind=$?
if ((pv_kind == 2)); then
  fleet_fail "kind get kubeconfig --name $KIND_CLUSTER_NAME failed: $(last_error_line "$FLEET_ERR")" \
    "nothing was moved" "make sure Docker is running, then run $FLEET_RESUME"
fi
if ! pv_cluster "$pv_dst"; then
  fleet_fail "cannot read Cluster $pv_id on the permanent cluster (its API server must answer): $(last_error_line "$FLEET_ERR")" \
    "nothing was moved" "make the permanent cluster reachable, then run $FLEET_RESUME"
fi
pv_on_dst=$PV_PRESENT
pv_dst_paused=$PV_PAUSED
pv_on_src=0
pv_src_paused=0
pv_src_infra=""
pv_src_cpi=""
if ((pv_kind == 0)); then
  if ! pv_cluster "$pv_src"; then
    fleet_fail "cannot read Cluster $pv_id on the $pv_src_name: $(last_error_line "$FLEET_ERR")" "nothing was moved" \
      "make sure the temporary cluster's API server answers, then run $FLEET_RESUME"
  fi
  pv_on_src=$PV_PRESENT
  pv_src_paused=$PV_PAUSED
  pv_src_infra=$PV_INFRA
  pv_src_cpi=$PV_CPI
fi

if ((pv_on_src == 0 && pv_on_dst == 1)); then
  if ((pv_kind == 3)); then fleet_log "the temporary kind cluster '$KIND_CLUSTER_NAME' no longer exists"; fi
  if ((pv_dst_paused == 1)); then
    fleet_log "Cluster $pv_id is on the permanent cluster but still paused (a move was interrupted after deleting it from the source): unpausing it there"
    if ! fleet_k "$pv_dst" patch clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --type merge -p "$pv_patch_unpause"; then
      fleet_fail "unpausing Cluster $pv_id on the permanent cluster failed: $(last_error_line "$FLEET_ERR")" \
        "Cluster $pv_id is on the permanent cluster only, paused" "$FLEET_RESUME"
    fi
  fi
  if ! pv_cluster "$pv_dst" || ((PV_PRESENT != 1 || PV_PAUSED == 1)); then
    fleet_fail "could not verify Cluster $pv_id on the permanent cluster (present and unpaused)" \
      "Cluster $pv_id is on the permanent cluster only" "$FLEET_RESUME"
  fi
  pv_location=$(pv_latest_backup)
  fleet_wait_begin "$pv_watch"
  until pv_target_settled; do
    if fleet_wait_expired; then pv_fail_unmanaged; fi
    fleet_wait_progress "waiting for the permanent cluster's controllers to report Cluster $pv_id Available ($PV_TARGET_STATUS)"
    fleet_wait_sleep
  done
  fleet_log "already pivoted: Cluster $pv_id is on the permanent cluster, unpaused, Available, and not on the temporary cluster; nothing to do"
  if ((pv_kind == 0)); then fleet_pivot_marker_write "$pv_src" "$pv_id to the permanent cluster"; fi
  printf '%s\n' "${pv_location:-${PULUMI_COMMAND_STDOUT:-}}"
  exit 0
fi
if ((pv_on_src == 0)); then
  pv_why="not on the $pv_src_name"
  if ((pv_kind == 3)); then pv_why="$(fleet_kind_gone_message "$KIND_CLUSTER_NAME")"; fi
  pv_backup_hint=$(pv_latest_backup)
  pv_first="if the management-cluster step has not run yet, run $FLEET_RESUME"
  if ((pv_kind == 3)); then pv_first=$(fleet_recreate_kind_hint); fi
  fleet_fail "Cluster $pv_id is on neither cluster: $pv_why, and not on the permanent cluster" \
    "nothing was moved${pv_backup_hint:+; the latest move backup is $pv_backup_hint}" \
    "$pv_first; if the objects were lost, restore them from a backup (clusterctl move --from-directory <backup dir> --to-kubeconfig <permanent kubeconfig>)"
fi

if ((pv_on_dst == 1)); then
  fleet_log "Cluster $pv_id is on both clusters: an earlier move was interrupted; moving again completes it"
fi
if ((pv_src_paused == 1)); then
  if pv_deletion_started; then pv_fail_deletion_started; fi
  fleet_log "Cluster $pv_id is paused on the temporary cluster (left so by an interrupted move or backup): unpausing it before moving (clusterctl refuses paused Clusters)"
  if ! pv_unpause_source; then
    fleet_fail "unpausing Cluster $pv_id on the $pv_src_name failed: $(last_error_line "$FLEET_ERR")" "$(pv_where)" "$FLEET_RESUME"
  fi
fi

# ------------------------------------------------------------------ guards
FLEET_STATE_NOTE="nothing was moved; Cluster $pv_id is on the temporary cluster"
pv_probe_both

# Providers on the target at the same or newer versions.
if ! fleet_read_inventory "$pv_src"; then
  fleet_fail "cannot read the provider inventory of the $pv_src_name: $(last_error_line "$FLEET_ERR")" "nothing was moved" "$FLEET_RESUME"
fi
pv_src_inv=(${FLEET_INV[@]+"${FLEET_INV[@]}"})
if ! fleet_read_inventory "$pv_dst"; then
  fleet_fail "cannot read the provider inventory of the permanent cluster: $(last_error_line "$FLEET_ERR")" "nothing was moved" "$FLEET_RESUME"
fi
pv_dst_inv=(${FLEET_INV[@]+"${FLEET_INV[@]}"})
pv_provider_problems=()
for pv_s in ${pv_src_inv[@]+"${pv_src_inv[@]}"}; do
  read -r pv_t pv_n pv_v _ <<<"$pv_s"
  pv_best=""
  for pv_d in ${pv_dst_inv[@]+"${pv_dst_inv[@]}"}; do
    read -r pv_dt pv_dn pv_dv _ <<<"$pv_d"
    if [[ $pv_dt == "$pv_t" && $pv_dn == "$pv_n" ]]; then pv_best=$pv_dv; fi
  done
  if [[ -z $pv_best ]]; then
    pv_provider_problems+=("$pv_t '$pv_n' ($pv_v on the temporary cluster) is not installed on the permanent cluster")
  elif ! fleet_version_ge "$pv_best" "$pv_v"; then
    pv_provider_problems+=("$pv_t '$pv_n' is $pv_best on the permanent cluster, older than $pv_v on the temporary cluster")
  fi
done
if ((${#pv_provider_problems[@]} > 0)); then
  pv_msg="the permanent cluster lacks providers the move needs (same or newer versions than the temporary cluster):"
  for pv_p in "${pv_provider_problems[@]}"; do pv_msg+=$'\n'"  - $pv_p"; done
  fleet_fail "$pv_msg" "nothing was moved; Cluster $pv_id is on the temporary cluster" \
    "$FLEET_RESUME (its capi-providers step installs the same pins on the permanent cluster)"
fi
fleet_log "the permanent cluster has every provider of the temporary cluster at the same or a newer version"

# Nothing provisioning (the first check uses the Cluster as read above).
fleet_wait_begin "$pv_timeout"
pv_first=1
while :; do
  pv_read=0
  if ((pv_first)); then
    pv_first=0
  elif pv_cluster "$pv_src"; then
    pv_src_infra=$PV_INFRA
    pv_src_cpi=$PV_CPI
    if ((PV_PRESENT == 0)); then pv_read=2; fi
  else
    pv_read=1
  fi
  pv_pending=""
  if ((pv_read == 1)); then
    pv_pending="cannot read the Cluster: $(last_error_line "$FLEET_ERR")"
  elif ((pv_read == 2)); then
    fleet_fail "Cluster $pv_id disappeared from the $pv_src_name while waiting for it to finish provisioning" "$(pv_where)" "$FLEET_RESUME"
  else
    if [[ ${pv_src_infra:-} != true ]]; then pv_pending+="infrastructure not provisioned; "; fi
    if [[ ${pv_src_cpi:-} != True ]]; then pv_pending+="ControlPlaneInitialized is ${pv_src_cpi:-not reported}; "; fi
    if ! pv_machines "$pv_src"; then
      pv_pending+="cannot read Machines: $(last_error_line "$FLEET_ERR"); "
    elif ((PV_MACHINE_COUNT == 0)); then
      pv_pending+="no Machines yet; "
    elif [[ -n $PV_WITHOUT_NODE ]]; then
      pv_pending+="Machines without a nodeRef: $PV_WITHOUT_NODE; "
    fi
  fi
  if [[ -z $pv_pending ]]; then break; fi
  if fleet_wait_expired; then
    fleet_fail "Cluster $pv_id is still provisioning after ${pv_timeout}s: ${pv_pending%; }" \
      "nothing was moved; Cluster $pv_id is on the temporary cluster" "when it has finished provisioning, run $FLEET_RESUME"
  fi
  fleet_wait_progress "waiting for Cluster $pv_id to finish provisioning before the move: ${pv_pending%; }"
  fleet_wait_sleep
done
fleet_log "Cluster $pv_id is provisioned: infrastructure provisioned, control plane initialized, $PV_MACHINE_COUNT Machine(s) with a node"
# The Machines now: none may appear or go after the move.
pv_recorded=$PV_MACHINES

# No GitOps agent on the temporary cluster may race the move.
pv_rc=0
fleet_k "$pv_src" get customresourcedefinitions kustomizations.kustomize.toolkit.fluxcd.io helmreleases.helm.toolkit.fluxcd.io \
  --ignore-not-found -o name || pv_rc=$?
if ((pv_rc != 0)); then
  fleet_fail "cannot look up the Flux CRDs on the $pv_src_name: $(last_error_line "$FLEET_ERR")" "nothing was moved" "$FLEET_RESUME"
fi
pv_flux_crds=$FLEET_OUT
for pv_res in kustomizations.kustomize.toolkit.fluxcd.io helmreleases.helm.toolkit.fluxcd.io; do
  if [[ $pv_flux_crds != *"/$pv_res"* ]]; then continue; fi
  pv_rc=0
  fleet_k "$pv_src" get "$pv_res" --all-namespaces -o 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.suspend}{"\n"}{end}' || pv_rc=$?
  if ((pv_rc != 0)); then
    if fleet_no_resource_type "$FLEET_ERR"; then continue; fi
    fleet_fail "cannot list $pv_res on the $pv_src_name: $(last_error_line "$FLEET_ERR")" "nothing was moved" "$FLEET_RESUME"
  fi
  pv_listing=$FLEET_OUT
  while read -r pv_ns pv_name pv_suspended; do
    if [[ -z $pv_name || ${pv_suspended:-} == true ]]; then continue; fi
    if ! fleet_k "$pv_src" patch "$pv_res" "$pv_name" -n "$pv_ns" --type merge -p '{"spec":{"suspend":true}}'; then
      fleet_fail "suspending $pv_res $pv_ns/$pv_name on the $pv_src_name failed: $(last_error_line "$FLEET_ERR")" "nothing was moved" "$FLEET_RESUME"
    fi
    fleet_log "suspended Flux ${pv_res%%.*} $pv_ns/$pv_name on the temporary cluster so it cannot race the move"
  done <<<"$pv_listing"
done

# Dry run: the move must find the Cluster (a move that finds nothing "succeeds").
pv_attempt=1
while :; do
  pv_rc=0
  fleet_relay "clusterctl move --dry-run" "$WORK_DIR/dry-run.log" \
    clusterctl move --kubeconfig "$pv_src" --to-kubeconfig "$pv_dst" -n "$CLUSTER_NAMESPACE" --dry-run -v 1 || pv_rc=$?
  pv_log=$(<"$WORK_DIR/dry-run.log")
  if ((pv_rc == 0)); then break; fi
  if fleet_is_transient "$pv_log" && ((pv_attempt < FLEET_RETRIES)); then
    fleet_backoff "$pv_attempt" "$FLEET_POLL"
    pv_attempt=$((pv_attempt + 1))
    continue
  fi
  fleet_fail "clusterctl move --dry-run failed: $(last_error_line "$pv_log")" "nothing was moved; Cluster $pv_id is on the temporary cluster" "$FLEET_RESUME"
done
if [[ $pv_log != *"Cluster=\"$CLUSTER_NAME\" Namespace=\"$CLUSTER_NAMESPACE\""* ]]; then
  fleet_fail "clusterctl move --dry-run -n $CLUSTER_NAMESPACE does not list Cluster $pv_id: the move would silently move nothing" \
    "nothing was moved" "check CLUSTER_NAME/CLUSTER_NAMESPACE and the objects on the temporary cluster, then run $FLEET_RESUME"
fi
fleet_log "clusterctl move --dry-run lists Cluster $pv_id"

# Backup of what will move.
mkdir -p -- "$pv_backup_root"
chmod 700 -- "$pv_backup_root"
pv_stamp=$(date -u +%Y%m%dT%H%M%SZ)
pv_dir="$pv_backup_root/$pv_stamp"
if [[ -e $pv_dir || -e $pv_dir.tar.age ]]; then pv_dir="$pv_dir-$$"; fi
mkdir -m 700 -- "$pv_dir"
pv_rc=0
fleet_relay "clusterctl move --to-directory" "$WORK_DIR/backup.log" \
  clusterctl move --kubeconfig "$pv_src" -n "$CLUSTER_NAMESPACE" --to-directory "$pv_dir" || pv_rc=$?
if ((pv_rc != 0)); then
  pv_unpause_source || true
  rm -rf -- "$pv_dir"
  fleet_fail "clusterctl move --to-directory (the backup before the move) failed: $(last_error_line "$(<"$WORK_DIR/backup.log")")" \
    "$(pv_where)" "$FLEET_RESUME"
fi
pv_files=0
for pv_f in "$pv_dir"/*; do
  if [[ -f $pv_f ]]; then
    chmod 600 -- "$pv_f"
    pv_files=$((pv_files + 1))
  fi
done
pv_location=$pv_dir
fleet_log "backup of the $pv_files objects that will move written to $pv_dir (mode 0700). It holds the cluster's CA keys and kubeconfig Secrets: keep it private; it can restore the objects with clusterctl move --from-directory"
if command -v age >/dev/null 2>&1 && [[ -n ${FLEET_AGE_RECIPIENT:-} ]]; then
  pv_rc=0
  tar -C "$pv_backup_root" -cf - "${pv_dir##*/}" | age -r "$FLEET_AGE_RECIPIENT" -o "$pv_dir.tar.age" 2>"$WORK_DIR/age.err" || pv_rc=$?
  if ((pv_rc == 0)) && [[ -s $pv_dir.tar.age ]]; then
    chmod 600 -- "$pv_dir.tar.age"
    rm -rf -- "$pv_dir"
    pv_location="$pv_dir.tar.age"
    fleet_log "backup encrypted for $FLEET_AGE_RECIPIENT into $pv_location (plaintext removed); decrypt with: age -d -i <identity> $pv_location | tar -x"
  else
    rm -f -- "$pv_dir.tar.age"
    fleet_log "warning: encrypting the backup with age failed ($(last_error_line "$(<"$WORK_DIR/age.err")")); the plaintext backup stays at $pv_dir"
  fi
elif [[ -n ${FLEET_AGE_RECIPIENT:-} ]]; then
  fleet_log "note: age is not installed, so the backup is NOT encrypted"
else
  fleet_log "note: no age recipient configured, so the backup is NOT encrypted"
fi

fleet_log "Machines before the move: $(printf '%s' "$pv_recorded" | tr '\n' ' ')"

# ------------------------------------------------------------------ move
pv_move_transient() {
  case $1 in
    *"connection refused"* | *"connection reset"* | *"i/o timeout"* | *"TLS handshake timeout"* | \
      *"failed calling webhook"* | *"failed to connect to the management cluster"*)
      return 0 ;;
  esac
  return 1
}

# The Helm add-on controller on the temporary cluster must not act while the Cluster leaves it: CAAPH
# uninstalls a chart from a cluster that stops matching a HelmChartProxy, and the management cluster's
# own CNI came from the one on kind. Stopped for the move (kind is disposable after it); started again
# when the move fails and the Cluster stays on kind.
pv_addon_ns=""
for pv_s in ${pv_src_inv[@]+"${pv_src_inv[@]}"}; do
  read -r pv_t pv_n _ pv_ns <<<"$pv_s"
  if [[ $pv_t == AddonProvider && $pv_n == helm ]]; then pv_addon_ns=$pv_ns; fi
done
pv_scale_addons() { # <replicas>
  if [[ -n $pv_addon_ns ]]; then
    fleet_k "$pv_src" patch deployment caaph-controller-manager -n "$pv_addon_ns" --type merge -p "{\"spec\":{\"replicas\":$1}}"
  fi
}
if [[ -n $pv_addon_ns ]]; then
  fleet_log "stopping the Helm add-on controller on the temporary cluster for the move (it would uninstall the management cluster's CNI when the Cluster leaves)"
  if ! pv_scale_addons 0; then
    fleet_fail "could not stop the Helm add-on controller on the $pv_src_name: $(last_error_line "$FLEET_ERR")" "nothing was moved; backup: $pv_location" "$FLEET_RESUME"
  fi
fi

FLEET_STATE_NOTE="the move may be incomplete; backup: $pv_location"
pv_attempt=1
while :; do
  fleet_log "moving Cluster $pv_id to the permanent cluster (attempt $pv_attempt of $pv_attempts): clusterctl move -n $CLUSTER_NAMESPACE"
  pv_rc=0
  fleet_relay "clusterctl move" "$WORK_DIR/move.log" \
    clusterctl move --kubeconfig "$pv_src" --to-kubeconfig "$pv_dst" -n "$CLUSTER_NAMESPACE" || pv_rc=$?
  if ((pv_rc == 0)); then break; fi
  pv_log=$(<"$WORK_DIR/move.log")
  pv_err=$(last_error_line "$pv_log")
  # A failed move leaves the source paused: unpause what it paused, unless it had started deleting.
  if pv_cluster "$pv_src" && ((PV_PRESENT == 1 && PV_PAUSED == 1)); then
    if pv_deletion_started; then pv_fail_deletion_started; fi
    if ! pv_unpause_source; then
      fleet_log "warning: could not unpause Cluster $pv_id on the temporary cluster: $(last_error_line "$FLEET_ERR")"
    fi
  fi
  if pv_move_transient "$pv_log" && ((pv_attempt < pv_attempts)); then
    fleet_log "clusterctl move failed with a transient error: $pv_err; retrying"
    fleet_backoff "$pv_attempt" "$FLEET_POLL"
    pv_attempt=$((pv_attempt + 1))
    continue
  fi
  pv_reason="not a transient error, so not retried"
  if pv_move_transient "$pv_log"; then pv_reason="gave up after $pv_attempts attempts"; fi
  if pv_cluster "$pv_src" && ((PV_PRESENT == 1)) && ! pv_scale_addons 1; then
    fleet_log "warning: could not start the Helm add-on controller on the temporary cluster again: $(last_error_line "$FLEET_ERR")"
  fi
  fleet_fail "clusterctl move failed ($pv_reason): $pv_err" "$(pv_where); backup: $pv_location" \
    "fix the cause above, then run $FLEET_RESUME (the pivot step re-checks both clusters and completes the move)"
done

# ------------------------------------------------------------------ verify
FLEET_STATE_NOTE="the move ran; backup: $pv_location"
if ! pv_cluster "$pv_dst"; then
  fleet_fail "cannot read Cluster $pv_id on the permanent cluster after the move: $(last_error_line "$FLEET_ERR")" "$(pv_where); backup: $pv_location" "$FLEET_RESUME"
fi
if ((PV_PRESENT != 1)); then
  fleet_fail "clusterctl move reported success but Cluster $pv_id is not on the permanent cluster (a move that finds nothing succeeds)" \
    "$(pv_where); backup: $pv_location" "$FLEET_RESUME"
fi
if ((PV_PAUSED == 1)); then
  fleet_log "Cluster $pv_id is still paused on the permanent cluster after the move: unpausing it"
  if ! fleet_k "$pv_dst" patch clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --type merge -p "$pv_patch_unpause"; then
    fleet_fail "unpausing Cluster $pv_id on the permanent cluster failed: $(last_error_line "$FLEET_ERR")" "$(pv_where); backup: $pv_location" "$FLEET_RESUME"
  fi
fi
if ! pv_cluster "$pv_src"; then
  fleet_fail "cannot read the $pv_src_name after the move: $(last_error_line "$FLEET_ERR")" "$(pv_where); backup: $pv_location" "$FLEET_RESUME"
fi
if ((PV_PRESENT == 1)); then
  fleet_fail "clusterctl move reported success but Cluster $pv_id is still on the temporary cluster" "$(pv_where); backup: $pv_location" "$FLEET_RESUME"
fi
fleet_log "verified: Cluster $pv_id is on the permanent cluster, unpaused, and gone from the temporary cluster"

# No Machine rollout on the target.
fleet_wait_begin "$pv_watch"
pv_settled=0
while :; do
  if ! pv_machines "$pv_dst"; then
    fleet_log "warning: cannot list Machines on the permanent cluster: $(last_error_line "$FLEET_ERR")"
  elif [[ $PV_MACHINES != "$pv_recorded" ]]; then
    pv_added=""
    pv_removed=""
    while IFS= read -r pv_m; do
      if [[ -n $pv_m && $'\n'"$pv_recorded"$'\n' != *$'\n'"$pv_m"$'\n'* ]]; then pv_added+=" $pv_m"; fi
    done <<<"$PV_MACHINES"
    while IFS= read -r pv_m; do
      if [[ -n $pv_m && $'\n'"$PV_MACHINES"$'\n' != *$'\n'"$pv_m"$'\n'* ]]; then pv_removed+=" $pv_m"; fi
    done <<<"$pv_recorded"
    fleet_fail "Machines of $pv_id changed on the permanent cluster after the move (added:${pv_added:- none}; removed:${pv_removed:- none}): a rollout started, the move did not preserve the cluster as it was" \
      "the pivot itself is done: Cluster $pv_id is on the permanent cluster, unpaused; backup: $pv_location" \
      "find out why it rolled out (clusterctl describe cluster $CLUSTER_NAME -n $CLUSTER_NAMESPACE --kubeconfig <permanent kubeconfig>), then run $FLEET_RESUME"
  fi
  if pv_target_settled; then pv_settled=$((pv_settled + 1)); else pv_settled=0; fi
  if ((pv_settled >= 2)) || fleet_wait_expired; then break; fi
  fleet_wait_progress "watching the Machines of $pv_id on the permanent cluster for a rollout (none so far; waiting for its controllers to report it Available and not rolling out)"
  fleet_wait_sleep
done
if ((pv_settled == 0)); then pv_fail_unmanaged; fi
fleet_pivot_marker_write "$pv_src" "$pv_id to the permanent cluster"
fleet_log "pivot done: no Machine rolled out in $(fleet_wait_elapsed)s of watching; Cluster $pv_id now manages itself on the permanent cluster"
printf '%s\n' "$pv_location"
