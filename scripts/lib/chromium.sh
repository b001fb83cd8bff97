# Headless Chromium and the matching chromedriver for the browser tests (Debian packages).

ensure_chromium() {
  ensure_apt chromium chromium-driver
  command -v chromedriver >/dev/null || die "chromedriver is not on PATH after installing chromium-driver"
}
