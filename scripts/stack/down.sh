#!/usr/bin/env bash
# Remove everything up.sh created: the ten containers, the Docker volumes the stack owns,
# the base image, the Prometheus data and run state, and the Docker engine only if up.sh
# started it (by the pid it recorded). Backups in $BACKUP_DIR are kept (pass --purge to
# remove them as well).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ "$(id -u)" = 0 ] || die "run as root"
if engine_answers; then
  ids=$(docker ps -aq --filter label=erp-stack.owned=true --filter label=com.docker.compose.project=$PROJECT)
  if [ -n "$ids" ]; then
    log "removing containers: $(docker inspect -f '{{.Name}}' $ids | tr -d / | tr '\n' ' ')"
    docker rm -f $ids >/dev/null
  fi
  if docker inspect "$NODE_EXPORTER" >/dev/null 2>&1; then log "removing container $NODE_EXPORTER"; docker rm -f "$NODE_EXPORTER" >/dev/null; fi
  for v in $(docker volume ls -q --filter label=erp-stack.owned=true); do
    log "removing volume $v"; docker volume rm "$v" >/dev/null
  done
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "removing image $BASE_IMAGE"; docker image rm "$BASE_IMAGE" >/dev/null
  fi
fi
rm -rf "$PROM_DATA" "$STACK_RUN" "$STATE_DIR/history.json" "$AM_SECRETS"
[ "${1:-}" = --purge ] && rm -rf "$BACKUP_DIR"
if [ -f "$ENGINE_PID_FILE" ]; then
  pid=$(cat "$ENGINE_PID_FILE")
  if kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ]; then
    log "stopping dockerd (pid $pid, started by up.sh)"
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop"
  fi
  rm -f "$ENGINE_PID_FILE"
else
  engine_answers && log "leaving the docker engine running (not started by up.sh)"
fi
log "stack down"
