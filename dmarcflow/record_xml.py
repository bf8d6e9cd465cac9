"""One <record> element -> Record: the parser's hot path, memoised by the record's shape.

A report's records differ mostly in their source IP and count; what else they say (policy_evaluated,
identifiers, auth_results) takes a few hundred distinct forms in a 100,000-record report. So a record is
read as its nodes in document order (tag, text, number of children: the tree, unambiguously), and when
everything but the IP and count texts matches a record already built, only those two are read; the rest
(results, alignment, class) is taken from that record. Any other record is built field by field.

The memos are owned by one builder (one payload) and bounded in entries and in the size of what they keep,
so that hostile input, where every record differs, costs time but no more memory.
"""

from __future__ import annotations

from itertools import islice
from operator import itemgetter

from dmarcflow import normalise as n
from dmarcflow.errors import Warnings
from dmarcflow.models import DkimResult, OverrideReason, PolicyPublished, Record, SpfResult
from dmarcflow.xml_events import Element, LocalNames

_AUTH_MAX = 4096
_AUTH_TEXT_MAX = 512  # auth results with longer texts are built each time rather than kept
_SHAPE_NODES = 48  # a record with more nodes than this is built without the shape memo
_SHAPES_MAX = 512
_SHAPE_TEXT_MAX = 512

AuthKey = tuple[object, ...]
Node = tuple[object, str | None, int]
ShapeKey = tuple[object, ...]
# What a record shares with every record of its shape: Record's fields after source_ip and count.
Rest = tuple[object, ...]
_REST_FIELDS = Record.__slots__[2:]


class Memos:
    """What a parser remembers while it reads one payload; every part bounded."""

    def __init__(self, size: int = 4096, shapes: int = _SHAPES_MAX) -> None:
        self.names = LocalNames(size)
        self.org = n.OrgDomains(size)
        self.auth: dict[AuthKey, DkimResult | SpfResult] = {}
        self.shapes: dict[ShapeKey, Rest] = {}
        self.shapes_max = shapes


class RecordBuilder:
    """Builds the Records of one report (one policy) with the parser's memos."""

    def __init__(self, policy: PolicyPublished, warnings: Warnings, memos: Memos) -> None:
        self._policy = policy
        self._warnings = warnings
        self._names = memos.names
        self._org = memos.org
        self._auth = memos.auth
        self._shapes = memos.shapes
        self._shapes_max = memos.shapes_max

    def build(self, el: Element) -> Record:
        """The record's nodes, and its shape: the nodes with the IP's and count's texts left out."""
        nodes: list[Node] = [(c.tag, c.text, len(c)) for c in islice(el.iter(), _SHAPE_NODES)]
        if 3 < len(nodes) < _SHAPE_NODES:
            ip_tag, ip, ip_children = nodes[2]
            count_tag, count, count_children = nodes[3]
            key = (nodes[0], nodes[1], ip_tag, ip_children, count_tag, count_children, *nodes[4:])
            rest = self._shapes.get(key)
            if rest is not None:
                # Same order of checks as a record built in full: the IP first, then the count.
                return Record(n.source_ip(ip), n.count(count), *rest)  # type: ignore[arg-type]
            record = self._build(el)
            self._remember(key, nodes, record)
            return record
        return self._build(el)

    def _remember(self, key: ShapeKey, nodes: list[Node], record: Record) -> None:
        """Keep the record's shape when its IP and count are where the key leaves them out.

        That is: the record's first child is a <row> of at least two children, the first a <source_ip>
        without children, the second a <count>, so that those are the texts a full build reads.
        """
        names = self._names
        if (
            len(self._shapes) < self._shapes_max
            and names(nodes[1][0]) == "row"
            and nodes[1][2] >= 2  # source_ip and count
            and names(nodes[2][0]) == "source_ip"
            and nodes[2][2] == 0
            and names(nodes[3][0]) == "count"
            and sum(map(len, filter(None, map(itemgetter(1), nodes)))) <= _SHAPE_TEXT_MAX
        ):
            self._shapes[key] = tuple(getattr(record, f) for f in _REST_FIELDS)

    def _build(self, el: Element) -> Record:
        """One pass over the record's children; the first of each field counts, every reason is kept."""
        names = self._names
        cached = names.cached
        row: dict[str, str | None] = {}
        pe: dict[str, str | None] = {}
        ident: dict[str, str | None] = {}
        reasons: list[OverrideReason] = []
        dkim: tuple[DkimResult, ...] = ()
        spf: tuple[SpfResult, ...] = ()
        for part in el:
            name = cached(part.tag) or names(part.tag)
            if name == "row":
                for c in part:
                    cname = cached(c.tag) or names(c.tag)
                    if cname == "policy_evaluated":
                        self._policy_evaluated(c, pe, reasons)
                    else:
                        row.setdefault(cname, c.text)
            elif name == "identifiers":
                for c in part:
                    ident.setdefault(cached(c.tag) or names(c.tag), c.text)
            elif name == "auth_results":
                dkim, spf = self._auth_results(part)
        return self._make_record(row, pe, ident, tuple(reasons), dkim, spf)

    def _policy_evaluated(self, el: Element, pe: dict[str, str | None], reasons: list[OverrideReason]) -> None:
        names = self._names
        cached = names.cached
        for c in el:
            cname = cached(c.tag) or names(c.tag)
            if cname == "reason":
                f = names.fields(c)
                reasons.append(OverrideReason(type=n.word(_txt(f, "type")) or "other", comment=n.text(_txt(f, "comment"))))
            else:
                pe.setdefault(cname, c.text)

    def _make_record(
        self,
        row: dict[str, str | None],
        pe: dict[str, str | None],
        ident: dict[str, str | None],
        reasons: tuple[OverrideReason, ...],
        dkim: tuple[DkimResult, ...],
        spf: tuple[SpfResult, ...],
    ) -> Record:
        policy = self._policy
        source_ip = n.source_ip(row.get("source_ip"))
        header_from = n.domain(ident.get("header_from")) or policy.domain
        alignment = n.compute_alignment(header_from, dkim, spf, policy.adkim, policy.aspf, self._org)
        dkim_eval = n.choice(pe.get("dkim"), n.EVALUATED, "policy_evaluated/dkim")
        spf_eval = n.choice(pe.get("spf"), n.EVALUATED, "policy_evaluated/spf")
        if dkim_eval is None or spf_eval is None:
            # Old reporters sent only the disposition: the verdict DMARC defines, from our own alignment.
            self._warnings.add("policy_evaluated_computed")
            dkim_eval = dkim_eval or ("pass" if alignment.dkim else "fail")
            spf_eval = spf_eval or ("pass" if alignment.spf else "fail")
        dmarc_pass = dkim_eval == "pass" or spf_eval == "pass"
        return Record(
            source_ip=source_ip,
            count=n.count(row.get("count")),
            disposition=n.choice(pe.get("disposition"), n.DISPOSITIONS, "policy_evaluated/disposition", "none") or "none",
            dkim_evaluated=dkim_eval,
            spf_evaluated=spf_eval,
            header_from=header_from,
            envelope_from=n.domain(ident.get("envelope_from")),
            envelope_to=n.domain(ident.get("envelope_to")),
            reasons=reasons,
            dkim=dkim,
            spf=spf,
            alignment=alignment,
            source_class=n.classify(dmarc_pass, reasons, alignment, dkim, spf),
        )

    def _auth_results(self, el: Element) -> tuple[tuple[DkimResult, ...], tuple[SpfResult, ...]]:
        """Auth results repeat across records (same domains, selectors, results): each distinct one is built once."""
        memo = self._auth
        dkim: list[DkimResult] = []
        spf: list[SpfResult] = []
        for child in el:
            key: AuthKey = (child.tag, *[x for c in child for x in (c.tag, c.text)])
            entry = memo.get(key)
            if entry is None:
                entry = self._auth_entry(child)
                if entry is None:
                    continue
                if len(memo) < _AUTH_MAX and _text_size(key) <= _AUTH_TEXT_MAX:
                    memo[key] = entry
            (dkim if type(entry) is DkimResult else spf).append(entry)  # type: ignore[arg-type]
        return tuple(dkim), tuple(spf)

    def _auth_entry(self, child: Element) -> DkimResult | SpfResult | None:
        names = self._names
        cached = names.cached
        name = cached(child.tag) or names(child.tag)
        if name not in ("dkim", "spf"):
            return None
        f: dict[str, str | None] = {}
        for c in child:
            f.setdefault(cached(c.tag) or names(c.tag), c.text)
        dom = n.domain(f.get("domain")) or ""
        result = n.word(f.get("result")) or "none"
        human = n.text(f.get("human_result"))
        if name == "dkim":
            return DkimResult(dom, n.text(f.get("selector")), result, human)
        return SpfResult(dom, n.word(f.get("scope")) or "mfrom", result, human)


def _txt(fields: dict[str, Element], name: str) -> str | None:
    el = fields.get(name)
    return el.text if el is not None else None


def _text_size(key: AuthKey) -> int:
    return sum(len(x) for x in key if isinstance(x, str))
