# shellcheck shell=bash
# Step: fleet-source-delete. Removes the registry container of the local fleet source (and its
# volume). Afterwards the clusters' Flux keeps what it applied and reports its source unreachable
# until a `pulumi up` serves it again.
#
# Environment:
#   FLEET_SOURCE_CONTAINER  registry container name                                         (required)
# Behaviour: a container that is already gone is fine (exit 0); otherwise `docker rm -f -v`.
# Stdout: nothing. Failure messages say to resume with `pulumi destroy -s $FLEET_ENV`.

fleet_step fleet-source-delete
if [[ -z ${FLEET_RESUME_COMMAND:-} ]]; then FLEET_RESUME="pulumi destroy -s $FLEET_ENV"; fi

: "${FLEET_SOURCE_CONTAINER:?FLEET_SOURCE_CONTAINER must name the registry container}"
fsd_name=$FLEET_SOURCE_CONTAINER
FLEET_STATE_NOTE="registry container '$fsd_name' was not removed"

if ! fleet_capture docker inspect --type container --format '{{.State.Running}}' "$fsd_name"; then
  if [[ $FLEET_ERR == *"No such container"* ]]; then
    fleet_log "registry container '$fsd_name' does not exist: nothing to remove"
    exit 0
  fi
  fleet_fail "docker inspect $fsd_name failed: $(last_error_line "$FLEET_ERR")" \
    "registry container '$fsd_name' was not removed" "make sure Docker is running, then run $FLEET_RESUME"
fi

fleet_log "removing registry container '$fsd_name'"
if ! fleet_capture docker rm -f -v "$fsd_name"; then
  fleet_fail "docker rm -f -v $fsd_name failed: $(last_error_line "$FLEET_ERR")" \
    "registry container '$fsd_name' may still exist" "run $FLEET_RESUME again (or: docker rm -f -v $fsd_name)"
fi
fleet_log "registry container '$fsd_name' removed"
