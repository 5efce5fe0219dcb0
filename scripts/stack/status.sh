#!/usr/bin/env bash
# Print the state of the stand-in stack as a table (the same containers `docker ps -a
# --filter label=com.docker.compose.project=erp` shows). Exit status 0 when all ten are
# running and the healthchecked ones healthy, 1 otherwise, 2 when no engine answers.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
set +e
if ! engine_answers; then echo "docker engine: not answering"; exit 2; fi
declare -A PORTS=([postgres]=$PORT_POSTGRES [redis]=$PORT_REDIS [backend]=$PORT_BACKEND [nginx]=$PORT_NGINX
  [prometheus]=$PORT_PROMETHEUS [grafana]=$PORT_GRAFANA [alertmanager]=$PORT_ALERTMANAGER
  [elasticsearch]=$PORT_ELASTICSEARCH [logstash]="$PORT_LOGSTASH,$PORT_LOGSTASH_API" [kibana]=$PORT_KIBANA)
engine="docker engine $(docker version --format '{{.Server.Version}}')"
if [ -f "$ENGINE_PID_FILE" ] && kill -0 "$(cat "$ENGINE_PID_FILE")" 2>/dev/null; then
  engine+=" (started by up.sh, pid $(cat "$ENGINE_PID_FILE"))"
else
  engine+=" (not started by up.sh)"
fi
echo "$engine"
ok=0
printf '%-18s %-11s %-10s %-9s %s\n' NAME STATE HEALTH RESTARTS PORTS
for s in "${SERVICES[@]}"; do
  line=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.RestartCount}}' "erp-$s" 2>/dev/null)
  [ -z "$line" ] && line="missing - -"
  read -r state health restarts <<<"$line"
  ports=$(echo "${PORTS[$s]}" | sed 's/\([0-9]\+\)/127.0.0.1:\1/g')
  printf '%-18s %-11s %-10s %-9s %s\n' "erp-$s" "$state" "$health" "$restarts" "$ports"
  if [ "$state" != running ] || { [ "$health" != - ] && [ "$health" != healthy ]; }; then ok=1; fi
done
exit $ok
