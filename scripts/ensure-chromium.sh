#!/usr/bin/env bash
# Install Debian's Chromium and its driver when missing: the audit page is tested in headless Chromium
# (tests/api/test_audit_pages_browser.py, driven by Playwright without a browser download).
# Outside CI a failed install only makes that test skip; in CI (CI=true) it is an error.
set -u
if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
fail() { echo "ensure-chromium: $1" >&2; [ "${CI:-}" = "true" ] && exit 1 || exit 0; }
command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install chromium and chromium-driver yourself"
sudo=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo; install chromium and chromium-driver yourself"
  sudo="sudo -n"
fi
echo "ensure-chromium: installing chromium and chromium-driver" >&2
$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver \
  >/dev/null || fail "apt-get install chromium chromium-driver failed"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is still missing"
