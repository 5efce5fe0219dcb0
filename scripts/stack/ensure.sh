#!/usr/bin/env bash
# For the test command: reuse a healthy stand-in stack quickly (one whose Alertmanager has
# its token for the control plane), bring it up (up.sh) otherwise; then make sure a week of
# Prometheus history is loaded (history.js, about 2-3 minutes, only when
# /var/lib/erp-stack/history.json, written beside Prometheus's data, is missing or older than
# 12 hours; stack/run/history.json gets a copy of it).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if engine_answers && command -v prometheus-node-exporter >/dev/null && bash "$STACK_SCRIPTS/status.sh" >/dev/null 2>&1 \
   && [ "$(docker inspect -f '{{index .Config.Labels "erp-stack.root"}}' erp-backend 2>/dev/null)" = "$REPO_ROOT" ] \
   && [ -f "$INVENTORY" ] && [ -f "$AM_TOKEN_FILE" ] && [ -f "$PROM_TOKEN_FILE" ] \
   && docker inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' erp-alertmanager 2>/dev/null | grep -qw "$AM_SECRETS_MOUNT" \
   && docker inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' erp-prometheus 2>/dev/null | grep -qw "$PROM_CP_MOUNT"; then
  log "stack already up and healthy: reusing it"
  # Fault switches left set by an interrupted test run are cleared.
  for s in "${SERVICES[@]}"; do printf '{}\n' > "$FAULT_DIR/$s.json"; done
  # And a control-plane target left by one (nothing runs on 3100 between tests).
  printf '[]\n' > "$PROM_TARGETS_FILE"
  # The node exporter (added after the first stacks were made) and Prometheus's job for it.
  start_node_exporter
  prometheus_reload
  alertmanager_reload
else
  bash "$STACK_SCRIPTS/up.sh"
fi
hist="$STATE_DIR/history.json"   # written beside Prometheus's data by history.js
if [ "${ERP_STACK_SKIP_HISTORY:-0}" != 1 ] && { [ ! -f "$hist" ] || [ -n "$(find "$hist" -mmin +720)" ]; }; then
  log "loading a week of Prometheus history (scripts/stack/history.js)"
  node "$STACK_SCRIPTS/history.js"
elif [ -f "$hist" ]; then
  # The data may have been loaded from another checkout: say here what Prometheus holds.
  mkdir -p "$STACK_RUN" && cp "$hist" "$STACK_RUN/history.json"
fi
