#!/bin/sh
# Install the system packages the test suite runs for real: Dovecot (IMAP server), openssl, and Chromium
# with its WebDriver (the web UI's browser tests drive Debian's chromium through chromium-driver).
# Idempotent: exits 0 without touching apt when everything is present. Debian/Ubuntu, as root (or via sudo).
# The tests start their own Dovecot instances (tests/support/dovecot.py); the package's system service is
# never used, so if installing it started that service, it is stopped again.
set -eu

PACKAGES="dovecot-imapd openssl"
# The browser is wanted but not required: where it cannot be installed, the browser tests skip with the reason.
BROWSER_PACKAGES="chromium chromium-driver"

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for package in $PACKAGES $BROWSER_PACKAGES; do
    is_installed "$package" || missing="$missing $package"
done

if [ -z "$missing" ]; then
    echo "install-system-deps: all present ($PACKAGES $BROWSER_PACKAGES)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-system-deps: missing:$missing; run as root or install sudo" >&2
    exit 1
fi

echo "install-system-deps: installing$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
required=""
for package in $PACKAGES; do
    is_installed "$package" || required="$required $package"
done
if [ -n "$required" ]; then
    # shellcheck disable=SC2086 # a list of package names
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $required
fi
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $BROWSER_PACKAGES \
    || echo "install-system-deps: WARNING: could not install $BROWSER_PACKAGES: the browser tests will be skipped" >&2

# Stop the system Dovecot if the install started it (systemd, or sysvinit when policy-rc.d allowed it).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
fi
pidfile=/run/dovecot/master.pid
if [ -f "$pidfile" ] && $SUDO kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    $SUDO kill -TERM "$(cat "$pidfile")"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -f "$pidfile" ] && $SUDO kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 1
    done
    echo "install-system-deps: stopped the system dovecot service (the tests run their own)"
fi

for package in $PACKAGES; do
    is_installed "$package" || { echo "install-system-deps: $package failed to install" >&2; exit 1; }
done
echo "install-system-deps: done"
