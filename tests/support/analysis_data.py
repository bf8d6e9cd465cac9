"""Datasets with a known truth for the analysis tests, stored in a real SQLite file.

Reverse DNS comes from a real DNS server on loopback (PtrServer) that answers
with the generator's own reverse names, so senders are grouped as they would be
in production (service map, rDNS base domain, AS).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import dns.reversename

from benchmarks import generator as g
from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.dns_server import PtrServer

DAY = 86400


def ptr_name(ip: str) -> str:
    return dns.reversename.from_address(ip).to_text()


def ingest_payloads(db_path: Path, payloads: list[bytes], rdns: dict[str, str] | None = None) -> list:
    """Ingest report XML into the store at db_path, resolving reverse DNS against a loopback server."""
    names = {ptr_name(ip): name + "." for ip, name in (rdns or {}).items()}
    outcomes = []
    with PtrServer(names) as server, Store.open(db_path) as store:
        settings = EnrichmentSettings(nameservers=("127.0.0.1",), dns_port=server.port, dns_timeout=2.0)
        enricher = Enricher(settings)
        try:
            ingestor = Ingestor(store, enricher, Limits())
            for i, data in enumerate(payloads):
                outcomes.append(ingestor.ingest_bytes(f"report-{i}.xml", data))
        finally:
            enricher.close()
    return outcomes


def ingest_dataset(db_path: Path, dataset: g.Dataset) -> None:
    rdns = {t.ip: t.rdns for t in dataset.sources if t.rdns}
    outcomes = ingest_payloads(db_path, [g.render_xml(r) for r in dataset.reports], rdns)
    assert [o.status for o in outcomes] == ["ingested"] * len(dataset.reports)


def in_window(dataset: g.Dataset, first: str | None, last: str | None) -> g.Dataset:
    """The dataset restricted to reports whose begin falls on a UTC day in [first, last]."""
    lo = _day(first) if first else 0
    hi = _day(last) if last else 2**40
    return replace(dataset, reports=tuple(r for r in dataset.reports if lo <= r.begin // DAY <= hi))


def _day(iso: str) -> int:
    from datetime import date

    return date.fromisoformat(iso).toordinal() - date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class SourceTruth:
    messages: int
    dmarc_pass: int
    klass: str
    records: tuple[g.RecordSpec, ...]


def source_truth(dataset: g.Dataset, domain: str) -> dict[str, SourceTruth]:
    """ip -> what the generator put in the reports for that source of the domain."""
    records: dict[str, list[g.RecordSpec]] = defaultdict(list)
    for rep in dataset.reports:
        if rep.policy.domain == domain:
            for rec in rep.records:
                records[rec.source_ip].append(rec)
    return {
        ip: SourceTruth(
            sum(r.count for r in recs),
            sum(r.count for r in recs if "pass" in (r.dkim, r.spf)),
            dataset.source_class(ip, domain),
            tuple(recs),
        )
        for ip, recs in records.items()
    }


def main_header_from(records: tuple[g.RecordSpec, ...]) -> set[str]:
    """The From domains carrying the most messages of a source (the explanation names one of them)."""
    by_from = Counter()
    for r in records:
        by_from[r.header_from] += r.count
    top = max(by_from.values())
    return {hf for hf, n in by_from.items() if n == top}


def expected_explanation(rec: g.RecordSpec, klass: str, header_from: str, adkim: str, aspf: str) -> str:
    """The explanation the README promises for a generated source, written out independently."""
    spf = rec.spf_results[0]
    passing_dkim = [d for d in rec.dkim_results if d.result == "pass"]
    if klass == "unauthorised":
        dkim = f"DKIM {rec.dkim_results[0].result}" if rec.dkim_results else "no DKIM signature"
        return f"nothing passes: SPF {spf.result}; {dkim}"
    if klass == "misconfigured":
        return (f"SPF passed for {spf.domain}, not aligned with {header_from} (aspf={aspf}); "
                f"DKIM signed by {passing_dkim[0].domain}, not aligned with {header_from} (adkim={adkim})")
    if klass == "forwarded":
        if rec.reasons and rec.reasons[0].type == "mailing_list":
            return (f"forwarded: the receiver reported a mailing_list override; SPF passed for {spf.domain}, "
                    f"not aligned with {header_from} (aspf={aspf}); DKIM fail")
        lead = ("the receiver reported a forwarded override" if rec.reasons
                else "aligned DKIM passes but SPF fails, as after a forwarder")
        return f"forwarded: {lead}; SPF {spf.result}; DKIM signed by {header_from}, aligned with {header_from}"
    return (f"DMARC passes: SPF passed for {header_from}, aligned with {header_from}; "
            f"DKIM signed by {header_from}, aligned with {header_from}")


# ------------------------------------------------------------ hand-written reports


def auth(kind: str, domain: str, result: str) -> str:
    scope = "<scope>mfrom</scope>" if kind == "spf" else "<selector>s1</selector>"
    return f"<{kind}><domain>{domain}</domain>{scope}<result>{result}</result></{kind}>"


def rec(ip: str, count: int, header_from: str, *, dkim: tuple[tuple[str, str], ...] = (),
        spf: tuple[str, str] | None = None, evaluated: tuple[str, str] = ("fail", "fail"),
        disposition: str = "none", reasons: tuple[str, ...] = ()) -> str:
    """One record; `evaluated` is the receiver's (dkim, spf) verdict, written as given."""
    why = "".join(f"<reason><type>{r}</type></reason>" for r in reasons)
    results = "".join(auth("dkim", d, r) for d, r in dkim) + (auth("spf", *spf) if spf else "")
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{disposition}</disposition><dkim>{evaluated[0]}</dkim><spf>{evaluated[1]}</spf>{why}"
            f"</policy_evaluated></row><identifiers><header_from>{header_from}</header_from></identifiers>"
            f"<auth_results>{results}</auth_results></record>")


def feedback(records: list[str], *, domain: str, day: str = "2026-03-02", org: str = "rx.example",
             report_id: str | None = None, policy: str = "<adkim>r</adkim><aspf>r</aspf><p>none</p>") -> bytes:
    """A report beginning at 00:00 UTC of `day` and lasting one day."""
    begin = _day(day) * DAY
    rid = report_id or f"{domain}-{day}-{org}"
    return (f"<?xml version='1.0'?><feedback><version>1.0</version><report_metadata><org_name>{org}</org_name>"
            f"<email>dmarc@{org}</email><report_id>{rid}</report_id><date_range><begin>{begin}</begin>"
            f"<end>{begin + DAY - 1}</end></date_range></report_metadata><policy_published><domain>{domain}</domain>"
            f"{policy}</policy_published>{''.join(records)}</feedback>").encode()
