"""The shared verdict rules (dmarcflow.verdict), the published-policy rule, the backend choice and frozen settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmarcflow import verdict
from dmarcflow.analysis import StoreBackend, queries
from dmarcflow.backends import BackendMismatch, summary_backend
from dmarcflow.config import IndexSettings, Settings, StoreSettings, load_settings
from dmarcflow.errors import ConfigError
from dmarcflow.models import DkimResult, OverrideReason, PolicyPublished, SourceRow, SpfResult, Window
from dmarcflow.store import Store, rollups

DKIM = (DkimResult("esp.example", "s1", "pass"), DkimResult("example.com", "s2", "fail"))


@pytest.mark.parametrize(("aligned", "shown"), [("example.com", "fail"), ("esp.example", "pass"), (None, "pass"),
                                                ("other.example", "pass")])
def test_the_shown_result_is_the_aligned_domains_else_the_first(aligned: str | None, shown: str) -> None:
    assert verdict.shown_result(DKIM, aligned) == shown


def test_no_results_show_nothing() -> None:
    assert (verdict.shown_result((), "example.com"), verdict.shown_result((SpfResult("a.example", "mfrom", ""),), None)) == (
        "", "")


def test_the_reasons_key_is_sorted_and_each_type_once() -> None:
    reasons = (OverrideReason("mailing_list"), OverrideReason("forwarded", "x"), OverrideReason("mailing_list", "y"),
               OverrideReason(""))
    assert verdict.reasons_key(reasons) == "forwarded,mailing_list"
    assert verdict.reasons_key(()) == ""
    assert verdict.forwarded_by_override("forwarded,local_policy,mailing_list") == ["forwarded", "mailing_list"]
    assert verdict.forwarded_by_override("local_policy") == verdict.forwarded_by_override("") == []


def test_the_explanation_names_the_override() -> None:
    row = SourceRow("192.0.2.1", "forwarded", "example.com", 1, 1, 0, "example.com", "", "pass", "fail",
                    "local_policy,mailing_list", 5)
    assert verdict.explain(row, "forwarded", None) == (
        "forwarded: the receiver reported a mailing_list override; SPF fail; "
        "DKIM signed by example.com, aligned with example.com")


def test_a_defaulted_sp_or_np_was_not_published() -> None:
    tags = {"p": "reject", "sp": "reject", "np": "reject", "pct": 100, "adkim": None, "aspf": "s", "testing": " Y "}
    policy = PolicyPublished.published("example.com", tags, ["sp", "np"])
    assert policy == PolicyPublished("example.com", adkim="r", aspf="s", p="reject", sp=None, np=None, pct=100,
                                     testing="y")
    assert policy.as_dict() == {"p": "reject", "sp": None, "np": None, "pct": 100, "adkim": "r", "aspf": "s",
                                "testing": "y"}
    assert list(policy.as_dict()) == list(PolicyPublished.SUMMARY_FIELDS)


def test_the_01_query_module_is_the_stores() -> None:
    assert queries is rollups
    assert queries.PolicyFacts is PolicyPublished


def test_the_store_backend_reads_the_stores_checks(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        backend = StoreBackend(store)
        assert (backend.domains_with_data(Window()), backend.dns_check("example.com")) == ([], None)


def test_a_search_index_backend_needs_its_settings(tmp_path: Path) -> None:
    settings = Settings(store=StoreSettings(path=str(tmp_path / "s.sqlite")))
    with pytest.raises(ConfigError) as info, summary_backend("elasticsearch", settings):
        pass
    assert str(info.value) == "--backend elasticsearch needs [elasticsearch] url (or DMARCFLOW_ELASTICSEARCH_URL)"
    with pytest.raises(ConfigError) as info, summary_backend("index", settings):
        pass
    assert str(info.value) == "--backend index needs [index] url (or DMARCFLOW_INDEX_URL)"
    opensearch = Settings(index=IndexSettings(url="http://127.0.0.1:9", engine="opensearch"))
    with pytest.raises(BackendMismatch) as mismatch, summary_backend("elasticsearch", opensearch):
        pass
    assert str(mismatch.value) == ("--backend elasticsearch, but [index] engine is opensearch: use --backend opensearch "
                                   "(or --backend index)")
    with pytest.raises(ValueError, match="backend must be one of"), summary_backend("sqlite3", settings):
        pass


def test_the_approved_lists_are_checked_at_load_and_read_only(tmp_path: Path) -> None:
    config = tmp_path / "dmarcflow.toml"
    config.write_text('[approved."Example.COM."]\nrdns_domains = ["*.sendgrid.net"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={})
    assert str(info.value) == ("[approved.\"example.com\"] rdns_domains: '*.sendgrid.net' is not a domain name "
                               "(use the base domain, e.g. sendgrid.net; no wildcards or URLs)")
    config.write_text('[approved."example.com"]\nrdns_domains = ["sendgrid.net"]\n')
    settings = load_settings(config, env={})
    assert settings.approved["example.com"].rdns_domains == ("sendgrid.net",)
    with pytest.raises(TypeError):
        settings.approved["example.org"] = settings.approved["example.com"]  # type: ignore[index]
