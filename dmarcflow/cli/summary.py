"""`dmarcflow summary` and `dmarcflow senders`: thin commands over dmarcflow.analysis."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import date, datetime, timezone

import click

from dmarcflow.answers import domain_name, senders_answer, summary_answer
from dmarcflow.analysis import VIEWS, DomainSummary, Source, has_data, list_sources, summarise
from dmarcflow.analysis.window import WindowError, check_order, parse_since, parse_until
from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json
from dmarcflow.models import SOURCE_CLASSES

WIDTH = 80
SOURCE_CSV = ("ip", "sender", "reverse_dns", "country", "asn", "as_name", "messages", "dmarc_pass", "dmarc_fail",
              "spf_aligned", "dkim_aligned", "class", "approved", "approved_by", "verdict", "explanation")
SUMMARY_CSV = ("domain", "messages", "dmarc_pass", "dmarc_fail", "spf_aligned", "dkim_aligned", "disposition_none",
               "disposition_quarantine", "disposition_reject", "reports", "reporters", "begin", "end", "sources",
               "unauthorised", "legitimate_messages", "legitimate_failing", "quarantine_share", "reject_share",
               "recommendation")


def window_options(f):
    f = click.option("--until", metavar="DATE", help="Last UTC day included (YYYY-MM-DD).")(f)
    return click.option("--since", metavar="30d|DATE",
                        help="First UTC day: N days (Nd) or weeks (Nw) back from today, or YYYY-MM-DD.")(f)


def view_option(f):
    return click.option("--view", type=click.Choice(VIEWS), default="ip", show_default=True,
                        help="One row per sending IP, or per sender (service, rDNS base domain or AS).")(f)


def read_window(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    try:
        first, last = parse_since(since), parse_until(until)
        check_order(first, last)
    except WindowError as exc:
        raise click.UsageError(str(exc)) from None
    return first, last


@main.command()
@click.argument("domains", nargs=-1)
@window_options
@view_option
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many top sources to list per domain (0: all).")
@click.option("--backend", type=click.Choice(("sqlite", "elasticsearch")), default="sqlite", show_default=True,
              help="Answer from the SQLite store or from the search index ([elasticsearch] url).")
@format_option()
@click.pass_obj
def summary(app: AppContext, domains: tuple[str, ...], since: str | None, until: str | None,
            view: str, top: int, backend: str, fmt: str) -> None:
    """Per policy domain: volumes, alignment, dispositions, sources, unauthorised senders, readiness.

    With no DOMAIN, every domain with reports in the period. Exit code 0 even
    when there is no data (a message says so on stderr).
    """
    first, last = read_window(since, until)
    if backend == "elasticsearch":
        result = _summarise_from_index(app, domains, first, last, view, top)
    else:
        with app.open_store_readonly() as store:
            result = summarise(store, domains, first, last, app.settings.approved, view=view, top=top)
    _report_missing(domains, result)
    if fmt == "json":
        click.echo(to_json(summary_answer(result)))
    elif fmt == "csv":
        click.echo(to_csv(SUMMARY_CSV, [_summary_csv_row(s) for s in result]), nl=False)
    elif result:
        click.echo("\n\n".join(render_summary(s, view) for s in result))


def _summarise_from_index(app: AppContext, domains, first, last, view: str, top: int) -> list[DomainSummary]:
    from dmarcflow.errors import ConfigError
    from dmarcflow.index.elastic import make_client
    from dmarcflow.index.query import summarise_from_index

    es = app.settings.elasticsearch
    if not es.url:
        raise ConfigError("--backend elasticsearch needs [elasticsearch] url (or DMARCFLOW_ELASTICSEARCH_URL)")
    with make_client(es) as client:
        return summarise_from_index(client, es, domains, first, last, app.settings.approved, view=view, top=top)


@main.command()
@click.argument("domain")
@click.option("--class", "klass", type=click.Choice(SOURCE_CLASSES), help="Only sources of this class.")
@window_options
@view_option
@format_option()
@click.pass_obj
def senders(app: AppContext, domain: str, klass: str | None, since: str | None, until: str | None,
            view: str, fmt: str) -> None:
    """Every source that sent mail as DOMAIN, with its class and the reason for it."""
    first, last = read_window(since, until)
    with app.open_store_readonly() as store:
        found = has_data(store, domain, first, last)
        sources = list_sources(store, domain, first, last, app.settings.approved, klass, view)
    name = domain_name(domain)
    if not found:
        click.echo(f"No data for {name} in this period.", err=True)
    if fmt == "json":
        click.echo(to_json(senders_answer(name, sources)))
    elif fmt == "csv":
        click.echo(to_csv(SOURCE_CSV, [_source_csv_row(s) for s in sources]), nl=False)
    elif found:
        title = f"{len(sources)} {klass + ' ' if klass else ''}source(s) sending as {name}"
        click.echo("\n".join([title, ""] + source_table(sources, view, details=True)))


def _report_missing(domains: Sequence[str], result: Sequence[DomainSummary]) -> None:
    present = {s.domain for s in result}
    for name in dict.fromkeys(d.strip().lower().rstrip(".") for d in domains):
        if name not in present:
            click.echo(f"No data for {name} in this period.", err=True)
    if not domains and not result:
        click.echo("No data in this period.", err=True)


# ---------------------------------------------------------------- rendering


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_summary(s: DomainSummary, view: str) -> str:
    lines = [f"{s.domain}: {_n(s.messages)} messages in {s.reports} report(s) from {s.reporters} reporter(s)",
             f"period {_day(s.begin_ts)} to {_day(s.end_ts)} (UTC days)", _policy_line(s), ""]
    lines += _figures(s)
    shown = f"top {len(s.sources)} of {s.source_count}" if len(s.sources) < s.source_count else str(s.source_count)
    lines += ["", f"Sources ({shown}, by {view})"] + source_table(s.sources, view, details=False)
    lines += ["", f"Unauthorised senders ({len(s.unauthorised)})"]
    lines += source_table(s.unauthorised, view, details=True) if s.unauthorised else ["  none"]
    lines += [""] + _readiness_lines(s)
    return "\n".join(lines)


def _day(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).date().isoformat()


def _policy_line(s: DomainSummary) -> str:
    p = s.policy
    if p is None:
        return "no policy"
    parts = [f"p={p.p}"] + [f"{k}={v}" for k, v in (("sp", p.sp), ("np", p.np)) if v]
    parts += [f"adkim={p.adkim}", f"aspf={p.aspf}"] + ([f"pct={p.pct}"] if p.pct is not None else [])
    return "policy " + " ".join(parts)


def _figures(s: DomainSummary) -> list[str]:
    rows = [("DMARC pass", s.dmarc_pass), ("DMARC fail", s.dmarc_fail), ("SPF aligned", s.spf_aligned),
            ("DKIM aligned", s.dkim_aligned)]
    rows += [(f"disposition {k}", v) for k, v in s.dispositions.items()]
    rows += [(f"class {k}", s.classes.get(k, 0)) for k in SOURCE_CLASSES]
    width = max(len(_n(s.messages)), len("messages"))
    out = [f"{'':<24}{'messages':>{width}}  {'share':>6}"]
    out += [f"{label:<24}{_n(value):>{width}}  {_pct(value, s.messages):>6}" for label, value in rows]
    return out


def _readiness_lines(s: DomainSummary) -> list[str]:
    r = s.readiness
    out = [f"Readiness: {_n(r.legitimate_messages)} legitimate message(s), {_n(r.legitimate_failing)} failing DMARC"]
    for sc in (r.quarantine, r.reject):
        out.append(f"  if p={sc.policy}: {_n(sc.quarantined)} quarantined, {_n(sc.rejected)} rejected"
                   f" ({sc.share:.1%} of legitimate mail)")
    out += textwrap.wrap("Recommendation: " + r.recommendation, WIDTH, subsequent_indent="  ")
    return out


def source_table(sources: Sequence[Source], view: str, details: bool) -> list[str]:
    """An 80-column table; with details, each row is followed by its explanation and verdict."""
    keys = [s.ip if view == "ip" else _cut(s.sender, 30) for s in sources]
    key_w = max([len("IP" if view == "ip" else "sender")] + [len(k or "") for k in keys])
    num_w = max([len("messages")] + [len(_n(s.messages)) for s in sources])
    fixed = key_w + 2 + num_w + 2 + 6 + 2 + len("misconfigured")
    second = "sender" if view == "ip" else "IPs"
    room = WIDTH - fixed - 2
    second_w = min(max([len(second)] + [len(_second(s, view)) for s in sources]), room)
    show_second = room >= max(len(second), 6 if view == "ip" else 3)
    head = [("IP" if view == "ip" else "sender").ljust(key_w)]
    align = str.ljust if view == "ip" else str.rjust  # sender view: a count of IPs
    if show_second:
        head.append(align(second, second_w))
    head += ["messages".rjust(num_w), "pass".rjust(6), "class"]
    lines = ["  ".join(head), "  ".join("-" * len(h) for h in head[:-1]) + "  " + "-" * 13]
    for key, s in zip(keys, sources):
        cells = [(key or "").ljust(key_w)]
        if show_second:
            cells.append(align(_cut(_second(s, view), second_w), second_w))
        cells += [_n(s.messages).rjust(num_w), _pct(s.dmarc_pass, s.messages).rjust(6), s.klass]
        lines.append("  ".join(cells))
        if details:
            text = s.explanation + "." + _verdict(s)
            lines += textwrap.wrap(text, WIDTH, initial_indent="    ", subsequent_indent="    ")
    return lines


def _second(s: Source, view: str) -> str:
    if view == "ip":
        return "-" if s.sender == s.ip else s.sender  # nothing known about the IP
    return str(len(s.ips))


def _verdict(s: Source) -> str:
    """Only what needs action (or an approval) is worth a second sentence."""
    if s.approved_by:
        return f" {s.verdict[0].upper() + s.verdict[1:]} (approved by {s.approved_by})."
    return "" if s.legitimate else f" {s.verdict[0].upper() + s.verdict[1:]}."


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _source_csv_row(s: Source) -> list:
    d = s.as_dict()
    d["ip"] = d["ip"] or " ".join(d["ips"])
    return [d[c] for c in SOURCE_CSV]


def _summary_csv_row(s: DomainSummary) -> list:
    d = s.as_dict()
    r = s.readiness
    return [s.domain, s.messages, s.dmarc_pass, s.dmarc_fail, s.spf_aligned, s.dkim_aligned,
            s.dispositions.get("none", 0), s.dispositions.get("quarantine", 0), s.dispositions.get("reject", 0),
            s.reports, s.reporters, d["period"]["begin"], d["period"]["end"], s.source_count, len(s.unauthorised),
            r.legitimate_messages, r.legitimate_failing, r.quarantine.share, r.reject.share, r.recommendation]
