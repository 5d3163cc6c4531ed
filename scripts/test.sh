#!/usr/bin/env bash
# The test command (README: "Test it"). On a fresh machine it installs everything the tests
# need (the real components, Chromium and playwright-core for the console's browser tests),
# then: cargo fmt --check, clippy with -D warnings, brings up the real-component stack,
# runs every unit and integration test against it with WARDEN_REQUIRE_STACK=1 (a missing
# component fails the run instead of skipping tests), and stops the stack again.
#
#   scripts/test.sh            everything
#   scripts/test.sh -- ARGS    extra arguments for cargo nextest (e.g. a test name filter)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'test: %s\n' "$*" >&2; }
started=$SECONDS
extra=()
if [[ ${1:-} == "--" ]]; then
  shift
  extra=("$@")
fi

# --- toolchain and system tools -------------------------------------------------------------
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    log "installing rust component $component"
    rustup component add "$component"
  fi
done
if ! command -v cargo-nextest >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
missing_apt=()
command -v curl >/dev/null 2>&1 || missing_apt+=(curl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing_apt+=(python3-venv)
if ((${#missing_apt[@]})); then
  log "installing ${missing_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing_apt[@]}"
fi

# --- real components install while the compiler is busy ------------------------------------
# The console's browser tests: Debian's Chromium and playwright-core (tests/browser) to drive it.
install_browser() {
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "test: installing chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium
  fi
  if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    echo "test: installing playwright-core (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The Kubernetes manifests are validated against the API's JSON schemas (bundled, offline).
  if [[ ! -x $K8S_VALIDATE ]]; then
    echo "test: installing kubernetes-validate"
    python3 -m venv "$(dirname "$(dirname "$K8S_VALIDATE")")"
    "$(dirname "$K8S_VALIDATE")/pip" install -q kubernetes-validate==1.37.0
  fi
}
K8S_VALIDATE=${HOME:-/root}/.cache/warden-stack/k8s-validate/bin/kubernetes-validate
install_log=$(mktemp)
{ scripts/stack.sh install && install_browser; } >"$install_log" 2>&1 &
install_pid=$!
stack_up=0
cleanup() {
  if ((install_pid)); then kill "$install_pid" 2>/dev/null || true; fi
  if ((stack_up)); then scripts/stack.sh down || true; fi
  rm -f "$install_log"
}
trap cleanup EXIT

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "doc tests"
cargo test --workspace --doc --locked --quiet
log "building tests"
cargo nextest run --workspace --locked --no-run

install_status=0
wait "$install_pid" || install_status=$?
install_pid=0
if ((install_status)); then
  cat "$install_log" >&2
  log "installing the real components failed"
  exit 1
fi
cat "$install_log" >&2

# --- the stack, then every test -----------------------------------------------------------
stack_up=1
scripts/stack.sh up
set -a
# shellcheck disable=SC1090 # written by scripts/stack.sh up
. "$(scripts/stack.sh env)"
set +a
export WARDEN_REQUIRE_STACK=1

log "kubernetes manifests against the API schemas"
"$K8S_VALIDATE" --strict --quiet deploy/kubernetes/*.yaml

log "cargo nextest run (set-up took $((SECONDS - started)) s)"
# Every request the fake Kubernetes API server sees is logged, for the RBAC check below.
WARDEN_KUBE_REQUESTS=$(mktemp)
export WARDEN_KUBE_REQUESTS
# The runner's summary stays the last line of the output: the stack is stopped quietly.
trap - EXIT
status=0
cargo nextest run --workspace --locked "${extra[@]}" || status=$?
scripts/stack.sh down >/dev/null 2>&1 || true
rm -f "$install_log"
if ((status == 0 && ${#extra[@]} == 0)); then
  log "RBAC of deploy/kubernetes against every Kubernetes request of the suite"
  cargo run -q --locked -p warden-testkit --example rbac_check -- \
    deploy/kubernetes/warden.yaml "$WARDEN_KUBE_REQUESTS" || status=$?
fi
rm -f "$WARDEN_KUBE_REQUESTS"
exit "$status"
