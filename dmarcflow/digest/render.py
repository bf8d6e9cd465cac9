"""A digest as plain text and as HTML, and the two as one multipart/alternative mail.

``DigestRenderer`` is the seam: ``PlainRenderer`` writes complete, self-contained HTML now; the templates of
``report --html`` can implement the same two methods later and be passed to ``compose``. Every string that
came from a report (sender names, explanations, reporter names) is escaped in the HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from dmarcflow.analysis import Source
from dmarcflow.analysis.tls import TlsDomainSummary, failure_totals
from dmarcflow.config import SmtpSettings
from dmarcflow.digest.build import Digest, DomainDigest, FailureTally, Impostor, rate
from dmarcflow.notify.smtp import new_message

LIST_LIMIT = 10  # rows per list in a digest; the count says how many there are


class DigestRenderer(Protocol):
    def text(self, digest: Digest) -> str: ...
    def html(self, digest: Digest) -> str: ...


def n(value: int) -> str:
    return f"{value:,}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def change(now: int, before: int | None) -> str:
    if before is None:
        return "new"
    if before == 0:
        return "-" if now == 0 else "+"
    return f"{100 * (now - before) / before:+.1f}%"


def points(now: float | None, before: float | None) -> str:
    return "-" if now is None or before is None else f"{now - before:+.1f} points"


def subject(digest: Digest) -> str:
    if digest.empty:
        return f"DMARC digest {digest.period.label()}: no reports"
    return (f"DMARC digest {digest.period.label()}: {len(digest.domains)} domain(s), {n(digest.messages)} messages, "
            f"{pct(rate(digest.dmarc_pass, digest.messages))} pass")


def intro(digest: Digest) -> list[str]:
    p, before = digest.period, digest.period.previous()
    lines = [f"DMARC digest for {p.label()} (UTC days, {p.days} day(s)), compared with {before.label()}."]
    if digest.empty:
        lines += ["", f"No DMARC report arrived for this period ({p.label()}).",
                  ("If reports are expected, check the rua address in each domain's DMARC record and that the "
                   "mailbox is being fetched.")]
    return lines


def overview_rows(digest: Digest) -> list[list[str]]:
    rows = []
    for d in digest.domains:
        s, prev = d.summary, d.previous
        rows.append([d.domain, n(s.messages), change(s.messages, prev.messages if prev else None), pct(d.pass_rate),
                     points(d.pass_rate, d.previous_pass_rate),
                     n(sum(i.source.messages for i in d.impostors)), d.status])
    return rows


OVERVIEW_HEAD = ["domain", "messages", "change", "pass", "pass change", "impostor msgs", "status"]


def figure_lines(d: DomainDigest) -> list[str]:
    s, prev = d.summary, d.previous
    before = (f"previous period {n(prev.messages)}; {change(s.messages, prev.messages)}" if prev
              else "no report in the previous period")
    was = (f"previous period {pct(d.previous_pass_rate)}; {points(d.pass_rate, d.previous_pass_rate)}" if prev
           else "no previous figure")
    policy = s.policy
    return [f"Messages: {n(s.messages)} ({before})",
            f"DMARC pass: {n(s.dmarc_pass)} of {n(s.messages)} ({pct(d.pass_rate)}; {was})",
            f"DMARC fail: {n(s.dmarc_fail)}",
            f"Reports: {s.reports} from {s.reporters} reporter(s)",
            "Policy: " + (f"p={policy.p} adkim={policy.adkim} aspf={policy.aspf}" if policy else "none published")]


def sender_line(s: Source) -> str:
    return f"{s.sender}: {n(s.messages)} message(s), {pct(rate(s.dmarc_pass, s.messages))} pass, {s.klass}"


def failing_line(s: Source) -> str:
    status = f"approved by {s.approved_by}" if s.approved else "not on the approved list"
    return f"{s.sender} ({status}): {n(s.dmarc_fail)} of {n(s.messages)} failing: {s.explanation}"


def fix_of(s: Source) -> str | None:
    return s.fix or None


def impostor_line(i: Impostor) -> str:
    s = i.source
    who = s.ip if s.sender == s.ip else f"{s.ip} ({s.sender})"
    return (f"{who}: {n(s.messages)} message(s): quarantined {n(i.quarantined)}, rejected {n(i.rejected)}, "
            f"delivered {n(i.delivered)}")


def impostor_total(d: DomainDigest) -> str:
    total = sum(i.source.messages for i in d.impostors)
    q, r = sum(i.quarantined for i in d.impostors), sum(i.rejected for i in d.impostors)
    return (f"Impostors: {len(d.impostors)} source(s), {n(total)} message(s): receivers quarantined {n(q)}, "
            f"rejected {n(r)}, delivered {n(total - q - r)}")


def readiness_lines(d: DomainDigest) -> list[str]:
    r = d.summary.readiness
    return [(f"Readiness: {n(r.legitimate_messages)} legitimate message(s), {n(r.legitimate_failing)} failing DMARC; "
             f"p=quarantine would affect {r.quarantine.share:.1%}, p=reject {r.reject.share:.1%} of legitimate mail"),
            f"Recommendation: {r.recommendation}"]


def tls_lines(t: TlsDomainSummary) -> list[str]:
    """A policy domain's TLS sessions in the period, then its failed sessions by result type and MX host."""
    sessions = t.successful + t.failed
    head = (f"{t.domain}: {n(t.failed)} of {n(sessions)} TLS session(s) failed ({pct(rate(t.failed, sessions))}); "
            f"{t.reports} report(s) from {len(t.reporter_names)} reporter(s)")
    totals = failure_totals(t.failures, "result_type", "receiving_mx_hostname")
    return [head, *(f"  {x.value}: {n(x.sessions)} session(s) at {', '.join(x.involved) or 'an unnamed MX host'}"
                    for x in totals)]


def failure_line(f: FailureTally) -> str:
    return (f"{f.domain}: {n(f.reports)} failure report(s) naming {n(f.sources)} source IP(s), "
            f"{n(f.new_sources)} of them new")


TLS_HEAD = ["policy domain", "sessions", "failed", "failed share", "reports", "failed sessions by result type and MX"]
FAILURES_HEAD = ["reported domain", "failure reports", "source IPs", "new source IPs"]


def kind_text(digest: Digest) -> list[str]:
    """The SMTP TLS and failure report sections of the text part (each only when the period has such reports)."""
    out: list[str] = []
    if digest.tls:
        out += ["", "SMTP TLS reports (RFC 8460)", *("  " + line for t in digest.tls for line in tls_lines(t))]
    if digest.failures:
        out += ["", "DMARC failure reports", *("  " + failure_line(f) for f in digest.failures)]
    return out


def kind_html(digest: Digest) -> list[str]:
    out: list[str] = []
    if digest.tls:
        rows = [[t.domain, n(t.successful + t.failed), n(t.failed), pct(rate(t.failed, t.successful + t.failed)),
                 n(t.reports), "; ".join(line.strip() for line in tls_lines(t)[1:]) or "none"] for t in digest.tls]
        out += ["<h2>SMTP TLS reports (RFC 8460)</h2>", _html_table(TLS_HEAD, rows)]
    if digest.failures:
        rows = [[f.domain, n(f.reports), n(f.sources), n(f.new_sources)] for f in digest.failures]
        out += ["<h2>DMARC failure reports</h2>", _html_table(FAILURES_HEAD, rows)]
    return out


class PlainRenderer:
    """Text for any mail client, and simple complete HTML (inline styles only: mail clients drop <style>)."""

    def text(self, digest: Digest) -> str:
        out = intro(digest)
        if digest.domains:
            out += ["", "Overview", *_text_table(OVERVIEW_HEAD, overview_rows(digest))]
        out += kind_text(digest)
        for d in digest.domains:
            out += ["", f"== {d.domain} ==", *figure_lines(d)]
            out += _text_list(f"New senders ({len(d.new_senders)})", [sender_line(s) for s in d.new_senders])
            own = []
            for s in d.own_failing[:LIST_LIMIT]:
                own.append(failing_line(s))
                if fix := fix_of(s):
                    own.append(f"  Fix: {fix}")
            out += _text_list(f"Failing senders that may be yours ({len(d.own_failing)})", own, limit=None)
            out += ["", impostor_total(d), *["  " + impostor_line(i) for i in d.impostors[:LIST_LIMIT]]]
            out += ["", *readiness_lines(d)]
        return "\n".join(out) + "\n"

    def html(self, digest: Digest) -> str:
        e = html.escape
        body = [f"<p>{e(line)}</p>" for line in intro(digest) if line]
        if digest.domains:
            body += ["<h2>Overview</h2>", _html_table(OVERVIEW_HEAD, overview_rows(digest))]
        body += kind_html(digest)
        for d in digest.domains:
            body += [f"<h2>{e(d.domain)}</h2>", "<ul>" + "".join(f"<li>{e(x)}</li>" for x in figure_lines(d)) + "</ul>"]
            body += _html_list(f"New senders ({len(d.new_senders)})", [sender_line(s) for s in d.new_senders])
            body += _html_list(f"Failing senders that may be yours ({len(d.own_failing)})",
                               [failing_line(s) + (f" Fix: {fix}" if (fix := fix_of(s)) else "") for s in d.own_failing])
            body += _html_list(impostor_total(d), [impostor_line(i) for i in d.impostors])
            body += ["<p>" + "<br>".join(e(x) for x in readiness_lines(d)) + "</p>"]
        return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<title>{e(subject(digest))}</title></head>\n<body style="font-family: sans-serif">\n'
                f"<h1>{e(subject(digest))}</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def _text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:  # text columns (first and last) left, figures right
        return "  ".join(c.ljust(w) if i in (0, len(head) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=False))).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _text_list(title: str, lines: Sequence[str], limit: int | None = LIST_LIMIT) -> list[str]:
    shown = list(lines if limit is None else lines[:limit])
    more = [f"  ... and {len(lines) - len(shown)} more"] if len(shown) < len(lines) else []
    return ["", title, *(("  " + x) if not x.startswith("  ") else x for x in shown), *more] if lines else ["", title, "  none"]


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    e = html.escape
    cell = 'style="padding: 2px 8px; border-bottom: 1px solid #ddd"'
    top = "".join(f"<th {cell}>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td {cell}>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table style="border-collapse: collapse"><tr>{top}</tr>{body}</table>'


def _html_list(title: str, lines: Sequence[str]) -> list[str]:
    e = html.escape
    shown = lines[:LIST_LIMIT]
    items = "".join(f"<li>{e(x)}</li>" for x in shown) or "<li>none</li>"
    more = f"<li>... and {len(lines) - len(shown)} more</li>" if len(shown) < len(lines) else ""
    return [f"<h3>{e(title)}</h3>", f"<ul>{items}{more}</ul>"]


def compose(digest: Digest, smtp: SmtpSettings, to: Sequence[str], renderer: DigestRenderer | None = None) -> EmailMessage:
    """One multipart/alternative mail: the text part first, the HTML part preferred by clients that can."""
    renderer = renderer or PlainRenderer()
    message = new_message(smtp, to, subject(digest))
    message.set_content(renderer.text(digest))
    message.add_alternative(renderer.html(digest), subtype="html")
    return message
