#!/usr/bin/env bash
# Installs whatever is missing and runs the whole suite:
#   formatting, clippy (server build and browser build, separately), unit and integration tests
#   against real SQLite, PostgreSQL, Docker Engine and moto (the ECS API), the release build, and
#   browser tests in headless Chromium, and the container image on the Docker Engine.
# Ends with one summary line: "summary: N passed, N failed, N skipped".
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/toolchain.sh"
source "$REPO_ROOT/scripts/lib/postgres.sh"
source "$REPO_ROOT/scripts/lib/chromium.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
source "$REPO_ROOT/scripts/lib/moto.sh"

cd "$REPO_ROOT"
LOG="$(mktemp /tmp/flightdeck-test-log.XXXXXX)"
step() { say "$*"; }

# Runs a cargo test command, keeping its output for the summary.
run_tests() {
  "$@" 2>&1 | tee -a "$LOG"
}

summary() {
  # cargo prints one "test result:" line per test binary.
  awk '/^test result:/ {
         for (i = 1; i <= NF; i++) {
           if ($(i+1) ~ /^passed/) p += $i
           if ($(i+1) ~ /^failed/) f += $i
           if ($(i+1) ~ /^ignored/) s += $i
         }
       }
       END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$LOG"
}

# The summary is printed on failure too, so a red run still says how far the tests got.
cleanup() {
  local status=$?
  summary
  stop_test_postgres
  stop_test_moto
  stop_docker_engine
  rm -f "$LOG"
  exit "$status"
}
trap cleanup EXIT

step "Setting up tools"
ensure_build_tools
ensure_chromium
# The HTTPS tests make a certificate with openssl and talk to the console with curl.
ensure_apt openssl curl

step "cargo fmt --check"
cargo fmt --all --check

step "clippy: server build (ssr)"
cargo clippy --locked -p flightdeck-app -p flightdeck-server -p flightdeck-end2end \
  --features flightdeck-app/ssr --all-targets -- -D warnings

step "clippy: browser build (hydrate, wasm32)"
cargo clippy --locked -p flightdeck-app --features hydrate --target wasm32-unknown-unknown \
  -- -D warnings

start_test_postgres
start_test_moto
ensure_docker_engine

step "Unit and integration tests (SQLite, PostgreSQL, Docker Engine, moto)"
run_tests cargo test --locked -p flightdeck-app -p flightdeck-server --features flightdeck-app/ssr

step "The ECS example (examples/ecs) as ECS and IAM take it, on moto"
"$MOTO_VENV/bin/python" scripts/check/ecs_example.py

step "Release build (cargo leptos build --release)"
build_release

step "Browser tests (headless Chromium)"
FLIGHTDECK_E2E_BIN="$REPO_ROOT/target/release/flightdeck" \
  run_tests cargo test --locked -p flightdeck-end2end --test browser -- --test-threads=1

step "Container image (scripts/image.sh) and its tests on the Docker Engine"
# Debian's docker-compose (1.29) runs examples/compose; no registry is needed for it either.
ensure_apt docker-compose
ensure_postgres_image
bash scripts/image.sh flightdeck:test
FLIGHTDECK_E2E_BIN="$REPO_ROOT/target/release/flightdeck" FLIGHTDECK_IMAGE=flightdeck:test \
  FLIGHTDECK_TEST_POSTGRES_IMAGE="$POSTGRES_TEST_IMAGE" \
  run_tests cargo test --locked -p flightdeck-end2end --test image
