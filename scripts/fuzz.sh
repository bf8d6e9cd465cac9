#!/usr/bin/env bash
# A long fuzzing run of the whole per-input path (tests/core/test_fuzz.py with many more examples).
# Found examples are kept in an example database (default .hypothesis/fuzz), so a failure is replayed
# first on the next run; turn each one into a test in tests/core/test_fuzz_regressions.py.
#   scripts/fuzz.sh                       # 5,000 examples per property
#   DMARCFLOW_FUZZ_EXAMPLES=50000 scripts/fuzz.sh -k random
set -euo pipefail
cd "$(dirname "$0")/.."
export DMARCFLOW_FUZZ_PROFILE=fuzz
export DMARCFLOW_FUZZ_EXAMPLES="${DMARCFLOW_FUZZ_EXAMPLES:-5000}"
export DMARCFLOW_FUZZ_DB="${DMARCFLOW_FUZZ_DB:-.hypothesis/fuzz}"
exec "${PYTHON:-python3}" -m pytest tests/core/test_fuzz.py -p no:cacheprovider -q "$@"
