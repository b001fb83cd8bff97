#!/usr/bin/env bash
# Builds the console's container image: the release binary, the few shared libraries it links
# (glibc's), and its site, in an image FROM scratch. Nothing is pulled: there is no base image and
# no build stage, so it builds where no registry is reachable. Prints the image's size.
#
# Why not a static musl binary: building every crate a second time for musl took 12 min 50 s on
# two cores (on every clean clone, so in every CI run), and musl's allocator served a third fewer
# dashboards a second. The binary links only libc, libm, libgcc_s and the loader, so copying
# those is as self-contained, for about 3 MB.
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
ensure_apt ca-certificates
trap stop_docker_engine EXIT
ensure_docker_engine

ensure_release_build

# The image's file system, staged under target/image (the only part of the repository the
# Dockerfile's context sends: see .dockerignore).
STAGE="$REPO_ROOT/target/image"
rm -rf "$STAGE"
mkdir -p "$STAGE/root/usr/local/bin" "$STAGE/root/usr/local/share/flightdeck" \
  "$STAGE/root/etc/ssl/certs" "$STAGE/root/etc/flightdeck" "$STAGE/root/tmp" "$STAGE/data"
cp target/release/flightdeck "$STAGE/root/usr/local/bin/flightdeck"
strip "$STAGE/root/usr/local/bin/flightdeck"
# The loader and the libraries the binary links, at the paths it looks for them (-h: the files,
# not their symlinks).
libs="$(ldd target/release/flightdeck |
        awk '$2 == "=>" && $3 ~ /^\// { print substr($3, 2) } $1 ~ /^\// { print substr($1, 2) }')"
# shellcheck disable=SC2086 # one path per word
tar -C / -ch $libs | tar -C "$STAGE/root" -x
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
