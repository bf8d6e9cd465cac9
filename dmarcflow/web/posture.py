"""The DNS posture pages: the last saved `dmarcflow check` of each domain, read from the store.

The web UI never asks the DNS (nor writes the store): a page shows the result the last check saved, with its
time, and says which command refreshes it. Every value comes from ``StoredCheck.as_dict()``, the object that
``dmarcflow check --cached --format json`` prints, so the page and the command cannot disagree. DNS records
are text anyone can publish (an include target, a report destination's record): templates escape them.
"""

from __future__ import annotations

from typing import Any

from dmarcflow.answers import domain_name
from dmarcflow.check.cached import read_cached
from dmarcflow.models import FINDING_SEVERITIES
from dmarcflow.store import Store, browse

# The record types of a check, in the order `dmarcflow check` prints them.
SINGLE_RECORDS = (("dmarc", "DMARC"), ("spf", "SPF"), ("mta_sts", "MTA-STS"), ("tlsrpt", "TLS-RPT"), ("bimi", "BIMI"))


def posture_overview(store: Store) -> dict[str, Any]:
    """Every checked domain (name order, as ``check --cached``) and the reported domains never checked."""
    checks = [c.as_dict() for c in read_cached(store).checks]
    checked = {c["domain"] for c in checks}
    rows = []
    for c in checks:
        counts = {s: sum(1 for f in c["findings"] if f["severity"] == s) for s in FINDING_SEVERITIES}
        dmarc = c["records"].get("dmarc") or {}
        rows.append({"c": c, "counts": counts, "policy": dmarc.get("policy")})
    unchecked = [d for d in browse.report_domains(store) if d not in checked]
    return {"rows": rows, "unchecked": unchecked}


def posture_page(store: Store, domain: str) -> dict[str, Any]:
    """One domain's last check: its records as rows, its findings, what the reports added; or that none ran."""
    name = domain_name(domain)
    found = read_cached(store, [name]).checks
    if not found:
        return {"domain": name, "c": None, "records": [], "sources": [], "counts": {}}
    c = found[0].as_dict()
    spf = c["records"].get("spf") or {}
    return {"domain": name, "c": c, "records": record_rows(c["records"]), "sources": spf.get("sources") or [],
            "counts": {s: sum(1 for f in c["findings"] if f["severity"] == s) for s in FINDING_SEVERITIES}}


def record_rows(records: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per record the check looked up: its type, DNS name, text (None: none found), state and notes."""
    rows = []
    for key, label in SINGLE_RECORDS:
        item = records.get(key)
        if isinstance(item, dict):
            rows.append(_row(label, item, _notes(key, item)))
        if key == "spf":
            for selector in records.get("dkim") or []:
                if isinstance(selector, dict):
                    rows.append(_row("DKIM", selector, _dkim_notes(selector)))
    return rows


def _row(label: str, item: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    text = item.get("record")
    several = item.get("records")
    if text is None and isinstance(several, list) and several:
        text = "\n".join(str(r) for r in several)
        notes = [f"{len(several)} records at one name", *notes]
    state = item.get("status") or ("found" if text else "none")
    return {"type": label, "name": item.get("name"), "record": text, "state": _state(state), "notes": notes}


def _state(status: str) -> str:
    return "did not answer" if status == "unreachable" else status


def _notes(key: str, item: dict[str, Any]) -> list[str]:
    notes = []
    if key == "dmarc":
        if item.get("inherited"):
            notes.append(f"inherited from {item.get('found_at')}")
        if item.get("policy"):
            notes.append(f"policy that applies: {item['policy']}")
    if key == "spf" and "lookups" in item:
        notes.append(f"{item['lookups']} DNS lookups, {item.get('void_lookups', 0)} void")
    return notes


def _dkim_notes(selector: dict[str, Any]) -> list[str]:
    notes = []
    if selector.get("bits"):
        notes.append(f"{selector.get('key_type')} {selector['bits']} bits")
    if isinstance(selector.get("messages"), int):
        notes.append(f"{selector['messages']:,} message(s) signed with it in the reports")
    return notes
