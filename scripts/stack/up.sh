#!/usr/bin/env bash
# Bring the stand-in ERP production stack up (idempotent, safe to re-run after a crash).
# See docs/STACK.md. Runs as root. Environment:
#   ERP_STACK_KEEP_FAULTS=1   keep the fault switches as they are (default: clear them)
#   ERP_STACK_TIMEOUT=170     seconds to wait for the services
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

T0=$(date +%s)
[ "$(id -u)" = 0 ] || die "run as root (apt-get, dockerd and Docker volumes need it)"

# ---- 1. packages --------------------------------------------------------------------------
need_pkgs=()
pkg_missing() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" != installed ]; }
# chromium: headless, for the tests that render the performance report's HTML page and its charts.
for p in docker.io busybox-static prometheus prometheus-alertmanager prometheus-node-exporter nginx redis-server redis-tools postgresql-15 chromium; do
  if pkg_missing "$p"; then
    # Binaries that are present some other way count as present.
    case "$p" in
      postgresql-15) [ -x /usr/lib/postgresql/15/bin/postgres ] && continue ;;
      docker.io) command -v dockerd >/dev/null && command -v docker >/dev/null && continue ;;
      nginx) command -v nginx >/dev/null && continue ;;
      redis-server) command -v redis-server >/dev/null && continue ;;
      redis-tools) command -v redis-cli >/dev/null && continue ;;
      chromium) command -v chromium >/dev/null && continue ;;
    esac
    need_pkgs+=("$p")
  fi
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt-get)"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Keep the packages' own services (nginx on :80, prometheus on :9090, ...) from starting.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "packages installed ($(( $(date +%s) - T0 ))s)"
fi
command -v node >/dev/null || die "node is needed on the host (it is mounted into the stand-in containers)"
NODE_BIN="$(readlink -f "$(command -v node)")"
T1=$(date +%s)

# ---- 2. Docker engine ---------------------------------------------------------------------
mkdir -p "$STATE_DIR" "$FAULT_DIR" "$PROM_DATA" "$BACKUP_DIR" "$AM_SECRETS" "$PROM_CP"
chmod 700 "$AM_SECRETS" "$PROM_CP"
# No control plane is part of the stack: its job starts with no target (a test names one).
printf '[]\n' > "$PROM_TARGETS_FILE"
if engine_answers; then
  log "docker engine answers ($(docker version --format '{{.Server.Version}}'))"
else
  if [ -f "$ENGINE_PID_FILE" ] && kill -0 "$(cat "$ENGINE_PID_FILE")" 2>/dev/null; then
    log "dockerd (pid $(cat "$ENGINE_PID_FILE"), started by up.sh) is not answering yet"
  else
    rm -f "$ENGINE_PID_FILE"
    log "starting dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false"
    # setsid: the engine outlives this script and its session. It gets none of this script's
    # other open files: run as `flock /tmp/erp-stack.lock up.sh`, the lock's descriptor would
    # otherwise stay open in dockerd and containerd, and nobody could take the lock again.
    setsid bash -c 'for fd in /proc/self/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
      exec dockerd "$@"' dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
      >>"$ENGINE_LOG" 2>&1 < /dev/null &
    echo $! > "$ENGINE_PID_FILE"
  fi
  for _ in $(seq 1 60); do engine_answers && break; sleep 0.5; done
  engine_answers || die "dockerd did not answer within 30 s; see $ENGINE_LOG"
  log "docker engine started (pid $(cat "$ENGINE_PID_FILE"))"
fi
if ip -4 addr show docker0 >/dev/null 2>&1; then
  log "WARNING: a docker0 bridge exists: this engine was not started by up.sh with --bridge=none"
fi

# ---- 3. base image (docker import of a busybox-static root fs; never pulled) -----------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "building base image $BASE_IMAGE (docker import)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,usr,data,prometheus,alertmanager,faults,stack,var/log/nginx,var/lib/nginx,var/run/postgresql,var/lib/postgresql/data}
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $("$rootfs/bin/busybox" --list); do [ -e "$rootfs/bin/$a" ] || ln -s busybox "$rootfs/bin/$a"; done
  ln -s usr/lib "$rootfs/lib"; ln -s usr/lib64 "$rootfs/lib64"; ln -s bin "$rootfs/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\npostgres:x:70:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files\n' > "$rootfs/etc/nsswitch.conf"
  chmod 1777 "$rootfs/tmp"
  chown -R 70:70 "$rootfs/var/run/postgresql" "$rootfs/var/lib/postgresql"
  chmod 700 "$rootfs/var/lib/postgresql/data"
  tar --numeric-owner -C "$rootfs" -cf - . | docker import \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL com.docker.compose.project=erp erp-stack.owned=true' \
    --message 'erp stand-in stack base (busybox-static)' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
fi

# ---- 4. volumes -----------------------------------------------------------------------------
for v in "${VOLUMES[@]}"; do
  docker volume inspect "$v" >/dev/null 2>&1 || docker volume create --label erp-stack.owned=true --label com.docker.compose.project=erp "$v" >/dev/null
done

# ---- 5. fault switches ----------------------------------------------------------------------
if [ "${ERP_STACK_KEEP_FAULTS:-0}" != 1 ]; then
  for s in "${SERVICES[@]}"; do printf '{}\n' > "$FAULT_DIR/$s.json"; done
fi
chmod 755 "$FAULT_DIR"; chmod 644 "$FAULT_DIR"/*.json 2>/dev/null || true

# ---- 6. containers --------------------------------------------------------------------------
HC=(--health-interval 2s --health-timeout 2s --health-retries 2)
COMMON=(--network host --restart unless-stopped -v /usr:/usr:ro -v "$STACK_DIR:/stack:ro" -v "$FAULT_DIR:/faults"
  --log-opt max-size=10m --log-opt max-file=2 --stop-timeout 10)

# run_service NAME [docker run options...] -- IMAGE-COMMAND...
run_service() {
  local svc=$1; shift
  local name="erp-$svc" opts=() cmd=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift; cmd=("$@")
  local hash
  hash=$(printf '%s\n' "$REPO_ROOT" "${COMMON[@]}" "${opts[@]}" "${cmd[@]}" | sha256sum | cut -c1-16)
  local cur
  cur=$(docker inspect -f '{{index .Config.Labels "erp-stack.hash"}} {{.State.Status}}' "$name" 2>/dev/null || true)
  if [ -n "$cur" ] && [ "${cur%% *}" = "$hash" ]; then
    case "${cur#* }" in
      running|restarting) ;;
      *) docker start "$name" >/dev/null ;;
    esac
    return
  fi
  [ -n "$cur" ] && docker rm -f "$name" >/dev/null
  docker run -d --name "$name" \
    --label com.docker.compose.project=$PROJECT --label com.docker.compose.service="$svc" \
    --label com.docker.compose.container-number=1 --label com.docker.compose.oneoff=False \
    --label erp-stack.owned=true --label erp-stack.hash="$hash" --label erp-stack.root="$REPO_ROOT" \
    "${COMMON[@]}" "${opts[@]}" "$BASE_IMAGE" "${cmd[@]}" >/dev/null
}
node_service() { # node_service NAME PORT SCRIPT [opts...]
  local svc=$1 port=$2 script=$3; shift 3
  # --init: the engine's tini is PID 1 and forwards signals, so `docker stop` ends a stand-in at
  # once even while Node is still starting (as PID 1 it would ignore SIGTERM until its handler is set).
  run_service "$svc" --init -e PORT="$port" -e FAULT_FILE="/faults/$svc.json" "$@" -- "$NODE_BIN" "/stack/$script"
}

# --stop-signal SIGINT: PostgreSQL's fast shutdown, as the official image's STOPSIGNAL (SIGTERM is a
# "smart" shutdown that waits for every client to leave, so docker stop would wait its whole timeout).
run_service postgres --user 70:70 --shm-size 256m --stop-signal SIGINT -v erp-postgres-data:/var/lib/postgresql/data \
  -e POSTGRES_PASSWORD="$DEV_PASSWORD" -e POSTGRES_DB="$DB_NAME" -e PGPORT="$PORT_POSTGRES" \
  --health-cmd "pg_isready -q -h 127.0.0.1 -p $PORT_POSTGRES -U postgres -d $DB_NAME" "${HC[@]}" --health-start-period 60s \
  -- /bin/sh /stack/postgres/entrypoint.sh
run_service redis -v erp-redis-data:/data \
  --health-cmd "redis-cli -h 127.0.0.1 -p $PORT_REDIS ping | grep -q PONG" "${HC[@]}" --health-start-period 30s \
  -- redis-server --bind 127.0.0.1 --port "$PORT_REDIS" --dir /data --appendonly yes --save '' \
     --maxmemory 1gb --maxmemory-policy allkeys-lru
node_service backend "$PORT_BACKEND" backend.js \
  -e DATABASE_URL="postgresql://postgres:$DEV_PASSWORD@127.0.0.1:$PORT_POSTGRES/$DB_NAME" \
  --health-cmd "$NODE_BIN /stack/healthcheck.js http://127.0.0.1:$PORT_BACKEND/health" "${HC[@]}" --health-start-period 30s
run_service nginx -- nginx -c /stack/nginx/nginx.conf -g 'daemon off;'
run_service prometheus -v "$PROM_DATA:/prometheus" -v "$PROM_CP:$PROM_CP_MOUNT:ro" -- prometheus \
  --config.file=/stack/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
  --storage.tsdb.retention.time=30d --web.listen-address=127.0.0.1:$PORT_PROMETHEUS --web.enable-lifecycle --web.enable-admin-api
node_service grafana "$PORT_GRAFANA" grafana.js
run_service alertmanager -v erp-alertmanager-data:/alertmanager -v "$AM_SECRETS:$AM_SECRETS_MOUNT:ro" -- prometheus-alertmanager \
  --config.file=/stack/alertmanager/alertmanager.yml --storage.path=/alertmanager \
  --web.listen-address=127.0.0.1:$PORT_ALERTMANAGER --cluster.listen-address= \
  --web.external-url=http://127.0.0.1:$PORT_ALERTMANAGER/
node_service elasticsearch "$PORT_ELASTICSEARCH" elasticsearch.js -v erp-elasticsearch-data:/data \
  --health-cmd "$NODE_BIN /stack/healthcheck.js http://127.0.0.1:$PORT_ELASTICSEARCH/" "${HC[@]}" --health-start-period 30s
node_service logstash "$PORT_LOGSTASH" logstash.js -e API_PORT="$PORT_LOGSTASH_API" -e ES_URL="http://127.0.0.1:$PORT_ELASTICSEARCH"
node_service kibana "$PORT_KIBANA" kibana.js
start_node_exporter

# ---- 7. wait --------------------------------------------------------------------------------
declare -A PORTS=([postgres]=$PORT_POSTGRES [redis]=$PORT_REDIS [backend]=$PORT_BACKEND [nginx]=$PORT_NGINX
  [prometheus]=$PORT_PROMETHEUS [grafana]=$PORT_GRAFANA [alertmanager]=$PORT_ALERTMANAGER
  [elasticsearch]=$PORT_ELASTICSEARCH [logstash]="$PORT_LOGSTASH,$PORT_LOGSTASH_API" [kibana]=$PORT_KIBANA)
declare -A DONE=()
deadline=$(( $(date +%s) + ${ERP_STACK_TIMEOUT:-170} ))
while :; do
  pending=0
  for s in "${SERVICES[@]}"; do
    [ -n "${DONE[$s]:-}" ] && continue
    read -r state health < <(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "erp-$s" 2>/dev/null || echo "missing none")
    if [ "$state" = running ] && { [ "$health" = healthy ] || [ "$health" = none ]; }; then
      DONE[$s]=1
      label=$([ "$health" = none ] && echo "running, no healthcheck" || echo "running (healthy)")
      log "$(printf '%-18s %-24s 127.0.0.1:%-12s %3ss' "erp-$s" "$label" "${PORTS[$s]}" $(( $(date +%s) - T1 )))"
    else
      pending=1
    fi
  done
  [ $pending = 0 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for s in "${SERVICES[@]}"; do
      [ -n "${DONE[$s]:-}" ] && continue
      log "NOT READY: erp-$s: $(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} restarts={{.RestartCount}}' "erp-$s" 2>&1)"
      docker logs --tail 5 "erp-$s" 2>&1 | sed 's/^/    /'
    done
    die "the stack did not become ready in time"
  fi
  sleep 1
done

# ---- 8. inventory ---------------------------------------------------------------------------
bash "$STACK_SCRIPTS/inventory.sh" > "$INVENTORY.tmp" && mv "$INVENTORY.tmp" "$INVENTORY"
log "inventory: $INVENTORY"
# A Prometheus reused from an earlier up.sh reads an edited prometheus.yml (e.g. the node job).
prometheus_reload
log "$NODE_EXPORTER: $(docker inspect -f '{{.State.Status}}' "$NODE_EXPORTER") on 127.0.0.1:$PORT_NODE_EXPORTER (scraped as job node-exporter)"
log "stack up: 10 containers ready in $(( $(date +%s) - T1 ))s (total $(( $(date +%s) - T0 ))s)"

# ---- 9. Alertmanager's token for the control plane ------------------------------------------
# Alertmanager delivers to the control plane on 127.0.0.1:3100 as the service identity
# "alertmanager" (scope alerts.receive, nothing else). A new token on every run, the earlier one
# revoked: in the control plane's database as npm start uses it (OPS_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/erp_ops; created and migrated if need be, PostgreSQL and Redis
# started by scripts/deps.sh as for npm start) and in $AM_TOKEN_FILE (0600), which Alertmanager
# reads on every delivery (no restart).
T2=$(date +%s)
log "control plane: token of the service identity alertmanager (alerts.receive) -> $AM_TOKEN_FILE"
( cd "$REPO_ROOT" && bash scripts/deps.sh && npm run build --silent \
    && OPS_INVENTORY="${OPS_INVENTORY:-$INVENTORY}" node dist/src/cli/user.js service-token alertmanager \
      --scopes alerts.receive --out "$AM_TOKEN_FILE" ) 2>&1 | sed 's/^/    /' \
  || die "the stack is up, but Alertmanager has no token for the control plane (its deliveries get 401): fix the above and run up.sh again"
alertmanager_reload
log "alertmanager token written ($(( $(date +%s) - T2 ))s)"
log "control plane: token of the service identity prometheus (metrics.read) -> $PROM_TOKEN_FILE"
( cd "$REPO_ROOT" && OPS_INVENTORY="${OPS_INVENTORY:-$INVENTORY}" node dist/src/cli/user.js service-token prometheus \
      --scopes metrics.read --out "$PROM_TOKEN_FILE" ) 2>&1 | sed 's/^/    /' \
  || die "the stack is up, but Prometheus has no token to scrape the control plane: fix the above and run up.sh again"
