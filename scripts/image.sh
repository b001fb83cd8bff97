#!/usr/bin/env bash
# Builds the console's container image: a statically linked (musl) release binary and its site in
# an image FROM scratch. Nothing is pulled: there is no base image and no build stage, so it builds
# where no registry is reachable. Prints the image's size.
#
#   scripts/image.sh                  # flightdeck:<version> and flightdeck:latest
#   scripts/image.sh flightdeck:test  # one tag of your choosing
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/toolchain.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"

cd "$REPO_ROOT"
VERSION="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
TAGS=("${1:-flightdeck:$VERSION}")
[ $# -eq 0 ] && TAGS+=("flightdeck:latest")

ensure_build_tools
ensure_musl_target
ensure_apt ca-certificates
trap stop_docker_engine EXIT
ensure_docker_engine

# The site (wasm, JS, CSS) is the same for every server target; the binary is built for musl.
ensure_release_build
say "Building the static binary ($MUSL_TARGET)"
cargo build --locked --release --target "$MUSL_TARGET" -p flightdeck-server --bin flightdeck

# The image's file system, staged under target/image (the only part of the repository the
# Dockerfile's context sends: see .dockerignore).
STAGE="$REPO_ROOT/target/image"
rm -rf "$STAGE"
mkdir -p "$STAGE/root/usr/local/bin" "$STAGE/root/usr/local/share/flightdeck" \
  "$STAGE/root/etc/ssl/certs" "$STAGE/root/etc/flightdeck" "$STAGE/root/tmp" "$STAGE/data"
cp "target/$MUSL_TARGET/release/flightdeck" "$STAGE/root/usr/local/bin/flightdeck"
strip "$STAGE/root/usr/local/bin/flightdeck"
cp -r target/site "$STAGE/root/usr/local/share/flightdeck/site"
# The AWS SDK and chat webhooks verify TLS against the system's roots; scratch has none.
cp -L /etc/ssl/certs/ca-certificates.crt "$STAGE/root/etc/ssl/certs/"
# The runtime user's name, for tools that look it up; it owns nothing but /data.
printf 'flightdeck:x:10001:10001:Flightdeck:/data:/nonexistent\n' >"$STAGE/root/etc/passwd"
printf 'flightdeck:x:10001:\n' >"$STAGE/root/etc/group"
chmod 1777 "$STAGE/root/tmp"

say "Building the image ${TAGS[*]}"
args=()
for tag in "${TAGS[@]}"; do args+=(-t "$tag"); done
DOCKER_BUILDKIT=0 docker build --quiet --build-arg "VERSION=$VERSION" "${args[@]}" . >/dev/null
size="$(docker image inspect --format '{{.Size}}' "${TAGS[0]}")"
say "Built ${TAGS[*]}: $((size / 1024 / 1024)) MiB ($size bytes)"
