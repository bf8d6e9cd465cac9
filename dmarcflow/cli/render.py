"""Human output of `summary` and `senders`: tables that fit 80 columns by wrapping, never by cutting.

``width`` None is ``--wide``: every cell and paragraph on one line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from dmarcflow.analysis import DomainStatus, DomainSummary, Source
from dmarcflow.cli.output import wrap_cell, wrap_text
from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.utc import iso

WIDTH = 80
_CLASS_W = len("misconfigured")


def n(value: int) -> str:
    return f"{value:,}"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_overview(statuses: Sequence[DomainStatus], width: int | None, worst_first: bool = True) -> str:
    """One line per domain (worst first, or in the order given): messages, DMARC pass rate, status."""
    dom_w = max([len("domain")] + [len(st.domain) for st in statuses])
    num_w = max([len("messages")] + [len(n(st.messages)) for st in statuses])
    fixed = dom_w + 2 + num_w + 2 + 6 + 2
    status_w = None if width is None else max(len("status"), width - fixed)
    natural = max([len("status")] + [len(st.status) for st in statuses])
    head_w = natural if status_w is None else min(natural, status_w)
    lines = [f"Overview ({len(statuses)} domain(s){', worst first' if worst_first else ''})",
             f"{'domain':<{dom_w}}  {'messages':>{num_w}}  {'pass':>6}  status",
             f"{'-' * dom_w}  {'-' * num_w}  {'-' * 6}  {'-' * head_w}"]
    for st in statuses:
        parts = wrap_cell(st.status, status_w)
        lead = f"{st.domain:<{dom_w}}  {n(st.messages):>{num_w}}  {pct(st.dmarc_pass, st.messages):>6}  "
        lines.append(lead + parts[0])
        lines += [" " * len(lead) + p for p in parts[1:]]
    return "\n".join(lines)


def render_summary(s: DomainSummary, view: str, width: int | None) -> str:
    lines = [f"{s.domain}: {n(s.messages)} messages in {s.reports} report(s) from {s.reporters} reporter(s)",
             f"period {_day(s.begin_ts)} to {_day(s.end_ts)} (UTC days)", _policy_line(s),
             f"status: {s.status.status}", ""]
    lines += _figures(s)
    shown = f"top {len(s.sources)} of {s.source_count}" if len(s.sources) < s.source_count else str(s.source_count)
    lines += ["", f"Sources ({shown}, by {view})"] + source_table(s.sources, view, width)
    lines += ["", f"To fix: senders that fail and may be yours ({len(s.to_fix)})"]
    lines += source_table(s.to_fix, "sender", width, details=True) if s.to_fix else ["  none"]
    lines += ["", f"Unauthorised senders ({len(s.unauthorised)})"]
    lines += source_table(s.unauthorised, view, width, details=True) if s.unauthorised else ["  none"]
    lines += [""] + readiness_lines(s, width) + dns_check_lines(s, width)
    return "\n".join(lines)


def _day(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def _policy_line(s: DomainSummary) -> str:
    p = s.policy
    if p is None:
        return "no policy"
    parts = [f"p={p.p}"] + [f"{k}={v}" for k, v in (("sp", p.sp), ("np", p.np)) if v]
    parts += [f"adkim={p.adkim}", f"aspf={p.aspf}"] + ([f"pct={p.pct}"] if p.pct is not None else [])
    parts += ["t=y (testing: not enforced yet)"] if p.testing == "y" else []
    return "policy " + " ".join(parts)


def _figures(s: DomainSummary) -> list[str]:
    rows = [("DMARC pass", s.dmarc_pass), ("DMARC fail", s.dmarc_fail), ("SPF aligned", s.spf_aligned),
            ("DKIM aligned", s.dkim_aligned)]
    rows += [(f"disposition {k}", v) for k, v in s.dispositions.items()]
    rows += [(f"class {k}", s.classes.get(k, 0)) for k in SOURCE_CLASSES]
    width = max(len(n(s.messages)), len("messages"))
    out = [f"{'':<24}{'messages':>{width}}  {'share':>6}"]
    out += [f"{label:<24}{n(value):>{width}}  {pct(value, s.messages):>6}" for label, value in rows]
    return out


def readiness_lines(s: DomainSummary, width: int | None) -> list[str]:
    r = s.readiness
    out = [f"Readiness: {n(r.legitimate_messages)} legitimate message(s), {n(r.legitimate_failing)} failing DMARC"]
    if r.may_be_ours_failing:
        out.append(f"  and {n(r.may_be_ours_failing)} failing from senders that may be yours")
    subdomains = s.policy.sp if s.policy and s.policy.sp else "as p"
    nonexistent = s.policy.np if s.policy and s.policy.np else "as sp"
    for sc in (r.quarantine, r.reject):
        out.append(f"  if p={sc.policy}: {n(sc.quarantined)} quarantined, {n(sc.rejected)} rejected"
                   f" ({sc.share:.1%} of legitimate mail)")
    out.append(f"  (subdomains: sp {subdomains}; non-existent subdomains: np {nonexistent})")
    out += wrap_text("Recommendation: " + r.recommendation, width, "", "  ")
    for note in r.notes:
        out += wrap_text(note, width, "  - ", "    ")
    return out


def dns_check_lines(s: DomainSummary, width: int | None) -> list[str]:
    check = s.dns_check
    if check is None:
        return []
    errors = check.errors
    out = ["", f"DNS check of {iso(check.checked_at)}: {len(errors)} error(s)"
           + (" (`dmarcflow check " + s.domain + "` for all findings)" if errors else "")]
    for f in errors:
        out += wrap_text(f"{f.code}: {f.message}", width, "  ", "    ")
        out += wrap_text("fix: " + f.fix, width, "    ", "      ")
    return out


def source_table(sources: Sequence[Source], view: str, width: int | None, details: bool = False,
                 domain: str | None = None) -> list[str]:
    """Fits ``width`` by wrapping the name columns; with details, each row is followed by its explanation,
    verdict and fix, and (given ``domain``) the config lines that approve it or mark it not ours."""
    key_name, second = ("IP", "sender") if view == "ip" else ("sender", "IPs")
    keys = [(s.ip or "") if view == "ip" else s.sender for s in sources]
    seconds = [_second(s, view) for s in sources]
    num_w = max([len("messages")] + [len(n(s.messages)) for s in sources])
    tail = 2 + num_w + 2 + 6 + 2 + _CLASS_W
    key_w = max([len(key_name)] + [len(k) for k in keys])
    if width is not None and view == "sender":
        key_w = min(key_w, max(len(key_name), 30))
    second_w = max([len(second)] + [len(x) for x in seconds])
    if width is not None:
        room = width - key_w - 2 - tail
        second_w = min(second_w, max(room, len(second)))
    align = str.ljust if view == "ip" else str.rjust  # sender view: a count of IPs
    head = [key_name.ljust(key_w), align(second, second_w), "messages".rjust(num_w), "pass".rjust(6), "class"]
    lines = ["  ".join(head), "  ".join("-" * len(h) for h in head[:-1]) + "  " + "-" * _CLASS_W]
    for key, sec, s in zip(keys, seconds, sources, strict=False):
        lines += _row(s, wrap_cell(key, key_w if width else None), wrap_cell(sec, second_w if width else None),
                      key_w, second_w, num_w, align)
        if details:
            lines += _details(s, width, domain)
    return lines


def _row(s: Source, key: list[str], sec: list[str], key_w: int, second_w: int, num_w: int,
         align: Callable[[str, int], str]) -> list[str]:
    out = []
    for i, (k, x) in enumerate(itertools.zip_longest(key, sec, fillvalue="")):
        cells = [k.ljust(key_w), align(x, second_w) if x else " " * second_w]
        if i == 0:
            cells += [n(s.messages).rjust(num_w), pct(s.dmarc_pass, s.messages).rjust(6), s.klass]
        out.append("  ".join(cells).rstrip())
    return out


def _details(s: Source, width: int | None, domain: str | None) -> list[str]:
    out = wrap_text(s.explanation + "." + _verdict(s) + _pool(s), width, "    ")
    if s.fix:
        out += wrap_text("fix: " + s.fix, width, "    ", "      ")
    if domain and s.approve_with:
        out += [f'    to approve it, add under [approved."{domain}"]:', "      " + s.approve_with]
        if s.may_be_ours and s.not_ours_with:
            out += ["    if it is not yours, add there instead:", "      " + s.not_ours_with]
    return out


def _second(s: Source, view: str) -> str:
    if view == "ip":
        return "-" if s.sender == s.ip else s.sender  # nothing known about the IP
    return str(len(s.ips))


def _verdict(s: Source) -> str:
    """Only what needs action (or an approval) is worth a second sentence."""
    verdict = s.verdict[0].upper() + s.verdict[1:]
    if s.approved_by:
        return f" {verdict} (approved by {s.approved_by})."
    if s.not_ours:
        return f" {verdict} (listed by {s.not_ours_by})."
    return "" if s.legitimate else f" {verdict}."


def _pool(s: Source) -> str:
    if s.pool == "shared":
        return f" Shared IPs of {s.service}: other senders' mail shares their reputation."
    if s.pool == "dedicated":
        return " IPs dedicated to this domain."
    if s.pool == "mixed":
        return " Some of its IPs are shared, some dedicated."
    return ""
