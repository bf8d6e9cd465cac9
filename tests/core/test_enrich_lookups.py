"""Enrichment lookups: the searched service map answers as the whole map does; the IPv4 fast path is exact."""

from __future__ import annotations

from pathlib import Path

from dmarcflow.enrich import load_service_map, service_map, service_map_path
from dmarcflow.service_map import Service, ServiceMap


def test_every_key_of_the_shipped_map_answers_alike() -> None:
    whole, searched = load_service_map(), service_map()
    assert len(whole) > 30_000
    misses = ["", "com", "zzzz.invalid", "0", "example.com", "a" * 300, "google.com.", "GOOGLE.COM", "bücher.example",
              "\udcff.example", "\U0010ffff"]
    differing = [key for key in [*whole, *misses] if searched.get(key) != whole.get(key)]
    assert differing == []
    assert searched._lines is not None  # noqa: SLF001  (the shipped file is sorted: searched, not read whole)


def test_an_unsorted_file_is_read_whole_and_the_last_row_of_a_key_wins(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text('base_reverse_dns,name,type\nzeta.example,Zeta,ESP\n"quoted.example",Quoted,ISP\n'
                    "alpha.example,First,\nalpha.example,Second,Web Host\nshort.example\n", encoding="utf-8")
    searched = ServiceMap(path)
    assert searched.get("alpha.example") == Service("Second", "Web Host")
    assert searched.get("quoted.example") == Service("Quoted", "ISP")
    assert searched.get("zeta.example") == Service("Zeta", "ESP")
    assert searched.get("short.example") is None
    assert searched._whole is not None  # noqa: SLF001


def test_a_sorted_file_is_searched_and_a_short_last_row_leaves_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("base_reverse_dns,name,type\na.example,A,ESP\nb.example,\"B, Inc.\",\nb.example-x,X,ISP\n"
                    "b.example.net,N,ISP\nc.example,C,ISP\nd\u00e9.example,D\u00e9j\u00e0,ESP\n\u6f22.example,K,ISP\n",
                    encoding="utf-8")
    searched = ServiceMap(path)
    assert searched.get("dé.example") == Service("Déjà", "ESP")  # UTF-8 lines sort as their characters do
    assert searched.get("漢.example") == Service("K", "ISP")
    assert searched.get("d\udce9.example") is None  # not UTF-8 (a lone surrogate): no line, no error
    assert searched.get("b.example") == Service("B, Inc.", None)
    assert searched.get("b.example-x") == Service("X", "ISP")
    assert searched.get("b") is None
    assert searched.get("c.example") == Service("C", "ISP")
    assert searched._lines is not None  # noqa: SLF001
    assert service_map_path().name == "base_reverse_dns_map.csv"


def test_the_plain_ipv4_fast_path_accepts_exactly_what_ipaddress_accepts() -> None:
    import ipaddress

    from dmarcflow.enrich import _PLAIN_IPV4

    def valid(text: str) -> bool:
        try:
            return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
        except ValueError:
            return False

    texts = [f"{a}.{b}.{c}.{d}" for a in ("0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255",
                                          "256", "300", "01", "001", "00", "-1", "1a", "")
             for b, c, d in (("0", "0", "0"), ("255", "255", "255"), ("01", "2", "3"), ("2", "3", "256"))]
    texts += ["1.2.3", "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4\n", "１.2.3.4", "::ffff:1.2.3.4", "1..2.3"]
    assert len(texts) > 80
    assert [t for t in texts if bool(_PLAIN_IPV4.fullmatch(t)) != valid(t)] == []
