"""Small hand-written report XML for precise tests."""

from __future__ import annotations

RECORD = """
  <record>
    <row>
      <source_ip>{ip}</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>{disposition}</disposition><dkim>{dkim_eval}</dkim><spf>{spf_eval}</spf>{reason}</policy_evaluated>
    </row>
    <identifiers><header_from>{header_from}</header_from><envelope_from>{envelope_from}</envelope_from></identifiers>
    <auth_results>
      <dkim><domain>{dkim_domain}</domain><selector>s1</selector><result>{dkim}</result></dkim>
      <spf><domain>{spf_domain}</domain><scope>mfrom</scope><result>{spf}</result></spf>
    </auth_results>
  </record>"""


def record(**kw) -> str:
    values = dict(
        ip="192.0.2.10", count="3", disposition="none", dkim_eval="pass", spf_eval="pass", reason="",
        header_from="example.com", envelope_from="example.com", dkim_domain="example.com", spf_domain="example.com",
        dkim="pass", spf="pass",
    )
    values.update(kw)
    return RECORD.format(**values)


def report(
    records: str | None = None,
    *,
    org: str = "receiver.example",
    report_id: str = "r-1",
    domain: str = "example.com",
    begin: str = "1772323200",
    end: str = "1772409599",
    policy: str = "<adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>quarantine</sp><pct>100</pct>",
    version: str = "<version>1.0</version>",
    root: str = "<feedback>",
    extra_meta: str = "",
) -> bytes:
    body = records if records is not None else record()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
{root}
  {version}
  <report_metadata>
    <org_name>{org}</org_name>
    <email>noreply-dmarc@{org}</email>
    <report_id>{report_id}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>{extra_meta}
  </report_metadata>
  <policy_published><domain>{domain}</domain>{policy}</policy_published>{body}
</feedback>
""".encode()
