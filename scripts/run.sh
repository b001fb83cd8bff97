#!/usr/bin/env bash
# Installs whatever is missing, builds the release binary and runs the console with the example
# configuration on the embedded SQLite database (data/flightdeck.db).
#
#   scripts/run.sh                      # http://<this machine>:3000
#   scripts/run.sh --addr 127.0.0.1:8080
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/toolchain.sh"

ensure_build_tools
cd "$REPO_ROOT"
say "Building Flightdeck (release)"
cargo leptos build --release
say "Starting Flightdeck with flightdeck.example.toml (Ctrl-C stops it)"
exec target/release/flightdeck serve --config flightdeck.example.toml "$@"
