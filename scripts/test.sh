#!/usr/bin/env bash
# npm test: every test, against real services.
#   1. dependencies, PostgreSQL and Redis (scripts/deps.sh)
#   2. compile src/ and test/ (the tests run on the compiled output with node:test)
#   3. the stand-in ERP stack in Docker (scripts/stack/ensure.sh: reuses a healthy one)
#   4. the control plane's own suites (two files at a time), then the suites that use the
#      stand-in stack (stack, integrations, health, backups, remediations, alerts: one file
#      at a time, they flip its faults), and the shortened soak (test/soak: its own PostgreSQL,
#      Redis and Docker engine, restarted under load; it needs dockerd, hence this phase)
# Ends with the line "tests: N passed, N failed". TEST_ONLY=control|stack runs one part.
set -uo pipefail
shopt -s nullglob   # a suite folder with no files yet adds nothing
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh || exit 1
echo "compiling"
rm -rf dist
npx tsc -p tsconfig.json || { echo "tests: 0 passed, 1 failed"; exit 1; }

results=$(mktemp -d)
run_suites() { # name concurrency files...
  local name=$1 concurrency=$2; shift 2
  echo "== $name suites"
  # --test-force-exit: a file whose app closed against a hung Redis (a test of exactly that)
  # must not keep its process alive on the queue client's reconnect timers.
  node --test --test-force-exit --test-concurrency="$concurrency" --test-reporter=spec "$@" | tee "$results/$name.out"
  return "${PIPESTATUS[0]}"
}

status=0
part=${TEST_ONLY:-all}
if [ "$part" = all ] || [ "$part" = control ]; then
  node dist/test/helpers/global-setup.js || { echo "tests: 0 passed, 1 failed"; exit 1; }
  run_suites control 2 dist/test/unit/*.spec.js dist/test/*.spec.js dist/test/incidents/*.spec.js || status=1
fi
if [ "$part" = all ] || [ "$part" = stack ]; then
  if bash scripts/stack/ensure.sh; then
    run_suites stack 1 dist/test/stack/*.spec.js dist/test/integrations/*.spec.js dist/test/health/*.spec.js dist/test/backups/*.spec.js \
      dist/test/remediations/*.spec.js dist/test/alerts/*.spec.js dist/test/reports/*.spec.js dist/test/soak/*.spec.js || status=1
  else
    echo "the stand-in stack did not come up" >&2
    printf 'ℹ pass 0\nℹ fail 1\n' > "$results/stack-up.out"
    status=1
  fi
fi

passed=0; failed=0
for f in "$results"/*.out; do
  [ -f "$f" ] || continue
  # The spec reporter's summary: "ℹ pass N", "ℹ fail N", "ℹ cancelled N".
  p=$(grep -aE '^ℹ pass [0-9]+' "$f" | tail -n1 | awk '{print $3}')
  x=$(grep -aE '^ℹ fail [0-9]+' "$f" | tail -n1 | awk '{print $3}')
  c=$(grep -aE '^ℹ cancelled [0-9]+' "$f" | tail -n1 | awk '{print $3}')
  [ -z "$p$x" ] && x=1   # no summary at all: the run itself broke
  passed=$((passed + ${p:-0})); failed=$((failed + ${x:-0} + ${c:-0}))
done
rm -rf "$results"
[ "$failed" -gt 0 ] && status=1
echo "tests: $passed passed, $failed failed"
exit $status
