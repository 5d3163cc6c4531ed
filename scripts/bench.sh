#!/usr/bin/env bash
# Benchmarks that check PRODUCT.md's targets as whole processes (never as timed unit tests).
# Results and how to read them: docs/BENCHMARKS.md.
#
#   scripts/bench.sh alert-storm [ALERTS] [CONCURRENCY]   10,000 duplicate alerts → incidents
#   scripts/bench.sh drift [ROWS] [RUNS]                  ROWS reference + ROWS current, Parquet → JSON
#   scripts/bench.sh drift-versus BASELINE [ROWS] [RUNS]  the same, this build against another warden
#   scripts/bench.sh console [INCIDENTS] [RUNS]           the console's incident list, signed in
#   scripts/bench.sh ingest [ALERTS]                      one payload of distinct vs duplicate alerts
#   scripts/bench.sh feature-proxy [RPS] [SECONDS]        proxy latency on cache hits (needs: stack.sh up redis feast)
#   scripts/bench.sh model-quality [ROWS]                 evaluate / compare / validate / rollout gate on ROWS predictions
#   scripts/bench.sh webhook-to-action [ROUNDS]           Alertmanager webhook → containment action (runbook 2's scale)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

webhook_to_action() {
  local rounds=${1:-30} target
  cargo build --release -q -p warden-cli --bin warden --example webhook_to_action
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  "$target/release/examples/webhook_to_action" "$target/release/warden" "$rounds"
}

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

# Whole-process wall time and peak RSS of `warden drift` on generated Parquet (20 numeric + 5
# categorical columns, three real drifts). Data is generated once per size and kept in
# ${WARDEN_BENCH_DATA:-/tmp/warden-bench}; it is never committed.
drift() {
  local rows=${1:-1000000} runs=${2:-3} target data
  cargo build --release -q -p warden-cli --bin warden -p warden-drift --example drift_data
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  data=${WARDEN_BENCH_DATA:-/tmp/warden-bench}/drift-$rows
  if [[ ! -f $data/current/part-000.parquet ]]; then
    "$target/release/examples/drift_data" "$rows" "$data" >&2
  fi
  for run in $(seq "$runs"); do
    python3 - "$target/release/warden" "$data" "$run" <<'PY'
import json, resource, subprocess, sys, time
warden, data, run = sys.argv[1:]
start = time.monotonic()
result = subprocess.run([warden, "drift", "--reference", f"{data}/reference", "--current", f"{data}/current",
                         "--ignore", "region", "--format", "json"], capture_output=True)
wall = time.monotonic() - start
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
report = json.loads(result.stdout)
drifted = [c["name"] for c in report["columns"] if c["drifted"]]
print(f"run {run}: wall {wall:.3f} s, peak RSS {rss_mb:.0f} MB, exit {result.returncode}, "
      f"rows {report['summary']['reference']['rows']}+{report['summary']['current']['rows']}, drifted {drifted}")
PY
  done
}

# `warden drift` of this checkout against another build (BASELINE: a `warden` binary built
# from an earlier commit), alternating runs on the same data, with the ratio of the medians:
# how a change to the drift engine moved time and memory, measured in one session.
drift_versus() {
  local baseline=${1:?usage: scripts/bench.sh drift-versus BASELINE_WARDEN [ROWS] [RUNS]}
  local rows=${2:-1000000} runs=${3:-5} target data
  cargo build --release -q -p warden-cli --bin warden -p warden-drift --example drift_data
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  data=${WARDEN_BENCH_DATA:-/tmp/warden-bench}/drift-$rows
  if [[ ! -f $data/current/part-000.parquet ]]; then
    "$target/release/examples/drift_data" "$rows" "$data" >&2
  fi
  python3 - "$baseline" "$target/release/warden" "$data" "$runs" <<'PY'
import json, os, statistics, subprocess, sys, time
baseline, current, data, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def run(warden):
    start = time.monotonic()
    child = subprocess.Popen([warden, "drift", "--reference", f"{data}/reference", "--current",
                              f"{data}/current", "--ignore", "region", "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, _, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
    wall = time.monotonic() - start
    drifted = [c["name"] for c in json.loads(out)["columns"] if c["drifted"]]
    return wall, usage.ru_maxrss / 1024, drifted
run(baseline), run(current)  # warm the page cache for both
figures = {"baseline": [], "current": []}
for i in range(runs):
    for name, warden in (("baseline", baseline), ("current", current)):
        wall, rss, drifted = run(warden)
        figures[name].append((wall, rss))
        print(f"{name} run {i + 1}: wall {wall:.3f} s, peak RSS {rss:.0f} MB, drifted {drifted}")
median = {name: (statistics.median(w for w, _ in f), statistics.median(r for _, r in f)) for name, f in figures.items()}
for name, (wall, rss) in median.items():
    print(f"{name}: median wall {wall:.3f} s, median peak RSS {rss:.0f} MB")
print(f"current / baseline: wall {median['current'][0] / median['baseline'][0]:.3f}, "
      f"peak RSS {median['current'][1] / median['baseline'][1]:.3f}")
PY
}

# The console's incident list with INCIDENTS open incidents (PRODUCT/issue 21: a page with
# 1,000 incidents renders in well under a second): warden up on SQLite, one webhook payload per
# 250 distinct alerts (one incident each), then GET /ui timed as a whole request, signed in.
console() {
  local incidents=${1:-1000} runs=${2:-5} port
  cargo build --release -q -p warden-cli --bin warden
  local target
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  BENCH_DIR=$(mktemp -d) BENCH_PID=
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
  trap 'kill "$BENCH_PID" 2>/dev/null; rm -rf "$BENCH_DIR"' EXIT
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  python3 - "http://127.0.0.1:$port" "$incidents" "$runs" <<'PY'
import json, statistics, sys, time, urllib.parse, urllib.request
base, incidents, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for start in range(0, incidents, 250):
    alerts = [{"status": "firing", "labels": {"alertname": "ServingLatencyHigh", "service": f"svc-{i}",
               "namespace": "mlops", "severity": "page"}, "annotations": {"summary": f"p95 high on svc-{i}"},
               "startsAt": "2026-12-06T05:00:00Z", "fingerprint": f"{i:016x}"}
              for i in range(start, min(start + 250, incidents))]
    body = json.dumps({"version": "4", "status": "firing", "receiver": "warden", "groupKey": f"g{start}",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                       "alerts": alerts}).encode()
    request = urllib.request.Request(f"{base}/api/v1/alerts/alertmanager", data=body,
                                     headers={"Authorization": "Bearer hook-secret", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=600).read()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(NoRedirect)
try:
    opener.open(urllib.request.Request(f"{base}/ui/login", data=b"token=responder-token",
                                       headers={"Origin": base}))
except urllib.error.HTTPError as answer:
    cookie = answer.headers["Set-Cookie"].split(";")[0]
times = []
for _ in range(runs):
    start = time.monotonic()
    page = urllib.request.urlopen(urllib.request.Request(f"{base}/ui", headers={"Cookie": cookie})).read()
    times.append(time.monotonic() - start)
rows = page.count(b'<tr><td><a href="/ui/incidents/')
print(f"GET /ui with {incidents} open incidents ({rows} rows, {len(page) // 1024} KB): "
      f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
PY
}

# One Alertmanager payload of ALERTS distinct alerts (ALERTS new incidents) against one of
# ALERTS duplicates (one incident): the webhook's answer time for each, on a fresh SQLite store.
# The webhook answers once the alerts are recorded and the incidents opened; advancing them is
# the daemon's work loop's, after the answer.
ingest() {
  local alerts=${1:-10000} target
  cargo build --release -q -p warden-cli --bin warden
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  python3 - "$target/release/warden" "$alerts" <<'PY'
import json, os, socket, subprocess, sys, tempfile, time, urllib.request
warden, alerts = sys.argv[1], int(sys.argv[2])
def payload(distinct):
    items = [{"status": "firing", "labels": {"alertname": "ServingLatencyHigh", "namespace": "mlops",
              "service": f"svc-{i if distinct else 0}", "severity": "page"},
              "annotations": {"summary": "p95 over the SLA"}, "startsAt": "2026-12-06T05:00:00Z",
              "fingerprint": f"{(i if distinct else 0):016x}"} for i in range(alerts)]
    return json.dumps({"version": "4", "status": "firing", "receiver": "warden", "groupKey": "bench",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                       "alerts": items}).encode()
def run(distinct):
    with tempfile.TemporaryDirectory() as dir:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
        open(f"{dir}/hook.secret", "w").write("hook-secret\n")
        open(f"{dir}/warden.yaml", "w").write(
            "connectors:\n  alertmanager: {url: 'http://127.0.0.1:9', webhook_secret: {file: hook.secret}}\n")
        daemon = subprocess.Popen([warden, "up", "--config", "warden.yaml", "--listen", f"127.0.0.1:{port}"],
                                  cwd=dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read(); break
                except OSError:
                    time.sleep(0.1)
            body = payload(distinct)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/alerts/alertmanager", data=body,
                                             headers={"Authorization": "Bearer hook-secret",
                                                      "Content-Type": "application/json"})
            start = time.monotonic()
            answer = json.loads(urllib.request.urlopen(request, timeout=600).read())
            return time.monotonic() - start, len(answer["opened"]), len(answer["attached"])
        finally:
            daemon.kill(); daemon.wait()
duplicates = run(False)
distinct = run(True)
print(f"{alerts} duplicates: {duplicates[0]:.2f} s ({duplicates[1]} opened, {duplicates[2]} attached)")
print(f"{alerts} distinct:   {distinct[0]:.2f} s ({distinct[1]} opened, {distinct[2]} attached)")
print(f"distinct / duplicates: {distinct[0] / duplicates[0]:.2f} (target <= 1.5)")
PY
}

# The feature proxy's latency on cache hits at RPS on loopback (target: <= 1 ms added p99 at
# 1,000/s), next to Feast's own latency. Needs the harness's Feast: scripts/stack.sh up redis feast.
feature_proxy() {
  local rps=${1:-1000} seconds=${2:-10} target feast bin repo port body
  # shellcheck disable=SC1091
  source "${WARDEN_STACK_ENV:-/tmp/warden-stack-$(id -u)/stack.env}"
  feast=${WARDEN_STACK_FEAST_URL:?run scripts/stack.sh up redis feast first}
  bin=$WARDEN_STACK_FEAST_BIN repo=$WARDEN_STACK_FEAST_REPO
  (cd "$repo" && PATH="$bin:$PATH" FEAST_USAGE=False feast materialize-incremental \
    "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null)
  cargo build --release -q -p warden-cli --bin warden -p warden-feast --example proxy_load
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BENCH_PID=
  "$target/release/warden" feature-proxy --feature-server "$feast" --listen "127.0.0.1:$port" >/dev/null &
  BENCH_PID=$!
  trap 'kill "$BENCH_PID" 2>/dev/null' EXIT
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  body='{"features":["store_daily_features:sales_lag_7","store_daily_features:sales_lag_28","store_daily_features:promo"],"entities":{"store_id":[1,2,3,4,5,6,7,8,9,10]},"full_feature_names":true}'
  curl -fs -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$port/get-online-features" >/dev/null
  echo "Feast directly, 50/s for 5 s:"
  "$target/release/examples/proxy_load" "$feast/get-online-features" 50 5 "$body"
  echo "through the proxy (auto mode: Feast, then cache fill), 50/s for 5 s:"
  "$target/release/examples/proxy_load" "http://127.0.0.1:$port/get-online-features" 50 5 "$body"
  curl -fs -d '{"mode":"fallback"}' "http://127.0.0.1:$port/warden/mode" >/dev/null
  curl -fs "http://127.0.0.1:$port/metrics" >"${TMPDIR:-/tmp}/proxy-metrics-before.txt"
  echo "proxy in fallback mode (every value a cache hit), $rps/s for $seconds s:"
  "$target/release/examples/proxy_load" "http://127.0.0.1:$port/get-online-features" "$rps" "$seconds" "$body"
  curl -fs "http://127.0.0.1:$port/metrics" >"${TMPDIR:-/tmp}/proxy-metrics-after.txt"
  # The proxy's own time per answer (its overhead histogram), over the fallback run only.
  python3 - "${TMPDIR:-/tmp}/proxy-metrics-before.txt" "${TMPDIR:-/tmp}/proxy-metrics-after.txt" <<'PY'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'warden_feature_proxy_overhead_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
delta = {le: after[le] - before.get(le, 0) for le in after}
total = delta["+Inf"]
def bound(q):
    for le in sorted((k for k in delta if k != "+Inf"), key=float):
        if delta[le] >= q * total:
            return f"<= {float(le) * 1000:g} ms"
    return "> 100 ms"
print(f"proxy's own time per answer ({total} answers): p50 {bound(0.5)}, p99 {bound(0.99)}, p99.9 {bound(0.999)}")
PY
  ps -o rss= -p "$BENCH_PID" | awk '{printf "proxy RSS after the run: %.0f MB\n", $1/1024}'
}

# Whole-process wall time and peak RSS of runbook 5's commands on ROWS generated predictions
# (Parquet, 10 files) joined to as many actuals. Data is generated once per size in
# ${WARDEN_BENCH_DATA:-/tmp/warden-bench}; it is never committed.
model_quality() {
  local rows=${1:-10000000} target data
  cargo build --release -q -p warden-cli --bin warden -p warden-eval --example model_logs
  target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
  data=${WARDEN_BENCH_DATA:-/tmp/warden-bench}/model-$rows
  if [[ ! -f $data/actuals/part-009.parquet ]]; then
    "$target/release/examples/model_logs" "$rows" "$data" >&2
  fi
  local keys=store_id,item_id,date
  python3 - "$target/release/warden" "$data" "$keys" <<'PY'
import json, os, subprocess, sys, time
warden, data, keys = sys.argv[1:]
runs = {
    "evaluate --by model_version": ["evaluate", "--predictions", f"{data}/logs", "--actuals", f"{data}/actuals",
                                    "--key", keys, "--by", "model_version", "--season", "7"],
    "compare (half vs half)": ["compare", "--before", f"{data}/logs/part-00[0-4].parquet",
                               "--after", f"{data}/logs/part-00[5-9].parquet", "--key", keys, "--segment", "region"],
    "validate --reference": ["validate", "--data", f"{data}/logs", "--reference", f"{data}/logs/part-000.parquet",
                             "--key", keys, "--ignore", "model_version,timestamp,date"],
    "rollout gate": ["rollout", "gate", "--champion", f"{data}/logs/part-00[0-4].parquet",
                     "--challenger", f"{data}/logs/part-00[5-9].parquet", "--actuals", f"{data}/actuals", "--key", keys],
}
for name, args in runs.items():
    start = time.monotonic()
    child = subprocess.Popen([warden, *args, "--format", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    stdout = child.stdout.read()
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would keep the largest so far).
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    rss = usage.ru_maxrss / 1024
    code = os.waitstatus_to_exitcode(status)
    out = json.loads(stdout or b"{}")
    detail = {
        "evaluate --by model_version": lambda o: f"rows {o.get('evaluated')}, wape by version " + ", ".join(
            f"{g['group']}: {g['accuracy']['wape']['value']:.4f}" for g in o.get("groups", [])),
        "compare (half vs half)": lambda o: f"drifted {[c['name'] for c in o['drift']['columns'] if c['drifted']]}",
        "validate --reference": lambda o: f"ok {o.get('ok')}, {len(o.get('checks', []))} checks",
        "rollout gate": lambda o: f"decision {o.get('decision')}, change {o['accuracy']['relative_change']:+.3f}",
    }[name]
    try:
        said = detail(out)
    except Exception as error:  # a failed run prints its error document instead
        said = json.dumps(out)[:300]
    print(f"{name}: wall {wall:.2f} s, peak RSS {rss:.0f} MB, exit {code}, {said}")
PY
}

case ${1:-} in
  model-quality) shift; model_quality "$@" ;;
  drift) shift; drift "$@" ;;
  drift-versus) shift; drift_versus "$@" ;;
  console) shift; console "$@" ;;
  ingest) shift; ingest "$@" ;;
  feature-proxy) shift; feature_proxy "$@" ;;
  alert-storm) shift; alert_storm "$@" ;;
  webhook-to-action) shift; webhook_to_action "$@" ;;
  *) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
