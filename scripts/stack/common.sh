# Shared settings of the stand-in ERP stack (sourced by up.sh, down.sh, status.sh, ensure.sh).
# Ports are all on 127.0.0.1; see docs/STACK.md.
set -euo pipefail

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPTS/../.." && pwd)"
STACK_DIR="$REPO_ROOT/stack"
STACK_RUN="$STACK_DIR/run"
FAULT_DIR="$STACK_RUN/faults"
STATE_DIR="${ERP_STACK_STATE_DIR:-/var/lib/erp-stack}"
ENGINE_PID_FILE="$STATE_DIR/dockerd.pid"
ENGINE_LOG="$STATE_DIR/dockerd.log"
PROM_DATA="$STATE_DIR/prometheus"
BACKUP_DIR="$STATE_DIR/backups"
INVENTORY="$STACK_DIR/ops.stack.yaml"
# Alertmanager's credentials for the control plane: a host directory (0700) mounted read-only
# into erp-alertmanager alone, at AM_SECRETS_MOUNT; alertmanager.yml names the token file in it
# (credentials_file, read on every delivery). up.sh writes the token (the service identity
# "alertmanager", scope alerts.receive, in the control plane's database).
AM_SECRETS="$STATE_DIR/alertmanager"
AM_SECRETS_MOUNT=/run/secrets
AM_TOKEN_FILE="$AM_SECRETS/controlplane-token"
# Prometheus scrapes the control plane's /metrics (job erp-ops-control-plane) with a token of
# the service identity "prometheus" (scope metrics.read) from a host directory (0700) mounted
# read-only into erp-prometheus alone, at PROM_CP_MOUNT; the same directory holds the job's
# targets (file_sd, read when it changes): none by default (no control plane is part of the
# stand-in stack), 127.0.0.1:3100 while one runs there (a test writes it).
PROM_CP="$STATE_DIR/prometheus-controlplane"
PROM_CP_MOUNT=/run/controlplane
PROM_TOKEN_FILE="$PROM_CP/token"
PROM_TARGETS_FILE="$PROM_CP/targets.json"

PROJECT=erp
BASE_IMAGE=erp-stack-base:1
DEV_PASSWORD=erp-stack-dev
DB_NAME=erp_quty_karunia_prod

PORT_POSTGRES=15432
PORT_REDIS=16379
PORT_BACKEND=18000
PORT_NGINX=18080
PORT_PROMETHEUS=19090
PORT_GRAFANA=13000
PORT_ALERTMANAGER=19093
PORT_ELASTICSEARCH=19200
PORT_LOGSTASH=15000
PORT_LOGSTASH_API=19600
PORT_KIBANA=15601
PORT_NODE_EXPORTER=19100

SERVICES=(postgres redis backend nginx prometheus grafana alertmanager elasticsearch logstash kibana)
HEALTHCHECKED=(postgres redis backend elasticsearch)
# Docker volumes owned by the stack (removed by down.sh).
VOLUMES=(erp-postgres-data erp-redis-data erp-elasticsearch-data erp-alertmanager-data)

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# The host's node exporter (Debian's prometheus-node-exporter) in a container of its own, outside
# the compose project (the control plane neither expects nor restarts it): host network, so it
# reports the machine's network devices and load; Prometheus scrapes it as job "node-exporter" (the name the ERP's NodeDown rule uses).
# It runs the way a node exporter in a container is deployed: the host's root mounted read-only at
# /host and --path.rootfs=/host, so its filesystem collector reports the host's mountpoints, not the
# container's (the control plane reads the ERP host's disks from it: stack.nodeExporterUrl).
# The binary comes from the host's /usr. The stand-in ERP host also gets a data volume the control
# plane's own machine does not have: a 64 MiB tmpfs seen only by the exporter, at the host's /srv
# (an empty directory on Debian, so the read-only /host needs no new mountpoint); the wrong-host
# test (test/health/host-readings.spec.ts) expects the ERP host's figures for /srv/erp-data.
NODE_EXPORTER=erp-node-exporter
NODE_EXPORTER_DATA_BYTES=67108864
start_node_exporter() {
  local want="node-exporter-3 $PORT_NODE_EXPORTER rootfs=/host srv=tmpfs:$NODE_EXPORTER_DATA_BYTES"
  local cur
  cur=$(docker inspect -f '{{index .Config.Labels "erp-stack.agent"}} {{.State.Status}}' "$NODE_EXPORTER" 2>/dev/null || true)
  if [ "${cur%% *}" = "node-exporter-1" ] && [ "$(docker inspect -f '{{index .Config.Labels "erp-stack.agent-args"}}' "$NODE_EXPORTER")" = "$want" ]; then
    [ "${cur#* }" = running ] || docker start "$NODE_EXPORTER" >/dev/null
    return
  fi
  [ -n "$cur" ] && docker rm -f "$NODE_EXPORTER" >/dev/null
  mkdir -p /srv
  docker run -d --name "$NODE_EXPORTER" --network host --restart unless-stopped -v /usr:/usr:ro -v /:/host:ro \
    --mount "type=tmpfs,destination=/host/srv,tmpfs-size=$NODE_EXPORTER_DATA_BYTES" \
    --label com.docker.compose.project= --label erp-stack.owned=true --label erp-stack.agent=node-exporter-1 --label erp-stack.agent-args="$want" \
    --label erp-stack.root="$REPO_ROOT" --log-opt max-size=10m --log-opt max-file=2 \
    "$BASE_IMAGE" prometheus-node-exporter --web.listen-address=127.0.0.1:$PORT_NODE_EXPORTER --path.rootfs=/host \
    --collector.disable-defaults --collector.loadavg --collector.netdev --collector.cpu --collector.meminfo \
    --collector.filesystem --collector.stat >/dev/null
}

# Prometheus reads prometheus.yml again (it runs with --web.enable-lifecycle).
prometheus_reload() {
  node -e "fetch(process.argv[1], { method: 'POST' }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
    "http://127.0.0.1:$PORT_PROMETHEUS/-/reload" || log "WARNING: Prometheus did not reload its configuration"
}

# Alertmanager reads alertmanager.yml again (a reused container, an edited file).
alertmanager_reload() {
  node -e "fetch(process.argv[1], { method: 'POST' }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
    "http://127.0.0.1:$PORT_ALERTMANAGER/-/reload" || log "WARNING: Alertmanager did not reload its configuration"
}

engine_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
