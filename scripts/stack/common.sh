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

SERVICES=(postgres redis backend nginx prometheus grafana alertmanager elasticsearch logstash kibana)
HEALTHCHECKED=(postgres redis backend elasticsearch)
# Docker volumes owned by the stack (removed by down.sh).
VOLUMES=(erp-postgres-data erp-redis-data erp-elasticsearch-data erp-alertmanager-data)

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

engine_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
