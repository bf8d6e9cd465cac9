"""Child-process entry point: ``python -m benchmarks.stage NAME 'JSON params'``.

Runs one stage function and prints its metrics as one JSON line, so that the
runner measures this process alone (see measure.py).
"""

from __future__ import annotations

import importlib
import json
import resource
import sys

from benchmarks.measure import RESULT_PREFIX

# stage name -> "module:function"; each function takes the params dict and returns metrics.
STAGES = {
    "parse-dmarcflow": "benchmarks.stages.parse:child_dmarcflow",
    "parse-parsedmarc": "benchmarks.stages.parse:child_parsedmarc",
    "ingest": "benchmarks.stages.ingest:child_ingest",
    "build-store": "benchmarks.stages.summary:child_build_store",
    "summary-library": "benchmarks.stages.summary:child_summary",
    "web-pages": "benchmarks.stages.web:child_pages",
    "web-report": "benchmarks.stages.web:child_report",
    "es-dmarcflow": "benchmarks.stages.es:child_dmarcflow",
    "es-breakdown": "benchmarks.stages.es:child_breakdown",
    "es-parsedmarc": "benchmarks.stages.es:child_parsedmarc",
    "imap-parsedmarc": "benchmarks.stages.imap:child_parsedmarc",
    "hostile": "benchmarks.stages.hostile:child_hostile",
    "backfill-parsedmarc": "benchmarks.stages.backfill:child_parsedmarc",
    "growth": "benchmarks.stages.growth:child_growth",
}


def main(argv: list[str]) -> int:
    name, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    module, function = STAGES[name].split(":")
    metrics = getattr(importlib.import_module(module), function)(params)
    metrics["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT_PREFIX + json.dumps(metrics), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
