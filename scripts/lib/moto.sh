# moto's ECS API on loopback, for the ECS adapter's tests: no AWS endpoint is reachable here, and
# moto is a real server the real aws-sdk-ecs client talks to. It is installed into a virtualenv
# in the tools cache (reused by later clones) and started by us, so stopped by us.

MOTO_SPEC='moto[server]>=5.1,<5.3'
MOTO_VENV="$TOOLS_DIR/moto-venv"
MOTO_PID=""
MOTO_LOG=/tmp/flightdeck-moto.log

ensure_moto() {
  [ -x "$MOTO_VENV/bin/moto_server" ] && return 0
  say "Installing moto ($MOTO_SPEC) into $MOTO_VENV"
  mkdir -p "$TOOLS_DIR"
  if ! python3 -m venv "$MOTO_VENV" >/dev/null 2>&1; then
    # Debian's python3 makes virtualenvs only with python3-venv.
    rm -rf "$MOTO_VENV"
    ensure_apt python3-venv
    python3 -m venv "$MOTO_VENV"
  fi
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "$MOTO_SPEC"
}

# Starts moto on a free loopback port and exports FLIGHTDECK_TEST_MOTO_URL.
start_test_moto() {
  ensure_moto
  local port
  port="$(free_port)"
  say "Starting moto (the ECS API) on 127.0.0.1:$port"
  "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/moto-api/"; then
      export FLIGHTDECK_TEST_MOTO_URL="http://127.0.0.1:$port"
      # moto takes any credentials; the tests' ECS clients find these through the standard
      # chain, as the console would find real ones.
      export AWS_ACCESS_KEY_ID=flightdeck-test AWS_SECRET_ACCESS_KEY=flightdeck-test
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.2
  done
  die "moto did not start; see $MOTO_LOG"
}

stop_test_moto() {
  [ -n "$MOTO_PID" ] || return 0
  kill "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=""
}
