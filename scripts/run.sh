#!/usr/bin/env bash
# Installs whatever is missing, builds the release binary (unless it is current) and runs the
# console with the example configuration on the embedded SQLite database (data/flightdeck.db), with
# the demo containers on a Docker Engine: the machine's own, or one this script installs and
# starts, and stops again when the console stops.
#
#   scripts/run.sh                      # http://<this machine>:3000
#   scripts/run.sh --addr 127.0.0.1:8080
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/toolchain.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"

ensure_build_tools
cd "$REPO_ROOT"
ensure_release_build
# Nobody can sign in to a console without accounts, and there is deliberately no setup page:
# the first admin is made here, on the machine, at a terminal.
DATABASE_URL="${FLIGHTDECK_DATABASE_URL:-sqlite://data/flightdeck.db}"
if [ -z "$(target/release/flightdeck user list --database-url "$DATABASE_URL")" ]; then
  if [ -t 0 ]; then
    say "No accounts yet: create the first admin (the name is 'admin')"
    target/release/flightdeck user add admin --role admin --database-url "$DATABASE_URL"
  else
    say "No accounts yet. Create the first admin with:"
    say "  target/release/flightdeck user add admin --role admin"
  fi
fi
# The demo: the example configuration's containers run small local images (1.0.0 and 1.1.0
# healthy, 1.2.0 broken on purpose) on the Docker Engine, installed and started as the test
# command does when none answers. If that fails the console still starts, and its dashboard says
# which engine it cannot reach. An engine started here is stopped when the console stops.
trap stop_docker_engine EXIT
if start_docker_engine; then
  say "Setting up the demo containers (flightdeck demo; remove them with: target/release/flightdeck demo --remove --config flightdeck.example.toml)"
  target/release/flightdeck demo --config flightdeck.example.toml ||
    say "The demo could not be set up (above); the console starts anyway"
else
  say "No Docker Engine could be started (above): starting without the demo containers"
fi
say "Starting Flightdeck with flightdeck.example.toml (Ctrl-C stops it)"
target/release/flightdeck serve --config flightdeck.example.toml "$@"
