"""Reading a received digest back into figures, to compare them with `dmarcflow summary --format json`."""

from __future__ import annotations

import re
from email.message import EmailMessage

_SECTION = re.compile(r"^== (\S+) ==$", re.M)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert text is not None and page is not None
    return text.get_content(), page.get_content()


def figures(text: str) -> dict[str, dict[str, object]]:
    """domain -> the figures its section states."""
    out: dict[str, dict[str, object]] = {}
    found = list(_SECTION.finditer(text))
    for i, match in enumerate(found):
        body = text[match.end(): found[i + 1].start() if i + 1 < len(found) else len(text)]
        pass_line = re.search(r"^DMARC pass: ([\d,]+) of ([\d,]+) \(([\d.]+)%", body, re.M)
        messages = re.search(r"^Messages: ([\d,]+) \((?:previous period ([\d,]+)|no report)", body, re.M)
        reports = re.search(r"^Reports: (\d+) from (\d+) reporter", body, re.M)
        impostors = re.search(r"^Impostors: (\d+) source\(s\), ([\d,]+) message\(s\): receivers quarantined ([\d,]+), "
                              r"rejected ([\d,]+)", body, re.M)
        ready = re.search(r"^Readiness: ([\d,]+) legitimate message\(s\), ([\d,]+) failing DMARC; p=quarantine would "
                          r"affect ([\d.]+)%, p=reject ([\d.]+)%", body, re.M)
        advice = re.search(r"^Recommendation: (.*)$", body, re.M)
        assert pass_line and messages and reports and impostors and ready and advice, body
        out[match.group(1)] = {
            "messages": _int(messages.group(1)),
            "previous_messages": _int(messages.group(2)) if messages.group(2) else None,
            "dmarc_pass": _int(pass_line.group(1)), "pass_rate": pass_line.group(3),
            "dmarc_fail": _int(re.search(r"^DMARC fail: ([\d,]+)$", body, re.M).group(1)),  # type: ignore[union-attr]
            "reports": int(reports.group(1)), "reporters": int(reports.group(2)),
            "impostor_sources": int(impostors.group(1)), "impostor_messages": _int(impostors.group(2)),
            "impostors_quarantined": _int(impostors.group(3)), "impostors_rejected": _int(impostors.group(4)),
            "legitimate_messages": _int(ready.group(1)), "legitimate_failing": _int(ready.group(2)),
            "quarantine_share": ready.group(3), "reject_share": ready.group(4), "recommendation": advice.group(1),
            "new_senders": [line.strip() for line in _block(body, "New senders")],
            "own_failing": [line.strip() for line in _block(body, "Failing senders that may be yours")],
        }
    return out


def _block(body: str, title: str) -> list[str]:
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + " ("))
    block = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        block.append(line)
    return [] if block == ["  none"] else block


def expected_from_summary(domain: dict) -> dict[str, object]:
    """The same figures, taken from one domain of `summary --format json`."""
    r = domain["readiness"]
    unauthorised = domain["unauthorised"]
    return {
        "messages": domain["messages"], "dmarc_pass": domain["dmarc_pass"], "dmarc_fail": domain["dmarc_fail"],
        "pass_rate": f"{100 * domain['dmarc_pass'] / domain['messages']:.1f}",
        "reports": domain["reports"], "reporters": domain["reporters"],
        "impostor_sources": len(unauthorised), "impostor_messages": sum(s["messages"] for s in unauthorised),
        "impostors_quarantined": None, "impostors_rejected": None,  # per-source dispositions: not in the summary
        "legitimate_messages": r["legitimate_messages"], "legitimate_failing": r["legitimate_failing"],
        "quarantine_share": f"{100 * r['quarantine']['share']:.1f}", "reject_share": f"{100 * r['reject']['share']:.1f}",
        "recommendation": r["recommendation"],
    }


def comparable(found: dict[str, object]) -> dict[str, object]:
    keep = {k: v for k, v in found.items() if k not in ("previous_messages", "new_senders", "own_failing")}
    keep["impostors_quarantined"] = keep["impostors_rejected"] = None
    return keep
