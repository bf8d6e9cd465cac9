"""The readiness advice in words: one headline and the notes that follow it.

Rules, in order (the first that applies is the headline):
1. no legitimate mail and nothing that may be ours: list the senders first;
2. a sender that may be the domain's fails (approved, or unlisted misconfigured): never "ready";
   it is named with its volume and why it fails;
3. legitimate mail fails (forwarding): how much, and what the next step would do to it;
4. the next step is p=reject and a legitimate sender passes through SPF alone: RFC 9989 asks for
   aligned DKIM first;
5. otherwise ready for the next step (or p=reject in place).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmarcflow.analysis.readiness import Readiness, SenderFigure

_SHOWN = 3


def rule(r: Readiness) -> str:
    """Which headline rule applies (see the module docstring): no-mail, blocked, forwarding, spf-only, ready."""
    if r.legitimate_messages == 0 and not r.blockers:
        return "no-mail"
    if r.blockers:
        return "blocked"
    if r.legitimate_failing:
        return "forwarding"
    if r.spf_only and r.target and r.target.startswith("p=reject"):
        return "spf-only"
    return "ready"


def headline(r: Readiness) -> str:
    which = rule(r)
    if which == "no-mail":
        text = "no legitimate mail in this period: list your senders under [approved] before changing the policy"
    elif which == "blocked":
        text = _blocked(r)
    elif which == "forwarding":
        worst = max((r.quarantine, r.reject), key=lambda s: s.share)
        risk = f"may be lost under {r.target}" if r.target else "p=reject applies to them unless receivers override"
        text = (f"{r.legitimate_failing} message(s) from legitimate sources ({worst.share:.1%} of legitimate mail) "
                f"fail DMARC, most likely after forwarding: {risk}")
    elif which == "spf-only":
        text = (f"not ready for {r.target}: {_list(r.spf_only)} pass(es) DMARC through SPF alone; "
                f"RFC 9989 asks for aligned DKIM on every legitimate sender before p=reject")
    elif r.target:
        dkim = " with aligned DKIM" if r.target.startswith("p=reject") else ""
        text = f"ready for {r.target}: all legitimate mail passes DMARC{dkim}"
    else:
        text = "p=reject in place and all legitimate mail passes DMARC"
    return capital(text)


def capital(text: str) -> str:
    """The first letter in upper case, unless the text starts with a tag ("p=reject ...")."""
    return text if text.startswith("p=") else text[0].upper() + text[1:]


def _blocked(r: Readiness) -> str:
    n = len(r.blockers)
    who = (f"{r.blockers[0].sender} ({r.blockers[0].messages} messages) {r.blockers[0].failure}" if n == 1
           else f"{n} senders that may be yours fail DMARC: " + _list(r.blockers, reasons=True))
    if r.target:
        return f"not ready for {r.target}: {who}"
    whose = "its" if n == 1 else "their"
    return f"p=reject is in place but {who}: {whose} mail may be rejected or quarantined"


def _list(figures: Sequence[SenderFigure], reasons: bool = False) -> str:
    def one(f: SenderFigure) -> str:
        return f"{f.sender} ({f.messages} messages, {f.failure})" if reasons else f"{f.sender} ({f.messages} messages)"

    shown = ", ".join(one(f) for f in figures[:_SHOWN])
    return shown + (f" and {len(figures) - _SHOWN} more" if len(figures) > _SHOWN else "")


def notes(r: Readiness, sp: str | None, domain: str) -> tuple[str, ...]:
    out = []
    if r.testing:
        out.append(f"p={r.current} is published with t=y (testing): receivers are asked not to enforce it yet")
    unlisted = [b for b in r.blockers if not b.approved]
    if unlisted:
        out.append(f"not on the approved list: {_list(unlisted)}; approve what is yours and fix it, mark the rest "
                   f'not ours (services and not_ours under [approved."{domain}"]; `dmarcflow senders {domain}` '
                   "prints the lines)")
    if r.spf_only and r.aims_at_reject and rule(r) != "spf-only":
        out.append(f"RFC 9989: p=reject needs aligned DKIM on every legitimate sender; {_list(r.spf_only)} "
                   "pass(es) DMARC through SPF alone, which fails after forwarding")
    if r.mailing_list:
        out.append(f"{r.mailing_list} message(s) reached recipients through mailing lists, which break DKIM when "
                   "they change messages: RFC 9989 warns against p=reject for domains whose users post to lists")
    impostor = _impostors(r, sp)
    if impostor:
        out.append(impostor)
    return tuple(capital(note) for note in out)


def _impostors(r: Readiness, sp: str | None) -> str | None:
    i = r.impostors
    if i.messages == 0:
        return None
    if i.delivered == 0:
        text = f"all {i.messages} impostor message(s) were already quarantined or rejected by receivers"
    elif i.delivered == i.messages:
        text = f"receivers delivered all {i.messages} impostor message(s)"
    else:
        text = (f"receivers quarantined {i.quarantined} and rejected {i.rejected} of {i.messages} impostor "
                f"message(s); {i.delivered} were delivered")
    return text + _next_step_effect(r, sp)


def _next_step_effect(r: Readiness, sp: str | None) -> str:
    i = r.impostors
    subdomains = "; mail from subdomains follows sp=none" if sp == "none" else ""
    if r.target is None:
        return ""
    if r.target.startswith("p=quarantine"):
        return (f"; under {r.target} receivers would be asked to quarantine the delivered ones{subdomains}"
                if i.delivered else "")
    if r.current == "reject":  # t=y at p=reject: testing asks receivers to quarantine at most
        return f"; under {r.target} receivers would be asked to reject them{subdomains}"
    if i.delivered or i.quarantined:
        return f"; under {r.target} receivers would be asked to reject them instead{subdomains}"
    return ""

