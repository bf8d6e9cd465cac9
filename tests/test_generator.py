"""The synthetic report generator: determinism, exact truth, parsedmarc agreement."""

from __future__ import annotations

import email
import email.policy
import gzip
import io
import json
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import parsedmarc
import pytest
from lxml import etree
from publicsuffixlist import PublicSuffixList

from benchmarks import generator as g

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_reports"
OPTIONS = g.Options(reports=12, records_per_report=25, schema="mixed", quirks=True)
PSL = PublicSuffixList()


@pytest.fixture(scope="module")
def dataset() -> g.Dataset:
    return g.generate_dataset(42, OPTIONS)


# --- an independent reading of the rendered XML (no generator code involved) -------


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return None if found is None or found.text is None else found.text.strip()


def _lower(el: etree._Element, path: str) -> str | None:
    value = _text(el, path)
    return None if value is None else value.lower()


def _strip_ns(xml: bytes) -> etree._Element:
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    for el in root.iter():
        el.tag = etree.QName(el).localname
    return root


def _aligned(a: str, b: str, mode: str) -> bool:
    if mode == "s":
        return a.lower() == b.lower()
    return (PSL.privatesuffix(a.lower()) or a.lower()) == (PSL.privatesuffix(b.lower()) or b.lower())


def _read_record(rec: etree._Element, adkim: str, aspf: str) -> dict:
    hf = _lower(rec, "identifiers/header_from")
    dkim = [(_lower(d, "domain"), _lower(d, "result")) for d in rec.findall("auth_results/dkim")]
    spf = [(_lower(s, "domain"), _lower(s, "result")) for s in rec.findall("auth_results/spf")]
    return {
        "ip": _text(rec, "row/source_ip"), "count": int(_text(rec, "row/count")),
        "disposition": _lower(rec, "row/policy_evaluated/disposition"),
        "dkim": _lower(rec, "row/policy_evaluated/dkim"), "spf": _lower(rec, "row/policy_evaluated/spf"),
        "reasons": [_lower(r, "type") for r in rec.findall("row/policy_evaluated/reason")],
        "hf": hf, "dkim_auth": dkim, "spf_auth": spf,
        "dkim_recomputed": any(r == "pass" and _aligned(d, hf, adkim) for d, r in dkim),
        "spf_recomputed": any(r == "pass" and _aligned(d, hf, aspf) for d, r in spf),
    }


def _classify(r: dict) -> str:
    if any(t in ("forwarded", "mailing_list") for t in r["reasons"]):
        return "forwarded"
    if r["dkim"] == "pass" or r["spf"] == "pass":
        spf_auth_pass = any(res == "pass" for _, res in r["spf_auth"])
        return "forwarded" if r["dkim"] == "pass" and not spf_auth_pass else "authorised"
    if any(res == "pass" for _, res in r["dkim_auth"] + r["spf_auth"]):
        return "misconfigured"
    return "unauthorised"


def _read_report(xml: bytes) -> tuple[dict, list[dict]]:
    root = _strip_ns(xml)
    pol = root.find("policy_published")
    head = {"org": _text(root, "report_metadata/org_name"), "id": _text(root, "report_metadata/report_id"),
            "domain": _lower(pol, "domain"), "p": _lower(pol, "p"), "sp": _lower(pol, "sp"),
            "pct": int(_text(pol, "pct") or 100)}
    adkim, aspf = _lower(pol, "adkim") or "r", _lower(pol, "aspf") or "r"
    return head, [_read_record(r, adkim, aspf) for r in root.findall("record")]


def _figures_from_xml(blobs: list[bytes]) -> tuple[dict, dict]:
    per_domain: dict[str, Counter] = {}
    classes: dict[tuple[str, str], set[str]] = {}
    for xml in blobs:
        head, records = _read_report(xml)
        c = per_domain.setdefault(head["domain"], Counter())
        c["reports"] += 1
        c["reporter:" + head["org"]] = 1
        for r in records:
            passed = "pass" in (r["dkim"], r["spf"])
            c["messages"] += r["count"]
            c["records"] += 1
            c["dmarc_pass" if passed else "dmarc_fail"] += r["count"]
            c["spf_aligned"] += r["count"] * (r["spf"] == "pass")
            c["dkim_aligned"] += r["count"] * (r["dkim"] == "pass")
            c["disp:" + r["disposition"]] += r["count"]
            assert (r["dkim"] == "pass") == r["dkim_recomputed"], r
            assert (r["spf"] == "pass") == r["spf_recomputed"], r
            _check_disposition(head, r, passed)
            classes.setdefault((r["ip"], head["domain"]), set()).add(_classify(r))
    return per_domain, classes


def _check_disposition(head: dict, r: dict, passed: bool) -> None:
    overridden = any(t in g.OVERRIDE_DELIVER for t in r["reasons"])
    wanted = head["p"] if r["hf"] == head["domain"] else (head["sp"] or head["p"])
    if passed or overridden or wanted == "none":
        assert r["disposition"] == "none", r
    elif head["pct"] < 100:
        assert r["disposition"] == "none" and "sampled_out" in r["reasons"], r
    else:
        assert r["disposition"] == wanted, r


# --- tests ------------------------------------------------------------------------


def test_same_seed_gives_same_bytes() -> None:
    a = g.generate_dataset(9, OPTIONS)
    b = g.generate_dataset(9, OPTIONS)
    assert [g.render_xml(r) for r in a.reports] == [g.render_xml(r) for r in b.reports]
    assert a.sources == b.sources
    c = g.generate_dataset(10, OPTIONS)
    assert [g.render_xml(r) for r in a.reports] != [g.render_xml(r) for r in c.reports]


def test_streamed_report_is_deterministic() -> None:
    spec = g.stream_report_spec(3)
    one, two = io.BytesIO(), io.BytesIO()
    g.write_report_xml(one, spec, 500, seed=3)
    g.write_report_xml(two, spec, 500, seed=3)
    assert one.getvalue() == two.getvalue()


def test_packagers_are_deterministic(dataset: g.Dataset) -> None:
    rep = dataset.reports[0]
    xml = g.render_xml(rep)
    assert g.gzip_bytes(xml) == g.gzip_bytes(xml)
    assert gzip.decompress(g.gzip_bytes(xml)) == xml
    z = g.zip_bytes([("a.xml", xml), ("b.xml", xml)])
    assert z == g.zip_bytes([("a.xml", xml), ("b.xml", xml)])
    assert zipfile.ZipFile(io.BytesIO(z)).read("b.xml") == xml
    mail = g.report_email(g.gzip_bytes(xml), "r.xml.gz", "application/gzip", rep)
    assert mail == g.report_email(g.gzip_bytes(xml), "r.xml.gz", "application/gzip", rep)
    msg = email.message_from_bytes(mail, policy=email.policy.default)
    assert msg["Subject"] == (f"Report Domain: {rep.policy.domain} Submitter: {rep.org_name} "
                              f"Report-ID: <{rep.report_id}>")
    assert msg["To"] == f"dmarc@{rep.policy.domain}"
    part = [p for p in msg.walk() if p.get_filename() == "r.xml.gz"][0]
    assert gzip.decompress(part.get_payload(decode=True)) == xml


def test_truth_equals_figures_recomputed_from_xml(dataset: g.Dataset) -> None:
    per_domain, classes = _figures_from_xml([g.render_xml(r) for r in dataset.reports])
    assert sorted(per_domain) == list(dataset.domains)
    for domain, c in per_domain.items():
        f = dataset.figures(domain)
        assert (f.messages, f.records, f.dmarc_pass, f.dmarc_fail, f.spf_aligned, f.dkim_aligned) == (
            c["messages"], c["records"], c["dmarc_pass"], c["dmarc_fail"], c["spf_aligned"],
            c["dkim_aligned"])
        assert f.dispositions == {k[5:]: v for k, v in c.items() if k.startswith("disp:") and v}
        assert f.reports == c["reports"]
        assert f.reporters == sum(1 for k in c if k.startswith("reporter:"))
    # Every source behaves consistently, and its class is the one in the truth.
    assert all(len(v) == 1 for v in classes.values())
    assert {k: next(iter(v)) for k, v in classes.items()} == {
        (s.ip, s.domain): s.klass for s in dataset.sources}
    messages = dataset.source_messages()
    assert sum(messages.values()) == dataset.figures().messages
    assert set(messages) == set(classes)


def test_each_class_and_schema_is_present(dataset: g.Dataset) -> None:
    assert {s.klass for s in dataset.sources} == set(g.CLASSES)
    assert set(dataset.figures().classes) == set(g.CLASSES)
    assert {r.schema for r in dataset.reports} == set(g.SCHEMAS)
    assert dataset.figures().reporters == len(g.REPORTERS)


@pytest.mark.parametrize("schema", g.SCHEMAS)
def test_parsedmarc_reads_generated_report(schema: str) -> None:
    data = g.generate_dataset(5, g.Options(reports=1, records_per_report=40, schema=schema,
                                           quirks=True))
    rep = data.reports[0]
    parsed = parsedmarc.parse_aggregate_report_xml(g.render_xml(rep), offline=True)
    assert len(parsed["records"]) == 40
    assert sum(r["count"] for r in parsed["records"]) == data.figures().messages
    assert parsed["report_metadata"]["report_id"] == rep.report_id


def test_streamed_figures_match_xml_and_parsedmarc() -> None:
    buf = io.BytesIO()
    figures = g.write_report_xml(buf, g.stream_report_spec(11), 300, seed=11, n_sources=40)
    per_domain, classes = _figures_from_xml([buf.getvalue()])
    c = per_domain["example.com"]
    assert (figures.records, figures.messages, figures.dmarc_pass, figures.dkim_aligned) == (
        300, c["messages"], c["dmarc_pass"], c["dkim_aligned"])
    assert all(len(v) == 1 for v in classes.values())
    parsed = parsedmarc.parse_aggregate_report_xml(buf.getvalue(), offline=True)
    assert len(parsed["records"]) == 300
    assert sum(r["count"] for r in parsed["records"]) == figures.messages


def test_cli_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "r.xml"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.generator", "--seed", "1",
                           "--records", "100", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout)
    assert summary["records"] == 100
    assert summary["bytes"] == out.stat().st_size
    assert len(_read_report(out.read_bytes())[1]) == 100


def test_committed_samples_are_reproducible() -> None:
    from benchmarks import make_samples
    samples, _ = make_samples.build()
    assert len(samples) == 32  # 17 report shapes and 15 quirks (sample_reports/quirks/)
    for s in samples:
        assert (SAMPLES / s.name).read_bytes() == s.data, s.name
    expected = json.loads((SAMPLES.parent / "tests" / "data" / "sample_reports_expected.json").read_text())["files"]
    assert expected == make_samples.expected(samples)
