"""`dmarcflow ingest`, `reports`, `rejected`, `reprocess`."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from dmarcflow.answers import rows_answer
from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import FC, format_option, to_csv, to_json, to_table
from dmarcflow.cli.window import read_window, window_options
from dmarcflow.enrich import Enricher
from dmarcflow.errors import StoreError
from dmarcflow.ingest import MAX_JOBS, Ingestor, InputOutcome, jobs_for, list_inputs
from dmarcflow.kinds.registry import NAMES
from dmarcflow.listing import REPORT_STATUSES, list_rejected, list_reports, rejected_raw
from dmarcflow.store import Store

OUTCOME_COLUMNS = ("path", "status", "reason", "reports", "records", "messages")


@contextmanager
def open_ingestor(app: AppContext, offline: bool) -> Iterator[Ingestor]:
    settings = app.settings
    if offline:
        settings = replace(settings, enrichment=replace(settings.enrichment, offline=True))
        app.replace_settings(settings)
    enricher = Enricher(settings.enrichment)  # a bad ip_db is a config error before any store is made
    try:
        store = app.open_store()
    except BaseException:
        enricher.close()
        raise
    try:
        ingestor = Ingestor(store, enricher, settings.limits, keep_failure_samples=settings.failure_reports.keep_samples)
        ingestor.complete_enrichment()  # what an interrupted run left without its IP facts
        yield ingestor
    finally:
        enricher.close()
        store.close()


@contextmanager
def outcomes_even_on_store_failure(outcomes: list[InputOutcome], fmt: str) -> Iterator[None]:
    """When the store fails part-way (disk full, I/O error), the outcomes so far are still printed, then the error."""
    try:
        yield
    except StoreError:
        if outcomes or fmt != "table":  # a program still gets valid JSON or CSV
            print_outcomes(outcomes, fmt)
        raise


def print_outcomes(outcomes: list[InputOutcome], fmt: str) -> None:
    rows = [[o.as_dict()[c] for c in OUTCOME_COLUMNS] for o in outcomes]
    if fmt == "json":
        click.echo(to_json([o.as_dict() for o in outcomes]))
    elif fmt == "csv":
        click.echo(to_csv(OUTCOME_COLUMNS, rows), nl=False)
    else:
        if outcomes:
            click.echo(to_table(OUTCOME_COLUMNS, rows, max_width=120))
        click.echo(summary_line(outcomes), err=True)


def summary_line(outcomes: list[InputOutcome]) -> str:
    by_status = Counter(o.status for o in outcomes)
    parts = [f"{by_status[s]} {s}" for s in ("ingested", "duplicate", "conflict", "rejected") if by_status[s]]
    messages = sum(o.messages for o in outcomes if o.status in ("ingested", "conflict"))
    text = f"{len(outcomes)} input(s): " + (", ".join(parts) or "nothing found") + f"; {messages} new message(s) stored"
    if by_status["rejected"]:
        text += " (see `dmarcflow rejected` for the reasons)"
    return text


def exit_code_for(outcomes: list[InputOutcome]) -> int:
    return EXIT_FAILED if any(o.status == "rejected" for o in outcomes) else 0


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--offline", is_flag=True, help="No reverse DNS lookups (country and AS still come from the local database).")
@click.option("--jobs", type=click.IntRange(1, MAX_JOBS), default=None, metavar="N",
              help=f"Worker processes that read and parse files in parallel, 1-{MAX_JOBS} (default: the number "
                   "of cores); this process stores them. 1: everything in this process.")
@format_option()
@click.pass_obj
def ingest(app: AppContext, paths: tuple[str, ...], offline: bool, jobs: int | None, fmt: str) -> None:
    """Store every DMARC aggregate report found in PATHS.

    PATHS may be report files (xml, gz, zip, nested), .eml messages, mbox files
    or folders (read recursively). Running it twice changes nothing.
    Exit code 1 when any input was rejected.
    """
    files = list_inputs(paths)
    outcomes: list[InputOutcome] = []
    workers = jobs_for(jobs, files)
    with open_ingestor(app, offline) as ingestor, outcomes_even_on_store_failure(outcomes, fmt), \
            _progress(files) as bar:
        # an outcome is kept once its commit is done
        ingestor.ingest_files(bar, outcomes.extend, jobs=workers, enrichment=app.settings.enrichment)
    print_outcomes(outcomes, fmt)
    sys.exit(exit_code_for(outcomes))


@contextmanager
def _progress(files: list[str]) -> Iterator[Iterable[str]]:
    if sys.stderr.isatty() and len(files) > 1:
        with click.progressbar(files, label="Ingesting", file=sys.stderr) as bar:
            yield bar
    else:
        yield files


def paging_options(f: FC) -> FC:
    f = click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many rows first.")(f)
    return click.option("--limit", type=click.IntRange(min=0), help="At most this many rows (default: all).")(f)


@main.command()
@click.option("--domain", help="Only reports for this policy domain.")
@click.option("--kind", type=click.Choice(NAMES), help="Only reports of this kind (default: every kind).")
@click.option("--status", type=click.Choice(REPORT_STATUSES), help="Only active reports, or only conflicting versions.")
@window_options
@paging_options
@format_option()
@click.pass_obj
def reports(app: AppContext, domain: str | None, kind: str | None, status: str | None, since: str | None,
            until: str | None, limit: int | None, offset: int, fmt: str) -> None:
    """List stored reports of every kind, oldest first (--since/--until select by the UTC day a report begins)."""
    first, last = read_window(since, until)
    with app.open_store_readonly() as store:
        rows = list_reports(store, domain, first, last, status, limit=limit, offset=offset, kind=kind)
    columns: tuple[str, ...] = ("id", "org_name", "domain", "begin", "records", "messages", "status")
    if any(r.kind != NAMES[0] for r in rows):  # a store of aggregate reports only keeps its table as it was
        columns = ("kind", *columns)
    if fmt == "json":
        click.echo(to_json(rows_answer(rows)))
    elif fmt == "csv":
        click.echo(to_csv(list(rows[0].as_dict()) if rows else columns, [list(r.as_dict().values()) for r in rows]), nl=False)
    elif not rows:
        click.echo("No reports stored" + (f" for {domain}." if domain else "."), err=True)
    else:
        click.echo(to_table(columns, [[getattr(r, c) for c in columns] for r in rows]))


@main.command()
@click.option("--save", "save_id", type=int, help="Write the kept raw bytes of rejected input ID to --output.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="File for --save.")
@paging_options
@format_option()
@click.pass_obj
def rejected(app: AppContext, save_id: int | None, output: str | None, limit: int | None, offset: int,
             fmt: str) -> None:
    """List rejected inputs with their reasons (their raw bytes are kept; the same bytes again count as seen again)."""
    if save_id is not None:
        target = _output_file(output)
        with app.open_store_readonly() as store:
            _save_raw(store, save_id, target)
        return
    with app.open_store_readonly() as store:
        rows = list_rejected(store, limit=limit, offset=offset)
    columns = ("id", "input", "reason", "seen_count", "message")
    if fmt == "json":
        click.echo(to_json(rows_answer(rows)))
    elif fmt == "csv":
        click.echo(to_csv(columns, [[getattr(r, c) for c in columns] for r in rows]), nl=False)
    elif not rows:
        click.echo("Nothing was rejected.", err=True)
    else:
        click.echo(to_table(columns, [[getattr(r, c) for c in columns] for r in rows], max_width=120))


def _output_file(output: str | None) -> Path:
    """Checked before the store is read: --output must name a file in a folder that exists."""
    if not output:
        raise click.UsageError("--save needs --output FILE")
    target = Path(output)
    if not target.parent.is_dir():
        raise click.BadParameter(f"the folder {target.parent} does not exist: create it or choose another file",
                                 param_hint="--output")
    return target


def _save_raw(store: Store, save_id: int, output: Path) -> None:
    data = rejected_raw(store, save_id)
    if data is None:
        raise click.ClickException(f"no raw bytes kept for rejected input {save_id} "
                                   "(unknown id, or the file was too large to keep)")
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {len(data)} bytes to {output}", err=True)


@main.command(name="reprocess")
@click.pass_obj
def reprocess_cmd(app: AppContext) -> None:
    """Re-parse every stored report (every kind) from what was kept (after an upgrade)."""
    from dmarcflow.reprocess import reprocess  # here: `ingest` (this module's main command) does not need it

    with app.open_store(create=False) as store:
        result = reprocess(store)
    lines = [r.text for r in result.kinds.values() if r.reports or r.skipped]
    click.echo("\n".join(lines or [next(iter(result.kinds.values())).text]), err=True)
