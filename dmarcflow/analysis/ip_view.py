"""A summary's IP view, built only as far as the summary shows it.

A summary shows its top sources, every source that fails, and readiness figures over every source. Most
sources of a large domain are quiet: authorised or forwarded, with aligned DKIM where they are authorised,
and the domain lists no sender (no approved or not_ours entries) to match them against. Readiness needs
only sums from those, and the summary lists them only when they are among the top; so they become full
``Source`` objects only then, and the rest of them stay the totals of their rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from dmarcflow.analysis.approved import ApprovedMatcher
from dmarcflow.analysis.catalogue import Catalogue
from dmarcflow.analysis.sources import Source, by_ip, context, sender_name, source_of, totals_of
from dmarcflow.models import IpFacts, PolicyPublished, SourceRow


class QuietTotals(NamedTuple):
    """The sums readiness reads from the quiet sources (all legitimate: none is approved, failing or disowned)."""

    messages: int = 0
    failing_domain: int = 0
    failing_other: int = 0
    mailing_list: int = 0


NO_QUIET = QuietTotals()


@dataclass(frozen=True)
class IpView:
    count: int  # every source IP of the window
    top: tuple[Source, ...]  # the top sources, biggest first
    built: tuple[Source, ...]  # every source that is not quiet, biggest first
    quiet: QuietTotals


def ip_view(rows: Iterable[SourceRow], infos: Mapping[str, IpFacts], domain: str, policy: PolicyPublished | None,
            matcher: ApprovedMatcher, catalogue: Catalogue | None, top: int) -> IpView:
    """``build_sources`` in the IP view, with the quiet sources built only when among the ``top`` (> 0)."""
    ctx = context(domain, infos, policy, matcher, "ip", catalogue)
    listed = not matcher.empty
    messages = failing_domain = failing_other = mailing_list = 0
    ranked: list[tuple[int, str, str, Source | None, list[SourceRow]]] = []
    for ip, group in by_ip(rows).items():
        t = totals_of(group, domain)
        if not listed and (t.klass == "forwarded" or (t.klass == "authorised" and not t.spf_only)):
            messages += t.messages
            failing_domain += t.failing_domain
            failing_other += t.failing_other
            mailing_list += t.mailing_list
            ranked.append((-t.messages, sender_name(ip, infos.get(ip)), ip, None, group))
        else:
            s = source_of(ip, group, t, ctx)
            ranked.append((-s.messages, s.sender, ip, s, group))
    ranked.sort()  # build_sources' order: IPs are unique, so no two entries compare beyond their third item
    shown = [s if s is not None else source_of(ip, group, totals_of(group, domain), ctx)
             for _, _, ip, s, group in ranked[:top]]
    built = tuple(r[3] for r in ranked if r[3] is not None)
    return IpView(len(ranked), tuple(shown), built,
                  QuietTotals(messages, failing_domain, failing_other, mailing_list))
