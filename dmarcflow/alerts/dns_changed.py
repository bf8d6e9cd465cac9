"""The ``dns_changed`` rule: a DNS record of a domain differs between its two latest saved `dmarcflow check` runs.

Compared per record type (DMARC, SPF, MTA-STS, TLS-RPT, BIMI) and per DKIM key that both checks looked up (the
selectors come from the reports, so a selector only one check knew is not a change). A record that did not
answer in either check is not compared: a timeout says nothing about the record. Severity by what changed:

- critical: a DMARC, SPF or DKIM record removed; the DMARC policy weakened (p, sp or np towards none, or t=y
  added); a changed record with error findings of its type the previous check did not have;
- warning: any other change of a DMARC, SPF or DKIM record; an MTA-STS, TLS-RPT or BIMI record removed;
- info: a record added where there was none; any other change of MTA-STS (its id changes with each policy),
  TLS-RPT or BIMI.

The key ends in a digest of the two values, so a further change of the same record is a new alert, and the
alert clears when the next check finds the record unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dmarcflow.alerts.context import RuleContext
from dmarcflow.models import ALERT_SEVERITIES, CHECK_RECORDS, Alert, StoredCheck
from dmarcflow.store.check_cache import CheckPair
from dmarcflow.utc import iso

LABELS = {"dmarc": "DMARC", "spf": "SPF", "dkim": "DKIM key", "mta_sts": "MTA-STS", "tlsrpt": "TLS-RPT",
          "bimi": "BIMI"}
_MAIL_AUTH = ("dmarc", "spf", "dkim")  # the records DMARC results depend on
_STRENGTH = {"none": 0, "quarantine": 1, "reject": 2}
_SHOWN = 120  # characters of a record quoted in a message (a DKIM key is longer; the details hold it whole)


@dataclass(frozen=True)
class Record:
    """One record as a check saw it: its DNS name, its text (None: no record), and its parsed entry."""

    name: str
    text: str | None
    entry: dict[str, object]


@dataclass(frozen=True)
class Change:
    domain: str
    kind: str  # one of CHECK_RECORDS
    before: Record
    after: Record
    how: str  # removed | added | weakened | changed
    severity: str
    why: str  # for a weakened policy: what weakened
    new_errors: tuple[str, ...]  # error codes of this record the previous check did not have


def dns_changed(ctx: RuleContext) -> list[Alert]:
    s = ctx.settings
    floor = ALERT_SEVERITIES.index(s.dns_changed_min_severity)
    return [_alert(change, pair) for pair in ctx.check_pairs() for change in changes(pair, s.dns_changed_records)
            if ALERT_SEVERITIES.index(change.severity) >= floor]


def changes(pair: CheckPair, kinds: Sequence[str] = CHECK_RECORDS) -> Iterator[Change]:
    """What differs between the two checks, record by record, in CHECK_RECORDS order."""
    for kind in CHECK_RECORDS:
        if kind not in kinds:
            continue
        before, after = _records(pair.previous, kind), _records(pair.latest, kind)
        for key in [k for k in after if k in before]:
            old, new = before[key], after[key]
            if old.text != new.text or (kind == "dmarc" and old.name != new.name):
                yield _assess(pair, kind, old, new)


def _records(check: StoredCheck, kind: str) -> dict[str, Record]:
    """The records of one type, keyed by what identifies them across checks (a DKIM key: its name)."""
    raw = check.records.get(kind)
    entries = raw if isinstance(raw, list) else [raw]
    out = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("status") == "unreachable":
            continue
        name = str(entry.get("name") or "")
        out[name if kind == "dkim" else kind] = Record(name, _text(check, kind, entry), entry)
    return out


def _text(check: StoredCheck, kind: str, entry: dict[str, object]) -> str | None:
    text = entry.get("record")
    several = entry.get("records")
    if isinstance(text, str):
        return text
    if isinstance(several, list) and several:
        return " | ".join(sorted(str(r) for r in several))
    if any(f.code == f"{kind}_multiple" for f in check.findings):
        return "(several records)"
    return None


def _assess(pair: CheckPair, kind: str, old: Record, new: Record) -> Change:
    errors = _new_errors(pair, kind, new.name) if new.text is not None else ()  # a removal's "missing" says no more
    why = ""
    if new.text is None:
        how, severity = "removed", ("critical" if kind in _MAIL_AUTH else "warning")
    elif old.text is None:
        how, severity = "added", "info"
    elif kind == "dmarc" and (why := _weakened(old.entry, new.entry)):
        how, severity = "weakened", "critical"
    else:
        how = "changed"
        severity = "critical" if errors else ("warning" if kind in _MAIL_AUTH else "info")
    return Change(pair.latest.domain, kind, old, new, how, severity, why, errors)


def _new_errors(pair: CheckPair, kind: str, name: str) -> tuple[str, ...]:
    prefix = kind + "_"

    def codes(check: StoredCheck) -> list[str]:
        return [f.code for f in check.errors if f.code.startswith(prefix) and (kind != "dkim" or f.name == name)]

    had = set(codes(pair.previous))
    return tuple(dict.fromkeys(c for c in codes(pair.latest) if c not in had))


def _weakened(old: dict[str, object], new: dict[str, object]) -> str:
    """What got weaker in the DMARC policy, in a few words ("p reject -> none"), or ""."""
    was, now = _policies(old), _policies(new)
    # sp and np follow p unless published: named only when one of the records publishes them
    named = ["p"] + [tag for tag in ("sp", "np") if tag in _tags(old) or tag in _tags(new)]
    words = [f"{tag} {was[tag]} -> {now[tag]}" for tag in named
             if _STRENGTH.get(now[tag], 0) < _STRENGTH.get(was[tag], 0)]
    if now["t"] == "y" and was["t"] != "y":
        words.append("t=y added: not enforced")
    return ", ".join(words)


def _tags(entry: dict[str, object]) -> dict[str, object]:
    tags = entry.get("tags")
    return tags if isinstance(tags, dict) else {}


def _policies(entry: dict[str, object]) -> dict[str, str]:
    """The policy that applies to the domain, to its subdomains and to non-existent subdomains, and t."""
    tags = _tags(entry)
    p = str(entry.get("policy") or tags.get("p") or "none")
    sp = str(tags.get("sp") or tags.get("p") or p)
    return {"p": p, "sp": sp, "np": str(tags.get("np") or sp), "t": str(tags.get("t") or "n")}


def _alert(c: Change, pair: CheckPair) -> Alert:
    label = LABELS[c.kind]
    when = f"between the checks of {iso(pair.previous.checked_at)} and {iso(pair.latest.checked_at)}"
    where = c.after.name if c.after.name == c.before.name else f"{c.before.name} -> {c.after.name}"
    if c.how == "removed":
        message = f"{label} record of {c.domain} removed {when}: {where} held {_quote(c.before.text)}"
    elif c.how == "added":
        message = f"{label} record of {c.domain} added {when}: {where} now holds {_quote(c.after.text)}"
    else:
        lead = f"DMARC policy of {c.domain} weakened ({c.why})" if c.how == "weakened" else \
            f"{label} record of {c.domain} changed"
        message = f"{lead} {when}: {where} changed from {_quote(c.before.text)} to {_quote(c.after.text)}"
    if c.new_errors:
        message += f"; new error(s): {', '.join(c.new_errors)}"
    digest = hashlib.sha256(f"{c.before.text}\0{c.after.text}".encode()).hexdigest()[:12]
    subject = f"{c.kind}:{c.after.name}" if c.kind == "dkim" else c.kind
    return Alert(
        rule="dns_changed", domain=c.domain, key=f"dns_changed:{c.domain}:{subject}:{digest}",
        severity=c.severity, message=message, fix=_fix(c),
        details=(("record", c.kind), ("name", c.after.name), ("change", c.how), ("previous", c.before.text),
                 ("current", c.after.text), ("previous_name", c.before.name),
                 ("previous_checked_at", iso(pair.previous.checked_at)), ("checked_at", iso(pair.latest.checked_at)),
                 ("new_errors", list(c.new_errors))),
    )


def _fix(c: Change) -> str:
    see = f"`dmarcflow check --cached {c.domain}` shows the findings of the new state"
    restore = f"publish the previous record again at {c.before.name}: {c.before.text}"
    if c.how == "added":
        return f"If you published it, nothing to do; {see}."
    if c.how == "removed":
        return f"If it was not removed on purpose, {restore}. {see[0].upper()}{see[1:]}."
    if c.new_errors:
        return f"{see[0].upper()}{see[1:]}, each with its fix; or {restore}."
    if c.how == "weakened":
        return (f"If the policy was not weakened on purpose, {restore}. Until then receivers apply the weaker "
                "policy to mail that fails DMARC.")
    return (f"If you made this change, nothing to do. If not, someone else can edit the DNS of {c.domain}: check "
            f"who can, and {restore}.")


def _quote(text: str | None) -> str:
    if text is None:
        return "no record"
    return f'"{text}"' if len(text) <= _SHOWN else f'"{text[:_SHOWN - 1]}…"'
