# Rust and front-end build tools: the wasm target, cargo-leptos, wasm-bindgen-cli, wasm-opt.
# Versions are pinned to what works with rustc 1.95 (see ../shared/TOOLCHAIN.md).

CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11 needs rustc 1.96
BINARYEN_VERSION="132.0.0"      # Debian's binaryen (108) is too old for current wasm-bindgen
LIGHTHOUSE_VERSION="12.8.2"     # the benchmark's phone figures only

ensure_rust() {
  command -v cargo >/dev/null || die "cargo is not installed: install Rust 1.95 or newer (https://rustup.rs)"
  ensure_apt build-essential pkg-config python3
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
}

ensure_cargo_leptos() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
}

# The CLI must be exactly the wasm-bindgen version in Cargo.lock.
ensure_wasm_bindgen() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$REPO_ROOT/Cargo.lock")"
  [ -n "$want" ] || die "cannot find the wasm-bindgen version in Cargo.lock"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    say "Installing wasm-bindgen-cli $want"
    # Not --locked: its lock file pins a yanked webpki-roots.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_wasm_opt() {
  if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    command -v npm >/dev/null || ensure_apt nodejs npm
    say "Installing wasm-opt (npm binaryen $BINARYEN_VERSION) into $TOOLS_DIR"
    mkdir -p "$TOOLS_DIR"
    npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
}

# Lighthouse (npm) for the benchmark's phone figures, in its own directory under $TOOLS_DIR.
LIGHTHOUSE="$TOOLS_DIR/lighthouse/node_modules/.bin/lighthouse"
ensure_lighthouse() {
  if ! "$LIGHTHOUSE" --version 2>/dev/null | grep -qx "$LIGHTHOUSE_VERSION"; then
    command -v npm >/dev/null || ensure_apt nodejs npm
    say "Installing Lighthouse $LIGHTHOUSE_VERSION (npm) into $TOOLS_DIR/lighthouse"
    mkdir -p "$TOOLS_DIR/lighthouse"
    npm install --prefix "$TOOLS_DIR/lighthouse" --no-audit --no-fund --silent "lighthouse@$LIGHTHOUSE_VERSION"
  fi
}

ensure_build_tools() {
  ensure_rust
  ensure_cargo_leptos
  ensure_wasm_bindgen
  ensure_wasm_opt
}

# The release build is stamped when one of these scripts finished it. cargo-leptos regenerates the
# front end (about a minute) even when nothing changed, so the run and image scripts skip it when
# no source, and neither output, is newer than the stamp. Another build writing target/site (a
# debug `cargo leptos build`) is newer than the stamp, so it is built again.
RELEASE_STAMP="$REPO_ROOT/target/release/.flightdeck-release-build"

build_release() {
  say "Building Flightdeck (release)"
  (cd "$REPO_ROOT" && cargo leptos build --release)
  touch "$RELEASE_STAMP"
}

release_build_current() {
  local binary="$REPO_ROOT/target/release/flightdeck" wasm="$REPO_ROOT/target/site/pkg/flightdeck.wasm"
  [ -f "$RELEASE_STAMP" ] && [ -x "$binary" ] && [ -f "$wasm" ] || return 1
  [ -z "$(find "$REPO_ROOT"/{app,server}/{src,Cargo.toml} "$REPO_ROOT"/{style,public,migrations} \
            "$REPO_ROOT"/{Cargo.toml,Cargo.lock,Leptos.toml,rust-toolchain.toml} "$binary" "$wasm" \
            -newer "$RELEASE_STAMP" -print -quit)" ]
}

ensure_release_build() {
  if release_build_current; then
    say "The release build is current: not building it again"
  else
    build_release
  fi
}
