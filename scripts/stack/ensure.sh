#!/usr/bin/env bash
# Reuse a healthy stand-in stack quickly; bring it up (up.sh) otherwise. For the test command.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if engine_answers && bash "$STACK_SCRIPTS/status.sh" >/dev/null 2>&1 \
   && [ "$(docker inspect -f '{{index .Config.Labels "erp-stack.root"}}' erp-backend 2>/dev/null)" = "$REPO_ROOT" ] \
   && [ -f "$INVENTORY" ]; then
  log "stack already up and healthy: reusing it"
  exit 0
fi
exec bash "$STACK_SCRIPTS/up.sh"
