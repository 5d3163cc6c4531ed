#!/usr/bin/env bash
# Leadership under chaos (issue 23): two `warden up` replicas on the harness's real
# PostgreSQL, TRIALS times each (default 50) — the leader SIGSTOPped past its lease and
# resumed, and the leader SIGKILLed in the middle of actions and started again — then counts
# of incidents opened, notified, notified twice, and sent again after a kill mid-send.
#
#   scripts/stack.sh up postgres && scripts/chaos.sh [TRIALS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
trials=${1:-50}
# shellcheck disable=SC1090
source "${WARDEN_STACK_ENV:-/tmp/warden-stack-$(id -u)/stack.env}"
: "${WARDEN_STACK_POSTGRES_URL:?run scripts/stack.sh up postgres first}"
export WARDEN_REQUIRE_STACK=1 WARDEN_CHAOS_TRIALS=$trials
export WARDEN_STACK_POSTGRES_URL
cargo nextest run -p warden-cli --test failover_chaos --no-capture --test-threads 1 2>&1 |
  grep -E 'trials:|PASS|FAIL|panicked'
