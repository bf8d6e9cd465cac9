"""The parser's events for a report's own elements, in bounded memory, after the root element is judged.

The document is fed to lxml a chunk at a time. Between chunks, finished top-level elements are
freed (records are freed by the parser as they are built), and an element that keeps growing past
MAX_ELEMENT_BYTES is refused, so memory stays flat for any shape of document. Before that, a
throwaway parser reads only as far as the first start tag: the root must be <feedback>, and a
document type declaration, as the parser itself saw it (in any encoding, wherever it sits in the
prolog), is refused. DTDs are never loaded and entities never expanded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from lxml import etree

from dmarcflow.errors import NotAReport, ParseError

MAX_ELEMENT_BYTES = 1 << 20  # one top-level element (a record, the metadata) of a real report is a few KiB
TAGS = ("{*}version", "{*}report_metadata", "{*}policy_published", "{*}record")
_PROLOG_SLICE = 512  # the root start tag is near the start: a short slice spares parsing what the main parser reads

Element = Any  # lxml's element type (lxml ships no type stubs here)


def _pull_parser(events: tuple[Literal["start", "end"], ...], tag: tuple[str, ...] | None = None) -> Any:
    """Lxml's pull parser with every external or expanding feature off."""
    return etree.XMLPullParser(
        events=events, tag=tag, resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )


def malformed(exc: etree.XMLSyntaxError) -> ParseError:
    return ParseError("malformed_xml", f"the XML is not well-formed: {exc}")


class LocalNames:
    """Local names of tags (namespace dropped), cached: the same few tags repeat in every record. Bounded."""

    def __init__(self, size: int = 4096) -> None:
        self._names: dict[object, str] = {}
        self._size = size
        self.cached = self._names.get  # hot loops call this first: a C call, where a miss falls back to calling self

    def __call__(self, tag: object) -> str:
        name = self._names.get(tag)
        if name is None:
            name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
            if isinstance(tag, str) and len(self._names) < self._size:
                self._names[tag] = name
        return name

    def fields(self, el: Element) -> dict[str, Element]:
        """Direct children by local name (the first of each name)."""
        out: dict[str, Element] = {}
        for child in el:
            name = self(child.tag)
            if name and name not in out:
                out[name] = child
        return out


class _RootCheck:
    """A throwaway parser that reads only as far as the first start tag, to judge the document before it is read."""

    def __init__(self) -> None:
        self._parser = _pull_parser(("start",))
        self.done = False

    def feed(self, chunk: bytes) -> None:
        for at in range(0, len(chunk), _PROLOG_SLICE):
            self._parser.feed(chunk[at : at + _PROLOG_SLICE])
            for _, el in self._parser.read_events():
                self.done = True
                self._judge(el)
                return

    @staticmethod
    def _judge(root: Element) -> None:
        tag = root.tag if isinstance(root.tag, str) else ""
        name = tag.rpartition("}")[2]
        if name != "feedback":
            raise NotAReport(f"no <feedback> element: not a DMARC aggregate report (the root element is <{name[:40]}>)")
        info = root.getroottree().docinfo
        if info.doctype or info.internalDTD is not None or info.system_url or info.public_id:
            raise ParseError("forbidden_xml", "the XML declares a DTD or entities; they are refused for safety")


class Events:
    """The parser's events for the report's own tags; frees and bounds the tree between chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._parser = _pull_parser(("end",), TAGS)  # end events only: half as many as with start events
        self._check: _RootCheck | None = _RootCheck()
        self.root: Element = None
        self._top: Element = None
        self._top_bytes = 0

    def __iter__(self) -> Iterator[tuple[str, Element]]:
        parser = self._parser
        try:
            for chunk in self._chunks:
                if self._check is not None:
                    self._check.feed(chunk)
                    if self._check.done:
                        self._check = None
                parser.feed(chunk)
                yield from parser.read_events()
                self._tidy(len(chunk))
            parser.close()
            yield from parser.read_events()
        except etree.XMLSyntaxError as exc:
            raise malformed(exc) from None

    def _tidy(self, fed: int) -> None:
        """Drop finished top-level elements (nothing needs them); refuse an element that grows without end."""
        root = self.root
        if root is None:
            self._grow(None, fed)
            return
        if len(root) > 1:
            del root[:-1]  # one C-level slice delete, however many elements a chunk held
        self._grow(root[0] if len(root) else None, fed)

    def _grow(self, last: Element, fed: int) -> None:
        if last is not self._top:
            self._top, self._top_bytes = last, 0
        self._top_bytes += fed
        if self._top_bytes > MAX_ELEMENT_BYTES:
            raise ParseError("too_large", f"one element of the report spans more than {MAX_ELEMENT_BYTES} bytes of XML")
