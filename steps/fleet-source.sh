# shellcheck shell=bash
# Step: fleet-source. Serves the environment's committed render to its clusters from this machine
# (fleetSource: local): a registry container on the kind Docker network, and the render pushed to it
# as an OCI artifact that Flux on the management and workload clusters syncs (an OCIRepository).
#
# Environment:
#   FLEET_SOURCE_CONTAINER  registry container name, also its DNS name on the network      (required)
#   FLEET_SOURCE_NETWORK    Docker network of the kind and CAPD nodes (kind creates it)    (required)
#   FLEET_SOURCE_IMAGE      registry image, pinned                                         (required)
#   FLEET_PUSH_IMAGE        Flux CLI image that pushes the artifact, pinned                (required)
#   FLEET_RENDER_DIR        absolute directory of the committed render (<checkout>/clusters/<env>) (required)
#   FLEET_ARTIFACT_PATH     that directory's path inside the artifact, e.g. clusters/local (required)
#   FLEET_ARTIFACT          oci://<container>:<port>/<repository>:<tag>                    (required)
#   FLEET_SOURCE_REVISION   digest of the committed render, recorded as the artifact's revision (required)
# Behaviour: the network must exist. A missing container is created (`docker run -d`, restarted with
# Docker), a stopped one started; then the step waits until the registry answers on its port (from
# inside the container) and pushes the render with `flux push artifact` run in the Flux CLI image on
# the same network (the render mounted read-only). Re-running pushes the same content again: harmless.
# Stdout: the artifact reference, printed once at the end.

fleet_step fleet-source

: "${FLEET_SOURCE_CONTAINER:?FLEET_SOURCE_CONTAINER must name the registry container}"
: "${FLEET_SOURCE_NETWORK:?FLEET_SOURCE_NETWORK must name the Docker network of the clusters}"
: "${FLEET_SOURCE_IMAGE:?FLEET_SOURCE_IMAGE must name the registry image}"
: "${FLEET_PUSH_IMAGE:?FLEET_PUSH_IMAGE must name the Flux CLI image}"
: "${FLEET_RENDER_DIR:?FLEET_RENDER_DIR must name the directory of the committed render}"
: "${FLEET_ARTIFACT_PATH:?FLEET_ARTIFACT_PATH must give the path of the render inside the artifact}"
: "${FLEET_ARTIFACT:?FLEET_ARTIFACT must name the artifact (oci://host:port/repository:tag)}"
: "${FLEET_SOURCE_REVISION:?FLEET_SOURCE_REVISION must give the digest of the render}"

fs_name=$FLEET_SOURCE_CONTAINER
fs_timeout=${FLEET_WAIT_TIMEOUT_SECONDS:-120}
fleet_require_uint FLEET_WAIT_TIMEOUT_SECONDS "$fs_timeout"
FLEET_STATE_NOTE="registry container '$fs_name' may or may not exist; check with: docker ps -a --filter name=$fs_name"

if ! compgen -G "$FLEET_RENDER_DIR/*" >/dev/null; then
  fleet_fail "there is no committed render at $FLEET_RENDER_DIR" "nothing was created" \
    "run npm run render -- $FLEET_ENV, commit it, then run $FLEET_RESUME"
fi

if ! fleet_capture docker network inspect --format '{{.Name}}' "$FLEET_SOURCE_NETWORK"; then
  if [[ $FLEET_ERR == *"Cannot connect to the Docker daemon"* ]]; then
    fleet_fail "cannot reach Docker: $(last_error_line "$FLEET_ERR")" "nothing was created" "make sure Docker is running, then run $FLEET_RESUME"
  fi
  fleet_fail "Docker network '$FLEET_SOURCE_NETWORK' does not exist: $(last_error_line "$FLEET_ERR") (kind creates it with the first kind cluster)" \
    "nothing was created" "run $FLEET_RESUME (the temporary cluster step creates the kind cluster first)"
fi

fs_running=""
if fleet_capture docker inspect --type container --format '{{.State.Running}}' "$fs_name"; then
  fs_running=$FLEET_OUT
elif [[ $FLEET_ERR != *"No such container"* ]]; then
  fleet_fail "docker inspect $fs_name failed: $(last_error_line "$FLEET_ERR")" "nothing was created" "make sure Docker is running, then run $FLEET_RESUME"
fi

case $fs_running in
  true)
    fleet_log "registry container '$fs_name' is running: reusing it"
    ;;
  false)
    fleet_log "registry container '$fs_name' exists but is stopped: starting it"
    if ! fleet_capture docker start "$fs_name"; then
      fleet_fail "docker start $fs_name failed: $(last_error_line "$FLEET_ERR")" \
        "registry container '$fs_name' exists, stopped" "remove it (docker rm -f -v $fs_name) and run $FLEET_RESUME"
    fi
    ;;
  *)
    fleet_log "creating registry container '$fs_name' ($FLEET_SOURCE_IMAGE) on Docker network '$FLEET_SOURCE_NETWORK'"
    fs_rc=0
    fleet_relay "docker" "$WORK_DIR/docker-run.log" docker run -d --name "$fs_name" --network "$FLEET_SOURCE_NETWORK" \
      --restart unless-stopped --label "fleet-bootstrap.io/environment=$FLEET_ENV" --label "fleet-bootstrap.io/role=fleet-source" \
      "$FLEET_SOURCE_IMAGE" || fs_rc=$?
    if ((fs_rc != 0)); then
      fs_log=$(<"$WORK_DIR/docker-run.log")
      if [[ $fs_log != *"is already in use by container"* ]]; then
        fleet_fail "docker run of the registry container '$fs_name' failed (exit $fs_rc): $(last_error_line "$fs_log")" \
          "no registry container '$fs_name' was created" "fix the cause above, then run $FLEET_RESUME"
      fi
      fleet_log "registry container '$fs_name' appeared while creating it (created concurrently): reusing it"
    fi
    ;;
esac

# The registry answers on its port once it has started; ask from inside its own container (nothing is
# published on the host).
fleet_wait_begin "$fs_timeout"
while ! fleet_capture docker exec "$fs_name" wget -q -O /dev/null "http://127.0.0.1:5000/v2/"; do
  if fleet_wait_expired; then
    fleet_fail "registry container '$fs_name' did not answer on port 5000 within ${fs_timeout}s: $(last_error_line "$FLEET_ERR")" \
      "registry container '$fs_name' exists (its logs: docker logs $fs_name)" "run $FLEET_RESUME again"
  fi
  fleet_wait_progress "waiting for the registry in container '$fs_name' to answer on port 5000"
  fleet_wait_sleep
done

fleet_log "pushing the committed render ($FLEET_RENDER_DIR, revision $FLEET_SOURCE_REVISION) to $FLEET_ARTIFACT"
fs_rc=0
fleet_relay "flux" "$WORK_DIR/push.log" docker run --rm --network "$FLEET_SOURCE_NETWORK" \
  --volume "$FLEET_RENDER_DIR:/workspace/$FLEET_ARTIFACT_PATH:ro" "$FLEET_PUSH_IMAGE" \
  push artifact "$FLEET_ARTIFACT" --path=/workspace --source="fleet-bootstrap/$FLEET_ENV" \
  --revision="$FLEET_ENV@$FLEET_SOURCE_REVISION" --insecure-registry || fs_rc=$?
if ((fs_rc != 0)); then
  fleet_fail "pushing $FLEET_ARTIFACT failed (exit $fs_rc): $(last_error_line "$(<"$WORK_DIR/push.log")")" \
    "registry container '$fs_name' runs; the clusters still sync what it served before (if anything)" "run $FLEET_RESUME again"
fi

fleet_log "the clusters of $FLEET_ENV sync $FLEET_ARTIFACT"
printf '%s\n' "$FLEET_ARTIFACT"
