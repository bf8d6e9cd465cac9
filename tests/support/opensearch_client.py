"""A real ``opensearchpy.OpenSearch`` client that also takes the call style of the Elasticsearch 8 client.

The search-index tests were written against ``elasticsearch.Elasticsearch``: keyword arguments for
request bodies (``search(index=..., query=..., aggs=...)``) and answers with ``.body``. This
subclass lets the same tests run, unchanged, against the OpenSearch node: it folds those keywords
into ``body`` and hands back dicts that also answer ``.body``. Every call still goes to the real
node; dmarcflow's own OpenSearch adapter (which passes ``body=``) goes through it untouched.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.client.indices import IndicesClient

_BODY_KEYS = ("query", "aggs", "sort", "_source", "fields")


class Answer(dict):  # type: ignore[type-arg]
    """A response dict that also has the Elasticsearch client's ``.body``."""

    @property
    def body(self) -> dict[str, Any]:
        return self


def _fold(kwargs: dict[str, Any], keys: tuple[str, ...] = _BODY_KEYS) -> dict[str, Any]:
    body = dict(kwargs.pop("body", None) or {})
    for key in keys:
        if key in kwargs:
            body[key] = kwargs.pop(key)
    return {**kwargs, "body": body} if body else kwargs


def _answer(value: Any) -> Any:
    return Answer(value) if isinstance(value, dict) else value


class _Indices(IndicesClient):
    def get_mapping(self, *args: Any, **kwargs: Any) -> Any:
        return _answer(super().get_mapping(*args, **kwargs))

    def simulate_index_template(self, *args: Any, **kwargs: Any) -> Any:
        return _answer(super().simulate_index_template(*args, **kwargs))


class EsStyleOpenSearch(OpenSearch):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.indices = _Indices(self)

    def search(self, *args: Any, **kwargs: Any) -> Any:
        return _answer(super().search(*args, **_fold(kwargs)))

    def count(self, *args: Any, **kwargs: Any) -> Any:
        return _answer(super().count(*args, **_fold(kwargs, ("query",))))

    def field_caps(self, *args: Any, **kwargs: Any) -> Any:
        return _answer(super().field_caps(*args, **kwargs))
