#!/usr/bin/env bash
# Benchmarks that check PRODUCT.md's targets as whole processes (never as timed unit tests).
# Results and how to read them: docs/BENCHMARKS.md.
#
#   scripts/bench.sh alert-storm [ALERTS] [CONCURRENCY]   10,000 duplicate alerts → incidents
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

alert_storm() {
  local alerts=${1:-10000} concurrency=${2:-16} port
  # Global, not local: the EXIT trap runs after this function has returned.
  BENCH_DIR= BENCH_PID=
  cargo build --release -q -p warden-cli --bin warden --example alert_storm
  local target
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  BENCH_DIR=$(mktemp -d)
  local dir=$BENCH_DIR
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'responder-token\n' >"$dir/responder.token"
  printf 'hook-secret\n' >"$dir/hook.secret"
  cat >"$dir/warden.yaml" <<YAML
server:
  tokens: [{name: bench, role: responder, token: {file: responder.token}}]
connectors:
  alertmanager: {url: "http://127.0.0.1:9", webhook_secret: {file: hook.secret}}
YAML
  (cd "$dir" && exec "$target/release/warden" up --config warden.yaml --listen "127.0.0.1:$port" 2>/dev/null) &
  BENCH_PID=$!
  local pid=$BENCH_PID
  trap 'kill "$BENCH_PID" 2>/dev/null; rm -rf "$BENCH_DIR"' EXIT
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  "$target/release/examples/alert_storm" "http://127.0.0.1:$port" "$pid" "$alerts" "$concurrency"
}

case ${1:-} in
  alert-storm) shift; alert_storm "$@" ;;
  *) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
