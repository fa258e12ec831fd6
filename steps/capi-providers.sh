# shellcheck shell=bash
# Step: capi-providers. Installs the pinned Cluster API providers with `clusterctl init` on the
# temporary or the permanent cluster, installing only what the clusterctl inventory lacks
# (`clusterctl init` is not idempotent), then waits until every provider Deployment is Available,
# every provider CRD is Established and the webhooks answer.
#
# Environment:
#   FLEET_TARGET              "temporary" or "permanent"                                  (required)
#   KIND_CLUSTER_NAME         kind cluster name                          (required when temporary)
#   FLEET_TARGET_KUBECONFIG   kubeconfig CONTENTS of the permanent cluster (required when permanent)
#   CAPI_CORE                 e.g. cluster-api:v1.14.0                                    (required)
#   CAPI_BOOTSTRAP            e.g. kubeadm:v1.14.0                                        (optional)
#   CAPI_CONTROL_PLANE        e.g. kubeadm:v1.14.0                                        (optional)
#   CAPI_INFRASTRUCTURE       e.g. docker:v1.14.0 or aws:v2.11.1                          (optional)
#   CAPI_ADDON                e.g. helm:v0.6.4                                            (optional)
#     every pin must be name:vX.Y.Z (nothing unpinned reaches a cluster)
#   CAPA_CONTROLLERS_ON_CONTROL_PLANE  "true": patch capa-system/capa-controller-manager with the
#                             control-plane toleration and nodeSelector (for instance-profile
#                             credentials after the pivot)                                (optional)
#   FLEET_WAIT_TIMEOUT_SECONDS  bound of the wait for Deployments, CRDs and webhooks (default 900)
#   clusterctl variables (AWS_B64ENCODED_CREDENTIALS, GITHUB_TOKEN, EXP_MACHINE_POOL, ...) are
#   passed through the environment as they are and never printed.
#   FLEET_AWS_CREDENTIALS_FROM_ENVIRONMENT  "true": build AWS_B64ENCODED_CREDENTIALS from the caller's
#                             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION,
#                             byte for byte what `clusterawsadm bootstrap credentials encode-as-profile`
#                             prints (render/awsCredentials.ts is the same profile)            (optional)
# Stdout: the inventory after install, one "<type>/<name>=<version>" line per provider, sorted,
# e.g. "CoreProvider/cluster-api=v1.14.0".
# A provider present at another version is an error naming both versions and the
# `clusterctl upgrade apply` command; nothing is installed then.

fleet_step capi-providers

# CAPA's bootstrap credentials from the caller's environment: never in Pulumi state, never on a command line.
if [[ ${FLEET_AWS_CREDENTIALS_FROM_ENVIRONMENT:-} == true ]]; then
  for cp_var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION; do
    if [[ -z ${!cp_var:-} ]]; then
      fleet_fail "awsCredentialsFromEnvironment is set, but $cp_var is not in the environment of pulumi up" "nothing was installed" \
        "export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or set the awsAccessKeyId/awsSecretAccessKey secrets and awsCredentialsFromEnvironment: false; then run $FLEET_RESUME"
    fi
  done
  for cp_var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION; do
    if [[ ${!cp_var:-} == *$'\n'* || ${!cp_var:-} == *$'\r'* ]]; then
      fleet_fail "$cp_var spans lines: it would inject lines into CAPA's credentials profile" "nothing was installed" "fix $cp_var, then run $FLEET_RESUME"
    fi
  done
  cp_profile="[default]"$'\n'"aws_access_key_id = $AWS_ACCESS_KEY_ID"$'\n'"aws_secret_access_key = $AWS_SECRET_ACCESS_KEY"$'\n'"region = $AWS_REGION"$'\n'
  if [[ -n ${AWS_SESSION_TOKEN:-} ]]; then cp_profile+=$'\n'"aws_session_token = $AWS_SESSION_TOKEN"$'\n'; fi
  cp_profile+=$'\n'
  # printf is a builtin: the profile goes through a pipe, never through an argument list.
  AWS_B64ENCODED_CREDENTIALS=$(printf '%s' "$cp_profile" | base64 | tr -d '\n')
  export AWS_B64ENCODED_CREDENTIALS
  unset cp_profile cp_var
fi

: "${FLEET_TARGET:?FLEET_TARGET must be temporary or permanent}"
: "${CAPI_CORE:?CAPI_CORE must pin the core provider, e.g. cluster-api:v1.14.0}"
cp_timeout=${FLEET_WAIT_TIMEOUT_SECONDS:-900}
fleet_require_uint FLEET_WAIT_TIMEOUT_SECONDS "$cp_timeout"
cp_kc="$WORK_DIR/target.kubeconfig"
FLEET_STATE_NOTE="providers already installed on the $FLEET_TARGET cluster stay installed; nothing was removed"

case $FLEET_TARGET in
  temporary)
    : "${KIND_CLUSTER_NAME:?KIND_CLUSTER_NAME must name the temporary kind cluster}"
    cp_where="temporary cluster (kind '$KIND_CLUSTER_NAME')"
    cp_kc_hint="kind get kubeconfig --name $KIND_CLUSTER_NAME > kind.kubeconfig; clusterctl ... --kubeconfig kind.kubeconfig"
    cp_rc=0
    fleet_kind_kubeconfig "$KIND_CLUSTER_NAME" "$cp_kc" || cp_rc=$?
    if ((cp_rc == 3)); then
      fleet_fail "$(fleet_kind_gone_message "$KIND_CLUSTER_NAME"); the providers cannot be installed on it" \
        "nothing was installed" "$(fleet_recreate_kind_hint)"
    elif ((cp_rc != 0)); then
      fleet_fail "kind get kubeconfig --name $KIND_CLUSTER_NAME failed: $(last_error_line "$FLEET_ERR")" \
        "nothing was installed" "make sure Docker is running, then run $FLEET_RESUME"
    fi
    ;;
  permanent)
    : "${FLEET_TARGET_KUBECONFIG:?FLEET_TARGET_KUBECONFIG must hold the permanent cluster kubeconfig}"
    cp_where="permanent cluster"
    cp_kc_hint="--kubeconfig <a kubeconfig file of the permanent cluster>"
    fleet_secret_file "$cp_kc" FLEET_TARGET_KUBECONFIG
    ;;
  *)
    fleet_fail "FLEET_TARGET must be 'temporary' or 'permanent', got '$FLEET_TARGET'" "nothing was changed"
    ;;
esac

# Pins: one line per requested provider: "<type> <flag> <name> <version> <variable>".
cp_pins=()
cp_add_pin() { # <variable> <type> <flag> <required:0|1>
  local var=$1 type=$2 flag=$3 required=$4 value
  value=${!var:-}
  if [[ -z $value ]]; then
    if ((required)); then fleet_fail "$var is empty" "nothing was changed"; fi
    return 0
  fi
  if ! [[ $value =~ ^([a-z0-9][a-z0-9-]*):(v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?)$ ]]; then
    fleet_fail "$var must pin a provider as name:vX.Y.Z (e.g. cluster-api:v1.14.0), got '$value'" \
      "nothing was changed" "fix $var in the stack configuration, then run $FLEET_RESUME"
  fi
  cp_pins+=("$type $flag ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} $var")
}
cp_add_pin CAPI_CORE CoreProvider --core 1
cp_add_pin CAPI_BOOTSTRAP BootstrapProvider --bootstrap 0
cp_add_pin CAPI_CONTROL_PLANE ControlPlaneProvider --control-plane 0
cp_add_pin CAPI_INFRASTRUCTURE InfrastructureProvider --infrastructure 0
cp_add_pin CAPI_ADDON AddonProvider --addon 0

# cp_read_inventory: fills cp_inv with "<type> <name> <version> <namespace>" lines.
cp_inv=()
cp_read_inventory() {
  if ! fleet_read_inventory "$cp_kc"; then
    fleet_fail "cannot read the clusterctl provider inventory of the $cp_where: $(last_error_line "$FLEET_ERR")" \
      "providers already installed there stay as they are" "make sure the cluster's API server answers, then run $FLEET_RESUME"
  fi
  cp_inv=(${FLEET_INV[@]+"${FLEET_INV[@]}"})
}

# cp_installed <type> <name>: prints "<version> <namespace>" of an installed provider, if any.
cp_installed() {
  local entry t n v ns
  for entry in ${cp_inv[@]+"${cp_inv[@]}"}; do
    read -r t n v ns <<<"$entry"
    if [[ $t == "$1" && $n == "$2" ]]; then
      printf '%s %s' "$v" "$ns"
      return 0
    fi
  done
  return 1
}

cp_init_args=()
cp_plan() {
  cp_init_args=()
  local pin type flag name version var have have_version have_ns core_missing=0 mismatches=() upgrade=()
  for pin in "${cp_pins[@]}"; do
    read -r type flag name version var <<<"$pin"
    if have=$(cp_installed "$type" "$name"); then
      read -r have_version have_ns <<<"$have"
      if [[ $have_version != "$version" ]]; then
        if fleet_version_ge "$version" "$have_version"; then
          mismatches+=("$type '$name' is $have_version on the $cp_where (namespace $have_ns); $var pins $version")
          upgrade+=("$flag $have_ns/$name:$version")
        else
          mismatches+=("$type '$name' is $have_version on the $cp_where (namespace $have_ns), newer than $version pinned by $var: clusterctl cannot downgrade; pin $have_version in Pulumi.$FLEET_ENV.yaml or rebuild that cluster")
        fi
      fi
    else
      cp_init_args+=("$flag" "$name:$version")
      if [[ $type == CoreProvider ]]; then core_missing=1; fi
    fi
  done
  if ((${#mismatches[@]} > 0)); then
    local msg="the Cluster API providers on the $cp_where differ from the pinned versions:" m
    for m in "${mismatches[@]}"; do msg+=$'\n'"  - $m"; done
    if ((${#upgrade[@]} > 0)); then
      msg+=$'\n'"Upgrade them with: clusterctl upgrade apply ${upgrade[*]} ($cp_kc_hint)"
    fi
    fleet_fail "$msg" "nothing was installed or changed by this step" "upgrade the providers as above (or change the pins), then run $FLEET_RESUME"
  fi
  # clusterctl adds the kubeadm bootstrap and control plane providers when no core provider is
  # installed yet, unless told otherwise: opt out ('-') for those already installed or not wanted.
  if ((core_missing)); then
    local a has_b_flag=0 has_c_flag=0
    for a in ${cp_init_args[@]+"${cp_init_args[@]}"}; do
      if [[ $a == --bootstrap ]]; then has_b_flag=1; fi
      if [[ $a == --control-plane ]]; then has_c_flag=1; fi
    done
    if ((!has_b_flag)); then cp_init_args+=(--bootstrap -); fi
    if ((!has_c_flag)); then cp_init_args+=(--control-plane -); fi
  fi
}

cp_read_inventory
cp_attempt=1
cp_installed_something=0
while :; do
  cp_plan
  if ((${#cp_init_args[@]} == 0)); then
    break
  fi
  fleet_log "installing on the $cp_where: clusterctl init ${cp_init_args[*]}"
  cp_rc=0
  fleet_relay "clusterctl" "$WORK_DIR/init.log" clusterctl init --kubeconfig "$cp_kc" "${cp_init_args[@]}" || cp_rc=$?
  cp_log=$(<"$WORK_DIR/init.log")
  if ((cp_rc == 0)); then
    cp_installed_something=1
    if ((cp_attempt > FLEET_RETRIES)); then
      fleet_fail "clusterctl init succeeded but the inventory still lacks: ${cp_init_args[*]}" \
        "installed now: ${cp_inv[*]:-no providers}" "check the inventory (kubectl get providers.clusterctl.cluster.x-k8s.io -A), then run $FLEET_RESUME"
    fi
    cp_attempt=$((cp_attempt + 1))
    cp_read_inventory
    continue
  fi
  if [[ $cp_log == *"there is already an instance of the"* ]] && ((cp_attempt < FLEET_RETRIES)); then
    # Someone (or an interrupted earlier run) installed it meanwhile: re-read and re-plan.
    fleet_log "clusterctl init found a provider already installed; re-reading the inventory"
  elif fleet_is_transient "$cp_log" && ((cp_attempt < FLEET_RETRIES)); then
    fleet_log "clusterctl init failed with a transient error (attempt $cp_attempt of $FLEET_RETRIES), retrying: $(last_error_line "$cp_log")"
    fleet_backoff "$cp_attempt" "$FLEET_POLL"
  else
    cp_hint=""
    if [[ $cp_log == *"rate limit"* ]]; then cp_hint=" (GitHub rate limit: set GITHUB_TOKEN)"; fi
    cp_read_inventory
    fleet_fail "clusterctl init on the $cp_where failed (exit $cp_rc)$cp_hint: $(last_error_line "$cp_log")" \
      "installed now: ${cp_inv[*]:-no providers}" "fix the cause above, then run $FLEET_RESUME (it installs only what is missing)"
  fi
  cp_attempt=$((cp_attempt + 1))
  cp_read_inventory
done
if ((cp_installed_something == 0)); then
  fleet_log "all pinned providers are already installed on the $cp_where: clusterctl init not needed"
fi

# CAPA controllers on control-plane nodes (instance-profile credentials after the pivot).
if [[ ${CAPA_CONTROLLERS_ON_CONTROL_PLANE:-} == true ]] && cp_installed InfrastructureProvider aws >/dev/null; then
  cp_rc=0
  fleet_k "$cp_kc" get deployment capa-controller-manager -n capa-system \
    -o 'jsonpath={.spec.template.spec.nodeSelector}{"\n"}{.spec.template.spec.tolerations[*].key}' || cp_rc=$?
  if ((cp_rc != 0)); then
    fleet_fail "cannot read capa-system/capa-controller-manager: $(last_error_line "$FLEET_ERR")" \
      "the providers are installed; the CAPA controllers are not yet pinned to control-plane nodes" "$FLEET_RESUME"
  fi
  cp_selector=${FLEET_OUT%%$'\n'*}
  cp_tolerations=${FLEET_OUT#*$'\n'}
  if [[ $cp_selector == *'"node-role.kubernetes.io/control-plane":""'* && $cp_tolerations == *node-role.kubernetes.io/control-plane* ]]; then
    fleet_log "capa-controller-manager already runs on control-plane nodes"
  else
    fleet_log "pinning capa-controller-manager to control-plane nodes (toleration + nodeSelector node-role.kubernetes.io/control-plane)"
    if ! fleet_k "$cp_kc" patch deployment capa-controller-manager -n capa-system --type strategic \
      -p '{"spec":{"template":{"spec":{"nodeSelector":{"node-role.kubernetes.io/control-plane":""},"tolerations":[{"key":"node-role.kubernetes.io/control-plane","operator":"Exists","effect":"NoSchedule"}]}}}}'; then
      fleet_fail "patching capa-system/capa-controller-manager failed: $(last_error_line "$FLEET_ERR")" \
        "the providers are installed; the CAPA controllers are not yet pinned to control-plane nodes" "$FLEET_RESUME"
    fi
  fi
fi

# Wait: every provider Deployment Available, then the webhooks answer.
cp_namespaces=()
for cp_entry in ${cp_inv[@]+"${cp_inv[@]}"}; do
  read -r _ _ _ cp_ns <<<"$cp_entry"
  cp_namespaces+=("$cp_ns")
done
fleet_wait_begin "$cp_timeout"
while :; do
  cp_rc=0
  fleet_k "$cp_kc" get deployments --all-namespaces -l clusterctl.cluster.x-k8s.io \
    -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.conditions[?(@.type=="Available")].status}{"\n"}{end}' || cp_rc=$?
  cp_waiting=()
  cp_total=0
  if ((cp_rc == 0)); then
    cp_seen=" "
    while IFS= read -r cp_line; do
      if [[ -z $cp_line ]]; then continue; fi
      cp_total=$((cp_total + 1))
      cp_seen+="${cp_line%%/*} "
      if [[ ${cp_line#* } != True ]]; then cp_waiting+=("${cp_line%% *}"); fi
    done <<<"$FLEET_OUT"
    for cp_ns in ${cp_namespaces[@]+"${cp_namespaces[@]}"}; do
      if [[ $cp_seen != *" $cp_ns "* ]]; then cp_waiting+=("$cp_ns/<no deployment yet>"); fi
    done
    if ((${#cp_waiting[@]} == 0)); then
      break
    fi
    cp_status="waiting for provider Deployments to be Available: $((cp_total - ${#cp_waiting[@]}))/$cp_total available; not yet: ${cp_waiting[*]}"
  else
    cp_status="waiting for the API server of the $cp_where: $(last_error_line "$FLEET_ERR")"
  fi
  if fleet_wait_expired; then
    fleet_fail "provider Deployments on the $cp_where not Available after ${cp_timeout}s: $cp_status" \
      "the providers are installed and keep starting; nothing was removed" \
      "check them (kubectl get deployments -A -l clusterctl.cluster.x-k8s.io, $cp_kc_hint), then run $FLEET_RESUME"
  fi
  fleet_wait_progress "$cp_status"
  fleet_wait_sleep
done
fleet_log "all $cp_total provider Deployments are Available"

# CRDs: every provider CRD Established, so that objects of their kinds (Cluster, ClusterResourceSet,
# HelmChartProxy, ...) can be created as soon as this step is done.
while :; do
  cp_rc=0
  fleet_k "$cp_kc" get customresourcedefinitions -l clusterctl.cluster.x-k8s.io \
    -o 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Established")].status}{"\n"}{end}' || cp_rc=$?
  if ((cp_rc == 0)); then
    cp_waiting=()
    cp_total=0
    while IFS= read -r cp_line; do
      if [[ -z $cp_line ]]; then continue; fi
      cp_total=$((cp_total + 1))
      if [[ ${cp_line#* } != True ]]; then cp_waiting+=("${cp_line%% *}"); fi
    done <<<"$FLEET_OUT"
    if ((${#cp_waiting[@]} == 0)); then break; fi
    cp_status="waiting for the providers' CRDs to be Established: $((cp_total - ${#cp_waiting[@]}))/$cp_total; not yet: ${cp_waiting[*]}"
  else
    cp_status="waiting for the API server of the $cp_where: $(last_error_line "$FLEET_ERR")"
  fi
  if fleet_wait_expired; then
    fleet_fail "provider CRDs on the $cp_where not Established after ${cp_timeout}s: $cp_status" \
      "the providers are installed; nothing was removed" \
      "check them (kubectl get crd -l clusterctl.cluster.x-k8s.io, $cp_kc_hint), then run $FLEET_RESUME"
  fi
  fleet_wait_progress "$cp_status"
  fleet_wait_sleep
done
fleet_log "all $cp_total provider CRDs are Established"

# Webhooks: a server-side dry-run create of a minimal v1beta2 Cluster goes through the Cluster
# API webhooks; an answer (accepted or denied by the webhook) means they serve. The v1beta2 schema
# refuses an empty spec (minProperties: 1), after the mutating webhooks but before the validating
# ones: the probe is the smallest valid Cluster, a paused one.
printf '%s\n' 'apiVersion: cluster.x-k8s.io/v1beta2' 'kind: Cluster' 'metadata:' '  name: fleet-webhook-probe' '  namespace: default' 'spec:' '  paused: true' >"$WORK_DIR/probe.yaml"
while :; do
  cp_rc=0
  fleet_capture kubectl --kubeconfig "$cp_kc" create --dry-run=server -f - -o name <"$WORK_DIR/probe.yaml" || cp_rc=$?
  if ((cp_rc == 0)) || [[ $FLEET_ERR == *"admission webhook"*"denied the request"* || $FLEET_ERR == *"(AlreadyExists)"* ]]; then
    break
  fi
  cp_status="waiting for the Cluster API webhooks to answer: $(last_error_line "$FLEET_ERR")"
  if ! fleet_is_transient "$FLEET_ERR" && [[ $FLEET_ERR != *"no matches for kind"* ]]; then
    fleet_fail "the webhook probe on the $cp_where failed: $(last_error_line "$FLEET_ERR")" \
      "the providers are installed and Available" "$FLEET_RESUME"
  fi
  if fleet_wait_expired; then
    fleet_fail "the Cluster API webhooks on the $cp_where do not answer after ${cp_timeout}s: $(last_error_line "$FLEET_ERR")" \
      "the providers are installed and Available; their webhooks do not serve yet" \
      "check the webhook services and cert-manager ($cp_kc_hint), then run $FLEET_RESUME"
  fi
  fleet_wait_progress "$cp_status"
  fleet_wait_sleep
done
fleet_log "the Cluster API webhooks answer; the providers on the $cp_where are ready"

for cp_entry in ${cp_inv[@]+"${cp_inv[@]}"}; do
  read -r cp_t cp_n cp_v _ <<<"$cp_entry"
  printf '%s/%s=%s\n' "$cp_t" "$cp_n" "$cp_v"
done | sort
