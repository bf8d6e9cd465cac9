#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then runs pytest.
# The servers the tests use are real and started by the suite itself (pytest fixtures), on loopback,
# and stopped when it ends: Dovecot (IMAP), an embedded Elasticsearch node (Java, from Maven Central),
# a DNS server (dnslib). Extra arguments go to pytest, e.g. `scripts/test.sh tests/core -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The search-engine launcher (tests/search_engine, Maven) is built on first use by its fixture.
command -v java >/dev/null && command -v mvn >/dev/null || {
    echo "test.sh: Java 17 and Maven are needed for the search-engine tests (apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
}

set +e
python3 -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
