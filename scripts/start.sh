#!/usr/bin/env bash
# npm start: install what is missing, build, create the control plane's database and run
# its migrations, bootstrap the first admin (printing how to sign in), and serve on
# OPS_HOST:OPS_PORT (default 127.0.0.1:3100). The inventory is OPS_INVENTORY, else
# ops.yaml, else ops.example.yaml; with the stand-in stack up, use
#   OPS_INVENTORY=stack/ops.stack.yaml npm start
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
npm run build --silent
exec node dist/src/main.js
