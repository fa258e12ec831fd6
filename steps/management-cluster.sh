# shellcheck shell=bash
# Step: management-cluster. Applies the permanent management cluster's Cluster API objects to the
# temporary cluster and waits until it is ready to be moved; prints its kubeconfig.
#
# Stdin: the management cluster's manifests (multi-document YAML: Namespace, Cluster, infra
#   cluster, KubeadmControlPlane, machine templates, MachineDeployment, KubeadmConfigTemplate, CNI
#   HelmChartProxy).
# Environment:
#   KIND_CLUSTER_NAME           temporary kind cluster                                    (required)
#   CLUSTER_NAME                the management Cluster's name                             (required)
#   CLUSTER_NAMESPACE           its namespace                                             (required)
#   FLEET_PROVIDER              docker | aws                                              (required)
#   FLEET_WAIT_TIMEOUT_SECONDS  bound of the readiness wait (default 3600)
#   PULUMI_COMMAND_STDOUT       set by @pulumi/command on update: the previous run's stdout, i.e.
#                               the previous permanent kubeconfig                         (optional)
#   FLEET_CREDENTIAL_RENEWAL    what to run when the previous permanent kubeconfig is refused
#                               (Unauthorized: its client certificate expired)            (optional)
#   FLEET_UNRECORDED_CLUSTER_VPCS  aws: VPC ids of this environment's cluster that exist in AWS while
#                               the stack has no record of it (e.g. after pulumi destroy); set, the
#                               step refuses to bootstrap unless the temporary cluster holds the Cluster
#                               (an interrupted first up), giving the commands that adopt it (optional)
#   FLEET_ADOPT_KUBECONFIG_FILE path (~ allowed) of a kubeconfig file of the environment's existing,
#                               self-managed management cluster (config adoptExistingManagementCluster):
#                               it must hold Cluster $CLUSTER_NAMESPACE/$CLUSTER_NAME; nothing is applied,
#                               the kubeconfig is read from its own <name>-kubeconfig Secret (optional)
# Behaviour:
#   (0) adopting (FLEET_ADOPT_KUBECONFIG_FILE): no temporary cluster, no apply, no move.
#   (a) the Cluster is not on the temporary cluster but the previous permanent kubeconfig reaches
#       a cluster holding Cluster $CLUSTER_NAMESPACE/$CLUSTER_NAME: already pivoted; nothing is
#       applied (changes go through Git) and the kubeconfig is read from that cluster's own
#       <name>-kubeconfig Secret. A previous permanent cluster that does not answer, or answers
#       without the Cluster, is refused: a second management cluster is never created.
#   (b) docker only: not on the temporary cluster and not pivoted, but containers labelled
#       io.x-k8s.kind.cluster=$CLUSTER_NAME exist (e.g. the cluster `pulumi destroy` released): refused,
#       naming them and giving the commands that adopt it; nothing created.
#   (c) otherwise `kubectl apply --server-side --field-manager=fleet-bootstrap` (idempotent), then
#       wait, with progress lines, for status.initialization.infrastructureProvisioned, the v1beta2
#       conditions ControlPlaneInitialized, ControlPlaneAvailable and WorkersAvailable, a
#       status.nodeRef on every Machine (label cluster.x-k8s.io/cluster-name) and the Secret.
# Stdout: the permanent kubeconfig (Secret <name>-kubeconfig, key value, base64-decoded).

fleet_step management-cluster

: "${KIND_CLUSTER_NAME:?KIND_CLUSTER_NAME must name the temporary kind cluster}"
: "${CLUSTER_NAME:?CLUSTER_NAME must name the management Cluster}"
: "${CLUSTER_NAMESPACE:?CLUSTER_NAMESPACE must name the management Cluster namespace}"
: "${FLEET_PROVIDER:?FLEET_PROVIDER must be docker or aws}"
mc_timeout=${FLEET_WAIT_TIMEOUT_SECONDS:-3600}
fleet_require_uint FLEET_WAIT_TIMEOUT_SECONDS "$mc_timeout"
mc_id="$CLUSTER_NAMESPACE/$CLUSTER_NAME"
mc_kind_kc="$WORK_DIR/kind.kubeconfig"
mc_out="$WORK_DIR/permanent.kubeconfig"
FLEET_STATE_NOTE="see the progress lines above; nothing was deleted"
case $FLEET_PROVIDER in
  docker | aws) ;;
  *) fleet_fail "FLEET_PROVIDER must be docker or aws, got '$FLEET_PROVIDER'" "nothing was changed" ;;
esac

cat >"$WORK_DIR/manifests.yaml"
if [[ ! -s $WORK_DIR/manifests.yaml ]]; then
  fleet_fail "no manifests on stdin (the management cluster's Cluster API objects)" "nothing was changed"
fi

# mc_read_kubeconfig_secret <kubeconfig> <where>: decodes Secret <name>-kubeconfig into $mc_out.
# Returns 1 when the Secret is not there (yet).
mc_read_kubeconfig_secret() {
  local kc=$1 where=$2 rc=0
  fleet_k "$kc" get secret "$CLUSTER_NAME-kubeconfig" -n "$CLUSTER_NAMESPACE" --ignore-not-found -o 'jsonpath={.data.value}' || rc=$?
  if ((rc != 0)); then
    fleet_fail "cannot read Secret $CLUSTER_NAMESPACE/$CLUSTER_NAME-kubeconfig on the $where: $(last_error_line "$FLEET_ERR")" \
      "the management cluster objects are on the $where; nothing was deleted" "$FLEET_RESUME"
  fi
  if [[ -z $FLEET_OUT ]]; then return 1; fi
  if ! printf '%s' "$FLEET_OUT" | base64 --decode >"$mc_out" 2>/dev/null || [[ ! -s $mc_out ]]; then
    fleet_fail "Secret $CLUSTER_NAMESPACE/$CLUSTER_NAME-kubeconfig on the $where does not hold a base64 kubeconfig in data.value" \
      "the management cluster objects are on the $where; nothing was deleted" "$FLEET_RESUME"
  fi
  return 0
}

# ------------------------------------------------------------------ (0) adopting?
if [[ -n ${FLEET_ADOPT_KUBECONFIG_FILE:-} ]]; then
  mc_adopt_file=$FLEET_ADOPT_KUBECONFIG_FILE
  # A leading ~/ (as typed in the stack config) is the home directory.
  # shellcheck disable=SC2088 # a literal ~/ is meant here
  if [[ ${mc_adopt_file:0:2} == "~/" ]]; then mc_adopt_file="$HOME/${mc_adopt_file:2}"; fi
  if [[ ! -r $mc_adopt_file ]]; then
    fleet_fail "fleet-bootstrap:adoptExistingManagementCluster names $mc_adopt_file, which is not a readable file" \
      "nothing was applied" "write the management cluster's kubeconfig there (or fix the path), then run $FLEET_RESUME"
  fi
  mc_adopt_kc="$WORK_DIR/adopted.kubeconfig"
  (umask 077 && cat -- "$mc_adopt_file" >"$mc_adopt_kc")
  mc_rc=0
  fleet_k "$mc_adopt_kc" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.name}' || mc_rc=$?
  if ((mc_rc != 0)) && ! fleet_no_resource_type "$FLEET_ERR"; then
    fleet_fail "cannot read Cluster $mc_id through the kubeconfig in $mc_adopt_file: $(last_error_line "$FLEET_ERR")" \
      "nothing was applied" "make the management cluster's API server reachable with that kubeconfig, then run $FLEET_RESUME"
  fi
  if ((mc_rc != 0)) || [[ -z $FLEET_OUT ]]; then
    fleet_fail "the cluster $mc_adopt_file reaches does not hold Cluster $mc_id: it is not this environment's self-managed management cluster, so it is not adopted" \
      "nothing was applied" "point fleet-bootstrap:adoptExistingManagementCluster at the kubeconfig of the cluster that holds Cluster $mc_id (or unset it to bootstrap), then run $FLEET_RESUME"
  fi
  fleet_log "adopting the existing management cluster: Cluster $mc_id manages itself there; nothing is applied, no temporary cluster and no move are needed"
  if ! mc_read_kubeconfig_secret "$mc_adopt_kc" "adopted management cluster"; then
    fleet_fail "the adopted management cluster holds Cluster $mc_id but not its Secret $CLUSTER_NAME-kubeconfig" \
      "nothing was applied" "check the Secret on the management cluster, then run $FLEET_RESUME"
  fi
  cat -- "$mc_out"
  exit 0
fi

# ------------------------------------------------------------------ where is the Cluster?
mc_temp=0
fleet_kind_kubeconfig "$KIND_CLUSTER_NAME" "$mc_kind_kc" || mc_temp=$?
if ((mc_temp == 2)); then
  fleet_fail "kind get kubeconfig --name $KIND_CLUSTER_NAME failed: $(last_error_line "$FLEET_ERR")" \
    "nothing was applied" "make sure Docker is running, then run $FLEET_RESUME"
fi
mc_on_temp=0
if ((mc_temp == 0)); then
  mc_rc=0
  fleet_k "$mc_kind_kc" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.name}' || mc_rc=$?
  if ((mc_rc == 0)); then
    if [[ -n $FLEET_OUT ]]; then mc_on_temp=1; fi
  elif ! fleet_no_resource_type "$FLEET_ERR"; then
    fleet_fail "cannot read Cluster $mc_id on the temporary cluster '$KIND_CLUSTER_NAME': $(last_error_line "$FLEET_ERR")" \
      "nothing was applied" "make sure the temporary cluster's API server answers, then run $FLEET_RESUME"
  fi
fi

if ((mc_on_temp == 0)); then
  # (a) already pivoted?
  if [[ -n ${PULUMI_COMMAND_STDOUT:-} ]]; then
    mc_prev_kc="$WORK_DIR/previous-permanent.kubeconfig"
    fleet_secret_file "$mc_prev_kc" PULUMI_COMMAND_STDOUT
    mc_rc=0
    fleet_k "$mc_prev_kc" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.name}' || mc_rc=$?
    if ((mc_rc == 0)) && [[ -n $FLEET_OUT ]]; then
      fleet_log "Cluster $mc_id is not on the temporary cluster: it has been pivoted and the permanent cluster manages itself"
      fleet_log "nothing is applied: changes to the management cluster now go through Git (npm run render -- $FLEET_ENV, commit, Flux applies them)"
      if ! mc_read_kubeconfig_secret "$mc_prev_kc" "permanent cluster"; then
        fleet_fail "the permanent cluster holds Cluster $mc_id but not its Secret $CLUSTER_NAME-kubeconfig" \
          "the management cluster is pivoted and untouched" "check the Secret on the permanent cluster, then run $FLEET_RESUME"
      fi
      cat -- "$mc_out"
      exit 0
    fi
    if ((mc_rc != 0)) && [[ $FLEET_ERR == *"(Unauthorized)"* || $FLEET_ERR == *"certificate has expired"* ]]; then
      fleet_fail "the permanent cluster refuses the kubeconfig this stack kept ($(last_error_line "$FLEET_ERR")): its client certificate has expired or was revoked" \
        "nothing was applied; the management cluster runs on, untouched" "${FLEET_CREDENTIAL_RENEWAL:-get a current kubeconfig of the management cluster into a file, set fleet-bootstrap:adoptExistingManagementCluster to its path, then run $FLEET_RESUME}"
    fi
    if ((mc_rc != 0)) && ! fleet_no_resource_type "$FLEET_ERR"; then
      fleet_fail "Cluster $mc_id is not on the temporary cluster and the previous permanent cluster does not answer ($(last_error_line "$FLEET_ERR")): cannot tell whether it was pivoted, so nothing is created (never a second management cluster)" \
        "nothing was applied" "make the permanent cluster's API server reachable, then run $FLEET_RESUME"
    fi
    fleet_fail "the previous permanent cluster answers but holds no Cluster $mc_id, and the temporary cluster does not hold it either: its Cluster API objects were lost (e.g. the temporary cluster was recreated before the pivot). Refusing to create a second management cluster." \
      "nothing was applied; the permanent cluster runs unmanaged" \
      "restore the objects onto the temporary cluster from a move backup (clusterctl move --from-directory <dir under $STATE_DIR/move-backup> --to-kubeconfig <temporary kubeconfig>) or decommission the old cluster deliberately; then run $FLEET_RESUME"
  fi
  if ((mc_temp == 3)); then
    fleet_fail "$(fleet_kind_gone_message "$KIND_CLUSTER_NAME"), and there is no pivoted management cluster to reuse" \
      "nothing was applied" "$(fleet_recreate_kind_hint)"
  fi
  # (b) duplicate guards: the cluster runs, but this stack has no record of it.
  if [[ $FLEET_PROVIDER == aws && -n ${FLEET_UNRECORDED_CLUSTER_VPCS:-} ]]; then
    mc_adopt_path="$STATE_DIR/$CLUSTER_NAME.kubeconfig"
    fleet_fail "refusing to create management cluster '$CLUSTER_NAME': this environment's cluster of that name already runs in AWS (VPC $FLEET_UNRECORDED_CLUSTER_VPCS carries its tags), but this stack has no record of it (e.g. \`pulumi destroy\` released it). Creating it again would build a second cluster on the same AWS resources." \
      "nothing was applied; the cluster in AWS is untouched" \
      "adopt it: write its kubeconfig to $mc_adopt_path (umask 077; the managementKubeconfig output saved before the destroy, or /etc/kubernetes/admin.conf of a control-plane node), then pulumi config set -s $FLEET_ENV fleet-bootstrap:adoptExistingManagementCluster $mc_adopt_path; $FLEET_RESUME"
  fi
  if [[ $FLEET_PROVIDER == docker ]]; then
    if [[ $CLUSTER_NAME == "$KIND_CLUSTER_NAME" ]]; then
      fleet_fail "CLUSTER_NAME and KIND_CLUSTER_NAME are both '$CLUSTER_NAME': their Docker containers would be indistinguishable" \
        "nothing was applied" "give the management cluster another name in the stack configuration, then run $FLEET_RESUME"
    fi
    mc_rc=0
    fleet_capture docker ps -a --filter "label=io.x-k8s.kind.cluster=$CLUSTER_NAME" --format '{{.ID}} {{.Names}}' || mc_rc=$?
    if ((mc_rc != 0)); then
      fleet_fail "cannot list Docker containers: $(last_error_line "$FLEET_ERR")" "nothing was applied" "make sure Docker is running, then run $FLEET_RESUME"
    fi
    if [[ -n $FLEET_OUT ]]; then
      mc_names=""
      while IFS= read -r mc_line; do
        if [[ -n $mc_line ]]; then mc_names+="${mc_names:+, }${mc_line#* }"; fi
      done <<<"$FLEET_OUT"
      mc_adopt_path="$STATE_DIR/$CLUSTER_NAME.kubeconfig"
      fleet_fail "refusing to create management cluster '$CLUSTER_NAME': Docker containers of a cluster with that name already exist ($mc_names), but no Cluster object on the temporary cluster or a pivoted permanent cluster this stack knows manages them (e.g. \`pulumi destroy\` released it). Creating it again would build a second cluster." \
        "nothing was applied; the containers are untouched" \
        "if it is this environment's management cluster, adopt it: (umask 077; kind get kubeconfig --name $CLUSTER_NAME > $mc_adopt_path); pulumi config set -s $FLEET_ENV fleet-bootstrap:adoptExistingManagementCluster $mc_adopt_path; $FLEET_RESUME. If the containers are leftovers, remove them (docker rm -f <names above>) and run $FLEET_RESUME"
    fi
  fi
fi

# ------------------------------------------------------------------ (c) apply
if ((mc_on_temp == 1)); then
  fleet_log "Cluster $mc_id is already on the temporary cluster: re-applying its manifests (server-side apply is idempotent)"
else
  fleet_log "applying the management cluster $mc_id to the temporary cluster '$KIND_CLUSTER_NAME'"
fi
FLEET_STATE_NOTE="the management cluster objects may be partly applied to the temporary cluster '$KIND_CLUSTER_NAME'; re-applying is harmless"
mc_attempt=1
while :; do
  mc_rc=0
  fleet_capture kubectl --kubeconfig "$mc_kind_kc" apply --server-side --field-manager=fleet-bootstrap -f - <"$WORK_DIR/manifests.yaml" || mc_rc=$?
  if ((mc_rc == 0)); then
    break
  fi
  if { fleet_is_transient "$FLEET_ERR" || [[ $FLEET_ERR == *"no matches for kind"* ]]; } && ((mc_attempt < FLEET_RETRIES)); then
    fleet_log "kubectl apply: not accepted yet (attempt $mc_attempt of $FLEET_RETRIES), retrying: $(last_error_line "$FLEET_ERR")"
    fleet_backoff "$mc_attempt" "$FLEET_POLL"
    mc_attempt=$((mc_attempt + 1))
    continue
  fi
  mc_hint=""
  if [[ $FLEET_ERR == *"no matches for kind"* ]]; then
    mc_hint=" (the Cluster API CRDs are missing on the temporary cluster: the capi-providers step installs them)"
  fi
  fleet_fail "kubectl apply of the management cluster to the temporary cluster failed$mc_hint: $(last_error_line "$FLEET_ERR")" \
    "the objects may be partly applied to the temporary cluster '$KIND_CLUSTER_NAME'; nothing else was created" "$FLEET_RESUME"
done
fleet_log "applied: $(printf '%s' "$FLEET_OUT" | tr '\n' ' ')"

# ------------------------------------------------------------------ wait
mc_conditions=(ControlPlaneInitialized ControlPlaneAvailable WorkersAvailable)
fleet_wait_begin "$mc_timeout"
while :; do
  mc_rc=0
  fleet_k "$mc_kind_kc" get clusters.cluster.x-k8s.io "$CLUSTER_NAME" -n "$CLUSTER_NAMESPACE" \
    -o 'jsonpath={.status.initialization.infrastructureProvisioned}{"\n"}{range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.message}{"\n"}{end}' || mc_rc=$?
  mc_ready=1
  mc_pending=()
  if ((mc_rc != 0)); then
    if [[ $FLEET_ERR == *"(NotFound)"* ]]; then
      fleet_fail "Cluster $mc_id disappeared from the temporary cluster while waiting for it" \
        "the other management cluster objects may remain on the temporary cluster" "$FLEET_RESUME"
    fi
    mc_ready=0
    mc_summary="the temporary cluster's API server does not answer: $(last_error_line "$FLEET_ERR")"
  else
    mc_infra=${FLEET_OUT%%$'\n'*}
    mc_summary="infrastructure provisioned: ${mc_infra:-no}"
    if [[ $mc_infra != true ]]; then
      mc_ready=0
      mc_pending+=("infrastructure not provisioned (status.initialization.infrastructureProvisioned=${mc_infra:-unset})")
    fi
    for mc_c in "${mc_conditions[@]}"; do
      mc_status=Unknown
      mc_msg="no $mc_c condition reported yet"
      while IFS=$'\t' read -r mc_type mc_st mc_m; do
        if [[ $mc_type == "$mc_c" ]]; then
          mc_status=$mc_st
          mc_msg=$mc_m
        fi
      done <<<"$FLEET_OUT"
      mc_summary+=", $mc_c=$mc_status"
      if [[ $mc_status != True ]]; then
        mc_ready=0
        mc_pending+=("$mc_c=$mc_status${mc_msg:+ ($mc_msg)}")
      fi
    done
    mc_rc=0
    fleet_k "$mc_kind_kc" get machines.cluster.x-k8s.io -n "$CLUSTER_NAMESPACE" -l "cluster.x-k8s.io/cluster-name=$CLUSTER_NAME" \
      -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.nodeRef.name}{"\n"}{end}' || mc_rc=$?
    if ((mc_rc != 0)); then
      mc_ready=0
      mc_summary+=", Machines: unknown ($(last_error_line "$FLEET_ERR"))"
    else
      mc_total=0
      mc_noderef=0
      mc_without=()
      while read -r mc_machine mc_node; do
        if [[ -z $mc_machine ]]; then continue; fi
        mc_total=$((mc_total + 1))
        if [[ -n ${mc_node:-} ]]; then mc_noderef=$((mc_noderef + 1)); else mc_without+=("$mc_machine"); fi
      done <<<"$FLEET_OUT"
      mc_summary+=", Machines with a node: $mc_noderef/$mc_total"
      if ((mc_total == 0)); then
        mc_ready=0
        mc_pending+=("no Machines yet")
      elif ((mc_noderef < mc_total)); then
        mc_ready=0
        mc_pending+=("Machines without a nodeRef: ${mc_without[*]}")
      fi
    fi
    if ((mc_ready == 1)); then
      if mc_read_kubeconfig_secret "$mc_kind_kc" "temporary cluster"; then
        break
      fi
      mc_ready=0
      mc_summary+=", Secret $CLUSTER_NAME-kubeconfig: not yet"
      mc_pending+=("Secret $CLUSTER_NAMESPACE/$CLUSTER_NAME-kubeconfig does not exist yet")
    fi
  fi
  if fleet_wait_expired; then
    mc_detail=""
    for mc_p in ${mc_pending[@]+"${mc_pending[@]}"}; do mc_detail+=$'\n'"  - $mc_p"; done
    fleet_fail "management cluster $mc_id is not ready after ${mc_timeout}s. Still not satisfied:${mc_detail:- $mc_summary}" \
      "the Cluster API objects are applied on the temporary cluster '$KIND_CLUSTER_NAME' and keep reconciling; nothing was deleted" \
      "inspect it (kind get kubeconfig --name $KIND_CLUSTER_NAME > kind.kubeconfig; clusterctl describe cluster $CLUSTER_NAME -n $CLUSTER_NAMESPACE --show-conditions all --kubeconfig kind.kubeconfig), fix the cause, then run $FLEET_RESUME (re-applying is harmless; it waits again)"
  fi
  fleet_wait_progress "waiting for management cluster $mc_id: $mc_summary"
  fleet_wait_sleep
done
fleet_log "management cluster $mc_id is ready: $mc_summary"

# The kubeconfig must reach the new API server from this machine (a warning only: Docker Desktop
# publishes CAPD load balancers differently).
if ! fleet_k "$mc_out" get namespace kube-system -o name; then
  fleet_log "warning: the permanent cluster's API server does not answer from this machine yet: $(last_error_line "$FLEET_ERR")"
fi
cat -- "$mc_out"
