#!/usr/bin/env bash
# Dashboard benchmark: the release binary with a generated configuration of 50 services x 3
# environments (every cell with a recorded version), loaded by wrk on loopback as a signed-in
# viewer: the dashboard at 1 and 32 connections, a service page and GET /api/v1/health at 32,
# and nginx (Debian's, started here) serving the dashboard's very bytes as a static file at 32,
# with the ratio of the two. Prints latency p50/p99 and throughput of each, the page size, the
# console's RSS idle and at its peak, the CPU 200 idle dashboards cost (their revision streams
# open for 20 s), how long a refused sign-in takes for a wrong password and an unknown account,
# the wasm bundle's size, and Lighthouse's mobile profile (scripts/bench/phone.py) on the
# dashboard, a service page and a runbook.
#
#
# Health (scripts/bench/health.py): 1,000 targets on a loopback test server probed every 10 s
# for 2 minutes by the console and then by Prometheus's blackbox exporter at the same rate;
# prints probes/s, missed intervals, CPU seconds and peak RSS of each.
#
# Deploy overhead (scripts/bench/deploy.py): on a Docker Engine (started here if none answers,
# and stopped again), the console's deploy of a demo container (switch plus health gate) against
# the same steps done with the docker CLI, run after run; prints each run and the ratio.
#
# Runbook search (scripts/bench/search.py): 1,000 generated runbooks of about 5 KB; prints
# p50/p99 of GET /runbooks?q=... per kind of query and the memory the runbooks add to the console.
#
# Notifications (scripts/bench/notify.py): 1,000 events (an incident and its notes, made through
# the API) delivered to a signed webhook receiver on loopback; prints end-to-end p50/p99 from
# the request that made each event to its arrival, and events delivered per second.
#
# Logs (scripts/bench/logs.py): on a Docker Engine (started here if none answers), a container
# writing about 5,000 lines/s followed live by 20 viewers for 20 s; prints lines/s written and
# delivered, the lag from the engine's timestamp to a viewer (p50/p99), viewers cut off, and
# the console's CPU and peak RSS.
#
#   scripts/bench.sh            # all six: 20 s per dashboard load level, 120 s of health,
#                               # 5 deploys each way, 2,000 searches, 1,000 notifications,
#                               # 20 s of logs
#   scripts/bench.sh dashboard  # or: scripts/bench.sh health, deploy, search, notify, logs
#   BENCH_SECONDS=60 HEALTH_BENCH_SECONDS=300 DEPLOY_BENCH_RUNS=10 scripts/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/toolchain.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
source "$REPO_ROOT/scripts/lib/chromium.sh"

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
HEALTH_SECONDS="${HEALTH_BENCH_SECONDS:-120}"
SERVICES=50
DEPLOY_RUNS="${DEPLOY_BENCH_RUNS:-5}"
SCENARIO="${1:-all}"
case "$SCENARIO" in
  all | dashboard | health | deploy | search | notify | logs) ;;
  *) die "unknown scenario '$SCENARIO': use dashboard, health, deploy, search, notify, logs, or nothing for all" ;;
esac

ensure_build_tools
ensure_apt wrk prometheus-blackbox-exporter nginx
ensure_chromium
ensure_lighthouse
cd "$REPO_ROOT"
say "Building the release binary"
cargo leptos build --release >/dev/null

WORK="$(mktemp -d /tmp/flightdeck-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
  stop_docker_engine
}
trap cleanup EXIT
NGINX_PID=""

deploy_bench() {
  echo
  ensure_docker_engine
  say "Deploys: $DEPLOY_RUNS by the console and $DEPLOY_RUNS with the docker CLI, alternating"
  python3 "$REPO_ROOT/scripts/bench/deploy.py" "$REPO_ROOT/target/release/flightdeck" "$WORK" \
    "$DEPLOY_RUNS"
}

if [ "$SCENARIO" = deploy ]; then
  deploy_bench
  exit 0
fi

logs_bench() {
  echo
  ensure_docker_engine
  say "Logs: ${LOGS_BENCH_SECONDS:-20} s of a container writing about 5,000 lines/s, followed by 20 viewers"
  python3 "$REPO_ROOT/scripts/bench/logs.py" "$REPO_ROOT/target/release/flightdeck" "$WORK" \
    "${LOGS_BENCH_SECONDS:-20}"
}

if [ "$SCENARIO" = logs ]; then
  logs_bench
  exit 0
fi

search_bench() {
  echo
  say "Runbook search: 1,000 generated runbooks"
  python3 "$REPO_ROOT/scripts/bench/search.py" "$REPO_ROOT/target/release/flightdeck" "$WORK" \
    "${SEARCH_BENCH_REQUESTS:-2000}"
}

if [ "$SCENARIO" = search ]; then
  search_bench
  exit 0
fi

notify_bench() {
  echo
  say "Notifications: ${NOTIFY_BENCH_EVENTS:-1000} events to a webhook on loopback"
  python3 "$REPO_ROOT/scripts/bench/notify.py" "$REPO_ROOT/target/release/flightdeck" "$WORK" \
    "${NOTIFY_BENCH_EVENTS:-1000}"
}

if [ "$SCENARIO" = notify ]; then
  notify_bench
  exit 0
fi

health_bench() {
  echo
  say "Health: ${HEALTH_SECONDS} s for the console, then ${HEALTH_SECONDS} s for the blackbox exporter"
  python3 "$REPO_ROOT/scripts/bench/health.py" "$REPO_ROOT/target/release/flightdeck" "$WORK" \
    "$HEALTH_SECONDS"
}

if [ "$SCENARIO" = health ]; then
  health_bench
  exit 0
fi

# The configuration: 3 environments, 50 services, each with a target and health URL in each.
{
  for env in dev staging production; do
    printf '[[environment]]\nname = "%s"\ndocker = {}\n' "$env"
    [ "$env" = production ] && printf 'protected = true\n'
    printf '\n'
  done
  for i in $(seq 1 "$SERVICES"); do
    printf '[[service]]\nname = "service-%02d"\ndescription = "Benchmark service number %d"\nowner = "team-%d"\n' "$i" "$i" $((i % 7))
    for env in dev staging production; do
      printf 'targets.%s = { container = "service-%02d-%s", health_url = "http://127.0.0.1:9/health/%d" }\n' "$env" "$i" "$env" "$i"
    done
    printf '\n'
  done
  # One runbook (the storefront example, about service-01) for the phone figures.
  printf '[runbooks]\ndir = "runbooks"\n'
} >"$WORK/flightdeck.toml"
mkdir -p "$WORK/runbooks"
sed 's/shop-web/service-01/g' examples/runbooks/shop-web-down.md >"$WORK/runbooks/service-01-down.md"
target/release/flightdeck check-config "$WORK/flightdeck.toml"

# A viewer account to load the dashboard as (pages need a session).
BENCH_PASSWORD="load-test-passphrase-$RANDOM$RANDOM"
for name in bench other-1 other-2 other-3 other-4; do
  printf '%s\n' "$BENCH_PASSWORD" | target/release/flightdeck user add "$name" --role viewer \
    --database-url "sqlite://$WORK/flightdeck.db" >/dev/null
done

PORT="$(free_port)"
target/release/flightdeck serve --config "$WORK/flightdeck.toml" \
  --database-url "sqlite://$WORK/flightdeck.db" --addr "127.0.0.1:$PORT" \
  2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server.log"; die "the console did not start"; }

# A version in every cell, so the page is as large as a real one.
python3 - "$WORK/flightdeck.db" "$SERVICES" <<'PY'
import sqlite3, sys, time
db, services = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
con = sqlite3.connect(db)
for i in range(1, services + 1):
    for n, env in enumerate(["dev", "staging", "production"]):
        version = f"1.{i}.{3 - n}"
        con.execute(
            "INSERT INTO version_observations (environment, service, version, image, digest, source, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, 'observed', ?, ?)",
            (env, f"service-{i:02d}", version, f"registry.example/service-{i:02d}:{version}",
             "sha256:" + f"{i:02d}{n}".ljust(64, "a"), now - 3_600_000, now))
# What the store does with each new version period, so the console reads them again.
con.execute("UPDATE change_counts SET value = value + 1 WHERE name = 'versions'")
con.commit()
PY

BASE="http://127.0.0.1:$PORT"
URL="$BASE/"

# login_seconds NAME PASSWORD -> seconds the sign-in took (argon2id verification dominates)
login_seconds() {
  curl -sS -o /dev/null -w '%{time_total}' -H "Origin: $BASE" \
    --data-urlencode "name=$1" --data-urlencode "password=$2" "$BASE/api/login"
}
# Four wrong passwords (each on its own account) and four unknown names: the same work, so
# nobody can tell which names exist from the time an answer takes. Ten failures from one
# address is the per-address allowance, so these stay below it.
WRONG_MS="$(for n in 1 2 3 4; do login_seconds "other-$n" "wrong-$n"; echo; done | awk '{ s += $1 } END { printf "%.1f", s / NR * 1000 }')"
UNKNOWN_MS="$(for n in 1 2 3 4; do login_seconds "nobody-$n" "$BENCH_PASSWORD"; echo; done | awk '{ s += $1 } END { printf "%.1f", s / NR * 1000 }')"
COOKIE="$(curl -sS -D - -o /dev/null -H "Origin: $BASE" --data-urlencode "name=bench" \
  --data-urlencode "password=$BENCH_PASSWORD" "$BASE/api/login" \
  | awk -F'[:;] *' 'tolower($1) == "set-cookie" { print $2; exit }')"
[ -n "$COOKIE" ] || die "cannot sign in to the benchmark console"

PAGE_BYTES="$(curl -fsS -H "Cookie: $COOKIE" "$URL" | wc -c)"
GZIP_BYTES="$(curl -fsS -H "Cookie: $COOKIE" -H 'Accept-Encoding: gzip' "$URL" | wc -c)"
IDLE_RSS_KB="$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")"

# nginx (Debian's) serving the very same page bytes as a static file: the machine's limit for
# a page this size, measured in the same run.
mkdir -p "$WORK/static"
curl -fsS -H "Cookie: $COOKIE" "$URL" >"$WORK/static/index.html"
chmod 755 "$WORK" "$WORK/static" && chmod 644 "$WORK/static/index.html"
NGINX_PORT="$(free_port)"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/static;
    location / { default_type text/html; }
  }
}
NGINX
/usr/sbin/nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
NGINX_PID=$!
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" 2>/dev/null && break
  sleep 0.1
done

say "Warming up"
wrk -t1 -c1 -d3s -H "Cookie: $COOKIE" "$URL" >/dev/null

# run_wrk THREADS CONNECTIONS URL -> "p50 p99 req/s non-2xx"
run_wrk() {
  wrk -t"$1" -c"$2" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" "$3" | awk '
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %s %s %s\n", p50, p99, rps, (bad == "" ? 0 : bad) }'
}

say "Dashboard: 1 connection, ${SECONDS_PER_RUN} s"
read -r P50_1 P99_1 RPS_1 BAD_1 < <(run_wrk 1 1 "$URL")
say "Dashboard: 32 connections, ${SECONDS_PER_RUN} s"
read -r P50_32 P99_32 RPS_32 BAD_32 < <(run_wrk 2 32 "$URL")
say "A service page: 32 connections, ${SECONDS_PER_RUN} s"
read -r P50_S P99_S RPS_S BAD_S < <(run_wrk 2 32 "$BASE/services/service-01")
say "GET /api/v1/health: 32 connections, ${SECONDS_PER_RUN} s"
read -r P50_H P99_H RPS_H BAD_H < <(run_wrk 2 32 "$BASE/api/v1/health")
PEAK_RSS_KB="$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")"
say "nginx, the dashboard's bytes as a static file: 32 connections, ${SECONDS_PER_RUN} s"
read -r P50_N P99_N RPS_N BAD_N < <(run_wrk 2 32 "http://127.0.0.1:$NGINX_PORT/index.html")
kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
NGINX_PID=""

# 200 open dashboards at idle: each holds its revision stream; the console's CPU over 20 s.
say "200 idle dashboards (their event streams), 20 s"
IDLE_CPU="$(python3 - "127.0.0.1" "$PORT" "$COOKIE" "$SERVER_PID" <<'PY'
import os, socket, sys, time
host, port, cookie, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
streams = []
for _ in range(200):
    s = socket.create_connection((host, port))
    s.sendall(f"GET /api/v1/dashboard/events HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
              f"Accept: text/event-stream\r\n\r\n".encode())
    streams.append(s)
for s in streams:  # each has its first event (the revision now) before the clock starts
    s.settimeout(10)
    got = b""
    while b"event: revision" not in got:
        got += s.recv(4096)
before, start = cpu_seconds(), time.monotonic()
time.sleep(20)
used, wall = cpu_seconds() - before, time.monotonic() - start
print(f"{used / wall * 100:.2f}")
PY
)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
echo
echo "Flightdeck dashboard benchmark ($SERVICES services x 3 environments, $(nproc) cores, ${SECONDS_PER_RUN} s per level)"
echo "  page size:        $PAGE_BYTES bytes ($GZIP_BYTES gzip)"
printf '  %-22s p50 %-9s p99 %-9s %10s req/s  (non-2xx: %s)\n' \
  "dashboard, 1 conn:" "$P50_1" "$P99_1" "$RPS_1" "$BAD_1" \
  "dashboard, 32 conns:" "$P50_32" "$P99_32" "$RPS_32" "$BAD_32" \
  "service page, 32:" "$P50_S" "$P99_S" "$RPS_S" "$BAD_S" \
  "/api/v1/health, 32:" "$P50_H" "$P99_H" "$RPS_H" "$BAD_H" \
  "nginx same bytes, 32:" "$P50_N" "$P99_N" "$RPS_N" "$BAD_N"
echo "  dashboard / nginx:      $(ratio "$RPS_32" "$RPS_N") (target: at least 0.1)"
echo "  RSS:                    idle $((IDLE_RSS_KB / 1024)) MiB, peak under load $((PEAK_RSS_KB / 1024)) MiB"
echo "  200 idle dashboards:    ${IDLE_CPU} % of one core (their event streams open, 20 s)"
echo "  sign-in refused:        wrong password ${WRONG_MS} ms, unknown account ${UNKNOWN_MS} ms (mean of 4 each)"
WASM="target/site/pkg/flightdeck.wasm"
echo "  wasm bundle:            $(wc -c <"$WASM") bytes, $(gzip -9 -c "$WASM" | wc -c) gzipped (target: under 250 KB gzipped)"
echo
say "Lighthouse, mobile profile: the dashboard, a service page, a runbook"
CHROME_PATH="$(command -v chromium)" LIGHTHOUSE="$LIGHTHOUSE" python3 "$REPO_ROOT/scripts/bench/phone.py" \
  "$BASE" "$COOKIE" "$WORK" / /services/service-01 /runbooks/service-01-down

if [ "$SCENARIO" = all ]; then
  # The dashboard's console is stopped first so it takes no CPU from the health run.
  kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
  health_bench
  deploy_bench
  search_bench
  notify_bench
  logs_bench
fi
