# shellcheck shell=bash
# Step: temporary-cluster-create. Creates the temporary kind cluster, or adopts an existing kind
# cluster of the same name.
#
# Environment:
#   KIND_CLUSTER_NAME  kind cluster name                                                (required)
#   KIND_NODE_IMAGE    node image, pinned by digest, e.g. kindest/node:v1.33.1@sha256:... (required)
#   KIND_CONFIG        kind Cluster config YAML (kind.x-k8s.io/v1alpha4), written to a temp file
#                      and passed with --config                                          (required)
# Behaviour: if `kind get clusters` lists the name, the cluster is adopted (and its API server
# must answer); else `kind create cluster --name --image --config --kubeconfig <temp> --wait 5m`,
# except on an update (FLEET_STEP_OPERATION=update, lib.sh): an update never creates the cluster;
# a cluster that is gone stays gone and the previous output is printed again.
# A create that fails with a known transient error is retried once after deleting the
# half-created cluster; a create that fails for good leaves no half-created cluster behind.
#   FLEET_ADOPT_KUBECONFIG_FILE  set: the stack adopts an existing management cluster; nothing is
#                      created and stdout is empty (lib.sh)                              (optional)
# Stdout: the cluster's kubeconfig (`kind get kubeconfig --name`), printed once at the end.

fleet_step temporary-cluster-create
fleet_adopting_skip "create a kind cluster"

: "${KIND_CLUSTER_NAME:?KIND_CLUSTER_NAME must name the kind cluster}"
: "${KIND_NODE_IMAGE:?KIND_NODE_IMAGE must name the kind node image}"
: "${KIND_CONFIG:?KIND_CONFIG must hold the kind Cluster config YAML}"

tcc_name=$KIND_CLUSTER_NAME
FLEET_STATE_NOTE="kind cluster '$tcc_name' may or may not exist; check with: kind get clusters"

# Errors after which a second `kind create cluster` usually succeeds (node boot races, image pull
# hiccups, kubeadm init timing out on a loaded machine).
tcc_transient() {
  case $1 in
    *"failed to init node with kubeadm"* | *"failed to join node with kubeadm"* | \
      *"could not find a log line that matches"* | *"timed out waiting for the condition"* | \
      *"TLS handshake timeout"* | *"i/o timeout"* | *"connection reset by peer"* | \
      *"failed to pull image"* | *"context deadline exceeded"*)
      return 0 ;;
  esac
  return 1
}

tcc_delete_half_created() {
  local rc=0
  fleet_kind_exists "$tcc_name" || rc=$?
  if ((rc == 0)); then
    fleet_log "deleting the half-created kind cluster '$tcc_name'"
    fleet_relay "kind" "$WORK_DIR/kind-delete.log" kind delete cluster --name "$tcc_name" --kubeconfig "$WORK_DIR/discard.kubeconfig" || true
  fi
}

tcc_exists=0
fleet_kind_exists "$tcc_name" || tcc_exists=$?
if ((tcc_exists == 2)); then
  fleet_fail "cannot list kind clusters: $(last_error_line "$FLEET_ERR")" \
    "nothing was created" "make sure Docker is running, then run $FLEET_RESUME"
fi

if ((tcc_exists == 1)); then fleet_temporary_retired 3 ""; fi
if ((tcc_exists == 0)); then
  fleet_log "kind cluster '$tcc_name' already exists: adopting it instead of creating a new one"
else
  fleet_secret_file "$WORK_DIR/kind-config.yaml" KIND_CONFIG
  tcc_attempt=1
  while :; do
    fleet_log "creating kind cluster '$tcc_name' (image $KIND_NODE_IMAGE, attempt $tcc_attempt of 2); this takes a few minutes"
    tcc_rc=0
    fleet_relay "kind" "$WORK_DIR/kind-create.log" \
      kind create cluster --name "$tcc_name" --image "$KIND_NODE_IMAGE" --config "$WORK_DIR/kind-config.yaml" \
      --kubeconfig "$WORK_DIR/kind-create.kubeconfig" --wait 5m || tcc_rc=$?
    if ((tcc_rc == 0)); then
      break
    fi
    tcc_log=$(<"$WORK_DIR/kind-create.log")
    if [[ $tcc_log == *"node(s) already exist for a cluster with the name"* ]]; then
      fleet_log "kind cluster '$tcc_name' appeared while creating it (created concurrently): adopting it"
      break
    fi
    if ((tcc_attempt == 1)) && tcc_transient "$tcc_log"; then
      fleet_log "kind create failed with a known transient error: $(last_error_line "$tcc_log")"
      tcc_delete_half_created
      tcc_attempt=2
      continue
    fi
    tcc_delete_half_created
    tcc_state="no kind cluster named '$tcc_name' exists"
    tcc_left=0
    fleet_kind_exists "$tcc_name" || tcc_left=$?
    if ((tcc_left == 0)); then
      tcc_state="a half-created kind cluster '$tcc_name' could not be deleted; delete it with: kind delete cluster --name $tcc_name"
    fi
    fleet_fail "kind create cluster --name $tcc_name failed (exit $tcc_rc): $(last_error_line "$tcc_log")" \
      "$tcc_state" "fix the cause above, then run $FLEET_RESUME"
  done
fi

tcc_kc=0
fleet_kind_kubeconfig "$tcc_name" "$WORK_DIR/kind.kubeconfig" || tcc_kc=$?
if ((tcc_kc == 3)); then
  fleet_fail "$(fleet_kind_gone_message "$tcc_name") right after it was created or adopted" \
    "no kind cluster named '$tcc_name' exists" "run $FLEET_RESUME again"
elif ((tcc_kc != 0)); then
  fleet_fail "kind get kubeconfig --name $tcc_name failed: $(last_error_line "$FLEET_ERR")" \
    "kind cluster '$tcc_name' exists" "make sure Docker is running, then run $FLEET_RESUME"
fi

# The API server must answer (an adopted cluster may have stopped containers).
if ! fleet_k "$WORK_DIR/kind.kubeconfig" get namespace kube-system -o name; then
  fleet_fail "kind cluster '$tcc_name' exists but its API server does not answer: $(last_error_line "$FLEET_ERR")" \
    "kind cluster '$tcc_name' exists (its containers: docker ps -a --filter label=io.x-k8s.kind.cluster=$tcc_name)" \
    "start its containers (docker start $tcc_name-control-plane) or, if it holds nothing you need, delete it (kind delete cluster --name $tcc_name); then run $FLEET_RESUME"
fi

fleet_log "kind cluster '$tcc_name' is ready"
cat -- "$WORK_DIR/kind.kubeconfig"
