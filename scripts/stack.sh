#!/usr/bin/env bash
# The real-component harness: installs, starts and stops the pinned real components that
# Warden's integration tests run against (see ../shared/docs/STACK.md and docs/TESTING.md).
#
#   scripts/stack.sh install [component…]   apt packages + one Python venv per component
#   scripts/stack.sh up      [component…]   start on 127.0.0.1 free ports, wait until ready
#   scripts/stack.sh down                   stop exactly the processes `up` started
#   scripts/stack.sh status                 one line per component
#   scripts/stack.sh env                    print the path of the env file the tests read
#   scripts/stack.sh config                 print a warden.yaml for the running components
#
# Components: postgres redis prometheus alertmanager mlflow feast mlserver airflow moto
# (default: all). Venvs live in $WARDEN_STACK_CACHE (default ~/.cache/warden-stack) and are
# reused while their pinned spec is unchanged. Runtime state (data, logs, pids, the env file)
# lives in $WARDEN_STACK_RUN (default /tmp/warden-stack-$UID): PostgreSQL refuses to run as
# root, and its unprivileged user cannot traverse /root, so runtime state is kept out of $HOME.
set -euo pipefail

ALL_COMPONENTS=(postgres redis prometheus alertmanager mlflow feast mlserver airflow moto)
PYTHON_COMPONENTS=(mlflow feast mlserver airflow moto)

# Pinned versions: ../shared/docs/STACK.md lists the versions verified on this kind of machine.
declare -A VENV_SPEC=(
  [mlflow]="mlflow==3.17.2 scikit-learn"
  [feast]="feast[redis,grpcio]==0.67.0 fastapi==0.135.0"
  [mlserver]="mlserver==1.7.1 mlserver-sklearn==1.7.1 mlserver-mlflow==1.7.1"
  [airflow]="apache-airflow==3.3.2 boto3==1.44.8"
  [moto]="moto[server]==5.2.5"
)
APT_PACKAGES=(redis-server prometheus prometheus-alertmanager postgresql)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ASSETS="$SCRIPT_DIR/stack"
CACHE=${WARDEN_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warden-stack}
RUN=${WARDEN_STACK_RUN:-${TMPDIR:-/tmp}/warden-stack-$(id -u)}
PYTHON=${WARDEN_PYTHON:-python3}
READY_TIMEOUT=${WARDEN_STACK_READY_TIMEOUT:-120}
ENV_FILE="$RUN/stack.env"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

is_component() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do [[ $c == "$1" ]] && return 0; done
  return 1
}

selected_components() {
  if (($# == 0)); then
    printf '%s\n' "${ALL_COMPONENTS[@]}"
    return
  fi
  local c
  for c in "$@"; do
    is_component "$c" || die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})"
    printf '%s\n' "$c"
  done
}

# A free port *below* the kernel's ephemeral range: a port the kernel hands out (bind to 0)
# can be taken again as the source port of any outgoing connection before the component binds
# it (seen in CI: the Feast registry server lost its port to one). Ports given out in this
# run are remembered so two components never get the same one.
free_port() {
  mkdir -p "$RUN"
  "$PYTHON" - "$RUN/ports.used" <<'PY'
import random, socket, sys
used_path = sys.argv[1]
try:
    used = {int(p) for p in open(used_path).read().split()}
except FileNotFoundError:
    used = set()
try:
    ephemeral_low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    ephemeral_low = 32768
low, high = 15000, min(ephemeral_low - 1, 30000)
for _ in range(500):
    port = random.randint(low, high)
    if port in used:
        continue
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        probe.close()
    with open(used_path, "a") as f:
        f.write(f"{port}\n")
    print(port)
    break
else:
    sys.exit(f"no free port in {low}-{high}")
PY
}

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/postgres ]] && { echo "$dir"; return; }
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# install

apt_install() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  pg_bindir >/dev/null || missing+=(postgresql)
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing apt packages (${missing[*]}); run as root or install them"
  log "apt: installing ${missing[*]}"
  # The packages' init scripts would start the daemons on all interfaces; a policy-rc.d that
  # answers 101 forbids that. One that is already there is left alone.
  local own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$CACHE/apt.log" 2>&1 || rc=$?
  ((own_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || { tail -n 30 "$CACHE/apt.log" >&2; die "apt-get install failed (log: $CACHE/apt.log)"; }
}

venv_install() {
  local name=$1 spec=${VENV_SPEC[$1]} dir="$CACHE/venvs/$1"
  if [[ -f $dir/.warden-spec && $(cat "$dir/.warden-spec") == "$spec" ]]; then
    return 0
  fi
  log "venv $name: installing $spec"
  rm -rf "$dir"
  mkdir -p "$CACHE/venvs"
  local started=$SECONDS
  # shellcheck disable=SC2086 # the spec is a list of requirements
  if ! { "$PYTHON" -m venv "$dir" &&
      "$dir/bin/pip" install --disable-pip-version-check --no-input -q $spec; } \
      >"$CACHE/venv-$name.log" 2>&1; then
    tail -n 30 "$CACHE/venv-$name.log" >&2
    die "venv $name: pip install failed (log: $CACHE/venv-$name.log)"
  fi
  printf '%s' "$spec" >"$dir/.warden-spec"
  log "venv $name: ready in $((SECONDS - started)) s"
}

cmd_install() {
  mkdir -p "$CACHE"
  local comps c pids=() names=()
  mapfile -t comps < <(selected_components "$@")
  apt_install
  for c in "${comps[@]}"; do
    [[ -n ${VENV_SPEC[$c]:-} ]] || continue
    venv_install "$c" &
    pids+=($!)
    names+=("$c")
  done
  local i failed=()
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  ((${#failed[@]} == 0)) || die "install failed for: ${failed[*]}"
  log "installed: ${comps[*]}"
}

# ---------------------------------------------------------------------------------------------
# process bookkeeping: every component runs in its own session (process group) whose leader's
# pid and start time are recorded, so `down` stops exactly what `up` started and never a
# process that merely reused the pid.

# Field 22 of /proc/PID/stat, counted after the parenthesised command name: servers that
# retitle themselves (Airflow's "airflow api_server -- …") put spaces in that name.
proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  awk '{print $20}' <<<"${stat##*) }"
}

spawn() { # spawn COMPONENT LOGFILE CMD… — runs CMD in a new session, records its pid
  local comp=$1 logfile=$2
  shift 2
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  local pid=$!
  printf '%s %s\n' "$pid" "$(proc_start_time "$pid")" >"$RUN/$comp/pid"
}

# A component is alive while its recorded leader (same pid, same start time) runs, or while
# its process group still has members: some servers (Airflow's api-server) hand over to a child
# and let the leader exit. Linux does not reuse a pid while a process group of that id exists.
component_alive() {
  local comp=$1 pid start
  [[ -f $RUN/$comp/pid ]] || return 1
  read -r pid start <"$RUN/$comp/pid"
  [[ -n $pid ]] || return 1
  [[ $(proc_start_time "$pid") == "$start" ]] || kill -0 -- "-$pid" 2>/dev/null
}

any_component_alive() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do
    component_alive "$c" && return 0
  done
  return 1
}

stop_component() {
  local comp=$1 pid start i
  [[ -f $RUN/$comp/pid ]] || return 0
  read -r pid start <"$RUN/$comp/pid"
  if component_alive "$comp"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
      log "$comp: still running after 10 s, sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$RUN/$comp/pid"
  log "$comp: stopped"
}

# wait_http COMPONENT URL [EXPECTED-BODY-SUBSTRING]
wait_http() {
  local comp=$1 url=$2 expect=${3:-} deadline=$((SECONDS + READY_TIMEOUT)) body
  while ((SECONDS < deadline)); do
    component_alive "$comp" || {
      tail -n 40 "$RUN/$comp/$comp.log" >&2 || true
      die "$comp exited before it was ready (log: $RUN/$comp/$comp.log)"
    }
    if body=$(curl -fsS --max-time 2 "$url" 2>/dev/null); then
      [[ -z $expect || $body == *"$expect"* ]] && return 0
    fi
    sleep 0.3
  done
  tail -n 40 "$RUN/$comp/$comp.log" >&2 || true
  die "$comp not ready at $url within ${READY_TIMEOUT} s (log: $RUN/$comp/$comp.log)"
}

venv_bin() {
  local dir="$CACHE/venvs/$1"
  [[ -f $dir/.warden-spec && $(cat "$dir/.warden-spec") == "${VENV_SPEC[$1]}" ]] ||
    die "$1 is not installed (or its pinned version changed): run scripts/stack.sh install $1"
  echo "$dir/bin"
}

# ---------------------------------------------------------------------------------------------
# components: start_X launches, ready_X waits and finishes set-up, env lines go to $RUN/X/env

start_postgres() {
  local bin port dir="$RUN/postgres"
  bin=$(pg_bindir) || die "postgresql is not installed: run scripts/stack.sh install"
  port=$(free_port)
  local as=()
  if [[ $(id -u) == 0 ]]; then
    # PostgreSQL refuses to run as root.
    chown -R postgres:postgres "$dir"
    chmod 755 "$RUN"
    as=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U warden -A trust --no-sync -E UTF8 \
    >"$dir/postgres.log" 2>&1 || { cat "$dir/postgres.log" >&2; die "postgres: initdb failed"; }
  spawn postgres "$dir/postgres.log" "${as[@]}" "$bin/postgres" -D "$dir/data" \
    -c listen_addresses=127.0.0.1 -p "$port" -k "$dir" -c fsync=off
  echo "$port" >"$dir/port"
}

ready_postgres() {
  local dir="$RUN/postgres" port deadline=$((SECONDS + READY_TIMEOUT))
  port=$(cat "$dir/port")
  until "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    component_alive postgres || { tail -n 40 "$dir/postgres.log" >&2; die "postgres exited"; }
    ((SECONDS < deadline)) || die "postgres not ready within ${READY_TIMEOUT} s"
    sleep 0.2
  done
  "$(pg_bindir)/psql" -q -h 127.0.0.1 -p "$port" -U warden -d postgres \
    -c 'CREATE DATABASE warden' >/dev/null
  echo "WARDEN_STACK_POSTGRES_URL=postgres://warden@127.0.0.1:$port/warden" >"$dir/env"
}

start_redis() {
  local port dir="$RUN/redis"
  port=$(free_port)
  spawn redis "$dir/redis.log" redis-server --bind 127.0.0.1 --port "$port" --save '' \
    --appendonly no --dir "$dir" --protected-mode yes
  echo "$port" >"$dir/port"
}

ready_redis() {
  local port deadline=$((SECONDS + READY_TIMEOUT))
  port=$(cat "$RUN/redis/port")
  until [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; do
    component_alive redis || { tail -n 40 "$RUN/redis/redis.log" >&2; die "redis exited"; }
    ((SECONDS < deadline)) || die "redis not ready within ${READY_TIMEOUT} s"
    sleep 0.1
  done
  echo "WARDEN_STACK_REDIS_URL=redis://127.0.0.1:$port" >"$RUN/redis/env"
}

start_prometheus() {
  local port dir="$RUN/prometheus"
  port=$(free_port)
  # A 2 s scrape and evaluation interval lets alerting tests fire within seconds.
  cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
  spawn prometheus "$dir/prometheus.log" prometheus --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$port" \
    --web.external-url="http://127.0.0.1:$port" --web.enable-lifecycle
  echo "$port" >"$dir/port"
}

ready_prometheus() {
  local port
  port=$(cat "$RUN/prometheus/port")
  wait_http prometheus "http://127.0.0.1:$port/-/ready"
  {
    echo "WARDEN_STACK_PROMETHEUS_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_PROMETHEUS_CONFIG=$RUN/prometheus/prometheus.yml"
  } >"$RUN/prometheus/env"
}

start_alertmanager() {
  local port dir="$RUN/alertmanager"
  port=$(free_port)
  cat >"$dir/alertmanager.yml" <<EOF
route:
  receiver: default
  group_wait: 1s
  group_interval: 2s
receivers:
  - name: default
EOF
  # The empty cluster address turns gossip off; it would otherwise bind all interfaces.
  spawn alertmanager "$dir/alertmanager.log" prometheus-alertmanager \
    --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.external-url="http://127.0.0.1:$port" \
    --cluster.listen-address=
  echo "$port" >"$dir/port"
}

ready_alertmanager() {
  local port
  port=$(cat "$RUN/alertmanager/port")
  wait_http alertmanager "http://127.0.0.1:$port/-/ready"
  {
    echo "WARDEN_STACK_ALERTMANAGER_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_ALERTMANAGER_CONFIG=$RUN/alertmanager/alertmanager.yml"
  } >"$RUN/alertmanager/env"
}

start_mlflow() {
  local bin port dir="$RUN/mlflow"
  bin=$(venv_bin mlflow)
  port=$(free_port)
  spawn mlflow "$dir/mlflow.log" "$bin/mlflow" server \
    --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts" \
    --host 127.0.0.1 --port "$port" --workers 1
  echo "$port" >"$dir/port"
}

ready_mlflow() {
  local port
  port=$(cat "$RUN/mlflow/port")
  wait_http mlflow "http://127.0.0.1:$port/health" OK
  {
    echo "WARDEN_STACK_MLFLOW_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_MLFLOW_PYTHON=$(venv_bin mlflow)/python"
  } >"$RUN/mlflow/env"
}

start_mlserver() {
  local bin port grpc metrics dir="$RUN/mlserver"
  bin=$(venv_bin mlserver)
  port=$(free_port)
  grpc=$(free_port)
  metrics=$(free_port)
  mkdir -p "$dir/models/demand-forecast"
  "$bin/python" "$ASSETS/mlserver_model.py" "$dir/models/demand-forecast/model.joblib" \
    >>"$dir/mlserver.log" 2>&1 || { tail -n 20 "$dir/mlserver.log" >&2; die "mlserver: training the test model failed"; }
  cat >"$dir/models/settings.json" <<EOF
{"host": "127.0.0.1", "http_port": $port, "grpc_port": $grpc, "metrics_port": $metrics,
 "parallel_workers": 0}
EOF
  cat >"$dir/models/demand-forecast/model-settings.json" <<EOF
{"name": "demand-forecast", "implementation": "mlserver_sklearn.SKLearnModel",
 "parameters": {"uri": "./model.joblib", "version": "v1"}}
EOF
  spawn mlserver "$dir/mlserver.log" env PATH="$bin:$PATH" "$bin/mlserver" start "$dir/models"
  printf '%s %s\n' "$port" "$metrics" >"$dir/port"
}

ready_mlserver() {
  local port metrics
  read -r port metrics <"$RUN/mlserver/port"
  wait_http mlserver "http://127.0.0.1:$port/v2/models/demand-forecast/ready"
  {
    echo "WARDEN_STACK_MLSERVER_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_MLSERVER_METRICS_URL=http://127.0.0.1:$metrics"
    echo "WARDEN_STACK_MLSERVER_BIN=$(venv_bin mlserver)"
  } >"$RUN/mlserver/env"
}

start_feast() {
  local bin port registry_port dir="$RUN/feast" redis_port
  bin=$(venv_bin feast)
  [[ -f $RUN/redis/port ]] || die "feast needs redis: scripts/stack.sh up redis feast"
  redis_port=$(cat "$RUN/redis/port")
  port=$(free_port)
  registry_port=$(free_port)
  mkdir -p "$dir/repo/data"
  cp "$ASSETS/feast_repo/"*.py "$dir/repo/"
  cat >"$dir/repo/feature_store.yaml" <<EOF
project: warden_demo
registry: data/registry.db
provider: local
online_store:
  type: redis
  connection_string: "127.0.0.1:$redis_port"
offline_store:
  type: file
entity_key_serialization_version: 3
EOF
  # One session holds the apply, the feature server and the registry REST server, so `down`
  # stops all of them with one signal to the group.
  spawn feast "$dir/feast.log" env PATH="$bin:$PATH" FEAST_USAGE=False bash -c "
    cd '$dir/repo' && python make_data.py data/store_daily.parquet && feast apply &&
    { feast serve_registry --rest-api --no-grpc -h 127.0.0.1 --rest-port $registry_port &
      exec feast serve -h 127.0.0.1 -p $port; }"
  printf '%s %s\n' "$port" "$registry_port" >"$dir/port"
}

ready_feast() {
  local port registry_port
  read -r port registry_port <"$RUN/feast/port"
  wait_http feast "http://127.0.0.1:$port/health"
  wait_http feast "http://127.0.0.1:$registry_port/api/v1/projects"
  {
    echo "WARDEN_STACK_FEAST_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_FEAST_REGISTRY_URL=http://127.0.0.1:$registry_port"
    echo "WARDEN_STACK_FEAST_REPO=$RUN/feast/repo"
    echo "WARDEN_STACK_FEAST_PROJECT=warden_demo"
    # Tests that stop and restart their own Feast + Redis need the CLI and the repo's files.
    echo "WARDEN_STACK_FEAST_BIN=$(venv_bin feast)"
    echo "WARDEN_STACK_FEAST_REPO_TEMPLATE=$ASSETS/feast_repo"
  } >"$RUN/feast/env"
}

start_airflow() {
  local bin port dir="$RUN/airflow"
  bin=$(venv_bin airflow)
  port=$(free_port)
  mkdir -p "$dir/home" "$dir/dags"
  cp "$ASSETS/airflow_dags/"*.py "$dir/dags/"
  echo '{"admin": "admin"}' >"$dir/passwords.json"
  # Not `airflow standalone`: it starts log servers on all interfaces and orphans children.
  spawn airflow "$dir/airflow.log" env PATH="$bin:$PATH" \
    AIRFLOW_HOME="$dir/home" \
    AIRFLOW__CORE__DAGS_FOLDER="$dir/dags" \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__CORE__PARALLELISM=4 \
    AIRFLOW__API__HOST=127.0.0.1 \
    AIRFLOW__API__PORT="$port" \
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$port/execution/" \
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin \
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$dir/passwords.json" \
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5 \
    AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5 \
    bash -c "airflow db migrate &&
      { airflow scheduler --skip-serve-logs & airflow dag-processor &
        exec airflow api-server -H 127.0.0.1 -p $port -w 1; }"
  echo "$port" >"$dir/port"
}

ready_airflow() {
  local port
  port=$(cat "$RUN/airflow/port")
  wait_http airflow "http://127.0.0.1:$port/api/v2/monitor/health"
  {
    echo "WARDEN_STACK_AIRFLOW_URL=http://127.0.0.1:$port"
    echo "WARDEN_STACK_AIRFLOW_USER=admin"
    echo "WARDEN_STACK_AIRFLOW_PASSWORD=admin"
    echo "WARDEN_STACK_AIRFLOW_DAGS=$RUN/airflow/dags"
  } >"$RUN/airflow/env"
}

start_moto() {
  local bin port dir="$RUN/moto"
  bin=$(venv_bin moto)
  port=$(free_port)
  spawn moto "$dir/moto.log" "$bin/moto_server" -H 127.0.0.1 -p "$port"
  echo "$port" >"$dir/port"
}

ready_moto() {
  local port
  port=$(cat "$RUN/moto/port")
  wait_http moto "http://127.0.0.1:$port/moto-api/data.json"
  echo "WARDEN_STACK_S3_URL=http://127.0.0.1:$port" >"$RUN/moto/env"
}

# ---------------------------------------------------------------------------------------------
# commands

write_env_file() {
  local c tmp="$ENV_FILE.tmp"
  : >"$tmp"
  for c in "${ALL_COMPONENTS[@]}"; do
    if component_alive "$c" && [[ -f $RUN/$c/env ]]; then cat "$RUN/$c/env" >>"$tmp"; fi
  done
  mv "$tmp" "$ENV_FILE"
}

# Runs on any exit from a failed `up` (die, or a failing command under set -e): a half-started
# stack would otherwise leak processes that no pid file names after the next `up`.
up_failed() {
  local x
  log "up failed: stopping what it started"
  for x in "${STARTED[@]}"; do stop_component "$x"; done
  write_env_file
}

start_feast_fresh() {
  component_alive redis || die "feast needs redis: scripts/stack.sh up redis feast"
  rm -rf "${RUN:?}/feast"
  mkdir -p "$RUN/feast"
  STARTED+=(feast)
  start_feast
}

cmd_up() {
  local comps c started=$SECONDS want_feast=0
  mapfile -t comps < <(selected_components "$@")
  mkdir -p "$RUN"
  # A fresh start forgets the ports of earlier runs (running components keep theirs).
  any_component_alive || : >"$RUN/ports.used"
  for c in "${comps[@]}"; do
    component_alive "$c" && die "$c is already running (scripts/stack.sh down first)"
    [[ $c == feast ]] && want_feast=1
  done
  STARTED=()
  trap up_failed EXIT
  # Start everything first and wait afterwards, so slow starters overlap. Feast waits for
  # Redis: `feast apply` talks to its online store.
  for c in "${comps[@]}"; do
    [[ $c == feast ]] && continue
    rm -rf "${RUN:?}/$c"
    mkdir -p "$RUN/$c"
    STARTED+=("$c")
    "start_$c"
  done
  for c in "${comps[@]}"; do
    [[ $c == feast ]] && continue
    "ready_$c"
    log "$c: ready"
    # Feast starts as soon as its Redis answers, overlapping the slower starters.
    [[ $c == redis ]] && ((want_feast)) && start_feast_fresh
  done
  if ((want_feast)); then
    [[ -f $RUN/feast/pid ]] || start_feast_fresh
    ready_feast
    log "feast: ready"
  fi
  trap - EXIT
  write_env_file
  log "up: ${comps[*]} in $((SECONDS - started)) s; env file: $ENV_FILE"
}

cmd_down() {
  local c
  # Reverse order: Feast before the Redis it uses.
  for ((i = ${#ALL_COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${ALL_COMPONENTS[$i]}
    [[ -f $RUN/$c/pid ]] && stop_component "$c"
  done
  [[ -d $RUN ]] && write_env_file
  return 0
}

cmd_status() {
  local c state
  for c in "${ALL_COMPONENTS[@]}"; do
    if component_alive "$c"; then state="running (pid $(cut -d' ' -f1 "$RUN/$c/pid"))"
    elif [[ -f $RUN/$c/pid ]]; then state="dead (stale pid file)"
    else state="stopped"; fi
    local installed=""
    if [[ -n ${VENV_SPEC[$c]:-} ]]; then
      if [[ -f $CACHE/venvs/$c/.warden-spec && $(cat "$CACHE/venvs/$c/.warden-spec") == "${VENV_SPEC[$c]}" ]]; then
        installed="installed"
      else installed="not installed"; fi
    fi
    printf '%-13s %-28s %s\n' "$c" "$state" "$installed"
  done
  [[ -f $ENV_FILE ]] && printf 'env file: %s\n' "$ENV_FILE"
  return 0
}

# A warden.yaml whose connectors point at the running components, so a newcomer can see
# `warden config check --connect` go green against real servers.
cmd_config() {
  [[ -f $ENV_FILE ]] || die "no stack is up (scripts/stack.sh up)"
  local key value
  declare -A env=()
  while IFS='=' read -r key value; do env[$key]=$value; done <"$ENV_FILE"
  local pg=${env[WARDEN_STACK_POSTGRES_URL]:-}
  echo "# Generated by scripts/stack.sh config for the stack in $RUN"
  echo "version: 1"
  echo "data_dir: $RUN/warden-data"
  if [[ -n $pg ]]; then
    printf '%s\n' "$pg" >"$RUN/postgres-url"
    printf 'store:\n  postgres:\n    url: {file: %s}\n' "$RUN/postgres-url"
  fi
  echo "connectors:"
  [[ -n ${env[WARDEN_STACK_PROMETHEUS_URL]:-} ]] &&
    printf '  prometheus:\n    url: %s\n' "${env[WARDEN_STACK_PROMETHEUS_URL]}"
  [[ -n ${env[WARDEN_STACK_ALERTMANAGER_URL]:-} ]] &&
    printf '  alertmanager:\n    url: %s\n' "${env[WARDEN_STACK_ALERTMANAGER_URL]}"
  [[ -n ${env[WARDEN_STACK_MLFLOW_URL]:-} ]] &&
    printf '  mlflow:\n    url: %s\n' "${env[WARDEN_STACK_MLFLOW_URL]}"
  [[ -n ${env[WARDEN_STACK_MLSERVER_URL]:-} ]] &&
    printf '  model_server:\n    url: %s\n    model: demand-forecast\n    metrics_url: %s\n' \
      "${env[WARDEN_STACK_MLSERVER_URL]}" "${env[WARDEN_STACK_MLSERVER_METRICS_URL]}"
  if [[ -n ${env[WARDEN_STACK_FEAST_URL]:-} ]]; then
    printf '  feast:\n    url: %s\n    registry_url: %s\n    project: %s\n' \
      "${env[WARDEN_STACK_FEAST_URL]}" "${env[WARDEN_STACK_FEAST_REGISTRY_URL]}" \
      "${env[WARDEN_STACK_FEAST_PROJECT]}"
    [[ -n ${env[WARDEN_STACK_REDIS_URL]:-} ]] &&
      printf '    redis_url: %s\n' "${env[WARDEN_STACK_REDIS_URL]}"
  fi
  if [[ -n ${env[WARDEN_STACK_AIRFLOW_URL]:-} ]]; then
    printf '%s\n' "${env[WARDEN_STACK_AIRFLOW_PASSWORD]}" >"$RUN/airflow-password"
    printf '  airflow:\n    url: %s\n    username: %s\n    password: {file: %s}\n' \
      "${env[WARDEN_STACK_AIRFLOW_URL]}" "${env[WARDEN_STACK_AIRFLOW_USER]}" "$RUN/airflow-password"
  fi
  [[ -n ${env[WARDEN_STACK_S3_URL]:-} ]] &&
    printf '  object_store:\n    endpoint: %s\n' "${env[WARDEN_STACK_S3_URL]}"
  return 0
}

main() {
  local cmd=${1:-}
  (($# > 0)) && shift
  case $cmd in
    install) cmd_install "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) echo "$ENV_FILE" ;;
    config) cmd_config ;;
    *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"
