"""Registrable domains: one memo per owner, bounded, with the same answers as the plain function."""

from __future__ import annotations

from dmarcflow.normalise import OrgDomains, aligned, compute_alignment, organisational_domain
from dmarcflow.models import DkimResult, SpfResult


def test_each_owner_has_its_own_bounded_memo() -> None:
    names = ["mail.example.co.uk", "bounce.example.com", "example.com", "a.b.c.example.org", "localhost"]
    small, other = OrgDomains(size=2), OrgDomains()
    assert [small(n) for n in names] == [organisational_domain(n) for n in names] == [
        "example.co.uk", "example.com", "example.com", "example.org", "localhost"]
    assert (len(small._memo), len(other._memo)) == (2, 0)  # noqa: SLF001 - the memo's bound is the point


def test_alignment_asks_the_owners_memo() -> None:
    org = OrgDomains()
    dkim = (DkimResult("mail.example.com", "s1", "pass"),)
    spf = (SpfResult("bounce.other.example", "mfrom", "pass"),)
    alignment = compute_alignment("example.com", dkim, spf, "r", "r", org)
    assert (alignment.dkim, alignment.spf, alignment.dkim_domain, alignment.spf_domain) == (
        True, False, "mail.example.com", "bounce.other.example")
    assert sorted(org._memo) == ["bounce.other.example", "example.com", "mail.example.com"]  # noqa: SLF001
    assert aligned("mail.example.com", "example.com", "s", org) is False
