"""The parser's record memo (records of one shape share everything but their IP and count) changes no outcome.

Each report is parsed twice, by a parser as it ships and by one whose shape memo keeps nothing (every
record built field by field): the records, the warning codes and any refusal must be the same. The
records are drawn from a few shapes so that shapes repeat, with the structures a memo could confuse:
fields out of order or repeated, a <source_ip> with a child, a <row> that is not first, auth results
whose flat texts are the same but nest differently, namespaces, invalid IPs and counts.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import hostile_shapes as shapes
from dmarcflow.errors import DmarcflowError
from dmarcflow.models import Record
from dmarcflow.parse import ReportParser
from tests.support.report_xml import record, report

# Values that refuse the report are rare, so that most reports are read to the end.
IPS = ["192.0.2.1", "2001:db8::7", " 198.51.100.2 ", "fe80::1%eth0"] * 25 + ["999.1.1.1", ""]
COUNTS = ["1", "7", " 12 "] * 33 + ["-1", "", "99999999999999999999"]
PE = [
    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>",
    "<policy_evaluated><disposition>Reject</disposition><dkim>FAIL</dkim><spf>fail</spf>"
    "<reason><type>local_policy</type><comment>x</comment></reason></policy_evaluated>",
    "<policy_evaluated><disposition>quarantine</disposition></policy_evaluated>",
    "<policy_evaluated><dkim>pass</dkim></policy_evaluated><policy_evaluated><spf>pass</spf>"
    "<reason><type>forwarded</type></reason></policy_evaluated>",
]
IDENT = [
    "<identifiers><header_from>example.com</header_from></identifiers>",
    "<identifiers><header_from>Mail.Example.COM.</header_from><envelope_from>bounce.example.net</envelope_from>"
    "</identifiers>",
    "<identifiers><envelope_to>example.org</envelope_to></identifiers>",
    "",
]
AUTH = [
    "<auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>"
    "<spf><domain>example.com</domain><scope>mfrom</scope><result>pass</result></spf></auth_results>",
    # The same tags and texts in the same order, nested differently: the DKIM domain is "" here ...
    "<auth_results><dkim><result>pass</result></dkim><domain>example.com</domain></auth_results>",
    # ... and example.com here.
    "<auth_results><dkim><result>pass</result><domain>example.com</domain></dkim></auth_results>",
    "<auth_results><spf><domain>mail.example.com</domain><scope>helo</scope><result>Pass</result></spf>"
    "</auth_results>",
    "<auth_results/>",
]


@st.composite
def a_record(draw: st.DrawFn, pes: list[str], idents: list[str], auths: list[str]) -> str:
    ip, count = draw(st.sampled_from(IPS)), draw(st.sampled_from(COUNTS))
    fields = [f"<source_ip>{ip}</source_ip>", f"<count>{count}</count>", draw(st.sampled_from(pes))]
    order = draw(st.sampled_from([(0, 1, 2), (0, 1, 2), (1, 0, 2), (2, 0, 1), (0, 2, 1)]))
    quirk = draw(st.sampled_from(["", "", "", "child", "dup_ip", "dup_count", "late_row", "two_rows"] * 10
                                 + ["no_count", "bad_pe"]))
    row = [fields[i] for i in order]
    if quirk == "child":
        row[0] = row[0].replace("</", "<b>203.0.113.9</b></", 1)
    elif quirk in ("dup_ip", "dup_count"):
        row.insert(2, "<source_ip>203.0.113.9</source_ip>" if quirk == "dup_ip" else "<count>5</count>")
    elif quirk == "no_count":
        row = [f for f in row if not f.startswith("<count>")]
    elif quirk == "bad_pe":
        row.append("<policy_evaluated><dkim>maybe</dkim></policy_evaluated>")
    rows = "<row>" + "".join(row) + "</row>"
    if quirk == "two_rows":
        rows = "<row><count>4</count></row>" + rows
    rest = draw(st.sampled_from(idents)) + draw(st.sampled_from(auths))
    return "<record>" + (rest + rows if quirk == "late_row" else rows + rest) + "</record>"


@st.composite
def a_report(draw: st.DrawFn) -> bytes:
    # A handful of shapes per report, repeated with other IPs and counts.
    pes = draw(st.lists(st.sampled_from(PE), min_size=1, max_size=2))
    idents = draw(st.lists(st.sampled_from(IDENT), min_size=1, max_size=2))
    auths = draw(st.lists(st.sampled_from(AUTH), min_size=1, max_size=2))
    records = draw(st.lists(a_record(pes, idents, auths), min_size=1, max_size=30))
    pretty = draw(st.booleans())
    body = ("\n    " if pretty else "").join(records)
    root = draw(st.sampled_from(["<feedback>", '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">',
                                 '<d:feedback xmlns:d="urn:x">']))
    xml = report(body, root=root)
    return xml.replace(b"</feedback>", b"</d:feedback>") if root.startswith("<d:") else xml


def outcome(xml: bytes, memo: bool) -> tuple[object, ...]:
    parser = ReportParser()
    if not memo:
        parser._memos.shapes_max = 0  # noqa: SLF001 (the memo under test, switched off)
    try:
        parsed = parser.parse(io.BytesIO(xml))
        records: list[Record] = list(parsed.records)
    except DmarcflowError as exc:
        return ("refused", getattr(exc, "reason", None), str(exc), parser.warnings.codes())
    return ("read", parsed.report, records, parser.warnings.codes())


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(xml=a_report())
def test_records_read_through_the_shape_memo_are_the_records_built_in_full(xml: bytes) -> None:
    assert outcome(xml, memo=True) == outcome(xml, memo=False)


def test_records_whose_flat_texts_match_but_whose_trees_differ_are_told_apart() -> None:
    flat, nested = AUTH[1], AUTH[2]
    rec = ("<record><row><source_ip>192.0.2.{i}</source_ip><count>1</count>" + PE[0] + "</row>" + IDENT[0]
           + "{auth}</record>")
    xml = report(rec.format(i=1, auth=flat) + rec.format(i=2, auth=nested) + rec.format(i=3, auth=flat))
    parser = ReportParser()
    records = list(parser.parse(io.BytesIO(xml)).records)
    assert [(r.source_ip, r.dkim[0].domain, r.source_class) for r in records] == [
        ("192.0.2.1", "", "authorised"),
        ("192.0.2.2", "example.com", "forwarded"),
        ("192.0.2.3", "", "authorised"),
    ]
    assert len(parser._memos.shapes) == 2  # noqa: SLF001 (two shapes, not one)
    assert outcome(xml, memo=True) == outcome(xml, memo=False)


def test_the_shape_memo_is_bounded_and_keeps_no_long_texts() -> None:
    parser = ReportParser()
    body = "".join(record(ip=f"192.0.2.{i % 250}").replace("s1", f"sel{i}") for i in range(5000))
    assert sum(1 for _ in parser.parse(io.BytesIO(report(body))).records) == 5000
    assert len(parser._memos.shapes) == 512  # noqa: SLF001
    parser = ReportParser()
    buf = io.BytesIO()
    shapes.distinct_auth(buf, 2000)
    assert sum(1 for _ in parser.parse(io.BytesIO(buf.getvalue())).records) == 2000
    assert len(parser._memos.shapes) == 0  # noqa: SLF001 (every record's human_result is long)
