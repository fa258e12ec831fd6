# shellcheck shell=bash
# Step: temporary-cluster-delete. Deletes the temporary kind cluster, but never while it still
# holds a Cluster API Cluster (before a verified pivot it holds the only copy of the management
# cluster's definition, CA keys included).
#
# Environment:
#   KIND_CLUSTER_NAME  kind cluster name                                                (required)
# Behaviour: a cluster that is already gone is fine (exit 0). Otherwise it lists
# clusters.cluster.x-k8s.io in every namespace (CRD absent = none): any found => refuse (exit 1),
# naming them, nothing deleted. If the API server does not answer the step refuses too, unless a
# previous run of this step verified the cluster empty and was interrupted while deleting it
# (marker file $STATE_DIR/kind-delete-verified.<name>).
# Stdout: nothing. Failure messages say to resume with `pulumi destroy -s $FLEET_ENV` unless
# FLEET_RESUME_COMMAND says otherwise (e.g. when the program deletes it during `pulumi up`).

fleet_step temporary-cluster-delete
# This step normally runs on `pulumi destroy` (the delete of the temporary cluster).
if [[ -z ${FLEET_RESUME_COMMAND:-} ]]; then FLEET_RESUME="pulumi destroy -s $FLEET_ENV"; fi

: "${KIND_CLUSTER_NAME:?KIND_CLUSTER_NAME must name the kind cluster}"
tcd_name=$KIND_CLUSTER_NAME
tcd_marker="$STATE_DIR/kind-delete-verified.$tcd_name"
FLEET_STATE_NOTE="kind cluster '$tcd_name' was not deleted"

tcd_exists=0
fleet_kind_exists "$tcd_name" || tcd_exists=$?
if ((tcd_exists == 2)); then
  fleet_fail "cannot list kind clusters: $(last_error_line "$FLEET_ERR")" \
    "nothing was deleted" "make sure Docker is running, then run $FLEET_RESUME"
fi
if ((tcd_exists == 1)); then
  rm -f -- "$tcd_marker"
  fleet_log "kind cluster '$tcd_name' does not exist: nothing to delete"
  exit 0
fi

tcd_kc=0
fleet_kind_kubeconfig "$tcd_name" "$WORK_DIR/kind.kubeconfig" || tcd_kc=$?
if ((tcd_kc == 3)); then
  rm -f -- "$tcd_marker"
  fleet_log "kind cluster '$tcd_name' disappeared: nothing to delete"
  exit 0
fi

tcd_verified=0
if ((tcd_kc == 0)); then
  tcd_rc=0
  fleet_k "$WORK_DIR/kind.kubeconfig" get clusters.cluster.x-k8s.io --all-namespaces \
    -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' || tcd_rc=$?
  if ((tcd_rc == 0)); then
    tcd_held=()
    while IFS= read -r tcd_line; do
      if [[ -n $tcd_line ]]; then tcd_held+=("$tcd_line"); fi
    done <<<"$FLEET_OUT"
    if ((${#tcd_held[@]} > 0)); then
      rm -f -- "$tcd_marker"
      fleet_fail "refusing to delete kind cluster '$tcd_name': it still holds Cluster API Cluster(s) ${tcd_held[*]}.
The pivot is not verified: deleting it now would lose the only copy of their definitions (CA keys included)." \
        "kind cluster '$tcd_name' and its Clusters are untouched" \
        "finish the pivot with pulumi up -s $FLEET_ENV (the pivot step runs clusterctl move), or move them yourself: kind get kubeconfig --name $tcd_name > kind.kubeconfig; clusterctl move --kubeconfig kind.kubeconfig --to-kubeconfig <permanent kubeconfig> -n <namespace>; then run $FLEET_RESUME again"
    fi
    tcd_verified=1
  elif fleet_no_resource_type "$FLEET_ERR"; then
    fleet_log "kind cluster '$tcd_name' has no Cluster API CRDs: it holds no Clusters"
    tcd_verified=1
  fi
fi

if ((tcd_verified == 0)); then
  if [[ -f $tcd_marker ]]; then
    fleet_log "the API server of kind cluster '$tcd_name' does not answer, but an interrupted earlier run verified it held no Clusters: deleting it"
  else
    fleet_fail "cannot check whether kind cluster '$tcd_name' still holds Cluster API Clusters: $(last_error_line "$FLEET_ERR")" \
      "kind cluster '$tcd_name' was not deleted" \
      "make its API server answer (docker start $tcd_name-control-plane) and run $FLEET_RESUME; only if you are sure the pivot is verified, delete it yourself: kind delete cluster --name $tcd_name"
  fi
fi

printf '%s\n' "verified empty by the $FLEET_STEP step" >"$tcd_marker"
fleet_log "kind cluster '$tcd_name' holds no Cluster API Clusters: deleting it"
tcd_rc=0
fleet_relay "kind" "$WORK_DIR/kind-delete.log" kind delete cluster --name "$tcd_name" --kubeconfig "$WORK_DIR/kind-delete.kubeconfig" || tcd_rc=$?
if ((tcd_rc != 0)); then
  fleet_fail "kind delete cluster --name $tcd_name failed (exit $tcd_rc): $(last_error_line "$(<"$WORK_DIR/kind-delete.log")")" \
    "kind cluster '$tcd_name' may be partly deleted; it held no Clusters" "run $FLEET_RESUME again (or: kind delete cluster --name $tcd_name)"
fi
rm -f -- "$tcd_marker"
fleet_log "kind cluster '$tcd_name' deleted"
