"""Write the sample DMARC aggregate reports in this folder (reproducible bytes).

    python -m benchmarks.make_samples           # (re)write the samples + expected.json
    python -m benchmarks.make_samples --table   # print the README table (needs parsedmarc)

All content is synthetic, produced by benchmarks/generator.py from seed 2026:
the same sources (IP, behaviour, class) appear across reporters, so a parser
sees one consistent picture of three policy domains over two weeks of 2026.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "sample_reports"  # only report files live there, so `dmarcflow ingest sample_reports/` is clean
EXPECTED_JSON = REPO / "tests" / "data" / "sample_reports_expected.json"
sys.path.insert(0, str(REPO))

from benchmarks import generator as g  # noqa: E402
from benchmarks.quirk_samples import bom_mbox, quirk_samples  # noqa: E402

DAY = 86400
START = 1772323200  # 2026-03-01T00:00:00Z
COM, ORG, NET = g.DEFAULT_DOMAINS
GOOGLE, OUTLOOK, YAHOO, MAILRU, NORDVIK, KESTREL = g.REPORTERS


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    reports: tuple[g.ReportSpec, ...]
    exercises: str
    warnings: tuple[str, ...] = ()  # the quirk codes dmarcflow records for it


class Builder:
    """Draws every report from one seeded source pool per policy domain."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.streams = {d.name: g.RecordStream(self.rng, d, (0.5, 0.15, 0.15, 0.2), 14)
                        for d in g.DEFAULT_DOMAINS}
        self.n = 0

    def report(self, reporter: g.Reporter, domain: g.DomainSpec, day: int, records: int,
               schema: str | None = None, **extra: object) -> g.ReportSpec:
        schema = schema or reporter.schema
        policy = g.policy_for(domain, schema)
        self.n += 1
        header = g.report_header(self.rng, reporter, policy, schema, START + day * DAY,
                                  self.n, True)
        stream = self.streams[domain.name]
        recs = tuple(stream.next(policy, reporter.envelope_to) for _ in range(records))
        return replace(header, records=recs, **extra)

    def truth(self) -> dict[tuple[str, str], g.SourceTruth]:
        return {k: v for s in self.streams.values() for k, v in s.used.items()}


def xml(rep: g.ReportSpec) -> bytes:
    return g.render_xml(rep)


def with_local_policy(rep: g.ReportSpec) -> g.ReportSpec:
    """Turn the first failing record into a local_policy override (delivered anyway)."""
    recs = list(rep.records)
    for i, r in enumerate(recs):
        failing = "pass" not in (r.dkim, r.spf)
        if failing and not any(x.type in g.OVERRIDE_FORWARDING for x in r.reasons):
            reason = g.Reason("local_policy", "sender on the receiver's allow list")
            recs[i] = replace(r, disposition="none", reasons=(reason,))
            break
    return replace(rep, records=tuple(recs))


def pass_disposition(rep: g.ReportSpec) -> g.ReportSpec:
    """RFC 9990 adds disposition "pass" for messages that passed DMARC."""
    recs = tuple(replace(r, disposition="pass") if "pass" in (r.dkim, r.spf) else r
                 for r in rep.records)
    return replace(rep, records=recs)


def human_results(rep: g.ReportSpec) -> g.ReportSpec:
    def fix(r: g.RecordSpec) -> g.RecordSpec:
        dk = tuple(replace(d, human_result=d.human_result or f"{d.result} (d={d.domain})")
                   for d in r.dkim_results)
        return replace(r, dkim_results=dk)
    return replace(rep, records=tuple(fix(r) for r in rep.records))


def attach(rep: g.ReportSpec, payload: bytes, filename: str, ctype: str) -> bytes:
    return g.report_email(payload, filename, ctype, rep)


def bare_gzip_email(rep: g.ReportSpec) -> bytes:
    """Whole body is the base64 gzip report: no multipart at all."""
    name = g.report_filename(rep, ".xml.gz")
    msg = EmailMessage(policy=default_policy)
    msg["From"] = f'"{rep.org_name}" <{rep.email}>'
    msg["To"] = f"dmarc@{rep.policy.domain}"
    msg["Subject"] = g.report_subject(rep)
    msg["Date"] = formatdate(rep.end + 7200, usegmt=True)
    msg["Message-ID"] = f"<bare.{rep.report_id}@{rep.email.split('@')[1]}>"
    msg.set_content(g.gzip_bytes(xml(rep)), maintype="application", subtype="gzip",
                    filename=name, cte="base64")
    return msg.as_bytes()


def forwarded_email(rep: g.ReportSpec) -> bytes:
    """A postmaster forwards the reporter's mail as an attached message/rfc822."""
    inner = g.report_email_message(g.zip_bytes([(g.report_filename(rep, ".xml"), xml(rep))]),
                                   g.report_filename(rep, ".zip"), "application/zip", rep)
    outer = EmailMessage(policy=default_policy)
    outer["From"] = f"Postmaster <postmaster@{rep.policy.domain}>"
    outer["To"] = f"dmarc@{rep.policy.domain}"
    outer["Subject"] = "Fwd: " + g.report_subject(rep)
    outer["Date"] = formatdate(rep.end + 86400, usegmt=True)
    outer["Message-ID"] = f"<fwd.{rep.report_id}@{rep.policy.domain}>"
    outer.set_content("Forwarding the report below, it landed in my inbox.\n")
    outer.add_attachment(inner)
    outer.set_boundary("=_fwd_" + g.stable_token(rep.report_id))
    return outer.as_bytes()


def build(seed: int = 2026) -> tuple[list[Sample], dict[tuple[str, str], g.SourceTruth]]:
    b = Builder(seed)
    out: list[Sample] = []

    def add(name: str, data: bytes, reps: list[g.ReportSpec], what: str) -> None:
        out.append(Sample(name, data, tuple(reps), what))

    r = b.report(GOOGLE, COM, 0, 14)
    add(g.report_filename(replace(r, email="x@google.com"), ".zip"),
        g.zip_bytes([(g.report_filename(replace(r, email="x@google.com"), ".xml"), xml(r))]), [r],
        "Google, RFC 7489, zip, no envelope_from, 2 DKIM signatures (gappssmtp)")
    r = b.report(OUTLOOK, COM, 1, 12)
    name = f"enterprise.protection.outlook.com!example.com!{r.begin}!{r.end}.xml.gz"
    add(name, g.gzip_bytes(xml(r)), [r],
        "Enterprise Outlook, RFC 7489, .xml.gz, envelope_to, subdomain mail.example.com (sp)")
    r = b.report(YAHOO, ORG, 2, 10)
    add(f"yahoo.com!example.org!{r.begin}!{r.end}.xml.gz", g.gzip_bytes(xml(r)), [r],
        "Yahoo, one line per record, strict adkim/aspf")
    r = human_results(b.report(MAILRU, NET, 3, 10, errors=("DNS timeout for _dmarc.shop.example.net",)))
    add(f"mail.ru!example.net!{r.begin}!{r.end}.xml", xml(r), [r],
        "RFC 9990 with namespace, np, testing, discovery_method, generator, <error>, "
        "human_result, uppercase results (Pass/Fail)")
    r = b.report(NORDVIK, ORG, 4, 8)
    add(f"nordvik-telecom.no!example.org!{r.begin}!{r.end}.xml", xml(r), [r],
        "draft schema (no version/adkim/aspf/pct/selector/scope), whitespace around values")
    r = pass_disposition(b.report(KESTREL, NET, 5, 9))
    add(f"kestrel-net.de!example.net!{r.begin}!{r.end}.xml", xml(r), [r],
        "RFC 9990 without namespace, disposition pass, extra_contact_info mailto")
    r = with_local_policy(b.report(GOOGLE, NET, 6, 12, "rfc7489"))
    add(f"google.com!example.net!{r.begin}!{r.end}.xml", xml(r), [r],
        "plain .xml, pct=50 (reason sampled_out), local_policy override")
    r1, r2 = b.report(KESTREL, COM, 7, 6, "rfc7489"), b.report(KESTREL, ORG, 7, 5, "rfc7489")
    add("kestrel-net.de!two-reports.zip",
        g.zip_bytes([(g.report_filename(r1, ".xml"), xml(r1)), (g.report_filename(r2, ".xml"), xml(r2))]),
        [r1, r2], "zip with two XML members (two reports)")
    r = b.report(YAHOO, NET, 8, 7)
    add(f"yahoo.com!example.net!{r.begin}!{r.end}.xml.gz",
        g.gzip_bytes(g.gzip_bytes(xml(r))), [r], "gzip inside gzip")
    r = b.report(OUTLOOK, ORG, 9, 8)
    inner = f"enterprise.protection.outlook.com!example.org!{r.begin}!{r.end}.xml.gz"
    add(f"enterprise.protection.outlook.com!example.org!{r.begin}!{r.end}.zip",
        g.zip_bytes([(inner, g.gzip_bytes(xml(r)))]), [r], "zip holding a .xml.gz")
    out.extend(emails(b))
    out.append(mbox(b))
    out.extend(quirk_samples(b, Sample))
    out.append(bom_mbox(b, Sample))
    return out, b.truth()


def emails(b: Builder) -> list[Sample]:
    res = []
    r = b.report(GOOGLE, ORG, 10, 9)
    name = g.report_filename(replace(r, email="x@google.com"), ".zip")
    res.append(Sample("email-google-application-zip.eml",
                      attach(r, g.zip_bytes([(name[:-4] + ".xml", xml(r))]), name, "application/zip"),
                      (r,), "email, attachment application/zip"))
    r = b.report(OUTLOOK, NET, 11, 8)
    res.append(Sample("email-outlook-application-gzip.eml",
                      attach(r, g.gzip_bytes(xml(r)), g.report_filename(r, ".xml.gz"), "application/gzip"),
                      (r,), "email, attachment application/gzip, envelope_to"))
    r = b.report(NORDVIK, COM, 12, 6, "rfc7489")
    res.append(Sample("email-isp-octet-stream.eml",
                      attach(r, g.gzip_bytes(xml(r)), g.report_filename(r, ".xml.gz"),
                             "application/octet-stream"),
                      (r,), "email, gzip attachment as application/octet-stream, whitespace quirk"))
    r = b.report(KESTREL, ORG, 13, 5, "rfc9990-ns")
    res.append(Sample("email-text-xml.eml",
                      attach(r, xml(r), g.report_filename(r, ".xml"), "text/xml"),
                      (r,), "email, attachment text/xml (base64), RFC 9990 namespace"))
    r = b.report(YAHOO, COM, 2, 7)
    res.append(Sample("email-bare-base64-gzip.eml", bare_gzip_email(r), (r,),
                      "non-multipart email whose whole body is base64 gzip"))
    r = b.report(MAILRU, COM, 5, 6, "rfc7489")
    res.append(Sample("email-forwarded-rfc822.eml", forwarded_email(r), (r,),
                      "report mail forwarded as a message/rfc822 part (zip inside)"))
    return res


def mbox(b: Builder) -> Sample:
    reps = [b.report(GOOGLE, NET, 12, 6), b.report(YAHOO, ORG, 13, 5), b.report(OUTLOOK, COM, 13, 7)]
    gz = [(g.report_filename(reps[0], ".zip"), "application/zip",
           g.zip_bytes([(g.report_filename(reps[0], ".xml"), xml(reps[0]))]))]
    gz += [(g.report_filename(r, ".xml.gz"), "application/gzip", g.gzip_bytes(xml(r))) for r in reps[1:]]
    mails = [(r.email, r.end + 3600, attach(r, data, name, ct)) for r, (name, ct, data) in zip(reps, gz)]
    return Sample("three-reports.mbox", g.mbox_bytes(mails), tuple(reps),
                  "mbox with 3 report mails (zip, gzip, gzip)")


def expected(samples: list[Sample]) -> dict[str, dict[str, int]]:
    return {s.name: {"reports": len(s.reports),
                     "records": sum(len(r.records) for r in s.reports),
                     "messages": sum(rec.count for r in s.reports for rec in r.records),
                     "warnings": sorted(s.warnings)}
            for s in samples}


def write(samples: list[Sample], truth: dict) -> None:
    for s in samples:
        (HERE / s.name).parent.mkdir(exist_ok=True)
        (HERE / s.name).write_bytes(s.data)
    doc = {"files": expected(samples),
           "sources": [vars(t) for t in sorted(truth.values(), key=lambda t: (t.domain, t.ip))]}
    EXPECTED_JSON.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def table(samples: list[Sample]) -> str:
    import parsedmarc  # only for the README table

    rows = ["| file | exercises | ours: reports / records / messages | parsedmarc: reports / records / messages |",
            "| --- | --- | --- | --- |"]
    exp = expected(samples)
    for s in samples:
        ours = exp[s.name]
        rows.append(f"| `{s.name}` | {s.exercises} | {ours['reports']} / {ours['records']} / "
                    f"{ours['messages']} | {parsedmarc_counts(parsedmarc, HERE / s.name)} |")
    return "\n".join(rows)


def parsedmarc_counts(parsedmarc, path: Path) -> str:
    try:
        if path.suffix == ".mbox":
            res = parsedmarc.get_dmarc_reports_from_mbox(str(path), offline=True)
            reports = res["aggregate_reports"]
        else:
            reports = [parsedmarc.parse_report_file(str(path), offline=True)["report"]]
    except Exception as exc:  # the table records parsedmarc's failure, it is data here
        return f"error: {type(exc).__name__}: {str(exc)[:80]}"
    recs = [rec for r in reports for rec in r["records"]]
    return f"{len(reports)} / {len(recs)} / {sum(rec['count'] for rec in recs)}"


def main() -> None:
    samples, truth = build()
    if "--table" in sys.argv:
        print(table(samples))
        return
    write(samples, truth)


if __name__ == "__main__":
    main()
