"""cProfile of dmarcflow's side of a stage: ``python -m benchmarks.profile TARGET``.

Targets: parse, ingest (the Google-style report), ingest-distinct (a distinct source IP per record),
backfill (the year of small reports from their folder, as ``ingest DIR`` does it), es-build, summary,
and startup / startup-ingest (``python -X importtime`` of ``dmarcflow --help`` / of an ingest of a
100-record report, by module).
Prints the top functions by own time, to say what limits a figure (measured, not guessed); ``--out``
writes the same text to a file too (benchmarks/profiles/ keeps the ones the README cites).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import sysconfig
import tempfile
from pathlib import Path

from benchmarks.inputs import big_report


def _parse(path: Path, _workdir: Path) -> None:
    from dmarcflow.parse import parse_report

    with open(path, "rb") as fh:
        for _ in parse_report(fh).records:
            pass


def _ingestor(db: Path):
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store.sqlite import Store

    return Ingestor(Store.open(str(db)), Enricher(EnrichmentSettings(offline=True)), Limits())


def _ingest(path: Path, workdir: Path) -> None:
    for _ in _ingestor(workdir / "profile.db").ingest_file(str(path)):
        pass


def _backfill(cache: Path, workdir: Path, seed: int, reports: int):
    from benchmarks.year import YearShape, year

    data = year(cache, seed, YearShape(reports=reports))  # generated (or found) before the profiler starts
    ingestor = _ingestor(workdir / "profile.db")  # a new store each time: the temporary folder
    files = sorted(str(p) for p in data.folder.iterdir())

    def work() -> None:
        ingestor.ingest_files(files, lambda outcomes: None)  # as `ingest DIR` does it: group commits

    return work


def _es_build(path: Path, workdir: Path):
    """Building the ECS documents a sync sends (no node needed): the client-side cost of indexing."""
    from dmarcflow.index import outbox
    from dmarcflow.index.document import DocumentBuilder
    from benchmarks.stages.es import _after_enrichment_grace

    ingestor = _ingestor(workdir / "profile.db")
    list(ingestor.ingest_file(str(path)))
    rows = outbox.pending(ingestor.store, "profile", 0, 10**9, _after_enrichment_grace())

    def build() -> list[tuple[str, dict]]:
        builder = DocumentBuilder()  # one per pass, as the sync makes it
        return [(builder.document_id(r), builder.document(r)) for r in rows]

    return build


def _summary(db: Path):
    from dmarcflow.analysis import summarise
    from dmarcflow.store.sqlite import Store

    store = Store.open_readonly(str(db))  # as `dmarcflow summary` opens it
    return lambda: summarise(store, ["example.com"])


TARGETS = {"parse": _parse, "ingest": _ingest, "ingest-distinct": _ingest, "backfill": _backfill,
           "es-build": _es_build, "summary": _summary}


def _prepare(args: argparse.Namespace, workdir: Path):
    """The callable to profile; its setup (generating, ingesting) is not profiled."""
    if args.target == "summary":
        return _summary(Path(args.db))
    if args.target == "backfill":
        return _backfill(Path(args.workdir) if args.workdir else workdir, workdir, args.seed, args.reports)
    path = workdir / "report.xml"
    big_report(path, args.records, args.seed, distinct_ips=args.target == "ingest-distinct")
    if args.target == "es-build":
        return _es_build(path, workdir)
    work = TARGETS[args.target]
    return lambda: work(path, workdir)


def short_paths(line: str) -> str:
    """Paths relative to the checkout, the standard library and site-packages (no machine's folders)."""
    paths = sysconfig.get_paths()
    for prefix, short in ((paths["purelib"], "<site-packages>"), (paths["stdlib"], "<stdlib>"),
                          (str(Path(__file__).resolve().parent.parent), "")):
        line = line.replace(prefix + "/", short + ("/" if short else ""))
    return line


def import_profile(top: int, argv: tuple[str, ...] = ("--help",), what: str = "dmarcflow --help") -> str:
    """Where a command spends its start-up: ``python -X importtime``, by module, cumulative.

    Each third-party package is counted once, at its first import; dmarcflow's own modules are listed
    by name, so the list says which command module pulls in which dependency.
    """
    import re
    import subprocess

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "dmarcflow", *argv], capture_output=True,
                          text=True, check=True)
    found = re.finditer(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", done.stderr)
    rows = [(int(m[2]), len(m[3]) == 1, m[4]) for m in found]
    seen: dict[str, int] = {}
    for micros, _, name in rows:
        if (name.startswith("dmarcflow") or "." not in name) and name not in seen:
            seen[name] = micros
    total = sum(micros for micros, outermost, _ in rows if outermost)
    lines = [f"{what}, python -X importtime: top {top} modules by cumulative import time "
             f"(all imports together {total / 1e3:.0f} ms)"]
    for name, micros in sorted(seen.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{micros / 1e3:8.1f} ms  {name}")
    return "\n".join(lines)


def ingest_import_profile(top: int, seed: int) -> str:
    """``import_profile`` of ``dmarcflow ingest --offline`` of a 100-record report into a new store."""
    with tempfile.TemporaryDirectory(prefix="dmarcflow-profile-") as tmp:
        report, db = Path(tmp) / "report.xml", Path(tmp) / "store.db"
        big_report(report, 100, seed)
        argv = ("--db", str(db), "ingest", "--offline", "--format", "json", str(report))
        return import_profile(top, argv, "dmarcflow ingest --offline of a 100-record report")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted([*TARGETS, "startup", "startup-ingest"]))
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--db", help="summary: the store to summarise (e.g. one kept with --summary-db)")
    ap.add_argument("--reports", type=int, default=6_000, help="backfill: reports in the year")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="backfill: where the year is cached (as the runner's --workdir)")
    ap.add_argument("--out", help="also write the profile text to this file")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    args = ap.parse_args(argv)
    if args.target == "summary" and not args.db:
        ap.error("summary needs --db")
    if args.target == "startup":
        return _write(import_profile(args.top), args.out)
    if args.target == "startup-ingest":
        return _write(ingest_import_profile(args.top, args.seed), args.out)
    with tempfile.TemporaryDirectory(prefix="dmarcflow-profile-") as tmp:
        workdir = Path(tmp)
        profiler = cProfile.Profile()
        profiler.runcall(_prepare(args, workdir))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
    stats.print_stats(args.top)
    what = {"summary": f"store {args.db}", "backfill": f"a year of {args.reports:,} small reports"}.get(
        args.target, f"{args.records:,} records")
    text = f"{args.target}, {what}, top {args.top} by {args.sort}:\n" + "\n".join(
        short_paths(line) for line in out.getvalue().splitlines() if line.strip())
    return _write(text, args.out)


def _write(text: str, out: str | None) -> int:
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
